/**
 * OS signals sent to tend, mapped onto the Supervisor's operations.
 *
 * No signal whose default action ends a process may end tend and leave its
 * children behind (each leads its own session, so nothing else stops
 * them). Each one Deno lets tend listen for is either a stop request or
 * logged and ignored; the README's Signals section has the table and the
 * reasons.
 *
 * @module
 */

import {
  closeSignalInspector,
  guardInspector,
  guardWarning,
  loadInspector,
} from "../os/inspector.ts";
import { onSignals, quietRealtimeSignals } from "../os/signals.ts";
import type { Logger } from "../output/log.ts";
import type { Supervisor } from "../supervisor.ts";

/**
 * Signals that stop every process gracefully, as SIGTERM does; the same
 * again (or another of them) kills every group at once.
 *
 * - SIGTERM, SIGINT: the usual requests (SIGINT is Ctrl-C).
 * - SIGQUIT: Ctrl-\; its default would end tend at once, without its children.
 * - SIGPWR: the power is failing (UPS daemons and init send it): stop cleanly
 *   while there is time.
 * - SIGXCPU: tend passed its soft CPU limit; the kernel sends it again each
 *   second, then SIGKILL at the hard limit, which would leave every child
 *   behind. So its repeat kills the groups at once, while tend still can.
 * - SIGABRT: systemd's watchdog sends it to a hung service before SIGKILL;
 *   an abort() inside tend still ends it (abort re-raises it at its default).
 * - SIGBUS: only one sent with kill(2) reaches a listener (a real bus error
 *   ends tend at once, as SIGKILL would); someone wants tend gone.
 */
export const STOP_SIGNALS = [
  "SIGTERM",
  "SIGINT",
  "SIGQUIT",
  "SIGPWR",
  "SIGXCPU",
  "SIGABRT",
  "SIGBUS",
] as const satisfies readonly Deno.Signal[];

/**
 * Signals tend logs and otherwise ignores: nothing in tend asks for them,
 * and their default action would end tend without its children.
 *
 * - SIGALRM, SIGVTALRM, SIGPROF: timer signals; tend sets no such timer.
 * - SIGSTKFLT: unused on Linux.
 * - SIGIO (SIGPOLL is the same signal): tend asks for no I/O signals.
 * - SIGTRAP: a debugger's trap; a stray one means nothing to tend.
 * - SIGSYS: a system call refused by a seccomp filter (the call fails), or
 *   a stray kill(2).
 */
export const IGNORED_SIGNALS = [
  "SIGALRM",
  "SIGVTALRM",
  "SIGPROF",
  "SIGSTKFLT",
  "SIGIO",
  "SIGTRAP",
  "SIGSYS",
] as const satisfies readonly Deno.Signal[];

/**
 * Makes SIGUSR1 and the real-time signals harmless (see
 * {@linkcode handleSignals}): until this runs, any of them ends tend.
 * Call it first thing in `tend run`, before anything is awaited; it is
 * idempotent, and handleSignals calls it too.
 */
export function guardSignals(): ReturnType<typeof guardInspector> {
  const guard = guardInspector();
  quietRealtimeSignals();
  return guard;
}

/**
 * Listens for the signals tend answers; returns a function that stops.
 *
 * - {@linkcode STOP_SIGNALS} (SIGTERM, SIGINT, SIGQUIT...): stop gracefully;
 *   again: kill every group at once.
 * - SIGHUP: reload the config file.
 * - SIGUSR2: log each process's status.
 * - SIGUSR1: made a no-op, so that Deno never opens its debugger port on
 *   it (see os/inspector.ts); where that cannot be done (no FFI), tend
 *   warns at once and closes the port each time it opens.
 * - SIGXFSZ: ignored, so that a write past the file size limit (`ulimit
 *   -f`) fails with EFBIG, for the writer to report, instead of ending
 *   tend; logged once, since a log that keeps failing would bring more.
 * - {@linkcode IGNORED_SIGNALS}: logged and ignored.
 * - The real-time signals (34 to 64): made no-ops, with FFI (Deno cannot
 *   listen for them).
 */
export function handleSignals(supervisor: Supervisor, log: Logger): () => void {
  // The guard may have been installed earlier (it is idempotent); this is
  // the first moment there is a log to say how it went.
  const guard = guardSignals();
  const warning = guardWarning(guard);
  if (warning !== null) log.log("warn", warning);
  // The fallback needs node:inspector; loaded only when it may be needed.
  if (!guard.guarded) void loadInspector();
  let fileSizeLogged = false;
  // SIGXFSZ stays ignored for good, even once tend stops listening: on the
  // way out, the runtime flushes what stdout holds, and a write past the
  // limit then would still end tend with the signal.
  onSignals([["SIGXFSZ", () => {
    if (fileSizeLogged) return;
    fileSizeLogged = true;
    log.log(
      "warn",
      "SIGXFSZ: a file tend writes reached the file size limit (ulimit -f); " +
        "tend carries on, and such writes fail",
    );
  }]]);
  return onSignals([
    ...STOP_SIGNALS.map((signal) =>
      [signal, () => void supervisor.interrupt(signal)] as const
    ),
    ["SIGHUP", () => void supervisor.reload("SIGHUP")],
    ["SIGUSR2", () => supervisor.reportStatus()],
    ...IGNORED_SIGNALS.map((signal) =>
      [
        signal,
        () => log.log("warn", `${signal}: ignored (it means nothing to tend)`),
      ] as const
    ),
    // With the guard in place no SIGUSR1 listener ever runs.
    ...guard.guarded ? [] : [
      ["SIGUSR1", () => closeSignalInspector((message) => log.log("warn", message))],
    ] as const,
  ]);
}
