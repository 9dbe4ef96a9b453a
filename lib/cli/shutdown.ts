/**
 * `tend shutdown`: stop every process and wait for tend to exit.
 *
 * @module
 */

import { formatElapsed, parseDuration } from "../core/duration.ts";
import type { StatusJson } from "../control/api.ts";
import { waitGone } from "../control/client.ts";
import { UsageError } from "./args.ts";
import { EXIT } from "./exit_codes.ts";
import {
  CLIENT_OPTIONS,
  CLIENT_OPTIONS_HELP,
  fail,
  helpAsked,
  parseClient,
  printJson,
  say,
  withClient,
} from "./remote.ts";

/** The text of `tend shutdown --help`. */
export const SHUTDOWN_HELP =
  `Usage: tend shutdown [--timeout S | --no-wait] [-c FILE] [--socket PATH]
                     [--json]

Stops every process gracefully (stop signal, SIGKILL after killTime), as
SIGTERM does, and returns once tend has exited.

  --timeout S         wait at most S (default: twice the longest killTime
                      plus 10s)
  --no-wait           ask, and return at once

${CLIENT_OPTIONS_HELP}

Exit status: 0 tend has exited; 1 it was still running at the timeout;
69 no tend answers.
`;

/** The options of `tend shutdown`. */
const SHUTDOWN_OPTIONS = {
  ...CLIENT_OPTIONS,
  timeout: { type: "string" },
  "no-wait": { type: "boolean" },
} as const;

/** Runs `tend shutdown` and resolves with its exit status. */
export async function shutdown(args: string[]): Promise<number> {
  const { positionals, values, command } = parseClient(args, SHUTDOWN_OPTIONS);
  const help = helpAsked(values, SHUTDOWN_HELP);
  if (help !== null) return help;
  if (positionals.length > 0) throw new UsageError("shutdown takes no arguments");
  let timeout: number | null = null;
  if (values.timeout !== undefined) {
    if (values["no-wait"]) {
      throw new UsageError("give --timeout or --no-wait, not both");
    }
    try {
      timeout = parseDuration(values.timeout);
    } catch (error) {
      throw new UsageError(`--timeout ${values.timeout}: ${(error as Error).message}`);
    }
  }
  return await withClient(values, command, async (client) => {
    const { body: status } = await client.get<StatusJson>("/v1/status");
    const { body } = await client.post("/v1/shutdown");
    if (values["no-wait"]) {
      if (values.json) printJson(body);
      else say(`tend (pid ${status.tend.pid}) is stopping`);
      return EXIT.OK;
    }
    // A stop may take killTime, then as long again for a group that
    // survives SIGKILL, then the wait for the last output.
    const longest = Math.max(0, ...status.processes.map((p) => p.killTime));
    const seconds = timeout ?? 2 * longest + 10;
    client.close();
    if (!(await waitGone(client.socket, seconds * 1000))) {
      return fail(
        `tend (pid ${status.tend.pid}) still runs after ${formatElapsed(seconds)}`,
        EXIT.FAILED,
      );
    }
    if (values.json) printJson({ stopped: true, pid: status.tend.pid });
    else say(`tend (pid ${status.tend.pid}) has stopped`);
    return EXIT.OK;
  });
}
