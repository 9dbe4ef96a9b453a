/**
 * OS signals sent to tend, mapped onto the Supervisor's operations.
 *
 * @module
 */

import { closeSignalInspector } from "../os/inspector.ts";
import { onSignals } from "../os/signals.ts";
import type { Logger } from "../output/log.ts";
import type { Supervisor } from "../supervisor.ts";

/**
 * Listens for the signals tend answers; returns a function that stops.
 *
 * - SIGTERM, SIGINT: stop gracefully; again: kill every group at once.
 * - SIGHUP: reload the config file.
 * - SIGUSR2: log each process's status.
 * - SIGUSR1: Deno's own (a debugger port), which tend closes.
 */
export function handleSignals(supervisor: Supervisor, log: Logger): () => void {
  return onSignals([
    ["SIGTERM", () => supervisor.interrupt("SIGTERM")],
    ["SIGINT", () => supervisor.interrupt("SIGINT")],
    ["SIGHUP", () => void supervisor.reload("SIGHUP")],
    ["SIGUSR2", () => supervisor.reportStatus()],
    ["SIGUSR1", () => closeSignalInspector((message) => log.log("warn", message))],
  ]);
}
