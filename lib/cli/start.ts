/**
 * `tend start NAME...`: start processes now, releasing a hold, bringing a
 * back-off forward, reviving a FATAL or EXITED one.
 *
 * @module
 */

import { act, actionHelp } from "./actions.ts";

/** The text of `tend start --help`. */
export const START_HELP: string = actionHelp(
  "start",
  `Starts processes now: releases a hold (tend stop, autostart: false), brings a
pending restart forward, and revives a process that gave up (FATAL) or finished
(EXITED), forgetting its early deaths. A running process is left alone.`,
  "is RUNNING (or could not start)",
);

/** Runs `tend start` and resolves with its exit status. */
export function start(args: string[]): Promise<number> {
  return act("start", args, START_HELP);
}
