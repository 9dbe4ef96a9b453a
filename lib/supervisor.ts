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
import { ProcessMonitor, type ProcessStatus } from "./core/monitor.ts";
import type { Clock, Spawner } from "./core/ports.ts";
import { planReload } from "./core/reload.ts";
import type { SignalName } from "./core/signals.ts";
import type { Config } from "./config/load.ts";
import type { Logger } from "./output/log.ts";

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
  #firstStop: { signal: string; at: number } | null = null;
  #reloading: Promise<ReloadReport> | null = null;
  #nextReload: Promise<ReloadReport> | null = null;

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
    this.events.on((event) => log.event(event));
    this.events.on((event) => {
      if (event.type === "not-restarting") queueMicrotask(() => this.#checkAllDone());
    });
    this.monitor = new ProcessMonitor({
      spawner: this.#spawner,
      clock: this.#clock,
      timing: this.#config.timing,
      sink: {
        event: (event: MonitorEvent) => this.events.emit(event),
        output: (name, pid, stream) => log.output(name, pid, stream),
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
      // Exits are reported right after their output, however slow the log.
      this.#spawner.leaving();
      await this.monitor.stopService();
      await Promise.race([this.#spawner.idle(this.#outputWait), this.insisted]);
      this.#log.log("info", "every process has stopped");
      this.#finish(code);
    })();
  }

  /** Sends SIGKILL to every process group that is left, now. */
  kill(): void {
    this.monitor.killAll();
  }

  /**
   * A stop request from outside (SIGTERM, SIGINT, Ctrl-C): the first one
   * stops everything gracefully; another one kills every group at once,
   * unless it is the same signal within 50 ms (the same keypress).
   */
  interrupt(signal: string): InterruptOutcome {
    const now = this.#clock.now();
    if (!this.stopping) {
      this.#firstStop = { signal, at: now };
      this.#log.log(
        "info",
        `${signal}: stopping every process (send it again to kill them at once)`,
      );
      void this.shutdown(0);
      return "stopping";
    }
    const first = this.#firstStop;
    if (first?.signal === signal && now - first.at < SAME_KEYPRESS_MS) return "repeat";
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

  /** A snapshot of every process's state. */
  status(): ProcessStatus[] {
    return this.monitor.status();
  }

  /** Logs one status record per process (supervisorctl's `status`, as a signal). */
  reportStatus(): void {
    this.#log.status(this.monitor.status(), this.#clock.now());
  }

  /**
   * tend itself failed: no restarts from here on, every group is killed
   * (its children lead their own sessions and would outlive it), and
   * {@linkcode exit} settles with 1.
   */
  fail(error: unknown): void {
    const text = error instanceof Error ? error.stack ?? error.message : String(error);
    this.#log.log("error", `internal failure: ${text}`);
    this.#spawner.leaving();
    void this.monitor.stopService();
    this.kill();
    this.#finish(1);
  }

  async #reload(source: string): Promise<ReloadReport> {
    if (this.#load === null) {
      const problem = "nothing to reload when running a single command";
      this.#log.log("warn", `${source}: ${problem}`);
      return { ok: false, problems: [problem] };
    }
    if (this.stopping) return { ok: false, problems: ["tend is stopping"] };
    const file = this.#config.file;
    this.#log.log("info", `${source}: reloading ${file}`);
    const result = await this.#load();
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
    const plan = planReload(this.monitor.processes, next.processes);
    for (const name of plan.removed) this.monitor.removeProcess(name);
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
    // The reload may have removed the last process that could still run.
    this.#checkAllDone();
    return report;
  }

  // When no process can ever run again (each exited under restart: never
  // or on-failure, or could not start), there is nothing left to
  // supervise: exit with the status of the first process that failed.
  #checkAllDone(): void {
    if (this.stopping) return;
    const status = this.monitor.status();
    if (!status.every((s) => s.state === "EXITED" || s.state === "FATAL")) return;
    const failed = status.find((s) => s.state === "FATAL" || s.lastExit?.code !== 0);
    this.#log.log("info", "every process has finished; exiting");
    const code = failed
      ? exitCodeOf(
        failed.state === "FATAL" ? null : failed.lastExit,
        this.#signalNumber,
      )
      : 0;
    void this.shutdown(code);
  }
}
