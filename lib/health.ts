/**
 * Health: the probes of every running child, wired to the monitor.
 *
 * {@linkcode Health} follows the monitor's events: when a child starts it
 * starts that child's probe runners (`ready:` and `alive:`), and when the
 * child exits, or is sent its stop signal, or is replaced, it stops them,
 * so probes never outlive their process. Verdicts go to a
 * {@linkcode HealthTarget} (the monitor): readiness changes through
 * `setReady`, a failed liveness probe through `liveFailed`. It keeps each
 * process's last probe results for status, takes the child's output lines
 * for `log` probes ({@linkcode Health.lines}, to be teed into the output
 * path) and its `NOTIFY_SOCKET` messages for `notify` probes
 * ({@linkcode Health.notified}).
 *
 * Decisions:
 *
 * - Readiness and liveness both start when the child starts, each after
 *   its own `initialDelay`, as Kubernetes runs them: a process that hangs
 *   before it is ever ready is restarted by its liveness probe, not left
 *   STARTING forever. A slow starter gets a liveness `initialDelay` (or a
 *   generous `failures`).
 * - A process without a `ready:` probe is ready once it runs: the monitor
 *   decides that from the spec; Health calls `setReady` only for
 *   processes that have a readiness probe.
 * - When a child's probes stop, Health does not call `setReady(false)`:
 *   a child that is gone is not ready, and the monitor knows it is gone.
 *   Its last results stay readable in {@linkcode Health.status} until the
 *   process starts again.
 * - Every call to the target names the child's pid; Health never calls
 *   with the pid of a child it has stopped the probes of, and the monitor
 *   should still ignore a pid that is not its current child's.
 * - No call to the target is ever made from inside {@linkcode Health.event}
 *   (the first check runs on a timer, lines and messages come from
 *   outside), so the monitor is never re-entered while it emits.
 *
 * @module
 */

import type { MonitorEvent } from "./core/events.ts";
import {
  describeCheck,
  type ProbeOutcome,
  type ProbeRole,
  ProbeRunner,
} from "./core/probes.ts";
import type { Clock, OutputStream, Prober, ProbeTarget } from "./core/ports.ts";
import type { ProcessSpec } from "./core/spec.ts";
import { escapeUtf8, type LineSink } from "./output/framer.ts";

/** What Health tells about a child's probes: the monitor implements it. */
export interface HealthTarget {
  /**
   * The child's readiness changed. Called only for a process with a
   * `ready:` probe: with `true` once it passed `successes` times in a row
   * (or its log line matched, or it sent `READY=1`), with `false` after
   * `failures` failures in a row while it was ready, and so on for as
   * long as the child runs.
   *
   * @param detail why, naming the check:
   *   `tcp 127.0.0.1:5432: connected`,
   *   `http://127.0.0.1:8000/health: 3 failures in a row, the last: HTTP 503 Service Unavailable`
   */
  setReady(name: string, pid: number, ready: boolean, detail: string): void;
  /**
   * The child's liveness probe failed `failures` times in a row: restart
   * it through the normal rules (a bounce) and log the reason. Called
   * once per child; its liveness probe has stopped by then.
   *
   * @param reason why, naming the check:
   *   `http://127.0.0.1:8000/health: 3 failures in a row, the last: timed out after 1s`
   */
  liveFailed(name: string, pid: number, reason: string): void;
}

/** What a {@linkcode Health} is built from. */
export interface HealthOptions {
  /** Runs the `http`, `tcp` and `exec` checks (`os/probes.ts` has the real one). */
  prober: Prober;
  /** Time source for every probe's delay, period and timeout. */
  clock: Clock;
  /** Where verdicts go. */
  target: HealthTarget;
  /**
   * The spec a process runs with now, by name (`undefined`: unknown). Read
   * when a child starts, and when the output path asks for {@linkcode Health.lines}.
   */
  specOf(name: string): ProcessSpec | undefined;
  /**
   * Called with an error the target threw, so that one bad call does not
   * stop a probe; by default it is thrown again (an internal failure).
   */
  onError?(error: unknown): void;
}

/** One probe of a process, for status. */
export interface ProbeStatus {
  /** Readiness or liveness. */
  role: ProbeRole;
  /** What it checks, in words (`tcp 127.0.0.1:5432`). */
  check: string;
  /** Its verdict: ready (readiness) or alive (liveness). */
  passing: boolean;
  /** Whether it is still checking (false once the child is gone). */
  active: boolean;
  /** How many results in a row had the last result's outcome. */
  streak: number;
  /** Its last result, or `null` before the first. */
  last: ProbeOutcome | null;
}

/** The probes of a process's current (or last) child, for status. */
export interface HealthStatus {
  /** The child the probes check (or checked). */
  pid: number;
  /** Its readiness probe, if it has one. */
  ready: ProbeStatus | null;
  /** Its liveness probe, if it has one. */
  alive: ProbeStatus | null;
  /** The latest result of either probe, or `null` before the first. */
  last: (ProbeOutcome & { role: ProbeRole }) | null;
}

// The probe runners of one child.
interface Probes {
  pid: number;
  ready: ProbeRunner | null;
  alive: ProbeRunner | null;
}

const decoder = new TextDecoder();

/**
 * Whether a process's readiness is told by its output lines (a `log`
 * probe), so the output path should tee them to {@linkcode Health.lines}.
 */
export function readsLines(spec: ProcessSpec | undefined): boolean {
  return spec?.ready?.check.kind === "log";
}

/**
 * Whether a process's readiness is told through `NOTIFY_SOCKET` (a
 * `notify` probe), so it needs a socket of its own.
 */
export function needsNotifySocket(spec: ProcessSpec | undefined): boolean {
  return spec?.ready?.check.kind === "notify";
}

/**
 * Runs the probes of every running child; see the module doc.
 *
 * @example
 * ```ts ignore
 * const health = new Health({
 *   prober: new DenoProber(),
 *   clock: systemClock,
 *   target: monitor, // setReady, liveFailed
 *   specOf: (name) => monitor.processes[name],
 * });
 * events.on((event) => health.event(event));
 * // in the output path, for each child's stream:
 * const lines = teeLines(log.lines(name, pid, stream), health.lines(name, pid, stream));
 * // from the NOTIFY_SOCKET receiver:
 * health.notified(name, pid, "READY=1");
 * ```
 */
export class Health {
  #prober: Prober;
  #clock: Clock;
  #target: HealthTarget;
  #specOf: (name: string) => ProcessSpec | undefined;
  #onError: (error: unknown) => void;
  #probes = new Map<string, Probes>();
  #closed = false;

  /** Builds a Health with no probes running. */
  constructor(options: HealthOptions) {
    this.#prober = options.prober;
    this.#clock = options.clock;
    this.#target = options.target;
    this.#specOf = options.specOf;
    this.#onError = options.onError ?? ((error) => {
      throw error;
    });
  }

  /**
   * Follows one monitor event: `started` starts the child's probes;
   * `exited`, `stop-signal`, and a `state` whose pid is not the child's
   * any more stop them. Other events are ignored.
   */
  event(event: MonitorEvent): void {
    switch (event.type) {
      case "started":
        this.#start(event.name, event.pid);
        break;
      case "exited":
      case "stop-signal":
        this.#stop(event.name, event.pid);
        break;
      case "state": {
        const probes = this.#probes.get(event.name);
        if (probes !== undefined && probes.pid !== event.pid) {
          this.#stop(event.name, probes.pid);
        }
        break;
      }
    }
  }

  /**
   * A sink for the lines one child writes to one stream, for its `log`
   * probe, or `null` when the process has none (then nothing needs to be
   * teed). The sink looks at a line only while the probe waits for its
   * match: it decodes just that line's bytes, borrowed, and never copies
   * the chunk; once the probe has passed (or the child is gone) each line
   * costs a flag test.
   */
  lines(name: string, pid: number, _stream: OutputStream): LineSink | null {
    if (!readsLines(this.#specOf(name))) return null;
    let runner: ProbeRunner | null = null;
    // The runner starts with the child's `started` event, which the
    // monitor emits after it asked for the output handlers: look it up on
    // the first line, and keep it.
    const find = (): ProbeRunner | null => {
      if (runner !== null) return runner;
      const probes = this.#probes.get(name);
      if (probes?.pid === pid) runner = probes.ready;
      return runner;
    };
    return {
      line(bytes, start, end, valid) {
        const probe = find();
        if (probe === null || !probe.wantsLines) return;
        probe.line(decodeLine(bytes, start, end, valid));
      },
      lines(bytes, starts, ends, count) {
        const probe = find();
        if (probe === null) return;
        for (let i = 0; i < count && probe.wantsLines; i++) {
          probe.line(decoder.decode(bytes.subarray(starts[i]!, ends[i]!)));
        }
      },
    };
  }

  /**
   * Takes one message a child sent to its `NOTIFY_SOCKET`
   * (`READY=1`, `STATUS=...`, newline-separated as `sd_notify` sends them).
   *
   * @returns whether a `notify` probe of that child took it
   */
  notified(name: string, pid: number, message: string): boolean {
    const probes = this.#probes.get(name);
    const runner = probes?.pid === pid ? probes.ready : null;
    if (runner === null || runner.probe.check.kind !== "notify" || !runner.active) {
      return false;
    }
    runner.notify(message);
    return true;
  }

  /**
   * The probes of a process's current child (or of its last one, stopped),
   * or `null` when it has none or has not started since it got them.
   */
  status(name: string): HealthStatus | null {
    const probes = this.#probes.get(name);
    if (probes === undefined) return null;
    const ready = probes.ready && describe(probes.ready);
    const alive = probes.alive && describe(probes.alive);
    const latest =
      [ready, alive].filter((p) => p?.last).sort((a, b) =>
        b!.last!.at - a!.last!.at
      )[0];
    return {
      pid: probes.pid,
      ready,
      alive,
      last: latest ? { ...latest.last!, role: latest.role } : null,
    };
  }

  /** Stops a process's probes and forgets its results (it was removed). */
  forget(name: string): void {
    const probes = this.#probes.get(name);
    if (probes === undefined) return;
    this.#stop(name, probes.pid);
    this.#probes.delete(name);
  }

  /** Stops every probe for good (tend is shutting down); later events are ignored. */
  close(): void {
    this.#closed = true;
    for (const [name, probes] of this.#probes) this.#stop(name, probes.pid);
  }

  #start(name: string, pid: number): void {
    const old = this.#probes.get(name);
    if (old !== undefined) this.#stop(name, old.pid);
    const spec = this.#specOf(name);
    if (this.#closed || spec === undefined || (!spec.ready && !spec.alive)) {
      this.#probes.delete(name);
      return;
    }
    const target: ProbeTarget = {
      name,
      pid,
      cwd: spec.cwd,
      env: spec.env,
      clearEnv: spec.clearEnv,
      uid: spec.uid,
      gid: spec.gid,
    };
    const probes: Probes = { pid, ready: null, alive: null };
    if (spec.ready) {
      probes.ready = new ProbeRunner({
        role: "ready",
        probe: spec.ready,
        target,
        prober: this.#prober,
        clock: this.#clock,
        onChange: (ready, detail) =>
          this.#tell(() => this.#target.setReady(name, pid, ready, detail)),
      });
    }
    if (spec.alive) {
      probes.alive = new ProbeRunner({
        role: "alive",
        probe: spec.alive,
        target,
        prober: this.#prober,
        clock: this.#clock,
        onChange: (alive, detail) => {
          if (!alive) this.#tell(() => this.#target.liveFailed(name, pid, detail));
        },
      });
    }
    this.#probes.set(name, probes);
    probes.ready?.start();
    probes.alive?.start();
  }

  #stop(name: string, pid: number): void {
    const probes = this.#probes.get(name);
    if (probes === undefined || probes.pid !== pid) return;
    probes.ready?.stop();
    probes.alive?.stop();
  }

  #tell(call: () => void): void {
    try {
      call();
    } catch (error) {
      this.#onError(error);
    }
  }
}

function describe(runner: ProbeRunner): ProbeStatus {
  return {
    role: runner.role,
    check: describeCheck(runner.probe.check),
    passing: runner.passing,
    active: runner.active,
    streak: runner.streak,
    last: runner.last,
  };
}

// A line as text, invalid UTF-8 shown as \xNN the way the log shows it, so
// a pattern matches what users read there.
function decodeLine(
  bytes: Uint8Array,
  start: number,
  end: number,
  valid: boolean,
): string {
  return decoder.decode(
    valid ? bytes.subarray(start, end) : escapeUtf8(bytes, start, end),
  );
}
