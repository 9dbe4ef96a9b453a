/**
 * The probe scheduler: runs one readiness or liveness probe of one child
 * and turns its results into transitions, Kubernetes' way.
 *
 * Rules, each pinned by a test in `tests/core/probes_test.ts`:
 *
 * - **Timing.** The first check runs `initialDelay` after
 *   {@linkcode ProbeRunner.start} (a timer even at 0, so no callback ever
 *   runs inside `start()`); each next check starts `period` after the
 *   previous one *started* (a fixed rate, as Kubernetes' ticker).
 * - **Timeout.** A check that has not answered within `timeout` counts as
 *   failed at that instant (`timed out after 1s`); the prober is told to
 *   give up (its `AbortSignal` fires) and whatever it answers later is
 *   ignored.
 * - **No overlap.** At most one check per probe is in flight: a check
 *   still running when the next is due (only possible when `timeout` is
 *   above `period`) delays that next one until it is given up at its
 *   timeout; the next one then starts at once.
 * - **Thresholds.** Results count in runs of the same outcome; a
 *   different outcome starts a new run (Kubernetes' `resultRun`). A
 *   readiness probe starts not ready, becomes ready after `successes`
 *   passes in a row, and not ready again after `failures` failures in a
 *   row, for as long as the process runs. A liveness probe starts alive
 *   and fails once, after `failures` failures in a row; it then stops
 *   itself (the process is about to be restarted). A liveness probe's
 *   `successes` has nothing to count (one pass ends a run of failures),
 *   which is why the config allows only 1 there, as Kubernetes does.
 * - **Event-driven kinds.** `log` and `notify` have no period, timeout or
 *   thresholds: a `log` probe passes on the first line that matches its
 *   pattern, a `notify` probe on `READY=1`; both are readiness only and
 *   stay passed for the life of the child.
 * - **Stop.** {@linkcode ProbeRunner.stop} cancels every timer, aborts
 *   the check in flight and ignores every later result or line: probes
 *   never outlive their process. A runner is single-use: once stopped it
 *   does not start again (the next child gets a new runner).
 *
 * Pure: time comes from a {@linkcode Clock}, checks go through a
 * {@linkcode Prober}.
 *
 * @module
 */

import { formatDuration } from "./duration.ts";
import type { Clock, Prober, ProbeResult, ProbeTarget, TimerHandle } from "./ports.ts";
import {
  type ProbeCheck,
  type ProbeSpec,
  type ResolvedProbe,
  resolveProbe,
} from "./spec.ts";

/**
 * Whether V8's linear-time regular expression engine is on (Deno's
 * `--v8-flags=--enable-experimental-regexp-engine`, which tend's tasks pass).
 */
export const LINEAR_REGEXP: boolean = (() => {
  try {
    new RegExp("", "l");
    return true;
  } catch {
    return false;
  }
})();

/**
 * Compiles a log probe's pattern for V8's linear-time engine (flag `l`), so
 * no line a child prints can make a match backtrack for ever (ReDoS): the
 * pattern is a child-facing hostile surface, matched against every line.
 * Throws a SyntaxError when the engine is off or the pattern needs
 * backtracking (back-references, lookarounds).
 *
 * @example
 * ```ts ignore
 * linearRegExp("listening on \\d+").test("listening on 80"); // true
 * ```
 */
export function linearRegExp(pattern: string): RegExp {
  if (!LINEAR_REGEXP) {
    throw new SyntaxError(
      "log probes need V8's linear-time regular expressions: run tend with " +
        "--v8-flags=--enable-experimental-regexp-engine (tend's tasks do)",
    );
  }
  return new RegExp(pattern, "l");
}

/** Which probe of a process: readiness (`ready:`) or liveness (`alive:`). */
export type ProbeRole = "ready" | "alive";

/** A probe's result with the clock time it was taken. */
export interface ProbeOutcome extends ProbeResult {
  /** When the result came, in clock milliseconds. */
  at: number;
}

/** What a {@linkcode ProbeRunner} is built from. */
export interface ProbeRunnerOptions {
  /** Readiness or liveness: where it starts and what a change means. */
  role: ProbeRole;
  /** The probe as the config gives it; missing fields take Kubernetes' defaults. */
  probe: ProbeSpec;
  /** The child it checks. */
  target: ProbeTarget;
  /** Runs the `http`, `tcp` and `exec` checks. */
  prober: Prober;
  /** Time source for the delay, the period and the timeout. */
  clock: Clock;
  /**
   * Called when the probe's verdict flips: readiness becomes ready
   * (`true`) or not ready (`false`); liveness fails (`false`, once).
   * `detail` says why, naming the check
   * (`tcp 127.0.0.1:5432: 3 failures in a row, the last: connection refused`).
   * Never called from inside {@linkcode ProbeRunner.start}.
   */
  onChange(passing: boolean, detail: string): void;
  /** Called with every result (and every `STATUS=` of a notify probe), for status. */
  onResult?(outcome: ProbeOutcome): void;
}

/** The probe kinds tend feeds from outside instead of running on a period. */
export type EventKind = "log" | "notify";

/** Whether a check is fed by tend (`log`, `notify`) rather than run on a period. */
export function isEventDriven(
  check: ProbeCheck,
): check is Extract<ProbeCheck, { kind: EventKind }> {
  return check.kind === "log" || check.kind === "notify";
}

/**
 * A check in words, as status, the log and `tend check` show it.
 *
 * @example
 * ```ts
 * import { describeCheck } from "./probes.ts";
 * describeCheck({ kind: "tcp", host: "127.0.0.1", port: 5432 }); // "tcp 127.0.0.1:5432"
 * describeCheck({ kind: "exec", argv: ["/bin/sh", "-c", "pg_isready"] }); // "shell pg_isready"
 * describeCheck({ kind: "log", pattern: "listening on \\d+" }); // "log /listening on \\d+/"
 * ```
 */
export function describeCheck(check: ProbeCheck): string {
  switch (check.kind) {
    case "http":
      return check.url;
    case "tcp":
      return `tcp ${
        check.host.includes(":") ? `[${check.host}]` : check.host
      }:${check.port}`;
    case "exec": {
      const [sh, c, script, ...rest] = check.argv;
      if (sh === "/bin/sh" && c === "-c" && script !== undefined && rest.length === 0) {
        return `shell ${script}`;
      }
      return `exec ${check.argv.map(shellQuote).join(" ")}`;
    }
    case "log":
      return `log /${check.pattern}/`;
    case "notify":
      return "notify";
  }
}

function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

// The longest line of output a log probe quotes in its result.
const QUOTE_MAX = 200;

// One check in flight: when it started and how to tell the prober to give up.
interface Flight {
  startedAt: number;
  controller: AbortController;
}

/**
 * Runs one probe of one child; see the module doc for the rules.
 *
 * @example
 * ```ts ignore
 * const runner = new ProbeRunner({
 *   role: "ready",
 *   probe: { check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 },
 *   target: { name: "db", pid: 1234 },
 *   prober,
 *   clock,
 *   onChange: (ready, detail) => monitor.setReady("db", 1234, ready, detail),
 * });
 * runner.start();
 * // ... when the child exits:
 * runner.stop();
 * ```
 */
export class ProbeRunner {
  /** Readiness or liveness. */
  readonly role: ProbeRole;
  /** The probe with its defaults applied. */
  readonly probe: ResolvedProbe;
  /** The child it checks. */
  readonly target: ProbeTarget;
  #prober: Prober;
  #clock: Clock;
  #onChange: (passing: boolean, detail: string) => void;
  #onResult: ((outcome: ProbeOutcome) => void) | undefined;
  #pattern: RegExp | null = null;
  #started = false;
  #active = false;
  #passing: boolean;
  #last: ProbeOutcome | null = null;
  // Results in a row with the same outcome as #last.
  #streak = 0;
  #checks = 0;
  // The initial delay, or the wait until the next check.
  #timer: TimerHandle | null = null;
  // The timeout of the check in flight.
  #deadline: TimerHandle | null = null;
  #flight: Flight | null = null;
  // A notify probe's last STATUS= text.
  #status: string | null = null;

  /**
   * Builds a runner; nothing runs until {@linkcode start}.
   *
   * @throws {RangeError} for a liveness probe of an event-driven kind
   *   (`log`, `notify`), which could only ever pass
   */
  constructor(options: ProbeRunnerOptions) {
    this.role = options.role;
    this.probe = resolveProbe(options.probe);
    this.target = options.target;
    this.#prober = options.prober;
    this.#clock = options.clock;
    this.#onChange = options.onChange;
    this.#onResult = options.onResult;
    const check = this.probe.check;
    if (this.role === "alive" && isEventDriven(check)) {
      throw new RangeError(
        `Cannot run a liveness probe of kind "${check.kind}": it is for readiness only`,
      );
    }
    // Readiness starts not ready, liveness alive (Kubernetes' initial results).
    this.#passing = this.role === "alive";
    if (check.kind === "log") {
      try {
        this.#pattern = linearRegExp(check.pattern);
      } catch {
        // The config checks patterns; one that slipped through never matches.
        this.#pattern = null;
      }
    }
  }

  /** The current verdict: ready (readiness) or alive (liveness). */
  get passing(): boolean {
    return this.#passing;
  }

  /** Whether it is started and not stopped: checks run, lines are read. */
  get active(): boolean {
    return this.#active;
  }

  /** The last result, or `null` before the first. */
  get last(): ProbeOutcome | null {
    return this.#last;
  }

  /** How many results in a row had the last result's outcome. */
  get streak(): number {
    return this.#streak;
  }

  /** How many checks were started (periodic kinds). */
  get checks(): number {
    return this.#checks;
  }

  /** Whether {@linkcode line} would look at a line: an active `log` probe not yet passed. */
  get wantsLines(): boolean {
    return this.#active && this.#pattern !== null && !this.#passing;
  }

  /** Starts the schedule (periodic kinds) or the listening (event kinds); once only. */
  start(): void {
    if (this.#started) return;
    this.#started = true;
    this.#active = true;
    if (isEventDriven(this.probe.check)) return;
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#run();
    }, this.probe.initialDelay * 1000);
  }

  /**
   * Stops for good: cancels every timer, aborts the check in flight, and
   * ignores every later result, line and message. Calling it again, or
   * before {@linkcode start}, is fine.
   */
  stop(): void {
    this.#started = true;
    this.#active = false;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timer = null;
    if (this.#deadline !== null) this.#clock.clearTimeout(this.#deadline);
    this.#deadline = null;
    const flight = this.#flight;
    this.#flight = null;
    flight?.controller.abort();
  }

  /**
   * Takes one line of the child's output (a `log` probe): the first that
   * matches makes it pass. Ignored by other kinds, and once passed.
   */
  line(text: string): void {
    if (!this.wantsLines || !this.#pattern!.test(text)) return;
    const quoted = text.length > QUOTE_MAX ? `${text.slice(0, QUOTE_MAX)}…` : text;
    this.#result({ ok: true, message: `matched ${JSON.stringify(quoted)}` });
  }

  /**
   * Takes one message the child sent to its `NOTIFY_SOCKET` (a `notify`
   * probe): newline-separated `KEY=VALUE` assignments as systemd's
   * `sd_notify` sends them. `READY=1` makes it pass; `STATUS=...` is kept
   * as its last result's text; the rest is ignored.
   */
  notify(message: string): void {
    if (!this.#active || this.probe.check.kind !== "notify") return;
    let ready = false;
    let status: string | null = null;
    for (const assignment of message.split("\n")) {
      const eq = assignment.indexOf("=");
      if (eq <= 0) continue;
      const key = assignment.slice(0, eq);
      const value = assignment.slice(eq + 1);
      if (key === "READY" && value === "1") ready = true;
      else if (key === "STATUS") status = value;
    }
    if (status !== null) this.#status = status;
    const said = this.#status === null ? "" : `; status: ${this.#status}`;
    if (ready && !this.#passing) {
      this.#result({ ok: true, message: `READY=1${said}` });
    } else if (status !== null) {
      // A status line is news for status, not a check: no run is counted.
      const outcome = {
        ok: this.#passing,
        message: `${this.#passing ? "READY=1; " : ""}status: ${status}`,
        at: this.#clock.now(),
      };
      this.#last = outcome;
      this.#onResult?.(outcome);
    }
  }

  #run(): void {
    if (!this.#active || this.#flight !== null) return;
    const flight: Flight = {
      startedAt: this.#clock.now(),
      controller: new AbortController(),
    };
    this.#flight = flight;
    this.#checks++;
    const timeout = this.probe.timeout;
    this.#deadline = this.#clock.setTimeout(() => {
      this.#deadline = null;
      // Given up: the prober is told, and its answer will come too late.
      flight.controller.abort();
      this.#finish(flight, {
        ok: false,
        message: `timed out after ${formatDuration(timeout)}`,
      });
    }, timeout * 1000);
    let pending: Promise<ProbeResult>;
    try {
      pending = this.#prober.check(
        this.probe.check,
        this.target,
        timeout * 1000,
        flight.controller.signal,
      );
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (result) => this.#finish(flight, result),
      (error) =>
        this.#finish(flight, {
          ok: false,
          message: `the check failed: ${
            error instanceof Error ? error.message : String(error)
          }`,
        }),
    );
  }

  // A check ended (answered, or given up at its timeout).
  #finish(flight: Flight, result: ProbeResult): void {
    // A late answer: given up at its timeout, or the runner was stopped.
    if (this.#flight !== flight) return;
    this.#flight = null;
    if (this.#deadline !== null) this.#clock.clearTimeout(this.#deadline);
    this.#deadline = null;
    this.#result(result, flight);
  }

  // Counts a result, moves the verdict, schedules the next check, and then
  // tells the callbacks: the schedule is set before any callback runs, so
  // one that throws cannot stop it.
  #result(result: ProbeResult, flight?: Flight): void {
    const ok = result.ok === true;
    const outcome: ProbeOutcome = {
      ok,
      message: String(result.message),
      at: this.#clock.now(),
    };
    this.#streak = this.#last !== null && this.#last.ok === ok ? this.#streak + 1 : 1;
    this.#last = outcome;
    let change: boolean | null = null;
    if (ok && !this.#passing && this.#streak >= this.probe.successes) change = true;
    else if (!ok && this.#passing && this.#streak >= this.probe.failures) {
      change = false;
    }
    if (change !== null) this.#passing = change;
    if (change === false && this.role === "alive") {
      // It is about to be restarted: nothing more to check on this child.
      this.stop();
    } else if (flight !== undefined && this.#active) {
      const wait = flight.startedAt + this.probe.period * 1000 - outcome.at;
      // Overdue (the check took its whole timeout, and that is above the
      // period): the next one starts now, at the same instant, not on a
      // 0 ms timer that could run later.
      if (wait <= 0) this.#clock.queueMicrotask(() => this.#run());
      else {
        this.#timer = this.#clock.setTimeout(() => {
          this.#timer = null;
          this.#run();
        }, wait);
      }
    }
    this.#onResult?.(outcome);
    if (change !== null) this.#onChange(change, this.#detail(outcome));
  }

  #detail(outcome: ProbeOutcome): string {
    const n = this.#streak;
    const run = n > 1
      ? `${n} ${outcome.ok ? "passes" : "failures"} in a row, the last: `
      : "";
    return `${describeCheck(this.probe.check)}: ${run}${outcome.message}`;
  }
}
