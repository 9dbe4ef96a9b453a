/**
 * What `tend start`, `tend stop` and `tend restart` share: check every
 * name first (nothing is done if one is unknown), ask tend for each
 * process, wait until it got there (or `--timeout`), and say so.
 *
 * @module
 */

import { formatElapsed, parseDuration } from "../core/duration.ts";
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

/** What a command asks of its processes. */
export type Verb = "start" | "stop" | "restart";

/** The options of `start`, `stop` and `restart`. */
export const ACTION_OPTIONS = {
  ...CLIENT_OPTIONS,
  timeout: { type: "string" },
  "no-wait": { type: "boolean" },
} as const;

// Extra time the client gives a waiting request beyond its wait.
const SLACK_S = 30;

/** The help text of one of the three commands. */
export function actionHelp(verb: Verb, what: string, done: string): string {
  return `Usage: tend ${verb} NAME... [--timeout S | --no-wait]
         [-c FILE] [--socket PATH] [--json]

${what}

  NAME...             the processes; "all" for every one. If one is not a
                      process of tend's, nothing is done for any.
  --timeout S         wait at most S for each (default: its killTime + 5s);
                      S is seconds (0.5) or 500ms, 5s, 2m, 1h
  --no-wait           ask, and return at once

${CLIENT_OPTIONS_HELP}

Prints one line per process once it ${done}.
Exit status: 0 done; 1 a NAME is unknown (nothing done), a process could not
get there (it cannot start, say) or a wait timed out; 69 no tend answers.
`;
}

/** Runs `tend start|stop|restart` and resolves with its exit status. */
export async function act(verb: Verb, args: string[], help: string): Promise<number> {
  const { positionals, values, command } = parseClient(args, ACTION_OPTIONS);
  const asked = helpAsked(values, help);
  if (asked !== null) return asked;
  needNames(positionals, verb);
  const wait = !values["no-wait"];
  let timeout: number | null = null;
  if (values.timeout !== undefined) {
    if (!wait) throw new UsageError("give --timeout or --no-wait, not both");
    try {
      timeout = parseDuration(values.timeout);
    } catch (error) {
      throw new UsageError(`--timeout ${values.timeout}: ${(error as Error).message}`);
    }
  }
  return await withClient(values, command, async (client) => {
    const found = await resolveNames(client, positionals);
    if (found === null) return EXIT.FAILED;
    let failed = false;
    const results = new Map<string, ProcessStatusJson>();
    await Promise.all(found.names.map(async (name) => {
      const before = found.byName.get(name)!;
      const seconds = timeout ?? before.killTime + 5;
      const query = wait ? `?wait=1&timeout=${seconds}` : "";
      let reply;
      try {
        reply = await client.post<ProcessStatusJson>(
          `/v1/processes/${encodeURIComponent(name)}/${verb}${query}`,
          undefined,
          (seconds + SLACK_S) * 1000,
        );
      } catch (error) {
        if (!(error instanceof ApiFailure)) throw error;
        failed = true;
        fail(`${name}: ${error.message}`, EXIT.FAILED);
        return;
      }
      results.set(name, reply.body);
      const outcome = describe(
        verb,
        before,
        reply.body,
        reply.status === 200,
        wait,
        seconds,
      );
      if (!outcome.ok) failed = true;
      if (!values.json) say(outcome.text);
    }));
    if (values.json) printJson(found.names.flatMap((n) => results.get(n) ?? []));
    return failed ? EXIT.FAILED : EXIT.OK;
  });
}

/**
 * The line for one process after `verb`, and whether it got there.
 *
 * @param reached whether tend said the wait reached its goal (200)
 */
export function describe(
  verb: Verb,
  before: ProcessStatusJson,
  after: ProcessStatusJson,
  reached: boolean,
  wait: boolean,
  seconds: number,
): { ok: boolean; text: string } {
  const name = after.name;
  if (!wait) {
    const doing = { start: "starting", stop: "stopping", restart: "restarting" }[verb];
    return { ok: true, text: `${name}: ${doing} (${after.state})` };
  }
  if (reached) {
    if (verb === "stop") return { ok: true, text: `${name}: stopped` };
    if (verb === "start" && before.state === "RUNNING" && before.pid === after.pid) {
      return { ok: true, text: `${name}: already running (pid ${after.pid})` };
    }
    const done = verb === "start" ? "started" : "restarted";
    return { ok: true, text: `${name}: ${done} (pid ${after.pid})` };
  }
  if (verb !== "stop" && after.spawnError !== null && after.state !== "RUNNING") {
    return { ok: false, text: `${name}: cannot start: ${after.spawnError}` };
  }
  if (verb !== "stop" && ["FATAL", "EXITED", "STOPPED"].includes(after.state)) {
    return { ok: false, text: `${name}: did not start: it is ${after.state}` };
  }
  return {
    ok: false,
    text: `${name}: timed out after ${formatElapsed(seconds)}: still ${after.state}`,
  };
}
