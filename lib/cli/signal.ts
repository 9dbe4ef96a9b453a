/**
 * `tend signal SIGNAL NAME...`: send a signal to processes' groups.
 *
 * @module
 */

import { normalizeSignal } from "../core/signals.ts";
import type { ProcessStatusJson } from "../control/api.ts";
import { ApiFailure } from "../control/client.ts";
import { UsageError } from "./args.ts";
import { EXIT } from "./exit_codes.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  fail,
  helpAsked,
  needNames,
  parseClient,
  printJson,
  resolveNames,
  say,
  withClient,
} from "./remote.ts";

/** The text of `tend signal --help`. */
export const SIGNAL_HELP =
  `Usage: tend signal SIGNAL NAME... [-c FILE] [--socket PATH] [--json]

Sends SIGNAL to each named process's whole process group (the child and
everything it started in its group), for a process that reloads on SIGHUP
or reopens its logs on SIGUSR1, say. tend's own reaction to the exit, if the
signal ends the process, follows its restart policy.

  SIGNAL              a name: SIGUSR1, USR1 or usr1
  NAME...             the processes; "all" for every one

${CLIENT_OPTIONS_HELP}

Exit status: 0 sent to each; 1 a NAME is unknown (nothing sent) or a process
has no child to signal; 64 an unknown signal; 69 no tend answers.
`;

/** Runs `tend signal` and resolves with its exit status. */
export async function signal(args: string[]): Promise<number> {
  const { positionals, values, command } = parseClient(args, CLIENT_OPTIONS);
  const help = helpAsked(values, SIGNAL_HELP);
  if (help !== null) return help;
  const [given, ...names] = positionals;
  if (given === undefined) {
    throw new UsageError("signal needs a signal and process names");
  }
  const sig = normalizeSignal(given);
  if (sig === null) {
    throw new UsageError(`unknown signal "${given}"; use a name like SIGUSR1`);
  }
  needNames(names, "signal");
  return await withClient(values, command, async (client) => {
    const found = await resolveNames(client, names);
    if (found === null) return EXIT.FAILED;
    let failed = false;
    const sent: ProcessStatusJson[] = [];
    for (const name of found.names) {
      try {
        const { body } = await client.post<ProcessStatusJson>(
          `/v1/processes/${encodeURIComponent(name)}/signal`,
          { signal: sig },
        );
        sent.push(body);
        if (!values.json) say(`${name}: sent ${sig} (pid ${body.pid})`);
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        failed = true;
        fail(`${name}: ${error.message}; ${sig} not sent`, EXIT.FAILED);
      }
    }
    if (values.json) printJson(sent);
    return failed ? EXIT.FAILED : EXIT.OK;
  });
}
