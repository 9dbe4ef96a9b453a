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
 * **Who reaps what.** A pid is registered one of two ways, and each way
 * says who reaps it:
 *
 * - {@linkcode PidRegistry.track} (through {@linkcode spawnOwn}): a
 *   `Deno.Command` child. Deno reaps it; tend must never `waitpid` it.
 *   It stays registered until its `status` settles, after Deno reaped it.
 * - {@linkcode PidRegistry.adopt}: a child tend reaps itself, by its pid
 *   (the FFI spawner, `ffi_spawner.ts`: `posix_spawn` children Deno knows
 *   nothing of). Only the code that adopted it may `waitpid` it, and only
 *   while {@linkcode PidRegistry.reapsItself} says so; it calls
 *   {@linkcode PidRegistry.reaped} in the same synchronous turn as the
 *   `waitpid` that reaped it, so the registry never holds a pid the kernel
 *   may have handed to someone else.
 *
 * The PID-1 reaper leaves alone every registered pid, whichever way it was
 * registered ({@linkcode PidRegistry.has}).
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
  // Children tend reaps itself. A set, not counts: such a pid cannot be
  // handed to another child before tend reaps it (the zombie holds it).
  #own = new Set<number>();

  /** Whether `pid` is one of tend's own children whose status is pending. */
  has(pid: number): boolean {
    return this.#counts.has(pid) || this.#own.has(pid);
  }

  /**
   * Whether `pid` is a child tend reaps itself ({@linkcode adopt}): the
   * only kind tend may `waitpid`.
   */
  reapsItself(pid: number): boolean {
    return this.#own.has(pid);
  }

  /** How many pids are registered. */
  get size(): number {
    let size = this.#counts.size;
    for (const pid of this.#own) if (!this.#counts.has(pid)) size++;
    return size;
  }

  /**
   * Registers `pid`, a child tend reaps itself (with `waitpid` on its
   * pid), in the same synchronous turn as the spawn that started it.
   *
   * @throws {Error} when `pid` is already adopted: the kernel never hands
   * out a pid whose zombie has not been reaped, so that is a bug
   */
  adopt(pid: number): void {
    if (this.#own.has(pid)) throw new Error(`pid ${pid} is already tend's to reap`);
    this.#own.add(pid);
  }

  /**
   * Drops `pid`, a child {@linkcode adopt}ed: call it in the same
   * synchronous turn as the `waitpid` that reaped it.
   */
  reaped(pid: number): void {
    this.#own.delete(pid);
  }

  /** Registers `pid`, a child Deno reaps. */
  add(pid: number): void {
    this.#counts.set(pid, (this.#counts.get(pid) ?? 0) + 1);
  }

  /** Drops one registration of `pid`, a child Deno reaps. */
  delete(pid: number): void {
    const count = this.#counts.get(pid);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(pid);
    else this.#counts.set(pid, count - 1);
  }

  /**
   * Registers `child`, a `Deno.Command` child, until its status settles. Keeping a pid a little
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
