/**
 * The data that describes what tend runs: timing settings, process specs,
 * and {@linkcode resolveSpec}, the one place where every default is applied.
 *
 * This module is pure data and small helpers; it imports only `core/`, so
 * the monitor, the config loader and the CLI can all share it.
 *
 * @module
 */

import type { SignalName } from "./signals.ts";

/** When a process that exited on its own is started again. */
export type RestartPolicy = "always" | "on-failure" | "never";

/** Every restart policy, in the order the docs list them. */
export const RESTART_POLICIES: readonly RestartPolicy[] = [
  "always",
  "on-failure",
  "never",
];

/**
 * The four timing rules of procmon, in seconds.
 *
 * A run at least `threshold` long is healthy and is restarted at once;
 * a shorter one is restarted after the current delay, which then doubles
 * from `minRestartDelay` up to `maxRestartDelay`. `killTime` is the grace
 * between the stop signal and SIGKILL.
 */
export interface Timing {
  /** Seconds a run must last to count as healthy. @default 1 */
  threshold: number;
  /** Seconds between the stop signal and SIGKILL. @default 5 */
  killTime: number;
  /** First back-off delay in seconds. @default 1 */
  minRestartDelay: number;
  /** Largest back-off delay in seconds. @default 3600 */
  maxRestartDelay: number;
}

/** procmon's defaults for the four timing rules. */
export const DEFAULT_TIMING: Readonly<Timing> = Object.freeze({
  threshold: 1,
  killTime: 5,
  minRestartDelay: 1,
  maxRestartDelay: 3600,
});

/** The names of the timing keys, for loops over them. */
export const TIMING_KEYS: readonly (keyof Timing)[] = [
  "threshold",
  "killTime",
  "minRestartDelay",
  "maxRestartDelay",
];

/** What a probe checks; see {@linkcode ProbeSpec}. */
export type ProbeCheck =
  /** An HTTP GET answered with 2xx or 3xx within the timeout. */
  | { kind: "http"; url: string }
  /** A TCP connection accepted within the timeout. */
  | { kind: "tcp"; host: string; port: number }
  /** A command (its own process group) that exits 0 within the timeout. */
  | { kind: "exec"; argv: string[] }
  /** A line of the process's own output matches (readiness only). */
  | { kind: "log"; pattern: string }
  /** The process sends `READY=1` to its `NOTIFY_SOCKET` (readiness only). */
  | { kind: "notify" };

/**
 * A readiness or liveness probe, with Kubernetes' fields (seconds and
 * counts). Missing fields take {@linkcode DEFAULT_PROBE}'s values.
 */
export interface ProbeSpec {
  /** What to check. */
  check: ProbeCheck;
  /** Seconds after the start before the first check. @default 0 */
  initialDelay?: number;
  /** Seconds between checks. @default 10 */
  period?: number;
  /** Seconds a check may take before it counts as failed. @default 1 */
  timeout?: number;
  /** Passes in a row that make it pass. @default 1 */
  successes?: number;
  /** Failures in a row that make it fail. @default 3 */
  failures?: number;
}

/** Kubernetes' probe defaults. */
export const DEFAULT_PROBE: Readonly<Required<Omit<ProbeSpec, "check">>> = Object
  .freeze({
    initialDelay: 0,
    period: 10,
    timeout: 1,
    successes: 1,
    failures: 3,
  });

/** A {@linkcode ProbeSpec} with every default applied; see {@linkcode resolveProbe}. */
export type ResolvedProbe = Required<ProbeSpec>;

/**
 * Applies {@linkcode DEFAULT_PROBE} to the fields a probe leaves out.
 *
 * @example
 * ```ts
 * import { resolveProbe } from "./spec.ts";
 * const probe = resolveProbe({ check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 });
 * probe.period; // 1
 * probe.failures; // 3
 * ```
 */
export function resolveProbe(probe: ProbeSpec): ResolvedProbe {
  return {
    check: probe.check,
    initialDelay: probe.initialDelay ?? DEFAULT_PROBE.initialDelay,
    period: probe.period ?? DEFAULT_PROBE.period,
    timeout: probe.timeout ?? DEFAULT_PROBE.timeout,
    successes: probe.successes ?? DEFAULT_PROBE.successes,
    failures: probe.failures ?? DEFAULT_PROBE.failures,
  };
}

/**
 * What a dependency must reach before its dependent starts: started (it
 * runs), ready (its readiness probe passed) or done (it exited with 0).
 */
export type DependencyCondition = "started" | "ready" | "done";

/**
 * A process's log file, resolved: its absolute path, and when it rotates.
 * The text records of the process (its lines and tend's events about it)
 * are written there, besides tend's own log.
 */
export interface LogFileSpec {
  /** Absolute path of the file; rotated copies are `FILE.1`, `FILE.2`, ... */
  file: string;
  /** A record that would take the file past this many bytes rotates it first; 0: never. */
  maxBytes: number;
  /** Rotated copies kept (`FILE.1` ... `FILE.N`); the oldest beyond is deleted. */
  backups: number;
}

/** The rotation a log file gets when the config does not say: 10 MB, 5 copies. */
export const DEFAULT_LOG_ROTATION: Readonly<Omit<LogFileSpec, "file">> = Object.freeze({
  maxBytes: 10_000_000,
  backups: 5,
});

/** How to run one named process. Everything here is plain JSON. */
export interface ProcessSpec {
  /** The program and its arguments; `argv[0]` is looked up on `PATH`. */
  argv: string[];
  /** Working directory; tend's own when absent. */
  cwd?: string;
  /** Variables added to the environment (or the whole of it with `clearEnv`). */
  env?: Record<string, string>;
  /** Start from an empty environment, as procmon does. @default false */
  clearEnv?: boolean;
  /** User id to run as (needs root). */
  uid?: number;
  /** Group id to run as (needs root). */
  gid?: number;
  /** Signal that asks the process to stop. @default "SIGTERM" */
  stopSignal?: SignalName;
  /** When a process that exited on its own is started again. @default "always" */
  restart?: RestartPolicy;
  /** Whether it starts with the monitor; `false`: only when started by name. @default true */
  autostart?: boolean;
  /**
   * Restarts in a row after early deaths (runs shorter than `threshold`,
   * failed starts included) before it gives up (`FATAL`). @default unlimited
   */
  maxRestarts?: number;
  /** A readiness probe: the process is STARTING until it passes. */
  ready?: ProbeSpec;
  /** A liveness probe: `failures` in a row restart the process. */
  alive?: ProbeSpec;
  /** Processes that must reach a condition before this one starts, by name. */
  dependsOn?: Record<string, DependencyCondition>;
  /**
   * Its log file, resolved (the top-level `log.dir` already applied); none
   * when absent. Not part of how it runs: see {@linkcode sameSpec}.
   */
  log?: LogFileSpec;
  /** Per-process override of `threshold`, in seconds. */
  threshold?: number;
  /** Per-process override of `killTime`, in seconds. */
  killTime?: number;
  /** Per-process override of `minRestartDelay`, in seconds. */
  minRestartDelay?: number;
  /** Per-process override of `maxRestartDelay`, in seconds. */
  maxRestartDelay?: number;
}

/** A {@linkcode ProcessSpec} with every default applied; see {@linkcode resolveSpec}. */
export interface ResolvedSpec {
  /** The program and its arguments. */
  argv: string[];
  /** Working directory, or `undefined` for tend's own. */
  cwd: string | undefined;
  /** Variables added to the environment (or all of it with `clearEnv`). */
  env: Record<string, string>;
  /** Start from an empty environment. */
  clearEnv: boolean;
  /** User id to run as, or `undefined` for tend's own. */
  uid: number | undefined;
  /** Group id to run as, or `undefined` for tend's own. */
  gid: number | undefined;
  /** Signal that asks the process to stop. */
  stopSignal: SignalName;
  /** When a process that exited on its own is started again. */
  restart: RestartPolicy;
  /** Whether it starts with the monitor. */
  autostart: boolean;
  /** Restarts in a row after early deaths before it gives up; `null`: no limit. */
  maxRestarts: number | null;
  /** The readiness probe with its defaults, or `null` for none. */
  ready: ResolvedProbe | null;
  /** The liveness probe with its defaults, or `null` for none. */
  alive: ResolvedProbe | null;
  /** What must hold before it starts, by process name; empty for nothing. */
  dependsOn: Record<string, DependencyCondition>;
  /** Its log file, or `null` when its records go to tend's log only. */
  log: LogFileSpec | null;
  /** The timing that applies to this process: its own keys, else the monitor's. */
  timing: Timing;
}

/**
 * Applies every default to a spec: its own timing keys over the monitor's,
 * `SIGTERM`, `always`, an empty environment addition. The monitor, `tend
 * check` and status all read specs through this, so a default lives here
 * and nowhere else.
 *
 * @example
 * ```ts
 * import { DEFAULT_TIMING, resolveSpec } from "./spec.ts";
 * const spec = resolveSpec({ argv: ["sleep", "1"], killTime: 2 }, DEFAULT_TIMING);
 * spec.stopSignal; // "SIGTERM"
 * spec.timing.killTime; // 2
 * spec.timing.threshold; // 1
 * ```
 *
 * @param spec the process as the config describes it
 * @param timing the monitor-wide timing its own timing keys override
 */
export function resolveSpec(spec: ProcessSpec, timing: Timing): ResolvedSpec {
  return {
    argv: spec.argv,
    cwd: spec.cwd,
    env: spec.env ?? {},
    clearEnv: spec.clearEnv ?? false,
    uid: spec.uid,
    gid: spec.gid,
    stopSignal: spec.stopSignal ?? "SIGTERM",
    restart: spec.restart ?? "always",
    autostart: spec.autostart ?? true,
    maxRestarts: spec.maxRestarts ?? null,
    ready: spec.ready ? resolveProbe(spec.ready) : null,
    alive: spec.alive ? resolveProbe(spec.alive) : null,
    dependsOn: spec.dependsOn ?? {},
    log: spec.log ?? null,
    timing: {
      threshold: spec.threshold ?? timing.threshold,
      killTime: spec.killTime ?? timing.killTime,
      minRestartDelay: spec.minRestartDelay ?? timing.minRestartDelay,
      maxRestartDelay: spec.maxRestartDelay ?? timing.maxRestartDelay,
    },
  };
}

/** How a process ended: an exit code, or the signal that killed it. */
export type ExitStatus =
  | { code: number; signal: null }
  | { code: null; signal: SignalName };

/** The characters a process name may hold: they appear in log tags and file names. */
const NAME_CHARS = "A-Za-z0-9_.-";

/** Process names tend accepts. */
export const NAME_PATTERN: RegExp = new RegExp(`^[${NAME_CHARS}]+$`);

const NOT_NAME_CHARS = new RegExp(`[^${NAME_CHARS}]`, "g");

/**
 * Turns any text (a program's basename, say) into a valid process name,
 * each character a name may not hold replaced with `_`.
 *
 * @example
 * ```ts
 * import { toProcessName } from "./spec.ts";
 * toProcessName("my server"); // "my_server"
 * toProcessName(""); // "cmd"
 * ```
 */
export function toProcessName(text: string): string {
  return text.replace(NOT_NAME_CHARS, "_") || "cmd";
}

/**
 * Tells whether two specs would run the same thing the same way.
 *
 * Keys whose value is `undefined` count as absent, so a spec read from YAML
 * and one rebuilt from JSON compare equal. `log` is left out: where the
 * records are written does not change how the process runs, so a reload
 * that changes only that moves the records to the new file without
 * restarting the process.
 */
export function sameSpec(a: ProcessSpec, b: ProcessSpec): boolean {
  return canonicalJson({ ...a, log: undefined }) ===
    canonicalJson({ ...b, log: undefined });
}

function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      const sorted: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) {
        setOwn(sorted, k, (v as Record<string, unknown>)[k]);
      }
      return sorted;
    }
    return v;
  });
}

/**
 * Sets `record[key]` as an own property, even for keys such as
 * `__proto__` that plain assignment would treat specially; names come from
 * users' files.
 *
 * @example
 * ```ts
 * import { setOwn } from "./spec.ts";
 * const record: Record<string, number> = {};
 * setOwn(record, "__proto__", 1);
 * Object.keys(record); // ["__proto__"]
 * ```
 */
export function setOwn<T>(record: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(record, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
