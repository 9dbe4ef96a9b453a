/**
 * The one registry of the processes tend spawned itself, and the one way
 * tend spawns them.
 *
 * Deno waits for each child it spawns by its pid (tokio opens a pidfd and
 * calls `wait4(pid)` when it is readable). As PID 1 or a child subreaper,
 * tend also reaps the orphans the kernel hands it (`reaper.ts`), and it
 * must never reap one of Deno's own children first: Deno's `wait4` would
 * get ECHILD and the child's `status` would reject. The reaper therefore
 * reaps only pids this registry does not hold, and every process tend
 * starts (the spawner's children, `ps` for the group watch, probes) goes
 * through {@linkcode spawnOwn}, which registers the pid in the same
 * synchronous turn as the spawn. The reaper runs on the same JavaScript
 * thread, so it can never see a child that was spawned but not yet
 * registered.
 *
 * `new Deno.Command(...).output()` spawns without ever showing the pid, so
 * tend never calls it: use `spawnOwn(...).output()` instead.
 *
 * @module
 */

/**
 * Pids with a count each: a pid Deno has reaped can be handed to a new
 * child before the old one's `status` callbacks have run, and the old
 * unregistration must not drop the new registration.
 */
export class PidRegistry {
  #counts = new Map<number, number>();

  /** Whether `pid` is one of tend's own children whose status is pending. */
  has(pid: number): boolean {
    return this.#counts.has(pid);
  }

  /** How many pids are registered. */
  get size(): number {
    return this.#counts.size;
  }

  /** Registers `pid`. */
  add(pid: number): void {
    this.#counts.set(pid, (this.#counts.get(pid) ?? 0) + 1);
  }

  /** Drops one registration of `pid`. */
  delete(pid: number): void {
    const count = this.#counts.get(pid);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(pid);
    else this.#counts.set(pid, count - 1);
  }

  /**
   * Registers `child` until its status settles. Keeping a pid a little
   * longer than needed is safe: the reaper skips it, and reaps an orphan
   * that reused it on a later pass.
   */
  track(child: Deno.ChildProcess): Deno.ChildProcess {
    const pid = child.pid;
    this.add(pid);
    child.status.then(() => this.delete(pid), () => this.delete(pid));
    return child;
  }
}

/** The pids of every process tend spawned whose exit Deno still waits for. */
export const ownPids: PidRegistry = new PidRegistry();

/**
 * Spawns `program` (as `new Deno.Command(program, options).spawn()`) and
 * registers the child in {@linkcode ownPids} before anything else can run.
 *
 * @throws whatever `Deno.Command.spawn` throws (a missing program, ...)
 */
export function spawnOwn(
  program: string,
  options: Deno.CommandOptions,
): Deno.ChildProcess {
  return ownPids.track(new Deno.Command(program, options).spawn());
}
