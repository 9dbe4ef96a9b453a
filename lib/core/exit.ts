/**
 * How a process ended, in words and as an exit status.
 *
 * Pure: signal numbers come from the caller (they differ between systems,
 * and only `os/` may ask the OS).
 *
 * @module
 */

import type { SignalName } from "./signals.ts";
import type { ExitStatus } from "./spec.ts";

/**
 * Describes an exit status in words, as the logs show it.
 *
 * @example
 * ```ts
 * import { describeExit } from "./exit.ts";
 * describeExit({ code: 3, signal: null }); // "exit code 3"
 * describeExit({ code: null, signal: "SIGKILL" }); // "signal SIGKILL"
 * ```
 */
export function describeExit(status: ExitStatus): string {
  return status.signal === null
    ? `exit code ${status.code}`
    : `signal ${status.signal}`;
}

/**
 * The exit status of a process the way tini reports its child's: its exit
 * code, 128+N when signal N killed it, and 127 when it could not be
 * started at all (`null`), as a shell does for a missing command.
 *
 * @example
 * ```ts
 * import { exitCodeOf } from "./exit.ts";
 * exitCodeOf({ code: 3, signal: null }, () => 0); // 3
 * exitCodeOf({ code: null, signal: "SIGKILL" }, () => 9); // 137
 * exitCodeOf(null, () => 0); // 127
 * ```
 *
 * @param status how the process ended, or `null` when it never started
 * @param signalNumber the number of a signal on this system
 */
export function exitCodeOf(
  status: ExitStatus | null,
  signalNumber: (signal: SignalName) => number,
): number {
  if (status === null) return 127;
  if (status.signal === null) return status.code;
  return 128 + signalNumber(status.signal);
}
