/**
 * The client commands by name, for `main.ts` to dispatch: each talks to a
 * running tend through its control socket.
 *
 * @module
 */

import { logs } from "./logs.ts";
import { reload } from "./reload.ts";
import { restart } from "./restart.ts";
import { shutdown } from "./shutdown.ts";
import { signal } from "./signal.ts";
import { start } from "./start.ts";
import { status } from "./status.ts";
import { stop } from "./stop.ts";

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

/** The client command called `name`, if there is one. */
export function clientCommand(
  name: string | undefined,
): ((args: string[]) => Promise<number>) | undefined {
  return name !== undefined && Object.hasOwn(CLIENT_COMMANDS, name)
    ? CLIENT_COMMANDS[name]
    : undefined;
}
