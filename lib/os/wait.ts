/**
 * Whether a child has exited, asked of the kernel without reaping it.
 *
 * Deno reaps its children on its own (tokio waits for each pid once its
 * pidfd says it exited), and reports the exit to JavaScript a little
 * later, or much later when the event loop is busy: a stop of thousands of
 * processes. `waitid(P_PID, pid, WEXITED | WNOHANG | WNOWAIT)` tells at
 * once whether the child is a zombie, and leaves it for tokio to reap.
 *
 * @module
 */

import { ERRNO_SYMBOLS, errnoOf, openLibc } from "./libc.ts";

const P_PID = 1;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const ECHILD = 10;
// siginfo_t on x86_64 is 128 bytes; for waitid, si_pid is the int at 16.
const SIGINFO_SIZE = 128;
const SI_PID_OFFSET = 16;

const SYMBOLS = {
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  ...ERRNO_SYMBOLS,
} as const;

let lib: Deno.DynamicLibrary<typeof SYMBOLS> | null | false = null;
const info = new Uint8Array(SIGINFO_SIZE);
const view = new DataView(info.buffer);

/** Whether {@linkcode hasExited} can tell anything here (it needs FFI). */
export function canPeekExits(): boolean {
  if (lib === null) lib = openLibc(SYMBOLS) ?? false;
  return lib !== false;
}

/**
 * Whether `pid`, a child of tend, has exited: `true` when it is a zombie or
 * already reaped, `false` while it runs (or is stopped), `null` when that
 * cannot be told (no FFI, or an error the kernel should never give).
 */
export function hasExited(pid: number): boolean | null {
  if (!canPeekExits() || !lib) return null;
  // With WNOHANG and nothing to report, waitid returns 0 and leaves
  // siginfo alone: si_pid must read 0 then.
  info.fill(0);
  if (lib.symbols.waitid(P_PID, pid, info, WEXITED | WNOHANG | WNOWAIT) === 0) {
    return view.getInt32(SI_PID_OFFSET, true) === pid;
  }
  // ECHILD: tokio reaped it already, and its exit report is on its way.
  // (Had the pid been reused since by a new child of tend's, the answer
  // would be about that one: `false` while it runs, which only means
  // waiting for the report, and `true` only once both have exited.)
  return errnoOf(lib) === ECHILD ? true : null;
}
