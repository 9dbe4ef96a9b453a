/**
 * The signal names tend accepts as a process's `stopSignal`.
 *
 * This module is pure and imports nothing.
 *
 * @module
 */

/**
 * Every signal tend can send, in Linux's numeric order.
 *
 * These exist on both Linux and macOS and `Deno.kill` accepts each of them on
 * Linux (checked by sending each one to a child). Left out: names only one of
 * the two systems has (`SIGPOLL`, `SIGPWR`, `SIGSTKFLT`, `SIGUNUSED`, `SIGINFO`,
 * `SIGEMT`) and Windows' `SIGBREAK`. Some of these do not end a process by
 * default (`SIGWINCH`, `SIGCONT`, ...); they are kept because some programs
 * treat them as "stop" (Apache's graceful stop is `SIGWINCH`), and `killTime`
 * still ends with SIGKILL.
 */
export const SIGNALS = [
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGILL",
  "SIGTRAP",
  "SIGABRT",
  "SIGBUS",
  "SIGFPE",
  "SIGKILL",
  "SIGUSR1",
  "SIGSEGV",
  "SIGUSR2",
  "SIGPIPE",
  "SIGALRM",
  "SIGTERM",
  "SIGCHLD",
  "SIGCONT",
  "SIGSTOP",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGURG",
  "SIGXCPU",
  "SIGXFSZ",
  "SIGVTALRM",
  "SIGPROF",
  "SIGWINCH",
  "SIGIO",
  "SIGSYS",
] as const;

/** A signal name from {@linkcode SIGNALS}, such as `"SIGTERM"`. */
export type SignalName = typeof SIGNALS[number];

const KNOWN: ReadonlySet<string> = new Set(SIGNALS);

/**
 * Turns a signal name as a user may write it into its canonical form.
 *
 * The `SIG` prefix is optional and case does not matter, as with `kill -s`.
 *
 * @example
 * ```ts
 * import { normalizeSignal } from "./signals.ts";
 * normalizeSignal("term"); // "SIGTERM"
 * normalizeSignal("SIGFOO"); // null
 * ```
 *
 * @param name A name such as `"SIGTERM"`, `"TERM"` or `"sigterm"`.
 * @returns The canonical name, or `null` when tend does not know the signal.
 */
export function normalizeSignal(name: string): SignalName | null {
  const upper = name.toUpperCase();
  const full = upper.startsWith("SIG") ? upper : `SIG${upper}`;
  return KNOWN.has(full) ? full as SignalName : null;
}
