/**
 * SIGUSR1 and the debugger port Deno opens on it.
 *
 * `deno run` (2.9.2 and later, like Node) answers SIGUSR1 by opening a V8
 * inspector on 127.0.0.1:9229, through which any local user can run code
 * as tend, which often runs as root. Closing it once it is up cannot be
 * made safe: a local user who connects within those milliseconds is in.
 * So tend makes sure it never opens.
 *
 * How Deno gets the signal (cli/worker.rs, ext/signals, signal-hook 0.3):
 * 500 ms after start a task subscribes to SIGUSR1 through Deno's signal
 * registry, which installs an OS handler (sigaction(2)) only for a signal's
 * first subscriber, JS listener or not; later subscribers share it. That
 * handler wakes every subscriber, the inspector task among them. So
 * {@linkcode guardInspector}, synchronously:
 *
 * 1. adds a JS listener for SIGUSR1: Deno installs its handler now, and
 *    the inspector task's later subscription never calls sigaction. The
 *    listener stays for good: a SIGUSR1 that slipped in before step 2 is a
 *    byte in Deno's pipe, and one that no listener claims gets the default
 *    action (death).
 * 2. replaces that handler, through FFI, with one that does nothing (see
 *    `setNoopHandler` in signals.ts). Deno's handler never runs again, and
 *    nothing in Deno puts it back: SIGUSR1 wakes no one, so no inspector,
 *    and tend does not die either. Children still start with SIGUSR1's
 *    default action (a caught signal is reset by execve; SIG_IGN would
 *    not be).
 *
 * Installing the handler before step 1 would not do: Deno's registry keeps
 * a handler it finds as the "previous" one, and calls it before its own.
 *
 * An inspector asked for with `--inspect` exists before any signal, so
 * Deno's activation would be a no-op anyway; the guard leaves it alone.
 * The compiled binary (`deno compile`) has no SIGUSR1 task at all; there
 * the guard only makes SIGUSR1 harmless instead of deadly.
 *
 * Without FFI (no `--allow-ffi`, or not Linux on x86_64) only step 1
 * happens, so SIGUSR1 cannot kill tend but still opens the port: tend then
 * closes it as soon as it sees it ({@linkcode closeSignalInspector}), which
 * narrows the window but cannot shut it, and says so at start. Only then
 * is `node:inspector` loaded ({@linkcode loadInspector}): a Node built-in
 * costs Deno its Node-compatibility layer, memory a guarded tend never
 * needs.
 *
 * @module
 */

import { libcUnavailable } from "./libc.ts";
import { dispositionOf, isCaught, setNoopHandler, signalNumber } from "./signals.ts";

/** What {@linkcode guardInspector} could do. */
export type InspectorGuard =
  | {
    /** SIGUSR1 is a no-op: no inspector can open because of it. */
    guarded: true;
    /**
     * SIGUSR1 already had Deno's handler when the guard ran: a SIGUSR1
     * before then may have opened an inspector.
     */
    late: boolean;
  }
  | {
    /** SIGUSR1 no longer kills tend, but still opens an inspector. */
    guarded: false;
    /** Why (FFI not permitted, not Linux on x86_64, sigaction failed). */
    reason: string;
  };

let outcome: InspectorGuard | undefined;

// The listener of step 1. Deno calls it only while the guard is not in
// place (without FFI), and then it has nothing to do.
function keepAlive(): void {}

/**
 * Makes sure SIGUSR1 never opens Deno's inspector (see the module doc).
 * Call it as early as possible: until it runs, SIGUSR1 kills tend (and,
 * 500 ms after start, opens the inspector). Synchronous, idempotent (later
 * calls return the first outcome), never throws.
 */
export function guardInspector(): InspectorGuard {
  return outcome ??= install();
}

function install(): InspectorGuard {
  const signo = signalNumber("SIGUSR1");
  const before = dispositionOf(signo);
  // Step 1, with or without FFI: from here on SIGUSR1 does not kill tend.
  try {
    Deno.addSignalListener("SIGUSR1", keepAlive);
  } catch (error) {
    return { guarded: false, reason: `cannot listen for SIGUSR1: ${error}` };
  }
  if (before === null) {
    return { guarded: false, reason: libcUnavailable() ?? "sigaction(SIGUSR1) failed" };
  }
  const deno = dispositionOf(signo);
  if (deno === null || !isCaught(deno)) {
    // Deno's registry did not install a handler: this Deno works in a way
    // the guard does not know, so it cannot vouch for it.
    return { guarded: false, reason: "Deno installed no SIGUSR1 handler" };
  }
  if (!setNoopHandler(signo)) {
    return { guarded: false, reason: "sigaction(SIGUSR1) failed" };
  }
  return { guarded: true, late: isCaught(before) };
}

/** The warning tend logs at start for a guard that is not in place, or null. */
export function guardWarning(guard: InspectorGuard): string | null {
  if (guard.guarded) {
    return guard.late
      ? "SIGUSR1 was Deno's before tend took it over: a SIGUSR1 before now may " +
        "have opened a debugger port on 127.0.0.1:9229"
      : null;
  }
  return `SIGUSR1 is unsafe here (${guard.reason}): on SIGUSR1 Deno opens a ` +
    "debugger port on 127.0.0.1:9229 through which any local user can run code " +
    "as tend; tend closes it once it sees it, but cannot stop a quick local user " +
    "getting in first. Run tend with --allow-ffi (as deno task start does) to " +
    "make SIGUSR1 a no-op";
}

// How many times, 5 ms apart, tend looks for the inspector SIGUSR1 opened.
const INSPECTOR_CHECKS = 40;

type Inspector = typeof import("node:inspector");

let inspector: Inspector | null = null;
let loading: Promise<void> | null = null;

/**
 * Loads `node:inspector`, which only {@linkcode closeSignalInspector}
 * needs: call it at start when the guard is not in place, so that it is
 * there before the first SIGUSR1.
 */
export function loadInspector(): Promise<void> {
  return loading ??= import("node:inspector").then((module) => {
    inspector = module.default ?? module;
  });
}

/**
 * The fallback for when {@linkcode guardInspector} could not make SIGUSR1 a
 * no-op: closes the inspector SIGUSR1 opened, once it is up; `warn` says
 * what happened (or that it could not look, without `--allow-sys`). This
 * narrows the window in which a local user can connect; it cannot shut it.
 */
export function closeSignalInspector(warn: (message: string) => void): void {
  const loaded = inspector;
  if (loaded === null) {
    // Not loaded in time (loadInspector was not called at start): the port
    // this SIGUSR1 opens may be up by the time it is, so do not take an
    // open one for one opened before (by --inspect).
    void loadInspector().then(() => watchInspector(inspector!, warn));
    return;
  }
  try {
    if (loaded.url() !== undefined) return;
  } catch {
    // Without --allow-sys tend cannot look, let alone close it.
    warn(
      "SIGUSR1: Deno may have opened a debugger port on 127.0.0.1:9229, which tend " +
        "cannot close without --allow-sys; send SIGUSR2 for a status report",
    );
    return;
  }
  watchInspector(loaded, warn);
}

// Closes the inspector once it is up, looking every 5 ms for a while.
function watchInspector(loaded: Inspector, warn: (message: string) => void): void {
  let tries = 0;
  const check = () => {
    let url: string | undefined;
    try {
      url = loaded.url();
    } catch {
      return; // without --allow-sys: said at the first look
    }
    if (url !== undefined) {
      loaded.close();
      warn(
        "SIGUSR1: Deno opened a debugger port for it, and tend closed it; " +
          "send SIGUSR2 for a status report",
      );
    } else if (++tries < INSPECTOR_CHECKS) {
      setTimeout(check, 5);
    }
  };
  setTimeout(check, 0);
}
