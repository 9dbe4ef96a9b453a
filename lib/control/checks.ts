/**
 * `/livez` and `/readyz`, as Kubernetes' own API server answers them: a
 * status code for the kubelet (200 or 503), and a plain-text body for
 * people, one line per check (`[+]NAME ok`, `[-]NAME failed: REASON`),
 * with `?verbose` listing every check and `?exclude=NAME` leaving one out.
 * `/readyz/NAME` runs one check alone.
 *
 * Readiness means that every process that should run runs and is ready:
 * a check per process (`process/web`), and `shutdown`, which fails once
 * tend is stopping (so that a load balancer stops sending traffic first).
 * A process needs nothing from tend when it is held (`tend stop`,
 * `autostart: false`) or finished under its restart policy with exit code
 * 0 (a migration that ran); one that finished with another status is not
 * ready, nor is one STARTING, in BACKOFF, FATAL, STOPPING, or waiting for
 * a dependency. Liveness means tend's event loop answers (`ping`): a tend
 * whose children misbehave is still alive, and restarting tend would not
 * help them.
 *
 * These routes need no token, so a reason says only states, exit
 * statuses, names and counts (`STARTING: not ready yet`, `BACKOFF after
 * exit 3`, `RUNNING: ready probe failing`): never what a probe ran or
 * found, nor why a start failed, which can hold a command line with a
 * password in it. That detail is in `/v1/status` (`probe`, `spawnError`),
 * behind the token. What text remains has its control characters escaped
 * as in text log records, so that it cannot drive a terminal.
 *
 * @module
 */

import type { ProcessStatus } from "../core/monitor.ts";
import { escapeText } from "../output/escape.ts";

/** One check and its outcome. */
export interface Check {
  /** Its name: `ping`, `shutdown`, `process/NAME`. */
  name: string;
  /** Whether it passed. */
  ok: boolean;
  /** Why it failed (or, for a process that needs nothing, why it passes). */
  reason?: string;
}

/** What a check endpoint answers. */
export interface CheckResponse {
  /** 200 when every check (not excluded) passed, else 503. */
  status: 200 | 503;
  /** The plain-text body. */
  body: string;
}

/** The liveness checks: tend's loop answers, or this would not run. */
export function livenessChecks(): Check[] {
  return [{ name: "ping", ok: true }];
}

/**
 * The readiness checks: `shutdown`, then one per process.
 *
 * @param now the monitor clock's time, for "next start in 3s"
 */
export function readinessChecks(
  statuses: readonly ProcessStatus[],
  stopping: boolean,
  now: number,
): Check[] {
  const checks: Check[] = [
    stopping
      ? { name: "shutdown", ok: false, reason: "tend is stopping" }
      : { name: "shutdown", ok: true },
  ];
  for (const s of statuses) checks.push(processCheck(s, now));
  return checks;
}

/**
 * Whether one process is as it should be for tend to be ready, and if not,
 * why, in state words only: no probe's command or output, no spawn error.
 */
export function processCheck(s: ProcessStatus, now: number): Check {
  const name = `process/${s.name}`;
  const exit = s.lastExit === null
    ? ""
    : s.lastExit.signal !== null
    ? s.lastExit.signal
    : `exit ${s.lastExit.code}`;
  if (s.state === "RUNNING" && s.ready) return { name, ok: true };
  if (s.held && (s.state === "STOPPED" || s.state === "STOPPING")) {
    return { name, ok: true, reason: "held" };
  }
  if (s.state === "EXITED" && s.lastExit?.code === 0) {
    return { name, ok: true, reason: "finished" };
  }
  const fail = (reason: string): Check => ({ name, ok: false, reason });
  // The last start failed rather than the last child ended.
  const failedStart = s.spawnError !== null;
  switch (s.state) {
    case "RUNNING":
      // It was ready once (else it would be STARTING): its probe fails now.
      return fail("RUNNING: ready probe failing");
    case "STARTING":
      return fail("STARTING: not ready yet");
    case "BACKOFF": {
      const due = s.nextStartAt === null
        ? ""
        : `, next start in ${Math.max(0, Math.ceil((s.nextStartAt - now) / 1000))}s`;
      const why = failedStart ? "a failed start" : exit;
      return fail(`BACKOFF${why ? ` after ${why}` : ""}${due}`);
    }
    case "FATAL":
      return fail(
        `FATAL: gave up${
          failedStart ? " after a failed start" : exit ? ` after ${exit}` : ""
        }`,
      );
    case "EXITED":
      return fail(`EXITED with ${exit || "an unknown status"}; not restarted`);
    case "STOPPED":
      // What it waits for names processes and states, nothing else.
      if (s.blocked) {
        return fail(`STOPPED: ${s.waiting ?? "blocked"}, which can never happen`);
      }
      return fail(s.waiting ? `STOPPED: ${s.waiting}` : "STOPPED");
    default:
      return fail(s.state);
  }
}

/**
 * The answer to `/livez` or `/readyz`: 200 when every check not in
 * `exclude` passed, else 503. The body is `ok` on success, unless
 * `verbose`; on failure, or with `verbose`, one line per check, then
 * `livez check passed` (or `failed`), as Kubernetes writes it.
 *
 * @example
 * ```ts
 * import { checkResponse } from "./checks.ts";
 * const r = checkResponse("readyz", [
 *   { name: "shutdown", ok: true },
 *   { name: "process/web", ok: false, reason: "BACKOFF after exit 1" },
 * ], { verbose: false, exclude: [] });
 * r.status; // 503
 * r.body; // "[-]process/web failed: BACKOFF after exit 1\nreadyz check failed\n"
 * ```
 */
export function checkResponse(
  kind: "livez" | "readyz",
  checks: readonly Check[],
  options: { verbose: boolean; exclude: readonly string[] },
): CheckResponse {
  const excluded = new Set(options.exclude);
  const counted = checks.filter((c) => !excluded.has(c.name));
  const ok = counted.every((c) => c.ok);
  if (ok && !options.verbose) return { status: 200, body: "ok\n" };
  const lines = counted
    .filter((c) => options.verbose || !c.ok)
    .map((c) =>
      c.ok
        ? `[+]${escapeText(c.name)} ok${c.reason ? ` (${oneLine(c.reason)})` : ""}`
        : `[-]${escapeText(c.name)} failed: ${oneLine(c.reason ?? "failed")}`
    );
  if (options.verbose) {
    for (const name of excluded) {
      if (checks.some((c) => c.name === name)) {
        lines.push(`[+]${escapeText(name)} excluded: ok`);
      }
    }
  }
  lines.push(`${kind} check ${ok ? "passed" : "failed"}`);
  return { status: ok ? 200 : 503, body: lines.join("\n") + "\n" };
}

// A reason as one line, not too long, with no character a terminal would
// act on (escaped as a text log record escapes them).
function oneLine(text: string): string {
  const flat = text.length > 300 ? `${text.slice(0, 300)}...` : text;
  return escapeText(flat.replace(/[\r\n]+/g, " "));
}
