/**
 * The human text of events and status: what tend's log says about a
 * process, and what a status report shows. Pure; the log, `tend status`
 * and the dashboard share it.
 *
 * @module
 */

import { formatElapsed } from "../core/duration.ts";
import type { MonitorEvent } from "../core/events.ts";
import { describeExit } from "../core/exit.ts";
import type { ProcessStatus } from "../core/monitor.ts";

/**
 * What a text record of a line from stderr has between its time and
 * `[name]`, so that it can be told from stdout without colour:
 * `12:00:00.000 2> [web] line`, where a line from stdout is
 * `12:00:00.000 [web] line` as always (`grep -E '^[0-9:.]+ 2> '` finds the
 * stderr lines). The shell's name for the stream: two characters, and
 * `[name] line` stays as it is. JSON records say `"stream"` instead.
 */
export const STDERR_MARK = "2>";

/** Severity of a record. */
export type LogLevel = "info" | "warn" | "error";

/** A record about one event: its level, its text and its structured fields. */
export interface EventText {
  /** How serious it is. */
  level: LogLevel;
  /** The message, without the process's tag. */
  text: string;
  /** Fields for JSON records, besides `event`. */
  fields: Record<string, unknown>;
}

/**
 * Describes an event for the log. (`state` events are for followers; the
 * events that cause them say why, and are what the log shows.)
 *
 * @example
 * ```ts
 * import { describeEvent } from "./format.ts";
 * describeEvent({ type: "restart-scheduled", name: "web", delay: 2 }).text;
 * // "restarting in 2s"
 * ```
 */
export function describeEvent(e: Exclude<MonitorEvent, { type: "state" }>): EventText {
  switch (e.type) {
    case "started":
      return info(`started, pid ${e.pid}`);
    case "ready":
      return e.ready
        ? info(`ready${e.detail ? ` (${e.detail})` : ""}`, {
          ready: true,
          detail: e.detail,
        })
        : {
          level: "warn",
          text: `not ready: ${e.detail}`,
          fields: { ready: false, detail: e.detail },
        };
    case "unhealthy":
      return {
        level: "warn",
        text: `liveness probe failed: ${e.reason}; restarting it`,
        fields: { reason: e.reason },
      };
    case "waiting":
      return info(e.reason, { reason: e.reason });
    case "spawn-failed":
      return {
        level: "error",
        text: `cannot start: ${e.error}`,
        fields: { error: e.error },
      };
    case "exited":
      return {
        level: e.status.code === 0 ? "info" : "warn",
        text: `exited with ${describeExit(e.status)} after ${formatElapsed(e.runtime)}`,
        fields: { code: e.status.code, signal: e.status.signal, runtime: e.runtime },
      };
    case "restart-scheduled":
      return info(
        e.delay === 0 ? "restarting now" : `restarting in ${formatElapsed(e.delay)}`,
        { delay: e.delay },
      );
    case "not-restarting":
      return info(`not restarting (${e.reason})`);
    case "stop-signal":
      return info(`stopping: sent ${e.signal} to its process group`, {
        signal: e.signal,
      });
    case "leftovers":
      return {
        level: "warn",
        text: `its process group outlived it: sent ${e.signal} to the group`,
        fields: { signal: e.signal },
      };
    case "sigkill":
      return {
        level: "warn",
        text: e.why === "asked"
          ? "killed at once, as asked: sent SIGKILL to its process group"
          : "still running after killTime: sent SIGKILL to its process group",
        fields: { signal: "SIGKILL" },
      };
    case "abandoned":
      return {
        level: "error",
        text: "its process group survived SIGKILL; no longer waiting for it",
        fields: {},
      };
    case "signal-failed":
      return {
        level: "error",
        text: `cannot send ${e.signal} to its process group: ${e.error}`,
        fields: { signal: e.signal, error: e.error },
      };
  }
}

function info(text: string, fields: Record<string, unknown> = {}): EventText {
  return { level: "info", text, fields };
}

/**
 * Describes where a process is, in one line, for a status report:
 * `RUNNING, pid 42, up 3m12s, 0 restarts`.
 *
 * @param s the process's status
 * @param now the monitor clock's current time, in milliseconds
 */
export function describeStatus(s: ProcessStatus, now: number): string {
  const parts: string[] = [s.state];
  if (s.held) parts.push("held");
  if (s.state === "RUNNING" && !s.ready) parts.push("not ready");
  if (s.waiting !== null) parts.push(s.waiting);
  if (s.pid !== null) parts.push(`pid ${s.pid}`);
  if (s.uptime !== null) parts.push(`up ${formatElapsed(s.uptime)}`);
  if (s.nextStartAt !== null) {
    parts.push(`starting in ${formatElapsed((s.nextStartAt - now) / 1000)}`);
  }
  if (s.killAt !== null) {
    parts.push(`SIGKILL in ${formatElapsed((s.killAt - now) / 1000)}`);
  }
  parts.push(`${s.restarts} restart${s.restarts === 1 ? "" : "s"}`);
  if (s.lastExit) parts.push(`last ${describeExit(s.lastExit)}`);
  if (s.spawnError) parts.push(`cannot start: ${s.spawnError}`);
  if (s.probe !== null) parts.push(`probe: ${s.probe}`);
  return parts.join(", ");
}
