/**
 * OS signals: their numbers on this system, listening for them, and (with
 * `--allow-ffi`) setting a signal's disposition where Deno's listeners
 * cannot do what tend needs.
 *
 * @module
 */

import type { SignalName } from "../core/signals.ts";
import { cString, openLibc } from "./libc.ts";

// The numbers, by system (the table node:os has; written out because
// loading a Node built-in costs Deno its Node-compatibility layer). Linux's
// are the same on x86_64 and aarch64.
const LINUX: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPOLL: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

const DARWIN: Readonly<Record<string, number>> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGIOT: 6,
  SIGEMT: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGBUS: 10,
  SIGSEGV: 11,
  SIGSYS: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGURG: 16,
  SIGSTOP: 17,
  SIGTSTP: 18,
  SIGCONT: 19,
  SIGCHLD: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGIO: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGINFO: 29,
  SIGUSR1: 30,
  SIGUSR2: 31,
};

const NUMBERS = Deno.build.os === "darwin"
  ? DARWIN
  : Deno.build.os === "linux"
  ? LINUX
  : {};

/**
 * The number of a signal on this system (SIGUSR1 is 10 on Linux, 30 on
 * macOS), or 0 for a name the system does not have.
 */
export function signalNumber(signal: SignalName | Deno.Signal): number {
  return NUMBERS[signal] ?? 0;
}

// Number -> name, the first name of each number in the table winning
// (SIGABRT over SIGIOT, SIGIO over SIGPOLL), as Deno names them.
const NAMES = new Map<number, string>();
for (const [name, number] of Object.entries(NUMBERS)) {
  if (!NAMES.has(number)) NAMES.set(number, name);
}

/**
 * The name of signal `number` on this system (`signalName(15)` is
 * "SIGTERM"), or `undefined` for one without a name (the real-time ones).
 */
export function signalName(number: number): string | undefined {
  return NAMES.get(number);
}

/**
 * Calls each handler when its signal reaches tend; returns a function that
 * stops listening to all of them.
 *
 * Each signal stays caught for as long as it is listened to: Rust's std
 * (Deno's runtime) resets SIGBUS and SIGSEGV to their default action after
 * one that was not a stack overflow, so that a real fault ends the
 * process; a SIGBUS that a listener hears was sent with kill(2), and
 * without this the next one would end tend. With FFI, the handler Deno
 * installed is put back before the listener runs (a real fault still ends
 * tend at once: the faulting instruction runs again before any listener).
 *
 * @param handlers the signals to listen for, each with its handler
 */
export function onSignals(
  handlers: readonly (readonly [Deno.Signal, () => void])[],
): () => void {
  const listeners = handlers.map(([signal, handler]) => {
    const signo = signalNumber(signal);
    let installed: Disposition | null = null;
    const listener = () => {
      // Put back only what was reset to the default: a handler someone
      // installed on purpose since (the SIGUSR1 guard) stays.
      const now = installed === null ? null : dispositionOf(signo);
      if (now !== null && handlerOf(now) === SIG_DFL) setDisposition(signo, installed!);
      handler();
    };
    Deno.addSignalListener(signal, listener);
    const now = dispositionOf(signo);
    installed = now !== null && isCaught(now) ? now : null;
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) {
      Deno.removeSignalListener(signal, listener);
    }
  };
}

// struct sigaction on x86_64 glibc (checked with offsetof): sa_handler at 0
// (8 bytes), sa_mask at 8 (128 bytes), sa_flags at 136 (int), sa_restorer
// at 144; 152 bytes in all. libc.ts only opens libc on Linux x86_64.
const SIGACTION_SIZE = 152;
const SA_FLAGS_OFFSET = 136;
const SA_RESTART = 0x10000000;
const SIG_DFL = 0n;
const SIG_IGN = 1n;
const RTLD_LAZY = 0x1;
const RTLD_NOLOAD = 0x4;

// Pointers travel as plain integers ("usize"): Deno.UnsafePointer.value
// would need --allow-ffi for every path, not only the libc one a scoped
// --allow-ffi=PATH grants.
const SIGACTION_SYMBOLS = {
  sigaction: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  dlopen: { parameters: ["buffer", "i32"], result: "usize" },
  dlsym: { parameters: ["usize", "buffer"], result: "usize" },
  dlclose: { parameters: ["usize"], result: "i32" },
} as const;

type SigactionLib = Deno.DynamicLibrary<typeof SIGACTION_SYMBOLS>;

// Opened once, on first use; `false` once it is known not to be had.
let sigactionLib: SigactionLib | null | false = null;

function libc(): SigactionLib | null {
  if (sigactionLib === null) sigactionLib = openLibc(SIGACTION_SYMBOLS) ?? false;
  return sigactionLib === false ? null : sigactionLib;
}

/** A signal's disposition as sigaction(2) holds it: the raw struct. */
export type Disposition = Uint8Array<ArrayBuffer>;

/**
 * The current disposition of signal number `signo`, or `null` without
 * FFI (see `libc.ts`) or when sigaction fails.
 */
export function dispositionOf(signo: number): Disposition | null {
  const lib = libc();
  if (lib === null) return null;
  const old = new Uint8Array(SIGACTION_SIZE);
  return lib.symbols.sigaction(signo, null, old) === 0 ? old : null;
}

/**
 * Installs `disposition` (one {@linkcode dispositionOf} returned) for signal
 * number `signo`; whether that worked.
 */
export function setDisposition(signo: number, disposition: Disposition): boolean {
  const lib = libc();
  return lib !== null && lib.symbols.sigaction(signo, disposition, null) === 0;
}

/** The handler address in a disposition: 0 for SIG_DFL, 1 for SIG_IGN. */
export function handlerOf(disposition: Disposition): bigint {
  return new DataView(disposition.buffer).getBigUint64(0, true);
}

/** Whether a disposition is a handler (not SIG_DFL, not SIG_IGN). */
export function isCaught(disposition: Disposition): boolean {
  const handler = handlerOf(disposition);
  return handler !== SIG_DFL && handler !== SIG_IGN;
}

let noop: bigint | null | undefined;

/**
 * The address of a handler that does nothing: libc's own `htonl`, or null
 * without FFI.
 *
 * `htonl` is a pure function that POSIX lists as async-signal-safe
 * (signal-safety(7)); on x86_64 glibc it is `mov %edi,%eax; bswap %eax;
 * ret`. The kernel calls a handler installed without SA_SIGINFO as
 * `handler(signo)`, returning to glibc's sa_restorer, whose sigreturn
 * restores every register: a function of one integer whose result is
 * thrown away is a valid handler, and this one touches no memory and no
 * errno. It is looked up in libc itself (not in the global scope, where
 * something could interpose it); libc stays mapped, Deno links it.
 */
function noopHandler(): bigint | null {
  if (noop !== undefined) return noop;
  const lib = libc();
  if (lib === null) return null;
  const { dlopen, dlsym, dlclose } = lib.symbols;
  const self = BigInt(dlopen(cString("libc.so.6"), RTLD_LAZY | RTLD_NOLOAD));
  if (self === 0n) return noop = null;
  const address = BigInt(dlsym(self, cString("htonl")));
  dlclose(self);
  return noop = address === 0n ? null : address;
}

/**
 * Makes signal number `signo` do nothing in tend while its children still
 * start with the signal's default action; whether that worked (it needs
 * FFI).
 *
 * Not SIG_IGN: an ignored signal stays ignored across fork and execve, so
 * every child would ignore it too. A caught signal is reset to its default
 * action by execve. The handler does nothing (see `noopHandler`), with
 * SA_RESTART so that no system call of any thread fails with EINTR.
 */
export function setNoopHandler(signo: number): boolean {
  const handler = noopHandler();
  if (handler === null) return false;
  const action = new Uint8Array(SIGACTION_SIZE);
  const view = new DataView(action.buffer);
  view.setBigUint64(0, handler, true);
  view.setInt32(SA_FLAGS_OFFSET, SA_RESTART, true);
  if (!setDisposition(signo, action)) return false;
  const now = dispositionOf(signo);
  return now !== null && handlerOf(now) === handler;
}

const RT_SYMBOLS = {
  __libc_current_sigrtmin: { parameters: [], result: "i32" },
  __libc_current_sigrtmax: { parameters: [], result: "i32" },
} as const;

/**
 * Makes the real-time signals (SIGRTMIN to SIGRTMAX, 34 to 64 with glibc)
 * no-ops in tend, each one that is still at its default action; returns
 * how many, or null without FFI.
 *
 * Their default action ends a process, and Deno cannot listen for them
 * (`Deno.addSignalListener` knows no real-time signal), so a stray
 * `kill -34` would end tend and leave its children behind. Children still
 * start with their default action (see {@linkcode setNoopHandler}). One
 * that something in the process handles already is left alone.
 */
export function quietRealtimeSignals(): number | null {
  const lib = openLibc(RT_SYMBOLS);
  if (lib === null) return null;
  const min = lib.symbols.__libc_current_sigrtmin();
  const max = lib.symbols.__libc_current_sigrtmax();
  let quieted = 0;
  for (let signo = min; signo <= max && signo <= 64; signo++) {
    const now = dispositionOf(signo);
    if (now === null || handlerOf(now) !== SIG_DFL) continue;
    if (setNoopHandler(signo)) quieted++;
  }
  return quieted;
}
