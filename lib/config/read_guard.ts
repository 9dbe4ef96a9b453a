/**
 * A bound on reads that do not come back. A read of a file can hang in the
 * kernel (a dead network mount, a FUSE server that stopped answering), and
 * Deno's file calls run on a pool of threads that cannot be interrupted:
 * giving up on a read frees its caller, not its thread. Without a bound, a
 * reload stuck in such a read would hold every later reload behind it (the
 * Supervisor runs them one at a time), and retrying would pile up threads.
 *
 * @module
 */

/** Why a guarded read was given up on or not tried. */
export class ReadTimeout extends Error {
  override name = "ReadTimeout";
}

/** Options of a {@linkcode ReadGuard}. */
export interface ReadGuardOptions {
  /** How long a read may take before its caller is told it failed. */
  timeoutMs: number;
  /** How many given-up reads may still be outstanding before new ones are refused. */
  maxStuck: number;
}

/**
 * Runs reads with a time limit, and refuses new ones while too many that
 * timed out have not returned yet.
 *
 * @example
 * ```ts
 * import { ReadGuard } from "./read_guard.ts";
 * const guard = new ReadGuard({ timeoutMs: 5000, maxStuck: 2 });
 * await guard.run(() => Promise.resolve("text")); // "text"
 * ```
 */
export class ReadGuard {
  #timeoutMs: number;
  #maxStuck: number;
  #stuck = 0;

  /** @param options the time limit and how many stuck reads to allow */
  constructor(options: ReadGuardOptions) {
    this.#timeoutMs = options.timeoutMs;
    this.#maxStuck = options.maxStuck;
  }

  /** Reads that timed out and have not settled since. */
  get stuck(): number {
    return this.#stuck;
  }

  /**
   * Runs `read`, settling as it does or with a {@linkcode ReadTimeout}
   * after the time limit, whichever comes first.
   *
   * @throws {ReadTimeout} at the time limit, or at once while
   *   `maxStuck` earlier reads are still outstanding
   */
  run<T>(read: () => Promise<T>): Promise<T> {
    if (this.#stuck >= this.#maxStuck) {
      return Promise.reject(
        new ReadTimeout(
          `cannot read the file: ${this.#stuck} earlier reads have not returned yet`,
        ),
      );
    }
    const work = read();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.#stuck++;
        // Counted until the read settles, whenever that is.
        work.then(() => this.#stuck--, () => this.#stuck--);
        reject(
          new ReadTimeout(
            `cannot read the file: no answer within ${this.#timeoutMs / 1000} s`,
          ),
        );
      }, this.#timeoutMs);
    });
    return Promise.race([work, limit]).finally(() => clearTimeout(timer));
  }
}
