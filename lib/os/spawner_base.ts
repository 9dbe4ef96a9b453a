/**
 * What every real spawner shares, whichever way it starts a process
 * (`Deno.Command` in `deno_spawner.ts`, `posix_spawn` over FFI in
 * `ffi_spawner.ts`): the pumps that hand a child's output to its handlers,
 * the drain that reports an exit only after the last of that output, the
 * group watch, and the {@linkcode Child} that signals the whole group.
 *
 * A back end ({@linkcode SpawnerBase.launch}) only starts the process and
 * feeds its two {@linkcode Pump}s; this module decides when the exit is
 * reported. So the two spawners behave alike by construction, and one
 * real-process test suite runs against both.
 *
 * @module
 */

import {
  type Child,
  type ChildEvents,
  type OutputHandler,
  type Spawner,
  SpawnError,
  type SpawnRequest,
} from "../core/ports.ts";
import type { SignalName } from "../core/signals.ts";
import type { ExitStatus } from "../core/spec.ts";
import { GroupWatcher } from "./groups.ts";

/** Tuning shared by the real spawners. */
export interface SpawnerOptions {
  /**
   * Milliseconds to wait, after the leader exits, for its output to reach
   * end of file before reporting the exit anyway (something it started
   * outside its group may hold the pipes). Time spent waiting for the log
   * to take output (back-pressure) does not count. @default 250
   */
  drainGrace?: number;
  /**
   * The longest wait, in milliseconds, for a dead leader's output to be
   * read, back-pressure included, before its exit is reported anyway; its
   * output still goes on to the log after that. @default 10000
   */
  drainLimit?: number;
  /**
   * Milliseconds before the first check of a group whose leader has exited
   * while members live on; later checks grow apart. @default 20
   */
  pollInterval?: number;
  /** The longest wait, in milliseconds, between two such checks. @default 1000 */
  maxPollInterval?: number;
  /**
   * Told about what tend cannot do here and how that changes its
   * behaviour (once each): for now, that it cannot tell live group members
   * from zombies (no /proc access and no `ps`).
   */
  onWarning?: (message: string) => void;
  /** Largest read from an output pipe, in bytes. @default 65536 */
  readSize?: number;
  /**
   * Once tend is leaving (see {@linkcode SpawnerBase.leaving}), how many
   * bytes of a dead child's stream are read without waiting for the log
   * (and one read more): more than its pipe holds, fewer than a writer
   * outside the group could pour in. @default 1 MiB
   */
  leaveBytes?: number;
}

/** What a back end hands over for a process it started. */
export interface Started {
  /** The leader's pid, which is also its process group's id. */
  pid: number;
  /** Settles once the leader has exited and been reaped. */
  status: Promise<ExitStatus>;
  /**
   * Asks, now, whether the leader has exited, before `status` says so
   * (see {@linkcode Child.reaped}); `null`: it cannot tell.
   */
  exited: (() => boolean | null) | null;
}

/**
 * One output stream of one child, between the back end that reads it and
 * the handler that takes its bytes: it knows whether the handler holds the
 * stream back (for the drain) and whether it has ended (for
 * {@linkcode SpawnerBase.idle}).
 */
export class Pump {
  /** The handler the bytes go to. */
  readonly out: OutputHandler;
  /** Whether it waits for the handler to take what was read (back-pressure). */
  blocked = false;
  /** Whether it reached end of file (or a read error), or was cancelled. */
  finished = false;
  /** Whether its child's leader has exited. */
  reaped = false;
  /** How many chunks it has handed on. */
  chunks = 0;
  /**
   * Bytes it may still read without waiting for the handler, once
   * released (see {@linkcode SpawnerBase.leaving}); null before.
   */
  free: number | null = null;
  /** Resolves once it has finished. */
  readonly done: Promise<void>;
  #resolve!: () => void;
  #onFinish: (pump: Pump) => void;
  // Ends a wait for the handler, while there is one.
  #wake: (() => void) | null = null;
  // The back end's way to stop reading and close the pipe.
  #cancel: (() => void) | null = null;

  /** A pump into `out`; `onFinish` is told once it has finished. */
  constructor(out: OutputHandler, onFinish: (pump: Pump) => void = () => {}) {
    this.out = out;
    this.#onFinish = onFinish;
    this.done = new Promise((resolve) => this.#resolve = resolve);
  }

  /**
   * Hands `chunk` on; the chunk may be reused once this returns. Returns
   * a promise while the handler holds the stream back: read nothing more
   * of it until that settles. A rejection means the handler failed; the
   * caller ends the stream then, as it does after a read error.
   */
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.chunks++;
    const wait = this.out.write(chunk);
    if (this.free !== null && this.free > 0) {
      this.free -= chunk.length;
      return undefined;
    }
    if (!wait) return undefined;
    this.blocked = true;
    return new Promise<void>((resolve, reject) => {
      this.#wake = resolve;
      wait.then(resolve, reject);
    }).finally(() => {
      this.blocked = false;
      this.#wake = null;
    });
  }

  /**
   * Lets it read `bytes` more without waiting for the handler, ending a
   * wait under way: tend is leaving, and its child is dead.
   */
  release(bytes: number): void {
    if (this.finished || this.free !== null) return;
    this.free = bytes;
    this.#wake?.();
  }

  /**
   * How the back end stops reading this stream and closes its pipe, for
   * {@linkcode cancel}; it finishes the pump.
   */
  onCancel(cancel: () => void): void {
    this.#cancel = cancel;
  }

  /**
   * Stops reading and closes the pipe (the back end finishes the pump):
   * for a stream something outside the child's group holds open long
   * after the group is gone, which would otherwise hold a file descriptor
   * of tend's for as long as that writer lives.
   */
  cancel(): void {
    if (this.finished) return;
    if (this.#cancel === null) this.finish();
    else this.#cancel();
  }

  /** The stream has ended (end of file, or a read error): tells the handler. */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.out.end();
    this.#resolve();
    this.#onFinish(this);
  }
}

/**
 * Reads a `Deno.Command` pipe into `pump`, waiting whenever the handler
 * asks it to (back-pressure), and always finishing the pump. The buffer is
 * reused; it starts at `first` bytes and doubles, up to `max`, whenever a
 * read fills it, so an idle child's pending read holds little memory.
 */
export async function readStream(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  pump: Pump,
  max: number,
  first: number = Math.min(4096, max),
): Promise<void> {
  const reader = stream.getReader({ mode: "byob" });
  // Cancelling the reader ends the pending read and closes the pipe.
  pump.onCancel(() => void reader.cancel().catch(() => {}));
  let buffer = new Uint8Array(first);
  try {
    while (true) {
      const { value, done } = await reader.read(buffer);
      if (done || value === undefined) break;
      const wait = pump.write(value);
      if (wait) await wait;
      buffer = value.length === value.buffer.byteLength && value.length < max
        ? new Uint8Array(Math.min(value.length * 2, max))
        : new Uint8Array(value.buffer);
    }
  } catch {
    // A read error ends the stream like end of file does.
  } finally {
    pump.finish();
    reader.releaseLock();
  }
}

/**
 * The Spawner that back ends extend: validates the request, hands the
 * back end two pumps, reports the exit after the output (see the module
 * doc), and returns a {@linkcode Child} that signals the whole group.
 */
export abstract class SpawnerBase implements Spawner {
  #drainGrace: number;
  #drainLimit: number;
  #leaveBytes: number;
  #groups: GroupWatcher;
  /** Largest read from an output pipe, in bytes. */
  protected readonly readSize: number;
  // Output streams still being read (and waited for by idle()).
  #pumps = new Set<Pump>();
  #leaving = false;

  /** Sets up the shared parts. */
  protected constructor(options: SpawnerOptions) {
    this.#drainGrace = options.drainGrace ?? 250;
    this.#drainLimit = options.drainLimit ?? 10_000;
    this.readSize = options.readSize ?? 65536;
    this.#leaveBytes = options.leaveBytes ?? 1024 * 1024;
    this.#groups = new GroupWatcher({
      interval: options.pollInterval ?? 20,
      maxInterval: options.maxPollInterval ?? 1000,
      onWarning: options.onWarning,
    });
  }

  /**
   * Starts `request` as the leader of a new session (and so of a new
   * process group) with stdin from `/dev/null`, feeding its stdout and
   * stderr into the two pumps, and registers its pid (`pids.ts`) before
   * it returns.
   *
   * @throws {SpawnError} with the OS's reason; nothing was started then
   */
  protected abstract launch(request: SpawnRequest, stdout: Pump, stderr: Pump): Started;

  /**
   * tend is on its way out. From now on, what is left in the pipes of a
   * child whose leader has exited is read at once, without waiting for
   * the log (up to `leaveBytes` a stream), so that its exit is reported
   * right after its last output however slow the log is: a log that is
   * not read at all must not hold tend's exit, and the exit must not come
   * before the output it ends (as it did at the drain limit).
   */
  leaving(): void {
    this.#leaving = true;
    for (const pump of this.#pumps) if (pump.reaped) pump.release(this.#leaveBytes);
  }

  /**
   * Starts `request`; see {@linkcode Spawner.spawn}.
   *
   * @throws {SpawnError} with the OS's reason when the process cannot start
   */
  spawn(request: SpawnRequest, events: ChildEvents): Child {
    const program = request.argv[0];
    if (program === undefined || program === "") {
      throw new SpawnError("Cannot start a process: its argv is empty");
    }
    const forget = (pump: Pump) => this.#pumps.delete(pump);
    const pumps = [new Pump(events.stdout, forget), new Pump(events.stderr, forget)];
    const started = this.launch(request, pumps[0]!, pumps[1]!);
    for (const pump of pumps) if (!pump.finished) this.#pumps.add(pump);
    this.#groups.spawned();
    const child = new GroupChild(started.pid, this.#groups, started.exited);
    started.status.then(async (status) => {
      child.exited = true;
      for (const pump of pumps) {
        pump.reaped = true;
        if (this.#leaving) pump.release(this.#leaveBytes);
      }
      const groupAlive = await this.#groups.alive(started.pid);
      // Report the exit after the last of its output, unless members of its
      // group live on (they may hold the pipes) or something else keeps the
      // pipes open past a short grace.
      if (!groupAlive) {
        // Nothing is left to signal, and the group id may soon be reused.
        child.gone = true;
        const limit = performance.now() + this.#drainLimit;
        await this.#drain(pumps, limit);
        void this.#closeEscaped(pumps, limit);
      } else {
        // The monitor stops what is left of the group; once it is gone, a
        // pipe still open is held from outside it, as above.
        const unwatch = this.#groups.watch(started.pid, () => {
          unwatch();
          void this.#closeEscaped(pumps, performance.now() + this.#drainLimit);
        });
      }
      events.exit(status, groupAlive);
    });
    return child;
  }

  /**
   * Resolves once every output stream has been read to its end, or after
   * `ms` milliseconds, whichever comes first. tend calls it before it
   * exits, so the last output of its children reaches the log.
   */
  async idle(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (this.#pumps.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await settleWithin(Promise.all([...this.#pumps].map((p) => p.done)), left);
    }
    // Streams something else still holds open: hand on their partial lines,
    // and do not wait for them again.
    for (const pump of this.#pumps) pump.out.end();
    this.#pumps.clear();
  }

  // Waits for a dead leader's output to be read to its end. The grace runs
  // only while the streams are not held back by the log, so a slow log
  // delays the exit report instead of splitting it from its output; the
  // limit bounds the wait all the same. If the wait ends first, a stream
  // waiting on a read (something outside the group holds the pipe) has its
  // partial line handed on now, before the exit is reported; one the log
  // holds back is left alone, to end in its own time.
  async #drain(pumps: Pump[], limit: number): Promise<void> {
    const done = Promise.all(pumps.map((p) => p.done));
    let grace = this.#drainGrace;
    while (grace > 0 && performance.now() < limit) {
      const from = performance.now();
      if (await settleWithin(done, Math.min(grace, DRAIN_STEP))) return;
      if (!pumps.some((p) => p.blocked)) grace -= performance.now() - from;
    }
    for (const pump of pumps) {
      if (pump.finished || pump.blocked) continue;
      pump.out.end();
      // Reading goes on (until #closeEscaped), but tend does not wait for
      // it on its way out.
      this.#pumps.delete(pump);
    }
  }

  // Closes the pipes still open at `limit` (the drain limit after the
  // group was found empty): what holds them is a process outside the
  // group (a daemon that left it with setsid, a grandchild put in a group
  // of its own), which may live for ever, and each such pipe would hold a
  // file descriptor of tend's and a pending read as long as it lives.
  // What the pipe holds is read first: a stream the log holds back is
  // closed only once the log has taken its chunk and no more comes within
  // a DRAIN_STEP, so no output that was there is cut. The writer gets
  // EPIPE (or SIGPIPE) from then on.
  async #closeEscaped(pumps: Pump[], limit: number): Promise<void> {
    const done = Promise.all(pumps.map((p) => p.done));
    if (await settleWithin(done, Math.max(0, limit - performance.now()))) return;
    await Promise.all(pumps.map(async (pump) => {
      let seen = -1;
      while (!pump.finished) {
        if (!pump.blocked && pump.chunks === seen) {
          pump.cancel();
          return;
        }
        seen = pump.blocked ? -1 : pump.chunks;
        await settleWithin(pump.done, DRAIN_STEP);
      }
    }));
  }
}

// How often a drain wait looks at whether the log holds the streams back.
const DRAIN_STEP = 25;

// Stop signals after which SIGCONT would undo the stop or add nothing.
const NO_CONTINUE: ReadonlySet<SignalName> = new Set([
  "SIGKILL",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
]);

// A started child: the leader of its own process group.
class GroupChild implements Child {
  readonly pid: number;
  // The back end reported the leader's exit.
  exited = false;
  // The leader exited and its group was found empty: signals would go to
  // nobody, or to a new group that reused the id.
  gone = false;
  #groups: GroupWatcher;
  #peek: (() => boolean | null) | null;

  constructor(pid: number, groups: GroupWatcher, peek: (() => boolean | null) | null) {
    this.pid = pid;
    this.#groups = groups;
    this.#peek = peek;
  }

  /**
   * See {@linkcode Child.reaped}. A back end reports an exit through a
   * promise, which, when thousands of children exit at once, can settle
   * after their kill timers fire: the monitor would then SIGKILL, and log
   * that it had to, groups that are already gone. So, until the report
   * comes, the back end is asked now (the kernel, through FFI). Without
   * that only the report counts.
   */
  get reaped(): boolean {
    if (!this.exited && this.#peek?.() === true) this.exited = true;
    return this.exited;
  }

  signal(signal: SignalName): void {
    if (this.gone) return;
    try {
      Deno.kill(-this.pid, signal);
    } catch (error) {
      // The group is gone already: nothing left to signal. Other errors
      // (a member tend may not signal) are the monitor's to report.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    this.#groups.signalled(this.pid);
  }

  stop(signal: SignalName): void {
    this.signal(signal);
    if (!NO_CONTINUE.has(signal)) this.signal("SIGCONT");
  }

  watchGroup(onEmpty: () => void): () => void {
    return this.#groups.watch(this.pid, onEmpty);
  }
}

// Whether `promise` settled within `ms` milliseconds.
function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]).finally(() => clearTimeout(timer));
}
