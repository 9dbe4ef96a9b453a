/**
 * `tend reload`: make a running tend read its config file again (as
 * SIGHUP does) and say what changed, or what is wrong with the file.
 *
 * @module
 */

import { ApiFailure } from "../control/client.ts";
import { UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  helpAsked,
  parseClient,
  printJson,
  say,
  withClient,
} from "./remote.ts";

/** The text of `tend reload --help`. */
export const RELOAD_HELP = `Usage: tend reload [-c FILE] [--socket PATH]
                   [--json]

Makes tend read its config file again, as SIGHUP does: removed processes
are stopped and forgotten, added ones started, changed ones (any key but
log) restarted with their new settings, unchanged ones left alone; a
changed log moves to its new file without a restart. An invalid file
changes nothing: every problem is listed, and tend keeps running the old
config.

${CLIENT_OPTIONS_HELP}

Prints "N added, N removed, N changed, N unchanged".
Exit status: 0 reloaded; 78 the file has problems (listed as
FILE:LINE:COL); 1 there is no file to reload (tend run -- CMD); 69 no
tend answers.
`;

/** What `POST /v1/reload` answers. */
interface ReloadJson {
  added: string[];
  removed: string[];
  changed: string[];
  unchanged: string[];
}

/** Runs `tend reload` and resolves with its exit status. */
export async function reload(args: string[]): Promise<number> {
  const { positionals, values, command } = parseClient(args, CLIENT_OPTIONS);
  const help = helpAsked(values, RELOAD_HELP);
  if (help !== null) return help;
  if (positionals.length > 0) throw new UsageError("reload takes no arguments");
  return await withClient(values, command, async (client) => {
    let report: ReloadJson;
    try {
      report = (await client.post<ReloadJson>("/v1/reload", undefined, 120_000)).body;
    } catch (error) {
      if (!(error instanceof ApiFailure) || error.status !== 422) throw error;
      const problems = error.body["problems"];
      if (values.json) printJson(error.body);
      else {
        write(
          Deno.stderr,
          `tend: reload failed; tend keeps running its config as it was:\n`,
        );
        for (const problem of Array.isArray(problems) ? problems : []) {
          write(Deno.stderr, `${String(problem)}\n`);
        }
      }
      return EXIT.CONFIG;
    }
    if (values.json) {
      printJson(report);
      return EXIT.OK;
    }
    const kinds = ["added", "removed", "changed", "unchanged"] as const;
    say(kinds.map((kind) => `${report[kind].length} ${kind}`).join(", "));
    for (const kind of kinds.slice(0, 3)) {
      if (report[kind].length > 0) say(`${kind}: ${report[kind].join(", ")}`);
    }
    return EXIT.OK;
  });
}
