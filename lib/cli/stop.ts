/**
 * `tend stop NAME...`: stop processes and keep them stopped (held) until
 * `tend start`.
 *
 * @module
 */

import { act, actionHelp } from "./actions.ts";

/** The text of `tend stop --help`. */
export const STOP_HELP: string = actionHelp(
  "stop",
  `Stops processes (stop signal to the group, SIGKILL after killTime) and keeps
them stopped, whatever their restart policy, until tend start NAME. A reload
that leaves a process unchanged keeps it stopped; tend runs on even when
nothing else is left running.`,
  "is STOPPED",
);

/** Runs `tend stop` and resolves with its exit status. */
export function stop(args: string[]): Promise<number> {
  return act("stop", args, STOP_HELP);
}
