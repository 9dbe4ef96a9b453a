/**
 * `tend status [NAME...]`: a running tend's processes as a table, the way
 * `supervisorctl status` shows them.
 *
 * @module
 */

import { formatElapsed } from "../core/duration.ts";
import type { ProcessStatusJson, StatusJson } from "../control/api.ts";
import { EXIT } from "./exit_codes.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  helpAsked,
  parseClient,
  printJson,
  resolveNames,
  say,
  withClient,
} from "./remote.ts";

/** The text of `tend status --help`. */
export const STATUS_HELP =
  `Usage: tend status [NAME...] [-c FILE] [--socket PATH] [--json]

Shows each process of a running tend: its state, whether it is ready,
its pid, uptime, restarts and how its last child ended; then what it
waits for and its last probe result, where the line has room.

  NAME...             only these processes (all of them by default, or "all")

${CLIENT_OPTIONS_HELP}

Exit status: 0; 1 if a NAME is not one of tend's processes; 69 if no
tend answers at the socket.
`;

/** Runs `tend status` and resolves with its exit status. */
export async function status(args: string[]): Promise<number> {
  const { positionals, values, command } = parseClient(args, CLIENT_OPTIONS);
  const help = helpAsked(values, STATUS_HELP);
  if (help !== null) return help;
  return await withClient(values, command, async (client) => {
    let body: StatusJson;
    if (positionals.length === 0) {
      body = (await client.get<StatusJson>("/v1/status")).body;
    } else {
      const found = await resolveNames(client, positionals);
      if (found === null) return EXIT.FAILED;
      const wanted = new Set(found.names);
      body = {
        ...found.status,
        processes: found.status.processes.filter((p) => wanted.has(p.name)),
      };
    }
    if (values.json) printJson(body);
    else say(statusTable(body.processes, Date.now(), terminalWidth()).trimEnd());
    return EXIT.OK;
  });
}

// The terminal's width when stdout is one; a pipe or a file gets whole lines.
function terminalWidth(): number {
  try {
    return Deno.stdout.isTerminal() ? Deno.consoleSize().columns : Infinity;
  } catch {
    return Infinity;
  }
}

/**
 * The status table: NAME, STATE, READY, PID, UPTIME, RESTARTS, LAST EXIT,
 * and a note (when a back-off ends, that a process is held or gave up, why
 * it cannot start, what it waits for, its last probe result).
 *
 * @example
 * ```ts
 * import { statusTable } from "./status.ts";
 * statusTable([], 0); // "NAME  STATE  READY  PID  UPTIME  RESTARTS  LAST EXIT\n"
 * ```
 *
 * @param processes the API's process statuses
 * @param now wall-clock milliseconds, for "next start in 8s"
 * @param width the columns a line may take: the note is cut to fit (with
 *   "…"), never the columns before it @default no limit
 */
export function statusTable(
  processes: readonly ProcessStatusJson[],
  now: number,
  width: number = Infinity,
): string {
  const rows = [
    ["NAME", "STATE", "READY", "PID", "UPTIME", "RESTARTS", "LAST EXIT", ""],
    ...processes.map((p) => [
      p.name,
      p.state,
      readyText(p),
      p.pid === null ? "-" : String(p.pid),
      p.uptime === null ? "-" : formatElapsed(p.uptime),
      String(p.restarts),
      lastExit(p),
      note(p, now),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((row) => {
    const head = row.slice(0, -1).map((cell, i) => cell.padEnd(widths[i]!)).join("  ");
    return fit(head, row.at(-1)!, width) + "\n";
  }).join("");
}

// The columns, then as much of the note as `width` leaves room for, "…"
// marking a cut; the columns themselves are never cut (a narrow terminal
// wraps them instead).
function fit(head: string, note: string, width: number): string {
  if (note === "") return head.trimEnd();
  const room = width - head.length - 2;
  const chars = [...note];
  if (chars.length <= room) return `${head}  ${note}`;
  if (room < 2) return head.trimEnd();
  return `${head}  ${chars.slice(0, room - 1).join("")}…`;
}

/**
 * READY: `yes` when it runs and is ready, `no` while it runs and is not
 * (STARTING, or a readiness probe failing since), `-` when it does not run.
 */
export function readyText(p: ProcessStatusJson): string {
  if (p.ready) return "yes";
  return p.pid === null ? "-" : "no";
}

/** `exit 3`, `SIGKILL` or `-`. */
export function lastExit(p: ProcessStatusJson): string {
  if (p.lastExit === null) return "-";
  return p.lastExit.signal ?? `exit ${p.lastExit.code}`;
}

// What a user wants to know beyond the columns.
function note(p: ProcessStatusJson, now: number): string {
  const parts: string[] = [];
  const inSeconds = (iso: string) => formatElapsed((Date.parse(iso) - now) / 1000);
  if (p.state === "BACKOFF" && p.nextStartAt !== null) {
    parts.push(`next start in ${inSeconds(p.nextStartAt)}`);
  }
  if (p.state === "STOPPING" && p.killAt !== null) {
    parts.push(`SIGKILL in ${inSeconds(p.killAt)}`);
  }
  if (p.state === "FATAL") parts.push(`gave up: tend start ${p.name} to try again`);
  if (p.state === "EXITED") parts.push("finished (its restart policy says so)");
  if (p.held) {
    parts.push(
      p.state === "STOPPED" ? `held: tend start ${p.name} to start it` : "to be held",
    );
  }
  if (p.spawnError !== null) parts.push(`cannot start: ${p.spawnError}`);
  if (p.waiting !== null) parts.push(p.waiting);
  if (p.probe !== null) parts.push(`probe: ${p.probe}`);
  return parts.join("; ");
}
