/**
 * `/metrics`: the processes' status and counters in Prometheus' text
 * exposition format (`text/plain; version=0.0.4`), computed at scrape
 * time. Pure: status and counters in, text out.
 *
 * Written by hand rather than with `npm:prom-client`: tend's numbers all
 * exist already (in the monitor's status and the output counters), so a
 * registry of metric objects would be a second copy kept in step on every
 * event; prom-client also costs about 20 MB of memory and 50 ms of
 * startup under Deno (measured), and its default process metrics read
 * `/proc`, which Deno allows only under `--allow-all`, and fail
 * `promtool check metrics`. The format is small: a HELP and a TYPE line
 * per family, then one line per series, each family contiguous.
 *
 * Labels are bounded: a process's name, a state out of seven, a stream out
 * of two; never a pid, a time or an exit code, which would make a new
 * series at every restart.
 *
 * @module
 */

import type { ProcessCount } from "../output/counters.ts";
import type { ProcessState } from "../core/states.ts";

/** Every state a process can be in, in the order metrics list them. */
export const STATES: readonly ProcessState[] = [
  "STOPPED",
  "STARTING",
  "RUNNING",
  "BACKOFF",
  "STOPPING",
  "EXITED",
  "FATAL",
];

/** One process, as the metrics see it. */
export interface ProcessMetrics {
  /** Its name. */
  name: string;
  /** Its state. */
  state: ProcessState;
  /** Whether it runs and its readiness probe passed. */
  ready: boolean;
  /** Whether it is held stopped (`tend stop`, `autostart: false`). */
  held: boolean;
  /** Starts after the first. */
  restarts: number;
  /** When its current child started, in Unix seconds; null without a child. */
  startTime: number | null;
  /** What it printed and how often it exited; absent before its first start. */
  counts: ProcessCount | undefined;
}

/** Everything one scrape shows. */
export interface MetricsInput {
  /** Every process, in config order. */
  processes: readonly ProcessMetrics[];
  /** tend's version. */
  version: string;
  /** Deno's version. */
  deno: string;
  /** When tend's process started, in Unix seconds. */
  startTime: number;
  /** tend's resident memory, in bytes. */
  residentMemory: number;
  /** CPU time tend has used (user and system), in seconds. */
  cpuSeconds: number;
}

/** The content type of the text format. */
export const METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

type Kind = "gauge" | "counter";

/**
 * The exposition text of one scrape.
 *
 * @example
 * ```ts
 * import { renderMetrics } from "./metrics.ts";
 * const text = renderMetrics({
 *   processes: [{
 *     name: "web", state: "RUNNING", ready: true, held: false, restarts: 2,
 *     startTime: 1700000000.5, counts: undefined,
 *   }],
 *   version: "0.1.0", deno: "2.9.6", startTime: 1700000000, residentMemory: 5e7,
 *   cpuSeconds: 0.25,
 * });
 * text.includes('tend_process_up{process="web"} 1\n'); // true
 * text.includes('tend_process_restarts_total{process="web"} 2\n'); // true
 * ```
 */
export function renderMetrics(input: MetricsInput): string {
  const out: string[] = [];
  const family = (name: string, kind: Kind, help: string, lines: string[]) => {
    out.push(`# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${kind}\n`);
    for (const line of lines) out.push(line);
  };
  const each = (value: (p: ProcessMetrics) => number | null, name: string) =>
    input.processes.flatMap((p) => {
      const v = value(p);
      return v === null ? [] : [`${name}{process="${label(p.name)}"} ${number(v)}\n`];
    });
  const perStream = (name: string, field: "lines" | "bytes") =>
    input.processes.flatMap((p) =>
      (["stdout", "stderr"] as const).map((stream) =>
        `${name}{process="${label(p.name)}",stream="${stream}"} ${
          number(p.counts?.[stream][field] ?? 0)
        }\n`
      )
    );

  family(
    "tend_process_up",
    "gauge",
    "Whether the process has a child that tend keeps running (state STARTING or RUNNING).",
    each(
      (p) => p.state === "RUNNING" || p.state === "STARTING" ? 1 : 0,
      "tend_process_up",
    ),
  );
  family(
    "tend_process_state",
    "gauge",
    "The process's state: 1 for the state it is in, 0 for the others.",
    input.processes.flatMap((p) =>
      STATES.map((state) =>
        `tend_process_state{process="${label(p.name)}",state="${state}"} ${
          p.state === state ? 1 : 0
        }\n`
      )
    ),
  );
  family(
    "tend_process_ready",
    "gauge",
    "Whether the process runs and is ready (its readiness probe passed, if it has one).",
    each((p) => p.ready ? 1 : 0, "tend_process_ready"),
  );
  family(
    "tend_process_held",
    "gauge",
    "Whether the process is held stopped (tend stop, or autostart: false).",
    each((p) => p.held ? 1 : 0, "tend_process_held"),
  );
  family(
    "tend_process_restarts_total",
    "counter",
    "Starts of the process after its first.",
    each((p) => p.restarts, "tend_process_restarts_total"),
  );
  family(
    "tend_process_exits_total",
    "counter",
    "Exits of the process's children, whatever their status.",
    each((p) => p.counts?.exits ?? 0, "tend_process_exits_total"),
  );
  family(
    "tend_process_start_time_seconds",
    "gauge",
    "When the process's current child started, in Unix seconds (absent without a child).",
    each((p) => p.startTime, "tend_process_start_time_seconds"),
  );
  family(
    "tend_process_output_lines_total",
    "counter",
    "Lines the process printed, per stream (a line over 64 KiB counts once per piece).",
    perStream("tend_process_output_lines_total", "lines"),
  );
  family(
    "tend_process_output_bytes_total",
    "counter",
    "Bytes the process wrote, per stream, line endings included.",
    perStream("tend_process_output_bytes_total", "bytes"),
  );
  family(
    "tend_build_info",
    "gauge",
    "tend's version and Deno's, as labels; always 1.",
    [`tend_build_info{version="${label(input.version)}",deno="${
      label(input.deno)
    }"} 1\n`],
  );
  family(
    "process_start_time_seconds",
    "gauge",
    "Start time of the process since unix epoch in seconds.",
    [`process_start_time_seconds ${number(input.startTime)}\n`],
  );
  family(
    "process_resident_memory_bytes",
    "gauge",
    "Resident memory size in bytes.",
    [`process_resident_memory_bytes ${number(input.residentMemory)}\n`],
  );
  family(
    "process_cpu_seconds_total",
    "counter",
    "Total user and system CPU time spent in seconds.",
    [`process_cpu_seconds_total ${number(input.cpuSeconds)}\n`],
  );
  return out.join("");
}

/** A label value, escaped as the format says: `\\`, `\"` and `\n`. */
export function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

// HELP text escapes only the backslash and the newline.
function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

// Numbers as Go's strconv writes them: integers plainly, NaN and infinities by name.
function number(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
