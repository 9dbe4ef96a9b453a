/**
 * `tend logs [NAME...] [-n N] [-f]`: a running tend's recent output, then
 * (with `-f`) what comes, as `tail -f` does.
 *
 * @module
 */

import { DEFAULT_LINES } from "../control/api.ts";
import { UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  helpAsked,
  parseClient,
  withClient,
} from "./remote.ts";
import { escapeText } from "../output/escape.ts";

/** The text of `tend logs --help`. */
export const LOGS_HELP =
  `Usage: tend logs [NAME...] [-n N] [-f] [-c FILE] [--socket PATH]
                 [--json]

Prints the last N lines each process wrote (tend keeps its last 1,000 lines,
at most 1 MiB, per process), merged in the order they were written, in tend's
text log format: HH:MM:SS.mmm [name] line.

  NAME...             only these processes (every one by default, or "all")
  -n, --lines N       lines per process (default ${DEFAULT_LINES}; 0: none, with
                      -f)
  -f, --follow        then print new lines as they come, from processes
                      added by a reload too, until interrupted (Ctrl-C) or
                      tend exits. A reader too slow to keep up is told how
                      many lines it lost.

${CLIENT_OPTIONS_HELP} (with --json: records in tend's JSON log format)

Exit status: 0; 1 a NAME is not one of tend's processes; 69 no tend
answers.
`;

/** The options of `tend logs`. */
const LOGS_OPTIONS = {
  ...CLIENT_OPTIONS,
  lines: { type: "string", short: "n" },
  follow: { type: "boolean", short: "f" },
} as const;

/** Runs `tend logs` and resolves with its exit status. */
export async function logs(args: string[]): Promise<number> {
  const { positionals, values, command } = parseClient(args, LOGS_OPTIONS);
  const help = helpAsked(values, LOGS_HELP);
  if (help !== null) return help;
  const lines = values.lines ?? String(DEFAULT_LINES);
  if (!/^\d{1,9}$/.test(lines)) {
    throw new UsageError(`-n must be a whole number of lines, not "${lines}"`);
  }
  const query = new URLSearchParams({ lines });
  const names = positionals.includes("all") ? [] : [...new Set(positionals)];
  if (names.length > 0) query.set("process", names.join(","));
  if (values.follow) query.set("follow", "1");
  return await withClient(values, command, async (client) => {
    try {
      await client.stream(`/v1/logs?${query}`, (records) => {
        const text = values.json
          ? records.join("\n") + "\n"
          : records.map((record) => textOf(record)).join("");
        write(Deno.stdout, text);
      });
    } catch (error) {
      // Whoever read our output went away (`tend logs -f | head`): done.
      if (error instanceof Deno.errors.BrokenPipe) return EXIT.OK;
      throw error;
    }
    return EXIT.OK;
  });
}

/**
 * A JSON log record as a text record, `HH:MM:SS.mmm [name] line`, the time
 * in local time as tend's text log shows it.
 *
 * @example
 * ```ts
 * import { textOf } from "./logs.ts";
 * textOf('{"time":"x","message":"[web] hi"}'); // "??:??:??.??? [web] hi\n"
 * ```
 */
export function textOf(record: string): string {
  let parsed: { time?: unknown; message?: unknown };
  try {
    parsed = JSON.parse(record);
  } catch {
    return escapeText(record) + "\n";
  }
  const time = typeof parsed.time === "string" ? Date.parse(parsed.time) : NaN;
  const message = typeof parsed.message === "string" ? parsed.message : record;
  // One record, one line, as tend's own text log writes it: a child's
  // (or a server's) control characters are shown escaped, never acted on.
  return `${clockText(time)} ${escapeText(message)}\n`;
}

function clockText(ms: number): string {
  if (Number.isNaN(ms)) return "??:??:??.???";
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${
    p(d.getMilliseconds(), 3)
  }`;
}
