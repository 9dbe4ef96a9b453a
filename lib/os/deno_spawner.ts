/**
 * The real {@linkcode Spawner}, over `Deno.Command`: the only file in tend
 * that starts processes or sends them signals.
 *
 * Each child is started with `detached: true`, which makes it the leader
 * of a new session and so of a new process group whose id is its pid.
 * Signals go to the whole group (`kill(-pgid, sig)`), so a shell's
 * children, a server's workers and anything else the child started get
 * them too.
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
import { canPeekExits, hasExited } from "./wait.ts";
import { spawnOwn } from "./pids.ts";

/** Tuning for {@linkcode DenoSpawner}. */
export interface DenoSpawnerOptions {
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
  /**
   * Largest buffer an output stream is read into. Each stream starts with
   * 4 KiB and doubles its buffer whenever a read fills it, so an idle
   * child costs little and a flooding one reads in big chunks. @default 65536
   */
  readSize?: number;
  /**
   * Whether to ask the kernel (through FFI, when it can be had) whether a
   * leader has exited before Deno reports it; see {@linkcode Child.reaped}.
   * Without it, a leader counts as exited only once Deno has reported its
   * exit, which may come after its kill timer fires. @default true
   */
  peekExits?: boolean;
  /**
   * Once tend is leaving (see {@linkcode DenoSpawner.leaving}), how many
   * bytes of a dead child's stream are read without waiting for the log
   * (and one read more): more than its pipe holds, fewer than a writer
   * outside the group could pour in. @default 1 MiB
   */
  leaveBytes?: number;
}

/**
 * Starts children with `Deno.Command`, each the leader of its own process
 * group, stdin from `/dev/null`, stdout and stderr piped.
 *
 * @example
 * ```ts ignore
 * import { DenoSpawner } from "./deno_spawner.ts";
 * const spawner = new DenoSpawner();
 * const child = spawner.spawn({ argv: ["sleep", "10"] }, events);
 * child.signal("SIGTERM");
 * ```
 */
export class DenoSpawner implements Spawner {
  #drainGrace: number;
  #drainLimit: number;
  #readSize: number;
  #leaveBytes: number;
  #groups: GroupWatcher;
  #peek: ((pid: number) => boolean | null) | null;
  // Output streams still being read, with whether each waits on the log.
  #pumps = new Set<Pump>();
  #leaving = false;

  /** Builds a spawner. */
  constructor(options: DenoSpawnerOptions = {}) {
    this.#drainGrace = options.drainGrace ?? 250;
    this.#drainLimit = options.drainLimit ?? 10_000;
    this.#readSize = options.readSize ?? 65536;
    this.#groups = new GroupWatcher({
      interval: options.pollInterval ?? 20,
      maxInterval: options.maxPollInterval ?? 1000,
      onWarning: options.onWarning,
    });
    this.#leaveBytes = options.leaveBytes ?? 1024 * 1024;
    this.#peek = (options.peekExits ?? true) && canPeekExits() ? hasExited : null;
  }

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
    for (const pump of this.#pumps) if (pump.reaped) this.#release(pump);
  }

  /**
   * Starts `request`; see {@linkcode Spawner.spawn}.
   *
   * @throws {SpawnError} with the OS's reason when the process cannot start
   */
  spawn(request: SpawnRequest, events: ChildEvents): Child {
    const [program, ...args] = request.argv;
    if (program === undefined || program === "") {
      throw new SpawnError("Cannot start a process: its argv is empty");
    }
    let proc: Deno.ChildProcess;
    try {
      // spawnOwn registers the pid, so that the reaper leaves it to Deno.
      proc = spawnOwn(program, {
        args,
        cwd: request.cwd,
        env: request.env,
        clearEnv: request.clearEnv,
        uid: request.uid,
        gid: request.gid,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      });
    } catch (error) {
      // Deno's message already names the program and the OS's reason, e.g.
      // "Failed to spawn 'x': No such file or directory (os error 2)".
      throw new SpawnError(error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    this.#groups.spawned();
    const child = new DenoChild(proc.pid, this.#groups, this.#peek);
    const pumps = [
      this.#pump(proc.stdout, events.stdout),
      this.#pump(proc.stderr, events.stderr),
    ];
    proc.status.then(toExitStatus, unnamedSignal).then(async (status) => {
      child.exited = true;
      for (const pump of pumps) {
        pump.reaped = true;
        if (this.#leaving) this.#release(pump);
      }
      const groupAlive = await this.#groups.alive(proc.pid);
      // Report the exit after the last of its output, unless members of its
      // group live on (they may hold the pipes) or something else keeps the
      // pipes open past a short grace.
      if (!groupAlive) {
        // Nothing is left to signal, and the group id may soon be reused.
        child.gone = true;
        await this.#drain(pumps);
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

  #pump(stream: ReadableStream<Uint8Array<ArrayBuffer>>, out: OutputHandler): Pump {
    const pump: Pump = {
      done: Promise.resolve(),
      blocked: false,
      finished: false,
      out,
      reaped: false,
      free: null,
      wake: null,
    };
    pump.done = readAll(stream, out, this.#readSize, pump).finally(() => {
      pump.finished = true;
      this.#pumps.delete(pump);
    });
    this.#pumps.add(pump);
    return pump;
  }

  // Waits for a dead leader's output to be read to its end. The grace runs
  // only while the streams are not held back by the log, so a slow log
  // delays the exit report instead of splitting it from its output; the
  // limit bounds the wait all the same. If the wait ends first, a stream
  // waiting on a read (something outside the group holds the pipe) has its
  // partial line handed on now, before the exit is reported; one the log
  // holds back is left alone, to end in its own time.
  async #drain(pumps: Pump[]): Promise<void> {
    const done = Promise.all(pumps.map((p) => p.done));
    const limit = performance.now() + this.#drainLimit;
    let grace = this.#drainGrace;
    while (grace > 0 && performance.now() < limit) {
      const from = performance.now();
      if (await settleWithin(done, Math.min(grace, DRAIN_STEP))) return;
      if (!pumps.some((p) => p.blocked)) grace -= performance.now() - from;
    }
    for (const pump of pumps) {
      if (pump.finished || pump.blocked) continue;
      pump.out.end();
      // Reading goes on, but tend does not wait for it on its way out.
      this.#pumps.delete(pump);
    }
  }

  // Lets a dead child's stream be read without waiting for the log.
  #release(pump: Pump): void {
    if (pump.finished || pump.free !== null) return;
    pump.free = this.#leaveBytes;
    pump.wake?.();
  }
}

// How often a drain wait looks at whether the log holds the streams back.
const DRAIN_STEP = 25;

// One output stream being read.
interface Pump {
  done: Promise<void>;
  // Whether it waits for the log to take what it read (back-pressure).
  blocked: boolean;
  // Whether it reached end of file (or a read error).
  finished: boolean;
  out: OutputHandler;
  // Whether its child's leader has exited.
  reaped: boolean;
  // Bytes it may still read without waiting for the log, once released
  // (see leaving()); null before.
  free: number | null;
  // Ends a wait for the log, when it is in one.
  wake: (() => void) | null;
}

// Stop signals after which SIGCONT would undo the stop or add nothing.
const NO_CONTINUE: ReadonlySet<SignalName> = new Set([
  "SIGKILL",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
]);

class DenoChild implements Child {
  readonly pid: number;
  // Deno reported the leader's exit.
  exited = false;
  // The leader exited and its group was found empty: signals would go to
  // nobody, or to a new group that reused the id.
  gone = false;
  #groups: GroupWatcher;
  #peek: ((pid: number) => boolean | null) | null;

  constructor(
    pid: number,
    groups: GroupWatcher,
    peek: ((pid: number) => boolean | null) | null,
  ) {
    this.pid = pid;
    this.#groups = groups;
    this.#peek = peek;
  }

  /**
   * See {@linkcode Child.reaped}. Deno reports an exit only after tokio
   * reaped the leader and the event loop got round to it, which, when
   * thousands of children exit at once, can be after their kill timers
   * fire: the monitor would then SIGKILL, and log that it had to, groups
   * that are already gone. So, until Deno reports it, the kernel is asked
   * (without reaping) whether the leader is a zombie. Without FFI only
   * Deno's report counts.
   */
  get reaped(): boolean {
    if (!this.exited && this.#peek?.(this.pid) === true) this.exited = true;
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

// Reads a stream into a handler, waiting whenever the handler asks it to
// (back-pressure), and always ending the handler. The buffer is reused;
// it starts small and doubles, up to `max`, whenever a read fills it.
async function readAll(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  out: OutputHandler,
  max: number,
  pump: Pump,
): Promise<void> {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new Uint8Array(Math.min(4096, max));
  try {
    while (true) {
      const { value, done } = await reader.read(buffer);
      if (done || value === undefined) break;
      const wait = out.write(value);
      if (pump.free !== null && pump.free > 0) {
        pump.free -= value.length;
      } else if (wait) {
        pump.blocked = true;
        await new Promise<void>((resolve) => {
          pump.wake = resolve;
          wait.then(resolve, resolve);
        });
        pump.wake = null;
        pump.blocked = false;
      }
      buffer = value.length === value.buffer.byteLength && value.length < max
        ? new Uint8Array(Math.min(value.length * 2, max))
        : new Uint8Array(value.buffer);
    }
  } catch {
    // A read error ends the stream like end of file does.
  } finally {
    out.end();
    reader.releaseLock();
  }
}

function toExitStatus(s: Deno.CommandStatus): ExitStatus {
  return s.signal === null
    ? { code: s.code, signal: null }
    : { code: null, signal: s.signal as SignalName };
}

// Deno cannot name every signal: a child killed by a real-time one (34 to
// 64) makes its status reject with "Invalid signal: 40", after it was
// reaped. That death is reported as a shell shows it, 128+N, rather than
// left an unhandled rejection: tend's internal failure, which killed every
// group and exited 1.
function unnamedSignal(error: unknown): ExitStatus {
  const match = error instanceof Error
    ? /^Invalid signal: (\d+)$/.exec(error.message)
    : null;
  if (match === null) throw error;
  return { code: 128 + Number(match[1]), signal: null };
}

// Whether `promise` settled within `ms` milliseconds.
function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]).finally(() => clearTimeout(timer));
}
