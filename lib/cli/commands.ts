/**
 * The client commands by name, for `main.ts` to dispatch: each talks to a
 * running tend through its control socket. And every command's help, for
 * `tend help COMMAND`.
 *
 * @module
 */

import { CHECK_HELP } from "./check.ts";
import { logs, LOGS_HELP } from "./logs.ts";
import { reload, RELOAD_HELP } from "./reload.ts";
import { restart, RESTART_HELP } from "./restart.ts";
import { RUN_HELP } from "./run.ts";
import { SCHEMA_HELP } from "./schema.ts";
import { shutdown, SHUTDOWN_HELP } from "./shutdown.ts";
import { signal, SIGNAL_HELP } from "./signal.ts";
import { start, START_HELP } from "./start.ts";
import { status, STATUS_HELP } from "./status.ts";
import { stop, STOP_HELP } from "./stop.ts";

/** Each client command: its arguments in, its exit status out. */
export const CLIENT_COMMANDS: Readonly<
  Record<string, (args: string[]) => Promise<number>>
> = Object.freeze({
  status,
  start,
  stop,
  restart,
  signal,
  logs,
  reload,
  shutdown,
});

/** Each command's own help (`tend COMMAND --help`), by the command's name. */
export const COMMAND_HELP: Readonly<Record<string, string>> = Object.freeze({
  run: RUN_HELP,
  check: CHECK_HELP,
  schema: SCHEMA_HELP,
  status: STATUS_HELP,
  start: START_HELP,
  stop: STOP_HELP,
  restart: RESTART_HELP,
  signal: SIGNAL_HELP,
  logs: LOGS_HELP,
  reload: RELOAD_HELP,
  shutdown: SHUTDOWN_HELP,
});

/** The client command called `name`, if there is one. */
export function clientCommand(
  name: string | undefined,
): ((args: string[]) => Promise<number>) | undefined {
  return name !== undefined && Object.hasOwn(CLIENT_COMMANDS, name)
    ? CLIENT_COMMANDS[name]
    : undefined;
}
