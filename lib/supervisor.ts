/**
 * The Supervisor: the monitor, the spawner, the log and the config put
 * together, with the operations that OS signals, the command line and the
 * control API share, and the policies around them:
 *
 * - a second stop request kills every group at once, but a repeat of the
 *   same signal within 50 ms is the same keypress (`deno task` delivers
 *   one Ctrl-C twice); it also tells whoever waits on tend's way out to
 *   stop waiting ({@linkcode Supervisor.insisted});
 * - reloads are serialised and coalesced: a request during a reload gets
 *   the outcome of one more reload that starts after it;
 * - when every process has finished for good, tend exits with the status
 *   of the first that failed, as a one-shot job under cron expects.
 *
 * @module
 */

import { EventBus, type MonitorEvent } from "./core/events.ts";
import { exitCodeOf } from "./core/exit.ts";
import {
  ProcessMonitor,
  type ProcessStatus,
  UnknownProcessError,
} from "./core/monitor.ts";
import type {
  Child,
  ChildEvents,
  Clock,
  Prober,
  Spawner,
  SpawnRequest,
} from "./core/ports.ts";
import { planReload } from "./core/reload.ts";
import type { SignalName } from "./core/signals.ts";
import type { Config } from "./config/load.ts";
import { Health, type HealthStatus, needsNotifySocket } from "./health.ts";
import { LogFiles, type LogFileSystem } from "./output/files.ts";
import { framedOutput, teeLines } from "./output/framer.ts";
import type { Logger } from "./output/log.ts";
import { ProcessCounters } from "./output/counters.ts";
import { OutputRing } from "./output/ring.ts";

/** A spawner that can also tell when its children's output has been read. */
export interface OutputSpawner extends Spawner {
  /**
   * Resolves once every output stream has been read to its end, or after
   * `ms` milliseconds, whichever comes first.
   */
  idle(ms: number): Promise<void>;
  /**
   * tend is on its way out: the output left in the pipes of children that
   * have exited is read without waiting for the log, so that their exits
   * are reported at once, each after its last output.
   */
  leaving(): void;
}

/**
 * Datagram sockets for children's `NOTIFY_SOCKET` (`os/notify.ts` has the
 * real one): a child with a `notify` readiness probe gets its own.
 */
export interface ChildNotifySockets {
  /**
   * A new socket; `onMessage` gets what a member of `group` sends to it.
   * A child running as another user (`owner`) is given the socket file.
   */
  listen(
    onMessage: (message: { pid: number; fields: ReadonlyMap<string, string> }) => void,
    options?: { owner?: { uid: number; gid: number } },
  ): { readonly env: Record<string, string>; group: number | null; close(): void };
  /** Closes every socket and removes the directory. */
  close(): void;
}

/** What a reload found: the config to apply, or what is wrong with the file. */
export type LoadResult = { config: Config } | { problems: string[] };

/** The outcome of a reload. */
export type ReloadReport =
  | {
    ok: true;
    /** Processes started because the file added them. */
    added: string[];
    /** Processes stopped and forgotten. */
    removed: string[];
    /** Processes stopped and started with their new spec. */
    changed: string[];
    /** Processes left alone (same pid). */
    unchanged: string[];
  }
  | {
    ok: false;
    /** Every problem, formatted (`FILE:LINE:COL: key: what is wrong`). */
    problems: string[];
  };

/**
 * A step of tend's own life that is not any one process's, for followers
 * such as sd_notify: a reload begins (it went past its checks) and ends,
 * and the shutdown begins.
 */
export type SupervisorPhase =
  | { type: "reloading"; source: string }
  | { type: "reloaded"; report: ReloadReport }
  | { type: "stopping"; code: number };

/** What a {@linkcode Supervisor} is built from. */
export interface SupervisorOptions {
  /** The config to run. */
  config: Config;
  /**
   * Reads the config again, for a reload; `null` when there is nothing to
   * reload (`tend run -- CMD`). Problems with the file come back as a
   * result; a rejection is an internal failure.
   */
  load: (() => Promise<LoadResult>) | null;
  /** Starts the processes. */
  spawner: OutputSpawner;
  /** Runs the `http`, `tcp` and `exec` probe checks (`os/probes.ts` has the real one). */
  prober: Prober;
  /**
   * Makes the sockets for `notify` readiness probes, when a process first
   * needs one; `null` or a throw (its message says why: no FFI, a folder it
   * cannot write) when that cannot be done here, and a `notify` probe then
   * never passes. @default no sockets
   */
  notifySockets?: () => ChildNotifySockets | null;
  /** Time source. */
  clock: Clock;
  /** Where records go. */
  log: Logger;
  /** The number of a signal on this system, for exit statuses (128+N). */
  signalNumber: (signal: SignalName) => number;
  /**
   * Milliseconds tend waits, on its way out, for its children's last
   * output to be read. @default 2000
   */
  outputWait?: number;
  /**
   * Where each process's recent output is kept, for `tend logs`; `null`
   * keeps none (a benchmark's baseline). @default a new OutputRing
   */
  ring?: OutputRing | null;
  /**
   * Where the processes' log files (`log:`) are written (`os/log_files.ts`
   * has the real one); `null` writes none. @default null
   */
  logFiles?: LogFileSystem | null;
}

/** What {@linkcode Supervisor.interrupt} did with a stop request. */
export type InterruptOutcome = "stopping" | "killing" | "repeat";

// How close a repeated stop signal must follow the first to count as the
// same delivery (see the module doc).
const SAME_KEYPRESS_MS = 50;

/**
 * Runs a config: starts it, stops it, reloads it, reports on it, and
 * settles {@linkcode Supervisor.exit} with tend's exit status.
 *
 * @example
 * ```ts ignore
 * const supervisor = new Supervisor({ config, load, spawner, clock, log, signalNumber });
 * supervisor.start();
 * Deno.addSignalListener("SIGTERM", () => supervisor.interrupt("SIGTERM"));
 * const code = await supervisor.exit;
 * ```
 */
export class Supervisor {
  /** The state machine; read-only use outside this class. */
  readonly monitor: ProcessMonitor;
  /** Every monitor event, for whoever wants to follow them. */
  readonly events: EventBus = new EventBus();
  /** Settles with tend's exit status once tend is done. */
  readonly exit: Promise<number>;
  /**
   * Settles when a stop is requested again while tend is stopping (a
   * second SIGTERM, not the same keypress): whatever tend still waits for
   * on its way out (its children's last output, a slow stdout), it should
   * stop waiting and exit once its children are gone.
   */
  readonly insisted: Promise<void>;
  /** Each process's recent output (empty when built with `ring: null`). */
  readonly ring: OutputRing;
  /** What each process printed (lines, bytes) and how often it exited, for metrics. */
  readonly counters: ProcessCounters = new ProcessCounters();

  #config: Config;
  #load: (() => Promise<LoadResult>) | null;
  #spawner: OutputSpawner;
  #clock: Clock;
  #log: Logger;
  #signalNumber: (signal: SignalName) => number;
  #outputWait: number;
  #finish!: (code: number) => void;
  #insist!: () => void;
  #stopping: Promise<void> | null = null;
  #lastStop: { signal: string; at: number } | null = null;
  #health: Health;
  #files: LogFiles | null = null;
  // Children's NOTIFY_SOCKETs, made when a process first needs one.
  #sockets: ChildNotifySockets | null | undefined;
  #reloading: Promise<ReloadReport> | null = null;
  #nextReload: Promise<ReloadReport> | null = null;
  #phaseListeners: ((phase: SupervisorPhase) => void)[] = [];
  #reloadListeners: ((report: ReloadReport) => void)[] = [];

  /** Builds a supervisor with its processes added but not started. */
  constructor(options: SupervisorOptions) {
    this.#config = options.config;
    this.#load = options.load;
    this.#spawner = options.spawner;
    this.#clock = options.clock;
    this.#log = options.log;
    this.#signalNumber = options.signalNumber;
    this.#outputWait = options.outputWait ?? 2000;
    this.exit = new Promise((resolve) => this.#finish = resolve);
    this.insisted = new Promise((resolve) => this.#insist = resolve);
    const log = this.#log;
    this.#health = new Health({
      prober: options.prober,
      clock: this.#clock,
      // Verdicts come on timers and from outside, never while the monitor emits.
      target: {
        setReady: (name, pid, ready, detail) =>
          this.monitor.setReady(name, pid, ready, detail),
        liveFailed: (name, pid, reason) => this.monitor.liveFailed(name, pid, reason),
      },
      specOf: (name) => this.monitor.specOf(name),
    });
    const ring = options.ring === undefined ? new OutputRing() : options.ring;
    this.ring = ring ?? new OutputRing();
    this.events.on((event) => log.event(event));
    if (options.logFiles) {
      const files = this.#files = new LogFiles({
        fs: options.logFiles,
        onNotice: (message) => log.log("warn", message),
      });
      files.configure(this.#config.processes, () => false);
      this.events.on((event) => files.event(event));
    }
    this.events.on((event) => this.#health.event(event));
    this.events.on((event) => {
      if (event.type === "not-restarting") queueMicrotask(() => this.#checkAllDone());
      else if (event.type === "exited") this.counters.exited(event.name);
    });
    const counters = this.counters;
    this.monitor = new ProcessMonitor({
      spawner: this.#withNotifySockets(options.notifySockets ?? (() => null)),
      clock: this.#clock,
      timing: this.#config.timing,
      sink: {
        event: (event: MonitorEvent) => this.events.emit(event),
        // The ring sees every line first, then the log, then the log file,
        // then a log probe (borrowed bytes, no copy); only the log's
        // back-pressure paces the child (a log file drops instead).
        // Counting (for metrics) wraps the whole: bytes per chunk, lines per batch.
        output: (name, pid, stream) =>
          counters.bytes(
            name,
            stream,
            framedOutput(
              counters.lines(
                name,
                stream,
                teeLines(
                  teeLines(
                    ring === null ? log.lines(name, pid, stream) : teeLines(
                      ring.lines(name, pid, stream),
                      log.lines(name, pid, stream),
                    ),
                    this.#files?.lines(name, pid, stream) ?? null,
                  ),
                  this.#health.lines(name, pid, stream),
                ),
              ),
              () => log.backpressure(),
            ),
          ),
      },
    });
    for (const [name, spec] of Object.entries(this.#config.processes)) {
      this.monitor.addProcess(name, spec);
    }
  }

  /** The config in force: the first one, or the last that reloaded cleanly. */
  get config(): Config {
    return this.#config;
  }

  /** Whether there is a file to reload (not so for `tend run -- CMD`). */
  get canReload(): boolean {
    return this.#load !== null;
  }

  /** The monitor clock's time now, in milliseconds (what status times count in). */
  now(): number {
    return this.#clock.now();
  }

  /**
   * Calls `listener` with the report of each reload that applied a file
   * (SIGHUP or `tend reload`; not one that found problems); returns a
   * function that stops.
   */
  onReload(listener: (report: ReloadReport) => void): () => void {
    this.#reloadListeners = [...this.#reloadListeners, listener];
    return () => {
      this.#reloadListeners = this.#reloadListeners.filter((l) => l !== listener);
    };
  }

  /** Whether a stop was requested (by a signal, or because all was done). */
  get stopping(): boolean {
    return this.#stopping !== null;
  }

  /** Starts every process. */
  start(): void {
    this.monitor.startService();
  }

  /**
   * Stops every process gracefully (stop signal, SIGKILL after killTime)
   * and then settles {@linkcode exit} with `code`. Calling it again while
   * a stop is under way changes nothing and returns the same promise.
   */
  shutdown(code = 0): Promise<void> {
    return this.#stopping ??= (async () => {
      this.#phase({ type: "stopping", code });
      // Exits are reported right after their output, however slow the log.
      this.#spawner.leaving();
      await this.monitor.stopService();
      this.#health.close();
      this.#sockets?.close();
      await Promise.race([this.#spawner.idle(this.#outputWait), this.insisted]);
      this.#log.log("info", "every process has stopped");
      this.#finish(code);
    })();
  }

  /**
   * A stop asked for by a command (`tend shutdown`): logged with who
   * asked, then {@linkcode shutdown} with status 0. Asking again while
   * stopping changes nothing (unlike a second SIGTERM, which kills).
   */
  requestShutdown(source: string): Promise<void> {
    if (!this.stopping) this.#log.log("info", `${source}: stopping every process`);
    return this.shutdown(0);
  }

  /** Sends SIGKILL to every process group that is left, now. */
  kill(): void {
    this.monitor.killAll();
  }

  /**
   * A stop request from outside (SIGTERM, SIGINT, Ctrl-C): the first one
   * stops everything gracefully; another one kills every group at once,
   * unless it is the same signal within 50 ms of the last one (the same
   * keypress).
   */
  interrupt(signal: string): InterruptOutcome {
    const now = this.#clock.now();
    if (!this.stopping) {
      this.#lastStop = { signal, at: now };
      this.#log.log(
        "info",
        `${signal}: stopping every process (send it again to kill them at once)`,
      );
      void this.shutdown(0);
      return "stopping";
    }
    // Compared with the last request acted on, not the first: under deno
    // task each Ctrl-C arrives twice, the second press too.
    const last = this.#lastStop;
    if (last?.signal === signal && now - last.at < SAME_KEYPRESS_MS) return "repeat";
    this.#lastStop = { signal, at: now };
    this.#log.log("warn", `${signal} again: sending SIGKILL to every process group`);
    this.kill();
    this.#insist();
    return "killing";
  }

  /**
   * Reads the config again and applies the difference: removed processes
   * are stopped and forgotten, added ones started, changed ones restarted
   * with their new spec, unchanged ones left alone; new monitor-wide
   * timing applies from then on. An invalid file changes nothing.
   *
   * @param source who asked, for the log (`SIGHUP`, `tend reload`)
   */
  reload(source: string): Promise<ReloadReport> {
    if (this.#reloading === null) {
      this.#reloading = this.#reload(source).finally(() => this.#reloading = null);
      return this.#reloading;
    }
    // One more reload after the one under way serves every request made
    // meanwhile: each of them sees the file as it was after it asked.
    return this.#nextReload ??= this.#reloading.then(() => {
      this.#nextReload = null;
      return this.reload(source);
    });
  }

  /**
   * Calls `listener` at each {@linkcode SupervisorPhase}; returns a
   * function that removes it. A listener must not throw.
   */
  onPhase(listener: (phase: SupervisorPhase) => void): () => void {
    this.#phaseListeners = [...this.#phaseListeners, listener];
    return () => {
      this.#phaseListeners = this.#phaseListeners.filter((l) => l !== listener);
    };
  }

  /**
   * A snapshot of every process's state, with each running child's last
   * probe result in `probe` (the monitor knows only the verdicts: a
   * process STARTING because its probe fails says why only here).
   */
  status(): ProcessStatus[] {
    return this.monitor.status().map((s) => this.#withProbe(s));
  }

  /**
   * A snapshot of one process's state.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  processStatus(name: string): ProcessStatus {
    const status = this.monitor.status().find((s) => s.name === name);
    if (status === undefined) throw new UnknownProcessError(name);
    return this.#withProbe(status);
  }

  /** What the probes of a process found, or `null` when it has none. */
  health(name: string): HealthStatus | null {
    return this.#health.status(name);
  }

  /**
   * Starts processes by name (`tend start`): releases holds, brings
   * back-offs forward, revives FATAL and EXITED ones. Every name is checked
   * first: if one is unknown, nothing is done for any.
   *
   * @throws {UnknownProcessError} naming the first unknown name
   */
  startProcesses(names: readonly string[]): void {
    for (const name of this.#known(names)) this.monitor.startProcess(name);
  }

  /**
   * Stops processes by name and keeps them stopped (`tend stop`). Every
   * name is checked first.
   *
   * @throws {UnknownProcessError} naming the first unknown name
   */
  stopProcesses(names: readonly string[]): void {
    for (const name of this.#known(names)) this.monitor.holdProcess(name);
  }

  /**
   * Restarts processes by name (`tend restart`): stop, then start at once.
   * Every name is checked first.
   *
   * @throws {UnknownProcessError} naming the first unknown name
   */
  restartProcesses(names: readonly string[]): void {
    for (const name of this.#known(names)) this.monitor.restartProcess(name);
  }

  /**
   * Sends `signal` to each named process's group (`tend signal`). Every
   * name is checked first; then each gets the signal if it has a child.
   *
   * @returns per name, `null` when sent, else why not (no child, the OS refused)
   * @throws {UnknownProcessError} naming the first unknown name
   */
  signalProcesses(signal: SignalName, names: readonly string[]): (string | null)[] {
    return this.#known(names).map((name) => {
      try {
        this.monitor.signalProcess(name, signal);
        return null;
      } catch (error) {
        return error instanceof Error ? error.message : String(error);
      }
    });
  }

  /**
   * Resolves with a process's status once `test` holds for it, checking
   * at once and at each change; resolves with `null` after `timeoutMs`
   * (clock milliseconds) if it never did.
   *
   * @throws {UnknownProcessError} if there is no such process
   */
  waitFor(
    name: string,
    test: (status: ProcessStatus) => boolean,
    timeoutMs: number,
  ): Promise<ProcessStatus | null> {
    const now = this.processStatus(name);
    if (test(now)) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (status: ProcessStatus | null) => {
        off();
        this.#clock.clearTimeout(timer);
        resolve(status);
      };
      const off = this.events.on((event) => {
        if (event.type !== "state" || event.name !== name) return;
        const status = this.monitor.status().find((s) => s.name === name);
        if (status === undefined) done(null); // removed meanwhile
        else if (test(status)) done(status);
      });
      const timer = this.#clock.setTimeout(() => done(null), timeoutMs);
    });
  }

  /**
   * Writes what is left to the log files and closes them, once tend's
   * children are gone; resolves when done (a file that fails is tried once
   * more first, as tend's own log is).
   */
  closeLogFiles(): Promise<void> {
    return this.#files?.close() ?? Promise.resolve();
  }

  /** Logs one status record per process (supervisorctl's `status`, as a signal). */
  reportStatus(): void {
    this.#log.status(this.status(), this.#clock.now());
  }

  /**
   * tend itself failed: no restarts from here on, every group is killed
   * (its children lead their own sessions and would outlive it), and
   * {@linkcode exit} settles with 1.
   */
  fail(error: unknown): void {
    const text = error instanceof Error ? error.stack ?? error.message : String(error);
    this.#log.log("error", `internal failure: ${text}`);
    this.#health.close();
    this.#spawner.leaving();
    void this.monitor.stopService();
    this.kill();
    this.#finish(1);
  }

  // The spawner, giving each child with a `notify` readiness probe a
  // NOTIFY_SOCKET of its own, whose messages go to its probe.
  #withNotifySockets(make: () => ChildNotifySockets | null): Spawner {
    const spawner = this.#spawner;
    return {
      spawn: (request: SpawnRequest, events: ChildEvents): Child => {
        const name = request.name;
        if (name === undefined || !needsNotifySocket(this.monitor.specOf(name))) {
          return spawner.spawn(request, events);
        }
        if (this.#sockets === undefined) {
          let why = "they need --allow-ffi";
          try {
            this.#sockets = make();
          } catch (error) {
            // Say what really failed (a full or read-only folder, not FFI).
            this.#sockets = null;
            why = error instanceof Error ? error.message : String(error);
          }
          if (this.#sockets === null) {
            this.#log.log(
              "warn",
              `notify probes get no socket per child (${why}): they never pass`,
            );
          }
        }
        const sockets = this.#sockets;
        if (sockets === null) return spawner.spawn(request, events);
        let pid = 0;
        const owner = request.uid === undefined
          ? undefined
          : { uid: request.uid, gid: request.gid ?? request.uid };
        const listener = sockets.listen((message) => {
          const text = [...message.fields].map(([k, v]) => `${k}=${v}`).join("\n");
          this.#health.notified(name, pid, text);
        }, { owner });
        let child: Child;
        try {
          child = spawner.spawn(
            { ...request, env: { ...request.env, ...listener.env } },
            {
              ...events,
              exit: (status, groupAlive) => {
                listener.close();
                events.exit(status, groupAlive);
              },
            },
          );
        } catch (error) {
          listener.close();
          throw error;
        }
        // Only the child's own group may send, from now on.
        pid = child.pid;
        listener.group = child.pid;
        return child;
      },
    };
  }

  // The status with the latest result of either probe of its current
  // child, as `CHECK: RESULT` (`tcp 127.0.0.1:5432: Connection refused`);
  // the monitor's own (the last verdict's) when there is none yet.
  #withProbe(s: ProcessStatus): ProcessStatus {
    const health = s.pid === null ? null : this.#health.status(s.name);
    const last = health?.pid === s.pid ? health.last : null;
    if (!health || !last) return s;
    const probe = last.role === "ready" ? health.ready : health.alive;
    return { ...s, probe: probe ? `${probe.check}: ${last.message}` : last.message };
  }

  // The names, once each is known to be a process's.
  #known(names: readonly string[]): readonly string[] {
    const known = new Set(this.monitor.status().map((s) => s.name));
    const unknown = names.find((name) => !known.has(name));
    if (unknown !== undefined) throw new UnknownProcessError(unknown);
    return names;
  }

  async #reload(source: string): Promise<ReloadReport> {
    if (this.#load === null) {
      const problem = "nothing to reload when running a single command";
      this.#log.log("warn", `${source}: ${problem}`);
      return { ok: false, problems: [problem] };
    }
    if (this.stopping) return { ok: false, problems: ["tend is stopping"] };
    this.#phase({ type: "reloading", source });
    let report: ReloadReport = { ok: false, problems: ["the reload failed"] };
    try {
      return report = await this.#applyReload(source, this.#load);
    } finally {
      this.#phase({ type: "reloaded", report });
    }
  }

  async #applyReload(
    source: string,
    load: () => Promise<LoadResult>,
  ): Promise<ReloadReport> {
    const file = this.#config.file;
    this.#log.log("info", `${source}: reloading ${file}`);
    const result = await load();
    if (this.stopping) return { ok: false, problems: ["tend is stopping"] };
    if ("problems" in result) {
      const n = result.problems.length;
      this.#log.log(
        "error",
        `reload failed, keeping the running config: ${n} problem${n === 1 ? "" : "s"}`,
      );
      for (const problem of result.problems) this.#log.log("error", problem);
      return { ok: false, problems: result.problems };
    }
    const next = result.config;
    this.#config = next;
    this.monitor.setTiming(next.timing);
    // Before the processes change, so that the records of what the reload
    // does to them (a start, a stop) are in their new files; a removed
    // process that runs keeps its file until it exits.
    const running = new Set(
      this.monitor.status().filter((s) => s.pid !== null).map((s) => s.name),
    );
    this.#files?.configure(next.processes, (name) => running.has(name));
    const plan = planReload(this.monitor.processes, next.processes);
    for (const name of plan.removed) {
      this.monitor.removeProcess(name);
      this.#health.forget(name);
      this.ring.forget(name);
      this.counters.forget(name);
    }
    for (const [name, spec] of plan.added) this.monitor.addProcess(name, spec);
    for (const [name, spec] of plan.changed) this.monitor.updateProcess(name, spec);
    const report = {
      ok: true as const,
      added: plan.added.map(([name]) => name),
      removed: plan.removed,
      changed: plan.changed.map(([name]) => name),
      unchanged: plan.unchanged,
    };
    this.#log.log(
      "info",
      `reloaded ${file}: ${report.added.length} added, ${report.removed.length} ` +
        `removed, ${report.changed.length} changed, ${report.unchanged.length} unchanged`,
    );
    for (const listener of this.#reloadListeners) {
      try {
        listener(report);
      } catch (error) {
        // A listener's failure (a follower's stream, say) is not the reload's.
        this.#log.log("error", `after the reload: ${String(error)}`);
      }
    }
    // The reload may have removed the last process that could still run.
    this.#checkAllDone();
    return report;
  }

  #phase(phase: SupervisorPhase): void {
    for (const listener of this.#phaseListeners) listener(phase);
  }

  // When no process can ever run again (each exited under restart: never
  // or on-failure, or could not start), there is nothing left to
  // supervise: exit with the status of the first process that failed.
  #checkAllDone(): void {
    if (this.stopping) return;
    const status = this.monitor.status();
    // One that waits for a dependency that can never meet its condition
    // will not run either; the dependency's own failure is the status.
    const over = (s: ProcessStatus) =>
      s.state === "EXITED" || s.state === "FATAL" || s.blocked;
    if (!status.every(over)) return;
    const failed = status.find((s) =>
      !s.blocked && (s.state === "FATAL" || s.lastExit?.code !== 0)
    );
    this.#log.log("info", "every process has finished; exiting");
    const code = failed
      ? exitCodeOf(
        // FATAL because its last start failed: 127; because it kept dying
        // (maxRestarts): how it last died.
        failed.spawnError !== null ? null : failed.lastExit,
        this.#signalNumber,
      )
      : 0;
    void this.shutdown(code);
  }
}
