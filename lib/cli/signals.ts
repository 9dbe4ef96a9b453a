/**
 * OS signals sent to tend, mapped onto the Supervisor's operations.
 *
 * @module
 */

import { closeSignalInspector, guardInspector, guardWarning } from "../os/inspector.ts";
import { onSignals } from "../os/signals.ts";
import type { Logger } from "../output/log.ts";
import type { Supervisor } from "../supervisor.ts";

/**
 * Listens for the signals tend answers; returns a function that stops.
 *
 * - SIGTERM, SIGINT: stop gracefully; again: kill every group at once.
 * - SIGHUP: reload the config file.
 * - SIGUSR2: log each process's status.
 * - SIGUSR1: made a no-op, so that Deno never opens its debugger port on
 *   it (see os/inspector.ts); where that cannot be done (no FFI), tend
 *   warns at once and closes the port each time it opens.
 */
export function handleSignals(supervisor: Supervisor, log: Logger): () => void {
  // The guard may have been installed earlier (it is idempotent); this is
  // the first moment there is a log to say how it went.
  const guard = guardInspector();
  const warning = guardWarning(guard);
  if (warning !== null) log.log("warn", warning);
  return onSignals([
    ["SIGTERM", () => supervisor.interrupt("SIGTERM")],
    ["SIGINT", () => supervisor.interrupt("SIGINT")],
    ["SIGHUP", () => void supervisor.reload("SIGHUP")],
    ["SIGUSR2", () => supervisor.reportStatus()],
    // With the guard in place no SIGUSR1 listener ever runs.
    ...guard.guarded ? [] : [
      ["SIGUSR1", () => closeSignalInspector((message) => log.log("warn", message))],
    ] as const,
  ]);
}
