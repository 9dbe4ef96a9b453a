/**
 * Reaping orphans, for tend as PID 1 (a container's entrypoint) or as a
 * child subreaper (`--subreaper`, `prctl(PR_SET_CHILD_SUBREAPER)`).
 *
 * The kernel hands every orphaned descendant to the nearest subreaper, or
 * to PID 1; when it exits it stays a zombie until that process reaps it.
 * Deno cannot wait for a process it did not spawn, so this goes to libc
 * through FFI ({@linkcode openLibc}), and needs `--allow-ffi`.
 *
 * **Why not a `waitpid(-1)` loop.** Deno's runtime (tokio) waits for each
 * of its own children by pid: a pidfd, then `wait4(pid, WNOHANG)`. A
 * `waitpid(-1)` takes whichever zombie comes first, Deno's own children
 * included, and their `status` then rejects with ECHILD (measured: 11 to
 * 30 of 41 statuses lost). So each pass, on SIGCHLD, on a slow timer and
 * once at start:
 *
 * 1. peeks with `waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT)`, which names
 *    one zombie child without reaping it; one that is not in tend's
 *    registry ({@linkcode ownPids}, through `isOurs`) is reaped by pid
 *    with `waitpid(pid, WNOHANG)`, and the peek goes on;
 * 2. when the peek names one of tend's own zombies (Deno reaps it on its
 *    next turn), that zombie hides every one behind it: the kernel always
 *    names the first in its list, and orphans are appended behind. So the
 *    pass then scans: it lists every child of every thread from
 *    `/proc/self/task/TID/children` and reaps, by pid, each exited one that
 *    is not tend's (`waitpid(pid, WNOHANG)` on a live child does nothing);
 * 3. and it peeks again 20 ms later, for a child that was being handed
 *    over while the scan read `/proc` (proc(5): that file is exact only
 *    while the children are frozen).
 *
 * `/proc` is read through libc too: Deno's file API wants `--allow-all`
 * for any path under `/proc`, and the reaper needs `--allow-ffi` anyway.
 *
 * SIGCHLD notifications are coalesced (several exits can make one call),
 * so every pass drains everything it can see. SIGCHLD must never be set to
 * SIG_IGN: the kernel would then reap every child itself, Deno's too.
 *
 * @module
 */

import type { SignalName } from "../core/signals.ts";
import { cString, ERRNO_SYMBOLS, errnoOf, openLibc } from "./libc.ts";

// Linux x86_64 constants.
const P_ALL = 0;
const WNOHANG = 1;
const WEXITED = 4;
const WNOWAIT = 0x01000000;
const O_RDONLY = 0;
const O_CLOEXEC = 0o2000000;
const EINTR = 4;
const ECHILD = 10;
const PR_SET_CHILD_SUBREAPER = 36;
const PR_GET_CHILD_SUBREAPER = 37;

// siginfo_t on x86_64 is 128 bytes; for waitid: si_signo i32 @0, si_errno
// @4, si_code @8, padding @12, si_pid i32 @16, si_uid @20, si_status @24.
const SIGINFO_SIZE = 128;
const SI_PID_OFFSET = 16;
// glibc x86_64 struct dirent: d_ino u64 @0, d_off @8, d_reclen u16 @16,
// d_type u8 @18, d_name @19.
const DIRENT_NAME_OFFSET = 19;

const SYMBOLS = {
  waitid: { parameters: ["i32", "u32", "buffer", "i32"], result: "i32" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  // prctl is variadic in C; on x86_64 five integer arguments passed as
  // fixed ones are laid out the same way.
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  // open is variadic too (its mode); without O_CREAT two arguments do.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  opendir: { parameters: ["buffer"], result: "pointer" },
  readdir: { parameters: ["pointer"], result: "pointer" },
  closedir: { parameters: ["pointer"], result: "i32" },
  ...ERRNO_SYMBOLS,
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

let opened: Libc | null | undefined;

// libc, opened once; null without --allow-ffi (or off Linux x86_64).
function libc(): Libc | null {
  if (opened === undefined) opened = openLibc(SYMBOLS);
  return opened;
}

/**
 * Makes tend a child subreaper: orphaned descendants are handed to it
 * instead of to PID 1. Needs no privilege (Linux 3.4 and later).
 *
 * @returns whether the kernel reports it set (read back with
 * `PR_GET_CHILD_SUBREAPER`), or `null` without libc (no `--allow-ffi`)
 */
export function setChildSubreaper(): boolean | null {
  const lib = libc();
  if (lib === null) return null;
  if (lib.symbols.prctl(PR_SET_CHILD_SUBREAPER, 1n, 0n, 0n, 0n) !== 0) return false;
  const out = new Int32Array(1);
  const at = BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(out)));
  if (lib.symbols.prctl(PR_GET_CHILD_SUBREAPER, at, 0n, 0n, 0n) !== 0) return false;
  return out[0] === 1;
}

// A whole small file, read with libc (Deno's API would want --allow-all).
function readSmallFile(lib: Libc, path: string, buffer: Uint8Array<ArrayBuffer>) {
  const fd = lib.symbols.open(cString(path), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return null;
  const decoder = new TextDecoder();
  let text = "";
  try {
    // Bounded: 1024 reads of 64 KiB is far more than any children list.
    for (let i = 0; i < 1024; i++) {
      const n = Number(lib.symbols.read(fd, buffer, BigInt(buffer.length)));
      if (n < 0) {
        if (errnoOf(lib) === EINTR) continue;
        return null;
      }
      if (n === 0) break;
      text += decoder.decode(buffer.subarray(0, n), { stream: true });
    }
  } finally {
    lib.symbols.close(fd);
  }
  return text + decoder.decode();
}

// The thread ids of tend, from /proc/self/task.
function threads(lib: Libc): string[] {
  const dir = lib.symbols.opendir(cString("/proc/self/task"));
  if (dir === null) return [];
  const tids: string[] = [];
  try {
    for (let i = 0; i < 100_000; i++) {
      const entry = lib.symbols.readdir(dir);
      if (entry === null) break;
      const name = Deno.UnsafePointerView.getCString(entry, DIRENT_NAME_OFFSET);
      if (/^\d+$/.test(name)) tids.push(name);
    }
  } finally {
    lib.symbols.closedir(dir);
  }
  return tids;
}

// Every child, live or zombie, of every thread: a child hangs off the
// thread that forked it, or the one the kernel chose to hand an orphan to.
function childrenOf(lib: Libc, buffer: Uint8Array<ArrayBuffer>): number[] {
  const pids = new Set<number>();
  for (const tid of threads(lib)) {
    const text = readSmallFile(lib, `/proc/self/task/${tid}/children`, buffer);
    for (const word of text?.split(" ") ?? []) {
      if (word !== "") pids.add(Number(word));
    }
  }
  return [...pids];
}

/** What `/proc/PID/stat` says of a process. */
export interface ProcessStat {
  /** Its state letter: `R`, `S`, `D`, `T`, `Z` (zombie), ... */
  state: string;
  /** Its parent's pid. */
  ppid: number;
  /** Its process group. */
  pgrp: number;
}

function statOf(
  lib: Libc,
  pid: number,
  buffer: Uint8Array<ArrayBuffer>,
): ProcessStat | null {
  const text = readSmallFile(lib, `/proc/${pid}/stat`, buffer);
  if (text === null) return null;
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
  const [state, ppid, pgrp] = text.slice(text.lastIndexOf(")") + 2).split(" ", 3);
  if (state === undefined || ppid === undefined || pgrp === undefined) return null;
  return { state, ppid: Number(ppid), pgrp: Number(pgrp) };
}

/**
 * Every child of tend, live or zombie, from `/proc/self/task/*\/children`
 * (read through libc); empty without libc.
 */
export function listChildren(): number[] {
  const lib = libc();
  return lib === null ? [] : childrenOf(lib, new Uint8Array(65536));
}

/**
 * What `/proc/PID/stat` says of `pid` (read through libc), or `null` when
 * it is gone or libc cannot be had.
 */
export function processStat(pid: number): ProcessStat | null {
  const lib = libc();
  return lib === null ? null : statOf(lib, pid, new Uint8Array(4096));
}

/** Tuning and callbacks for {@linkcode Reaper.start}. */
export interface ReaperOptions {
  /** Milliseconds between passes of the safety-net timer. @default 1000 */
  interval?: number;
  /** Milliseconds before the peek is tried again after it was hidden. @default 20 */
  retry?: number;
  /** Called with each orphan reaped and its raw wait status. */
  onReap?: (pid: number, status: number) => void;
  /** Called once with the first error a pass meets (passes go on). */
  onError?: (error: unknown) => void;
}

/** What {@linkcode Reaper.stopOrphans} did. */
export interface OrphanReport {
  /** Orphans sent the stop signal. */
  stopped: number[];
  /** Orphans still alive at the deadline, sent SIGKILL. */
  killed: number[];
  /** Orphans still alive after SIGKILL and its wait. */
  left: number[];
}

// How often stopOrphans looks for orphans that are left.
const ORPHAN_POLL_MS = 20;
// How long stopOrphans waits for orphans to go after SIGKILL.
const ORPHAN_KILL_WAIT_MS = 1000;

/**
 * Reaps every orphan that exits, leaving alone the children `isOurs`
 * claims (Deno waits for those itself). See the module doc for how.
 *
 * @example
 * ```ts ignore
 * import { ownPids } from "./pids.ts";
 * const reaper = Reaper.start((pid) => ownPids.has(pid));
 * // ... at shutdown, once tend's own processes have stopped:
 * await reaper?.stopOrphans("SIGTERM", 5000);
 * reaper?.stop();
 * ```
 */
export class Reaper {
  /** Orphans reaped so far. */
  reaped = 0;
  /** Passes run (SIGCHLD, timer, retries, {@linkcode reapNow}). */
  passes = 0;
  /** Times the peek named one of tend's own zombies. */
  hidden = 0;
  /** Times the children were scanned through `/proc`. */
  scans = 0;

  #lib: Libc;
  #isOurs: (pid: number) => boolean;
  #options: ReaperOptions;
  #info = new Uint8Array(SIGINFO_SIZE);
  #status = new Int32Array(1);
  #buffer = new Uint8Array(65536);
  #stopped = false;
  #failed = false;
  #retry: ReturnType<typeof setTimeout> | null = null;
  #timer: ReturnType<typeof setInterval>;
  #onSignal = () => this.#safePass();

  /**
   * Starts reaping: on SIGCHLD, on a slow timer that does not keep tend
   * alive, and once now (orphans may have exited before).
   *
   * @param isOurs whether a pid is one of tend's own children whose status
   * Deno has not reported yet (see `pids.ts`)
   * @returns the reaper, or `null` when libc cannot be had (`--allow-ffi`)
   */
  static start(
    isOurs: (pid: number) => boolean,
    options: ReaperOptions = {},
  ): Reaper | null {
    const lib = libc();
    return lib === null ? null : new Reaper(lib, isOurs, options);
  }

  private constructor(
    lib: Libc,
    isOurs: (pid: number) => boolean,
    options: ReaperOptions,
  ) {
    this.#lib = lib;
    this.#isOurs = isOurs;
    this.#options = options;
    Deno.addSignalListener("SIGCHLD", this.#onSignal);
    this.#timer = setInterval(this.#onSignal, options.interval ?? 1000);
    Deno.unrefTimer(this.#timer);
    queueMicrotask(this.#onSignal);
  }

  /** Runs one pass now; returns how many orphans it reaped. */
  reapNow(): number {
    if (this.#stopped) return 0;
    this.passes++;
    const info = this.#info;
    const view = new DataView(info.buffer);
    let n = 0;
    // Bounded: each round reaps one zombie or ends the pass.
    for (let i = 0; i < 100_000; i++) {
      info.fill(0); // si_pid stays 0 when nothing has exited
      const r = this.#lib.symbols.waitid(P_ALL, 0, info, WEXITED | WNOHANG | WNOWAIT);
      if (r === -1) {
        const errno = errnoOf(this.#lib);
        if (errno === EINTR) continue;
        if (errno === ECHILD) return n; // no children at all
        throw new Error(`waitid failed (errno ${errno})`);
      }
      const pid = view.getInt32(SI_PID_OFFSET, true);
      if (pid === 0) return n; // children, none of them exited
      if (this.#isOurs(pid)) {
        // Deno reaps this one on its next turn; it hides what is behind it.
        this.hidden++;
        this.#scheduleRetry();
        return n + this.#scan();
      }
      if (this.#reap(pid)) n++;
      // A reap that found nothing (gone meanwhile): the next peek moves on.
    }
    return n;
  }

  /**
   * Stops the orphans that are still alive, as tend stops a group: `signal`
   * (and SIGCONT) to each, to its whole group when it leads one; SIGKILL to
   * those still alive after `graceMs`; then waits a little for them to be
   * reaped. Orphans handed over meanwhile (their parent just died) get the
   * same. Call it once tend's own processes have stopped.
   */
  async stopOrphans(signal: SignalName, graceMs: number): Promise<OrphanReport> {
    const report: OrphanReport = { stopped: [], killed: [], left: [] };
    const signalled = new Set<number>();
    const deadline = performance.now() + graceMs;
    // Bounded by the deadline: every round waits ORPHAN_POLL_MS.
    while (true) {
      this.#safePass();
      const live = this.#liveOrphans();
      if (live.length === 0) return report;
      if (performance.now() >= deadline) break;
      for (const orphan of live) {
        if (signalled.has(orphan.pid)) continue;
        signalled.add(orphan.pid);
        report.stopped.push(orphan.pid);
        signalOrphan(orphan, signal);
        if (signal !== "SIGKILL" && signal !== "SIGCONT") {
          signalOrphan(orphan, "SIGCONT");
        }
      }
      await delay(Math.min(ORPHAN_POLL_MS, Math.max(0, deadline - performance.now())));
    }
    for (const orphan of this.#liveOrphans()) {
      report.killed.push(orphan.pid);
      signalOrphan(orphan, "SIGKILL");
    }
    const until = performance.now() + ORPHAN_KILL_WAIT_MS;
    while (performance.now() < until) {
      await delay(ORPHAN_POLL_MS);
      this.#safePass();
      if (this.#liveOrphans().length === 0) return report;
    }
    report.left = this.#liveOrphans().map((orphan) => orphan.pid);
    return report;
  }

  /** Stops listening for SIGCHLD and stops the timers. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    Deno.removeSignalListener("SIGCHLD", this.#onSignal);
    clearInterval(this.#timer);
    if (this.#retry !== null) clearTimeout(this.#retry);
  }

  // Children that are not tend's own and have not exited.
  #liveOrphans(): { pid: number; pgrp: number }[] {
    const live: { pid: number; pgrp: number }[] = [];
    for (const pid of childrenOf(this.#lib, this.#buffer)) {
      if (this.#isOurs(pid)) continue;
      const stat = statOf(this.#lib, pid, this.#buffer);
      if (stat !== null && stat.state !== "Z" && stat.state !== "X") {
        live.push({ pid, pgrp: stat.pgrp });
      }
    }
    return live;
  }

  // waitpid(pid, WNOHANG) for a pid known not to be tend's: whether it reaped.
  #reap(pid: number): boolean {
    const status = new Uint8Array(this.#status.buffer);
    for (let i = 0; i < 8; i++) {
      const r = this.#lib.symbols.waitpid(pid, status, WNOHANG);
      if (r === pid) {
        this.reaped++;
        this.#options.onReap?.(pid, this.#status[0] ?? 0);
        return true;
      }
      if (r === -1 && errnoOf(this.#lib) === EINTR) continue;
      return false; // 0: still alive; ECHILD: gone already
    }
    return false;
  }

  #scan(): number {
    this.scans++;
    let n = 0;
    for (const pid of childrenOf(this.#lib, this.#buffer)) {
      if (!this.#isOurs(pid) && this.#reap(pid)) n++;
    }
    return n;
  }

  #scheduleRetry(): void {
    if (this.#retry !== null || this.#stopped) return;
    this.#retry = setTimeout(() => {
      this.#retry = null;
      this.#safePass();
    }, this.#options.retry ?? 20);
    Deno.unrefTimer(this.#retry);
  }

  // A pass that never throws: a throwing signal listener would end Deno's
  // loop for SIGCHLD, and with it all reaping.
  #safePass(): void {
    try {
      this.reapNow();
    } catch (error) {
      if (this.#failed) return;
      this.#failed = true;
      try {
        this.#options.onError?.(error);
      } catch {
        // nothing more to do
      }
    }
  }
}

function signalOrphan(orphan: { pid: number; pgrp: number }, signal: SignalName): void {
  try {
    // A leader's group gets it too, as tend's own groups do; a member of
    // someone else's group gets it alone.
    Deno.kill(orphan.pgrp === orphan.pid ? -orphan.pid : orphan.pid, signal);
  } catch {
    // gone already, or not ours to signal
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
