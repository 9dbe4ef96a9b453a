/**
 * tend as one service, as a service manager sees it: is everything up that
 * should be (sd_notify's `READY=1`), and a one-line count of the states
 * (`STATUS=`).
 *
 * @module
 */

import type { ProcessStatus } from "./monitor.ts";
import type { ProcessState } from "./states.ts";

/**
 * Whether a process is where it should be for tend to count as ready:
 * running and ready, held stopped on purpose, or finished for good
 * (`EXITED`; `FATAL`: it gave up; or blocked by a dependency that never
 * will be met: waiting for either would keep tend from ever being ready).
 * Starting, backing off, stopping, or stopped without a hold (not started
 * yet, or waiting for its dependencies) is not.
 */
export function isSettled(status: ProcessStatus): boolean {
  switch (status.state) {
    case "RUNNING":
      return status.ready;
    case "STOPPED":
      return status.held || status.blocked;
    case "EXITED":
    case "FATAL":
      return true;
    default:
      return false;
  }
}

/** Whether every process is settled (see {@linkcode isSettled}); true for none. */
export function allSettled(statuses: readonly ProcessStatus[]): boolean {
  return statuses.every(isSettled);
}

// The order states are listed in: what is up first, then what is on its way.
const ORDER: readonly ProcessState[] = [
  "RUNNING",
  "STARTING",
  "STOPPING",
  "BACKOFF",
  "STOPPED",
  "EXITED",
  "FATAL",
];

/**
 * How many processes are in each state, in one line, as `STATUS=` shows it
 * in `systemctl status`.
 *
 * @example
 * ```ts
 * import { countStates } from "./service_state.ts";
 * import type { ProcessStatus } from "./monitor.ts";
 * const s = (state: string) => ({ state }) as ProcessStatus;
 * countStates([s("RUNNING"), s("BACKOFF"), s("RUNNING")]); // "2 running, 1 backoff"
 * countStates([]); // "no processes"
 * ```
 */
export function countStates(statuses: readonly ProcessStatus[]): string {
  const counts = new Map<string, number>();
  for (const { state } of statuses) counts.set(state, (counts.get(state) ?? 0) + 1);
  const known = new Set<string>(ORDER);
  const states = [...ORDER, ...[...counts.keys()].filter((s) => !known.has(s)).sort()];
  const parts = states.flatMap((state) => {
    const n = counts.get(state);
    return n === undefined ? [] : [`${n} ${state.toLowerCase()}`];
  });
  return parts.length === 0 ? "no processes" : parts.join(", ");
}
