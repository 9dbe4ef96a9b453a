/**
 * `tend restart NAME...`: bounce processes (stop, then start at once).
 *
 * @module
 */

import { act, actionHelp } from "./actions.ts";

/** The text of `tend restart --help`. */
export const RESTART_HELP: string = actionHelp(
  "restart",
  `Restarts processes: the stop signal (SIGKILL after killTime), then a new child
as soon as the old one's group is gone, whatever its age and restart policy.
A stopped or held process starts now.`,
  "runs again with a new pid",
);

/** Runs `tend restart` and resolves with its exit status. */
export function restart(args: string[]): Promise<number> {
  return act("restart", args, RESTART_HELP);
}
