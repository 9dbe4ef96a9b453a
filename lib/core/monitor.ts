/**
 * ProcessMonitor: Twisted's `procmon` state machine, rebuilt.
 *
 * It keeps a set of named processes running. A process that ran at least
 * `threshold` seconds is restarted at once when it dies; one that dies
 * younger is restarted after a delay that doubles with each such death,
 * from `minRestartDelay` up to `maxRestartDelay`, so with each instant death
 * it waits about twice as long. Stopping sends the stop signal to the
 * process's whole group and SIGKILL after `killTime`.
 *
 * The monitor makes no OS calls: it reaches processes through a
 * {@linkcode Spawner} and time through a {@linkcode Clock}, so every rule
 * here is tested with a fake clock and fake processes.
 *
 * @module
 */

import { clampDelay, doubledDelay, isHealthyRun } from "./backoff.ts";
import { mayStart } from "./deps.ts";
import type { MonitorEvent } from "./events.ts";
import type {
  Child,
  ChildEvents,
  Clock,
  OutputHandler,
  OutputStream,
  Spawner,
  TimerHandle,
} from "./ports.ts";
import type { SignalName } from "./signals.ts";
import {
  DEFAULT_TIMING,
  type ExitStatus,
  type ProcessSpec,
  type ResolvedSpec,
  resolveSpec,
  setOwn,
  type Timing,
  TIMING_KEYS,
} from "./spec.ts";
import { type ProcessState, STATES } from "./states.ts";

/** Where the monitor sends its events and its children's output. */
export interface MonitorSink {
  /** Receives a lifecycle event. */
  event(event: MonitorEvent): void;
  /**
   * Returns the handler for the bytes one child writes to one stream. Its
   * `write` may return a promise, which the spawner waits for before
   * reading more (back-pressure).
   */
  output(name: string, pid: number, stream: OutputStream): OutputHandler;
}

/** What the monitor is built from. */
export interface MonitorOptions {
  /** Starts the processes. */
  spawner: Spawner;
  /** Receives events and output. */
  sink: MonitorSink;
  /** Time source (`os/clock.ts` has the real one). */
  clock: Clock;
  /** Monitor-wide timing; missing keys take procmon's defaults. */
  timing?: Partial<Timing>;
}

/** One process as {@linkcode ProcessMonitor.status} shows it. */
export interface ProcessStatus {
  /** The process's name. */
  name: string;
  /** Where it is in its life cycle. */
  state: ProcessState;
  /** The pid while a child exists. */
  pid: number | null;
  /** When the current child started, in clock milliseconds. */
  startedAt: number | null;
  /** Seconds the current child has run. */
  uptime: number | null;
  /** How many times it was started after the first time. */
  restarts: number;
  /**
   * Whether it is held: kept stopped until started by name (`tend stop`,
   * or `autostart: false` until its first start).
   */
  held: boolean;
  /** How the last child ended. */
  lastExit: ExitStatus | null;
  /** When the last child ended, in clock milliseconds. */
  lastExitAt: number | null;
  /** Why the last start failed, if it did. */
  spawnError: string | null;
  /** The back-off delay the next early death will wait, in seconds. */
  delay: number;
  /** When a pending start is due, in clock milliseconds. */
  nextStartAt: number | null;
  /** When a pending SIGKILL is due, in clock milliseconds. */
  killAt: number | null;
  /**
   * Whether it runs and is ready: its readiness probe passed (a process
   * without one is ready once started).
   */
  ready: boolean;
  /** What its last readiness or liveness check said, if it has probes. */
  probe: string | null;
  /** Why it waits instead of starting (`waiting for db: ready`), if it does. */
  waiting: string | null;
  /** Whether it waits for a dependency that can never meet its condition. */
  blocked: boolean;
}

/** The JSON form of a monitor: its settings and specs, none of its runtime. */
export interface MonitorState extends Timing {
  /** Every process by name. */
  processes: Record<string, ProcessSpec>;
}

/**
 * A name given to the monitor is not one of its processes (procmon raises
 * `KeyError` for both this and {@linkcode DuplicateProcessError}).
 */
export class UnknownProcessError extends RangeError {
  /** The name that was not found. */
  readonly process: string;
  /** @param name the name that was not found */
  constructor(name: string) {
    super(`Cannot find process "${name}": no process has that name`);
    this.name = "UnknownProcessError";
    this.process = name;
  }
}

/** A signal was asked for a process that has no child to receive it. */
export class NotRunningError extends Error {
  /** The process's name. */
  readonly process: string;
  /**
   * @param name the process
   * @param state its state now
   */
  constructor(name: string, state: ProcessState) {
    super(`Cannot signal process "${name}": it is ${state}, with no process to signal`);
    this.name = "NotRunningError";
    this.process = name;
  }
}

/** A process with that name exists already. */
export class DuplicateProcessError extends RangeError {
  /** The name that is taken. */
  readonly process: string;
  /** @param name the name that is taken */
  constructor(name: string) {
    super(
      `Cannot add process "${name}": a process has that name already; remove it first`,
    );
    this.name = "DuplicateProcessError";
    this.process = name;
  }
}

// What to do once a stopping child (and its group) is gone.
type AfterStop =
  | "bounce" // a requested stop: restart per the timing rules if running
  | "exited" // it exited on its own: restart per its restart policy
  | "replace" // its spec changed, or a restart was asked for: start at once
  | "hold" // it was asked to stop (tend stop): keep it stopped
  | "halt" // killed on the way out (killAll): never restart
  | "remove"; // it was removed: forget it

interface ExitRecord {
  status: ExitStatus;
  at: number;
}

// A live child: the leader and when it started.
interface Live {
  child: Child;
  startedAt: number;
}

// On its way out: the stop signal was sent (or the leader exited and left
// members of its group behind); SIGKILL is due at killAt.
interface Stopping extends Live {
  kind: "stopping";
  then: AfterStop;
  killTimer: TimerHandle | null;
  killAt: number | null;
  killed: boolean;
  /** SIGKILL was asked for at once (killAll), not earned by killTime. */
  killAsked?: boolean;
  exit: ExitRecord | null;
  unwatch: (() => void) | null;
}

// A child runs; `ready` while its readiness probe passes (at once without
// one); `wasReady` once it first passed (STARTING until then).
interface Running extends Live {
  kind: "running";
  ready: boolean;
  wasReady: boolean;
}

// Wanted, but a dependency does not meet its condition yet (or can never).
interface Waiting {
  kind: "waiting";
  reason: string;
  never: boolean;
}

// Waiting for a scheduled start.
interface Backoff {
  kind: "backoff";
  restartAt: number;
  timer: TimerHandle | null;
}

type State =
  | { kind: "stopped" }
  | { kind: "exited" }
  | { kind: "fatal" }
  | Waiting
  | Running
  | Stopping
  | Backoff;

// The state's name as users read it.
function stateName(state: State): ProcessState {
  return state.kind === "running" && !state.wasReady ? "STARTING" : STATES[state.kind];
}

// One record per process; its state is one tagged union, so which phase a
// process is in is never implied by which of several maps hold its name.
interface Proc {
  name: string;
  spec: ProcessSpec;
  state: State;
  // The back-off the next early death waits, always within the bounds.
  delay: number;
  starts: number;
  // Early deaths in a row (reset by a healthy run or a start by name), for maxRestarts.
  earlyDeaths: number;
  // Kept stopped until started by name.
  held: boolean;
  // What the last `state` event said, so the same is not said twice.
  told: string;
  lastExit: ExitStatus | null;
  lastExitAt: number | null;
  spawnError: string | null;
  // What the last probe check said.
  probe: string | null;
}

// Until spawn() returns there is no pid, so no output handler; the real
// spawner reads asynchronously, so nothing can arrive before then.
const NOT_YET: OutputHandler = {
  write() {
    throw new Error("Cannot take output: the spawner wrote before spawn() returned");
  },
  end() {},
};

// At most this many starts, or this many milliseconds of them, in one turn
// of the event loop (see #startSoon).
const START_BATCH = 32;
const START_BUDGET_MS = 20;

// The shortest wait, in seconds, after SIGKILL before a group is abandoned,
// so that killTime: 0 still gives the kernel time to end it.
const ABANDON_MIN = 1;

/**
 * Keeps named processes running, with procmon's restart and stop rules.
 *
 * @example
 * ```ts ignore
 * import { ProcessMonitor } from "./monitor.ts";
 * import { DenoSpawner } from "../os/deno_spawner.ts";
 * import { systemClock } from "../os/clock.ts";
 * const pm = new ProcessMonitor({ spawner: new DenoSpawner(), sink, clock: systemClock });
 * pm.addProcess("web", { argv: ["python3", "-m", "http.server"] });
 * pm.startService();
 * await pm.stopService();
 * ```
 */
export class ProcessMonitor implements Timing {
  #spawner: Spawner;
  #sink: MonitorSink;
  #clock: Clock;
  #timing: Timing;
  #procs = new Map<string, Proc>();
  #running = false;
  #settled: (() => void)[] = [];
  // Processes waiting for their turn to start (see #startSoon), the timer
  // that gives them their turn, and the starts made in this turn so far.
  #queue: Proc[] = [];
  #queueTimer: TimerHandle | null = null;
  #batch: { count: number; since: number } | null = null;
  // Whether a look at the processes waiting on others is due (see #changed).
  #recheckDue = false;
  // Processes stopService still has to stop once their dependents are gone.
  #stopLater = new Set<Proc>();

  /** Builds a stopped monitor with no processes. */
  constructor(options: MonitorOptions) {
    this.#spawner = options.spawner;
    this.#sink = options.sink;
    this.#clock = options.clock;
    this.#timing = { ...DEFAULT_TIMING, ...options.timing };
  }

  /** Seconds a run must last to count as healthy. @default 1 */
  get threshold(): number {
    return this.#timing.threshold;
  }
  set threshold(value: number) {
    this.setTiming({ threshold: value });
  }
  /** Seconds between the stop signal and SIGKILL. @default 5 */
  get killTime(): number {
    return this.#timing.killTime;
  }
  set killTime(value: number) {
    this.setTiming({ killTime: value });
  }
  /** First back-off delay in seconds. @default 1 */
  get minRestartDelay(): number {
    return this.#timing.minRestartDelay;
  }
  set minRestartDelay(value: number) {
    this.setTiming({ minRestartDelay: value });
  }
  /** Largest back-off delay in seconds. @default 3600 */
  get maxRestartDelay(): number {
    return this.#timing.maxRestartDelay;
  }
  set maxRestartDelay(value: number) {
    this.setTiming({ maxRestartDelay: value });
  }

  /**
   * Changes monitor-wide timing (a reload does). Each process's pending
   * back-off is brought within its new bounds, so the next wait already
   * obeys them.
   */
  setTiming(timing: Partial<Timing>): void {
    this.#timing = { ...this.#timing, ...timing };
    for (const proc of this.#procs.values()) {
      proc.delay = clampDelay(proc.delay, this.#resolve(proc).timing);
    }
  }

  /**
   * Rebuilds a monitor from {@linkcode ProcessMonitor.toJSON} output.
   *
   * @throws {DuplicateProcessError} never for valid input; names are unique
   */
  static fromJSON(
    state: MonitorState,
    options: Omit<MonitorOptions, "timing">,
  ): ProcessMonitor {
    const timing: Timing = { ...DEFAULT_TIMING };
    for (const key of TIMING_KEYS) timing[key] = state[key];
    const pm = new ProcessMonitor({ ...options, timing });
    for (const [name, spec] of Object.entries(state.processes)) {
      pm.addProcess(name, spec);
    }
    return pm;
  }

  /** Whether {@linkcode startService} was called and no stop since. */
  get running(): boolean {
    return this.#running;
  }

  /** The spec of every process, by name (procmon's `processes`). */
  get processes(): Record<string, ProcessSpec> {
    const out: Record<string, ProcessSpec> = {};
    for (const proc of this.#live()) setOwn(out, proc.name, proc.spec);
    return out;
  }

  /** Settings and specs, without runtime state (procmon's `__getstate__`). */
  toJSON(): MonitorState {
    return {
      threshold: this.threshold,
      killTime: this.killTime,
      minRestartDelay: this.minRestartDelay,
      maxRestartDelay: this.maxRestartDelay,
      processes: this.processes,
    };
  }

  /** The spec of one process, or `undefined` when there is none by that name. */
  specOf(name: string): ProcessSpec | undefined {
    const proc = this.#procs.get(name);
    return proc === undefined || isRemoving(proc) ? undefined : proc.spec;
  }

  /** The effective timing of one process: the monitor's, then its own overrides. */
  timingOf(name: string): Timing {
    return this.#resolve(this.#get(name)).timing;
  }

  /**
   * Adds a process. It starts at once if the monitor is running; otherwise
   * it is only recorded.
   *
   * @throws {DuplicateProcessError} if the name is taken
   */
  addProcess(name: string, spec: ProcessSpec): void {
    const existing = this.#procs.get(name);
    if (existing) {
      if (existing.state.kind !== "stopping" || existing.state.then !== "remove") {
        throw new DuplicateProcessError(name);
      }
      // The old child is still on its way out: the new spec starts when it
      // is gone, counting its restarts afresh. (The old child's exit, still
      // to come, is reported as the last exit under this name.)
      existing.spec = spec;
      existing.starts = 0;
      existing.earlyDeaths = 0;
      existing.spawnError = null;
      existing.delay = this.#resolve(existing).timing.minRestartDelay;
      existing.held = !this.#resolve(existing).autostart;
      existing.state.then = existing.held
        ? "hold"
        : this.#running
        ? "replace"
        : "bounce";
      this.#changed(existing);
      return;
    }
    const proc: Proc = {
      name,
      spec,
      state: { kind: "stopped" },
      delay: 0,
      starts: 0,
      earlyDeaths: 0,
      held: false,
      told: "",
      lastExit: null,
      lastExitAt: null,
      spawnError: null,
      probe: null,
    };
    const resolved = this.#resolve(proc);
    proc.delay = resolved.timing.minRestartDelay;
    proc.held = !resolved.autostart;
    this.#procs.set(name, proc);
    this.#changed(proc);
    if (this.#running && !proc.held) this.#startSoon(proc);
  }

  /**
   * Replaces a process's spec, as if it were added anew: a live child is
   * stopped and the new spec started as soon as it is gone; if the monitor
   * is running, a process waiting to restart (or stopped for good, or
   * given up) starts at once. A hold is dropped, unless the new spec has
   * `autostart: false`.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  updateProcess(name: string, spec: ProcessSpec): void {
    const proc = this.#get(name);
    proc.spec = spec;
    const resolved = this.#resolve(proc);
    proc.delay = resolved.timing.minRestartDelay;
    proc.earlyDeaths = 0;
    proc.held = !resolved.autostart;
    const state = proc.state;
    const then = proc.held ? "hold" : "replace";
    if (state.kind === "running") {
      this.#stop(proc).then = then;
    } else if (state.kind === "stopping") {
      state.then = then;
    } else if (proc.held) {
      this.#cancelBackoff(proc);
      this.#set(proc, { kind: "stopped" });
    } else if (this.#running) {
      this.#cancelBackoff(proc);
      this.#start(proc);
    }
    this.#changed(proc);
  }

  /**
   * Stops a process and forgets it.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  removeProcess(name: string): void {
    const proc = this.#get(name);
    const state = proc.state;
    if (state.kind === "running") {
      this.#stop(proc).then = "remove";
    } else if (state.kind === "stopping") {
      state.then = "remove";
    } else {
      this.#cancelBackoff(proc);
      this.#procs.delete(name);
    }
  }

  /**
   * Starts a process now. A running process is left alone; a pending
   * restart is brought forward. It also releases a hold (one being stopped
   * by {@linkcode holdProcess} starts as soon as it is gone) and forgets
   * earlier early deaths, so one that gave up (`FATAL`) tries again.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  startProcess(name: string): void {
    const proc = this.#get(name);
    proc.held = false;
    proc.earlyDeaths = 0;
    const state = proc.state;
    if (state.kind === "stopping" && state.then === "hold") state.then = "replace";
    if (state.kind === "running" || state.kind === "stopping") {
      this.#changed(proc);
      return;
    }
    this.#cancelBackoff(proc);
    this.#start(proc);
  }

  /**
   * Stops a process and keeps it stopped (`STOPPED`, held) until it is
   * started by name, whatever its restart policy: `tend stop`. A pending
   * restart is cancelled.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  holdProcess(name: string): void {
    const proc = this.#get(name);
    proc.held = true;
    const state = proc.state;
    if (state.kind === "running") this.#stop(proc).then = "hold";
    else if (state.kind === "stopping") state.then = "hold";
    else {
      this.#cancelBackoff(proc);
      this.#set(proc, { kind: "stopped" });
    }
    this.#changed(proc);
  }

  /**
   * Stops a process and starts it again as soon as it is gone, whatever
   * its age and restart policy: `tend restart`. One that is not running
   * starts now. A hold is released and earlier early deaths forgotten.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  restartProcess(name: string): void {
    const proc = this.#get(name);
    proc.held = false;
    proc.earlyDeaths = 0;
    const state = proc.state;
    if (state.kind === "running") this.#stop(proc).then = "replace";
    else if (state.kind === "stopping") state.then = "replace";
    else {
      this.#cancelBackoff(proc);
      this.#start(proc);
    }
    this.#changed(proc);
  }

  /**
   * Sends `signal` to the group of a process that has a child.
   *
   * @throws {UnknownProcessError} if there is no such process
   * @throws {NotRunningError} if it has no child to signal
   * @throws {Error} when the OS refuses
   */
  signalProcess(name: string, signal: SignalName): void {
    const proc = this.#get(name);
    const state = proc.state;
    if (state.kind !== "running" && state.kind !== "stopping") {
      throw new NotRunningError(name, stateName(state));
    }
    state.child.signal(signal);
  }

  /**
   * Sends a running process its stop signal, and SIGKILL after `killTime`
   * if any member of its group is still alive then. While the monitor
   * runs, the process is then restarted: stop is a bounce. A process that
   * is not running is left alone.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  stopProcess(name: string): void {
    const proc = this.#get(name);
    if (proc.state.kind === "running") this.#stop(proc);
  }

  /**
   * Records what a readiness probe found for the child `pid` of a process:
   * ready moves it from STARTING to RUNNING (and lets its dependents
   * start); not ready marks it so and changes nothing else. A result for a
   * child that is gone is ignored.
   */
  setReady(name: string, pid: number, ready: boolean, detail: string): void {
    const proc = this.#procs.get(name);
    const state = proc?.state;
    if (proc === undefined || state?.kind !== "running" || state.child.pid !== pid) {
      return;
    }
    proc.probe = detail;
    if (state.ready === ready) return;
    state.ready = ready;
    // A later failure marks it not ready and nothing else: it stays RUNNING.
    state.wasReady ||= ready;
    this.#sink.event({ type: "ready", name, pid, ready, detail });
    this.#changed(proc);
  }

  /**
   * A liveness probe failed (`failures` times in a row) for the child
   * `pid`: the failure is logged with its reason and the process is
   * restarted through the normal rules (a bounce). A child that is gone is
   * left alone.
   */
  liveFailed(name: string, pid: number, reason: string): void {
    const proc = this.#procs.get(name);
    const state = proc?.state;
    if (proc === undefined || state?.kind !== "running" || state.child.pid !== pid) {
      return;
    }
    proc.probe = reason;
    this.#sink.event({ type: "unhealthy", name, pid, reason });
    this.#stop(proc);
  }

  /** Bounces every running process. */
  restartAll(): void {
    for (const proc of this.#live()) this.stopProcess(proc.name);
  }

  /** Starts the monitor and every process. */
  startService(): void {
    if (this.#running) return;
    this.#running = true;
    for (const proc of this.#live()) {
      const kind = proc.state.kind;
      if (kind === "running" || kind === "stopping" || proc.held) continue;
      this.#cancelBackoff(proc);
      this.#startSoon(proc);
    }
    // A stopService still waiting is over once nothing is stopping.
    this.#checkSettled();
  }

  /**
   * Stops the monitor: cancels every pending restart and stops every
   * process. Resolves once every child and its group is gone, or, if
   * {@linkcode startService} runs again meanwhile, once no child is
   * stopping any more.
   */
  stopService(): Promise<void> {
    this.#running = false;
    this.#queue = [];
    if (this.#queueTimer !== null) this.#clock.clearTimeout(this.#queueTimer);
    this.#queueTimer = null;
    for (const proc of [...this.#procs.values()]) {
      if (proc.state.kind === "backoff") this.#cancelBackoff(proc);
      else if (proc.state.kind === "waiting") this.#set(proc, { kind: "stopped" });
      else if (proc.state.kind === "running") this.#stopLater.add(proc);
    }
    this.#stopInOrder();
    const done = new Promise<void>((resolve) => this.#settled.push(resolve));
    this.#checkSettled();
    return done;
  }

  /**
   * Sends SIGKILL to the group of every process that has a child, now; none
   * of them is restarted afterwards (a removed one is still forgotten).
   */
  killAll(): void {
    for (const proc of this.#procs.values()) {
      const state = proc.state;
      if (state.kind === "running") {
        this.#set(proc, this.#stopping(proc, state, "halt", null));
      } else if (state.kind === "stopping" && state.then !== "remove") {
        state.then = "halt";
      }
      if (proc.state.kind === "stopping") {
        proc.state.killAsked = true;
        this.#kill(proc, proc.state);
      }
    }
  }

  /** A snapshot of every process's state, in the order they were added. */
  status(): ProcessStatus[] {
    const now = this.#clock.now();
    return this.#live().map((proc): ProcessStatus => {
      const state = proc.state;
      const child = "child" in state ? state : null;
      return {
        name: proc.name,
        state: stateName(state),
        pid: child ? child.child.pid : null,
        startedAt: child ? child.startedAt : null,
        uptime: child ? (now - child.startedAt) / 1000 : null,
        restarts: Math.max(0, proc.starts - 1),
        held: proc.held,
        lastExit: proc.lastExit,
        lastExitAt: proc.lastExitAt,
        spawnError: proc.spawnError,
        delay: proc.delay,
        nextStartAt: state.kind === "backoff" ? state.restartAt : null,
        killAt: state.kind === "stopping" ? state.killAt : null,
        ready: state.kind === "running" && state.ready,
        probe: proc.probe,
        waiting: state.kind === "waiting" ? state.reason : null,
        blocked: state.kind === "waiting" && state.never,
      };
    });
  }

  // Sends a running child its stop signal; it is a bounce unless the
  // caller says otherwise through the returned state.
  #stop(proc: Proc): Stopping {
    const state = proc.state as Running;
    const signal = this.#resolve(proc).stopSignal;
    this.#sink.event({
      type: "stop-signal",
      name: proc.name,
      pid: state.child.pid,
      signal,
    });
    const stopping = this.#stopping(proc, state, "bounce", null);
    this.#set(proc, stopping);
    this.#signal(proc, state.child, signal, true);
    return stopping;
  }

  // Signals a child's group (asking it to stop, when `stop`); a refusal (a
  // member tend may not signal) is reported, not thrown: the stop goes on,
  // and ends in abandoning it.
  #signal(proc: Proc, child: Child, signal: SignalName, stop = false): void {
    try {
      if (stop) child.stop(signal);
      else child.signal(signal);
    } catch (error) {
      this.#sink.event({
        type: "signal-failed",
        name: proc.name,
        pid: child.pid,
        signal,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  // Processes not on their way out after a removeProcess.
  #live(): Proc[] {
    return [...this.#procs.values()].filter(
      (p) => !(p.state.kind === "stopping" && p.state.then === "remove"),
    );
  }

  #get(name: string): Proc {
    const proc = this.#procs.get(name);
    if (!proc || (proc.state.kind === "stopping" && proc.state.then === "remove")) {
      throw new UnknownProcessError(name);
    }
    return proc;
  }

  // Starts a process now, or, once this turn of the event loop has started
  // START_BATCH processes or spent START_BUDGET_MS on it, queues it for a
  // later turn: starting thousands of processes at once must not keep
  // signals, exits and the log waiting until the last has started.
  #startSoon(proc: Proc): void {
    const now = this.#clock.now();
    if (this.#batch === null) {
      this.#batch = { count: 0, since: now };
      // The batch is over when this turn is.
      this.#clock.queueMicrotask(() => this.#batch = null);
    }
    const full = this.#batch.count >= START_BATCH ||
      now - this.#batch.since >= START_BUDGET_MS;
    if (this.#queue.length === 0 && !full) {
      this.#batch.count++;
      this.#start(proc);
      return;
    }
    this.#queue.push(proc);
    this.#queueTimer ??= this.#clock.setTimeout(() => this.#drainQueue(), 0);
  }

  // Gives the queued processes their turn, those still waiting to start.
  #drainQueue(): void {
    this.#queueTimer = null;
    const queued = this.#queue;
    this.#queue = [];
    for (const proc of queued) {
      if (!this.#running || this.#procs.get(proc.name) !== proc) continue;
      const kind = proc.state.kind;
      if (kind === "stopped" || kind === "exited" || kind === "fatal") {
        this.#startSoon(proc);
      }
    }
  }

  // Moves a process to `state`, telling the sink when what users see of it
  // changed.
  #set(proc: Proc, state: State): void {
    proc.state = state;
    this.#changed(proc);
  }

  // Tells the sink what users see of a process, if that changed.
  #changed(proc: Proc): void {
    const state = stateName(proc.state);
    const pid = "child" in proc.state ? proc.state.child.pid : null;
    const told = `${state} ${proc.held} ${pid}`;
    if (told === proc.told) return;
    proc.told = told;
    this.#sink.event({ type: "state", name: proc.name, state, held: proc.held, pid });
    // What others wait for may have happened: look again once this event is over.
    if (!this.#recheckDue) {
      this.#recheckDue = true;
      this.#clock.queueMicrotask(() => this.#recheck());
    }
  }

  // Starts the waiting processes whose dependencies now meet their
  // conditions, updates why the others wait, and goes on with an ordered
  // stopService.
  #recheck(): void {
    this.#recheckDue = false;
    for (const proc of this.#procs.values()) {
      if (proc.state.kind !== "waiting") continue;
      if (!this.#running || proc.held) continue;
      const verdict = this.#gate(proc);
      if (verdict === null) this.#start(proc);
      else this.#wait(proc, verdict);
    }
    if (this.#stopLater.size > 0) this.#stopInOrder();
  }

  // Whether a process may start now: null if so, else why not (and whether
  // it ever can, as things stand).
  #gate(proc: Proc): { reason: string; never: boolean } | null {
    if (proc.spec.dependsOn === undefined) return null;
    const gate = mayStart(proc.spec.dependsOn, (name) => {
      const dep = this.#procs.get(name);
      if (dep === undefined || isRemoving(dep)) return undefined;
      const state = dep.state;
      return {
        state: stateName(state),
        ready: state.kind === "running" ? state.ready : false,
        held: dep.held,
        lastExit: dep.lastExit,
        restart: this.#resolve(dep).restart,
        blocked: state.kind === "waiting" && state.never
          ? state.reason.replace(/^cannot start: /, "")
          : null,
      };
    });
    if (gate.kind === "start") return null;
    return gate.kind === "wait"
      ? { reason: gate.reason, never: false }
      : { reason: `cannot start: ${gate.reason}`, never: true };
  }

  // Keeps a process from starting until its dependencies are met.
  #wait(proc: Proc, verdict: { reason: string; never: boolean }): void {
    const state = proc.state;
    const same = state.kind === "waiting" && state.reason === verdict.reason;
    this.#set(proc, { kind: "waiting", ...verdict });
    if (!same) {
      this.#sink.event({ type: "waiting", name: proc.name, reason: verdict.reason });
    }
  }

  // Stops, of the processes stopService must stop, those none of whose
  // dependents is still alive: dependents stop before what they depend on,
  // each with its own killTime.
  #stopInOrder(): void {
    const left = [...this.#stopLater].filter((p) => p.state.kind === "running");
    this.#stopLater = new Set(left);
    const alive = (p: Proc) =>
      p.state.kind === "running" || p.state.kind === "stopping";
    const free = left.filter((p) =>
      ![...this.#procs.values()].some((q) =>
        q !== p && alive(q) && q.spec.dependsOn !== undefined &&
        Object.hasOwn(q.spec.dependsOn, p.name)
      )
    );
    // A cycle (the config refuses them) must not keep anything running.
    const stopping = [...this.#procs.values()].some((p) => p.state.kind === "stopping");
    for (const proc of free.length === 0 && !stopping ? left : free) {
      this.#stopLater.delete(proc);
      this.#stop(proc);
    }
  }

  // The process's spec with every default applied, under today's timing.
  #resolve(proc: Proc): ResolvedSpec {
    return resolveSpec(proc.spec, this.#timing);
  }

  #start(proc: Proc): void {
    const name = proc.name;
    const verdict = this.#gate(proc);
    if (verdict !== null) {
      this.#wait(proc, verdict);
      return;
    }
    const spec = this.#resolve(proc);
    const out = { stdout: NOT_YET, stderr: NOT_YET };
    let child: Child | null = null;
    const events: ChildEvents = {
      stdout: {
        write: (chunk) => out.stdout.write(chunk),
        end: () => out.stdout.end(),
      },
      stderr: {
        write: (chunk) => out.stderr.write(chunk),
        end: () => out.stderr.end(),
      },
      exit: (status, groupAlive) => {
        if (child) this.#onExit(proc, child, status, groupAlive);
      },
    };
    proc.starts++;
    try {
      child = this.#spawner.spawn(
        {
          name,
          argv: spec.argv,
          cwd: spec.cwd,
          env: spec.env,
          clearEnv: spec.clearEnv,
          uid: spec.uid,
          gid: spec.gid,
        },
        events,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      proc.spawnError = reason;
      this.#sink.event({ type: "spawn-failed", name, error: reason });
      // A start that fails is a death at age zero: it backs off.
      this.#afterDeath(proc, null, 0, "exited");
      return;
    }
    proc.spawnError = null;
    out.stdout = this.#sink.output(name, child.pid, "stdout");
    out.stderr = this.#sink.output(name, child.pid, "stderr");
    this.#set(proc, {
      kind: "running",
      child,
      startedAt: this.#clock.now(),
      ready: proc.spec.ready === undefined,
      wasReady: proc.spec.ready === undefined,
    });
    this.#sink.event({ type: "started", name, pid: child.pid });
  }

  #stopping(
    proc: Proc,
    from: Live,
    then: AfterStop,
    exit: ExitRecord | null,
  ): Stopping {
    const killTime = this.#resolve(proc).timing.killTime * 1000;
    const state: Stopping = {
      kind: "stopping",
      child: from.child,
      startedAt: from.startedAt,
      then,
      killTimer: null,
      killAt: this.#clock.now() + killTime,
      killed: false,
      exit,
      unwatch: null,
    };
    state.killTimer = this.#clock.setTimeout(() => {
      state.killTimer = null;
      if (proc.state === state) this.#kill(proc, state);
    }, killTime);
    return state;
  }

  #kill(proc: Proc, state: Stopping): void {
    if (state.killed) return;
    if (state.killTimer !== null) this.#clock.clearTimeout(state.killTimer);
    state.killTimer = null;
    state.killAt = null;
    if (state.exit === null && state.child.reaped) {
      // The leader is gone and its exit is on its way (its last output is
      // being read). Whether anything is left to kill is known when it
      // comes: #onExit decides then.
      return;
    }
    state.killed = true;
    this.#sink.event({
      type: "sigkill",
      name: proc.name,
      pid: state.child.pid,
      why: state.killAsked ? "asked" : "killTime",
    });
    this.#signal(proc, state.child, "SIGKILL");
    this.#abandonLater(proc, state);
  }

  // After SIGKILL, a group that still shows up (a leader or members stuck
  // in the kernel, say) gets one more grace period, killTime but at least
  // ABANDON_MIN; then the monitor stops waiting for it rather than hang a
  // restart or a shutdown.
  #abandonLater(proc: Proc, state: Stopping): void {
    if (state.killTimer !== null) this.#clock.clearTimeout(state.killTimer);
    state.killTimer = this.#clock.setTimeout(() => {
      state.killTimer = null;
      if (proc.state !== state) return;
      // A reaped leader's exit is on its way; #onExit goes on from there.
      if (state.exit === null && state.child.reaped) return;
      this.#sink.event({ type: "abandoned", name: proc.name, pid: state.child.pid });
      // A leader whose exit never came counts as killed from now on.
      state.exit ??= {
        status: { code: null, signal: "SIGKILL" },
        at: this.#clock.now(),
      };
      this.#finish(proc, state);
    }, Math.max(this.#resolve(proc).timing.killTime, ABANDON_MIN) * 1000);
  }

  #onExit(proc: Proc, child: Child, status: ExitStatus, groupAlive: boolean): void {
    const state = proc.state;
    if (!("child" in state) || state.child !== child) return;
    const at = this.#clock.now();
    proc.lastExit = status;
    proc.lastExitAt = at;
    this.#sink.event({
      type: "exited",
      name: proc.name,
      pid: child.pid,
      status,
      runtime: (at - state.startedAt) / 1000,
    });
    // The streams are not ended here: the spawner ends each at its end of
    // file, which may come later (a slow log), and ending it early would
    // split its last line.
    const exit = { status, at };
    if (state.kind === "running") {
      if (!groupAlive) {
        this.#afterDeath(proc, status, (at - state.startedAt) / 1000, "exited");
        return;
      }
      // Members of its group live on: stop them the same way before any
      // restart, so no orphan outlives its service.
      const signal = this.#resolve(proc).stopSignal;
      this.#sink.event({ type: "leftovers", name: proc.name, pid: child.pid, signal });
      const stopping = this.#stopping(proc, state, "exited", exit);
      this.#set(proc, stopping);
      this.#signal(proc, child, signal, true);
      this.#watch(proc, stopping);
      return;
    }
    if (state.kind !== "stopping") return;
    state.exit = exit;
    if (!groupAlive) {
      this.#finish(proc, state);
      return;
    }
    if (state.killTimer === null) {
      // A timer ran out while this exit was on its way: the SIGKILL due
      // (see #kill), or the wait after it (see #abandonLater).
      if (state.killed) this.#abandonLater(proc, state);
      else this.#kill(proc, state);
    }
    this.#watch(proc, state);
  }

  #watch(proc: Proc, state: Stopping): void {
    state.unwatch = state.child.watchGroup(() => {
      state.unwatch = null;
      if (proc.state === state) this.#finish(proc, state);
    });
  }

  // The child and its whole group are gone.
  #finish(proc: Proc, state: Stopping): void {
    if (state.killTimer !== null) this.#clock.clearTimeout(state.killTimer);
    state.killTimer = null;
    state.unwatch?.();
    state.unwatch = null;
    const exit = state.exit!;
    this.#afterDeath(proc, exit.status, (exit.at - state.startedAt) / 1000, state.then);
  }

  // Decides what follows a death: procmon's connectionLost.
  #afterDeath(
    proc: Proc,
    status: ExitStatus | null,
    age: number,
    then: AfterStop,
  ): void {
    if (then === "remove") {
      this.#set(proc, { kind: "stopped" });
      this.#procs.delete(proc.name);
    } else if (!this.#running || then === "halt" || then === "hold") {
      this.#set(proc, { kind: "stopped" });
    } else {
      const spec = this.#resolve(proc);
      const healthy = isHealthyRun(age, spec.timing, status === null);
      if (then === "exited") proc.earlyDeaths = healthy ? 0 : proc.earlyDeaths + 1;
      if (then === "replace") {
        proc.delay = spec.timing.minRestartDelay;
        this.#schedule(proc, 0);
      } else if (then === "exited" && !restartWanted(spec, status)) {
        // A spawn failure (no status) under `never` can never get better.
        this.#set(proc, status === null ? { kind: "fatal" } : { kind: "exited" });
        this.#sink.event({
          type: "not-restarting",
          name: proc.name,
          reason: `restart: ${spec.restart}`,
        });
      } else if (
        then === "exited" && spec.maxRestarts !== null &&
        proc.earlyDeaths > spec.maxRestarts
      ) {
        // It died young again after its last restart allowed: give up.
        this.#set(proc, { kind: "fatal" });
        const n = proc.earlyDeaths;
        this.#sink.event({
          type: "not-restarting",
          name: proc.name,
          reason: `maxRestarts: ${spec.maxRestarts}; it died young ${n} time${
            n === 1 ? "" : "s"
          } in a row`,
        });
      } else if (healthy) {
        // A healthy run: restart at once, and forget earlier back-off.
        proc.delay = spec.timing.minRestartDelay;
        this.#schedule(proc, 0);
      } else {
        // It died young: wait, and wait twice as long next time.
        const delay = proc.delay;
        proc.delay = doubledDelay(delay, spec.timing);
        this.#schedule(proc, delay, status === null);
      }
    }
    this.#checkSettled();
  }

  #schedule(proc: Proc, delay: number, macrotask = false): void {
    const state: Backoff = {
      kind: "backoff",
      restartAt: this.#clock.now() + delay * 1000,
      timer: null,
    };
    this.#set(proc, state);
    this.#sink.event({ type: "restart-scheduled", name: proc.name, delay });
    const fire = () => {
      if (proc.state === state) this.#start(proc);
    };
    // "At once" means right after the current event, at the same instant;
    // a 0 ms timer could run later than that. A failed spawn retries on a
    // timer even at 0 s, so a loop of failures cannot starve the event loop.
    if (delay === 0 && !macrotask) this.#clock.queueMicrotask(fire);
    else state.timer = this.#clock.setTimeout(fire, delay * 1000);
  }

  #cancelBackoff(proc: Proc): void {
    const state = proc.state;
    if (state.kind !== "backoff") return;
    if (state.timer !== null) this.#clock.clearTimeout(state.timer);
    state.timer = null;
    this.#set(proc, { kind: "stopped" });
  }

  #checkSettled(): void {
    if (this.#settled.length === 0) return;
    for (const proc of this.#procs.values()) {
      const kind = proc.state.kind;
      if (kind === "stopping" || (kind === "running" && !this.#running)) return;
    }
    const waiters = this.#settled;
    this.#settled = [];
    for (const resolve of waiters) resolve();
  }
}

// Whether the restart policy wants a process that exited on its own (or
// could not be started: no status) to start again.
function restartWanted(spec: ResolvedSpec, status: ExitStatus | null): boolean {
  switch (spec.restart) {
    case "always":
      return true;
    case "on-failure":
      return status === null || status.code !== 0;
    case "never":
      return false;
  }
}

// A process on its way out after removeProcess.
function isRemoving(proc: Proc): boolean {
  return proc.state.kind === "stopping" && proc.state.then === "remove";
}
