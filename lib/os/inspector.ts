/**
 * The debugger port Deno opens on SIGUSR1.
 *
 * Deno (since 2.9.2, like Node) answers SIGUSR1 by opening a V8 inspector
 * on 127.0.0.1:9229, through which any local user could run code as tend,
 * often root. Deno has no switch to turn that off, so tend closes it as
 * soon as it is up (by the next turn of the event loop). An inspector that
 * was already open (`--inspect`, asked for on purpose) is left alone.
 *
 * @module
 */

import inspector from "node:inspector";

// How many times, 5 ms apart, tend looks for the inspector SIGUSR1 opened.
const INSPECTOR_CHECKS = 40;

/**
 * Closes the inspector SIGUSR1 opened, once it is up; `warn` says what
 * happened (or that it could not look, without `--allow-sys`).
 */
export function closeSignalInspector(warn: (message: string) => void): void {
  try {
    if (inspector.url() !== undefined) return;
  } catch {
    // Without --allow-sys tend cannot look, let alone close it.
    warn(
      "SIGUSR1: Deno may have opened a debugger port on 127.0.0.1:9229, which tend " +
        "cannot close without --allow-sys; send SIGUSR2 for a status report",
    );
    return;
  }
  let tries = 0;
  const check = () => {
    if (inspector.url() !== undefined) {
      inspector.close();
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
