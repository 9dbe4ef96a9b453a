/**
 * The process table: which processes are alive (not zombies), and in which
 * process group, read from `/proc` or asked of `ps`.
 *
 * Deno lets a program read `/proc` only with `--allow-all`; with
 * `--allow-ffi` tend reads it through libc instead (open, read,
 * getdents64), and with neither it asks `ps`, a process per look.
 *
 * @module
 */

import { openLibc } from "./libc.ts";
import { spawnOwn } from "./pids.ts";

/** Live processes, by process group. */
export type GroupMembers = Map<number, number[]>;

/** A way to read the process table. */
export interface ProcessTable {
  /** What it reads, for messages: `/proc`, `/proc through libc`, `ps`. */
  readonly source: string;
  /** Every live (not zombie) process, by process group. */
  scan(): Promise<GroupMembers>;
  /** Those of `pids` that are alive, each with its process group. */
  check(pids: readonly number[]): Promise<Map<number, number>>;
}

// "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
// so the fields are read after the last ")". Null for a zombie (Z), a
// dying process (X), or a line that is not a stat line.
function liveGroupOf(stat: string): number | null {
  const close = stat.lastIndexOf(")");
  if (close === -1) return null;
  const [state, , pgrp] = stat.slice(close + 2).split(" ", 3);
  if (state === undefined || state === "Z" || state === "X") return null;
  const pgid = Number(pgrp);
  return Number.isInteger(pgid) ? pgid : null;
}

function isPid(name: string): boolean {
  const c = name.charCodeAt(0);
  return c >= 48 && c <= 57;
}

function add(members: GroupMembers, pgid: number, pid: number): void {
  const list = members.get(pgid);
  if (list) list.push(pid);
  else members.set(pgid, [pid]);
}

/** `/proc` read with Deno's own file API: needs `--allow-all`. */
class DenoProc implements ProcessTable {
  readonly source = "/proc";

  scan(): Promise<GroupMembers> {
    const members: GroupMembers = new Map();
    for (const entry of Deno.readDirSync("/proc")) {
      if (!isPid(entry.name)) continue;
      const pgid = this.#groupOf(entry.name);
      if (pgid !== null) add(members, pgid, Number(entry.name));
    }
    return Promise.resolve(members);
  }

  check(pids: readonly number[]): Promise<Map<number, number>> {
    const live = new Map<number, number>();
    for (const pid of pids) {
      const pgid = this.#groupOf(String(pid));
      if (pgid !== null) live.set(pid, pgid);
    }
    return Promise.resolve(live);
  }

  #groupOf(pid: string): number | null {
    try {
      return liveGroupOf(Deno.readTextFileSync(`/proc/${pid}/stat`));
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      return null; // it exited while we looked
    }
  }
}

const O_RDONLY = 0;
const O_DIRECTORY = 0o200000;
const O_CLOEXEC = 0o2000000;
// struct linux_dirent64: d_ino u64 @0, d_off s64 @8, d_reclen u16 @16,
// d_type u8 @18, d_name (NUL-terminated) @19.
const DIRENT_RECLEN = 16;
const DIRENT_NAME = 19;
// Far beyond any /proc: a bound on the directory loop, not a limit.
const MAX_DIRENT_READS = 100_000;

const PROC_SYMBOLS = {
  // open is variadic (mode); without O_CREAT two fixed arguments are the ABI.
  open: { parameters: ["buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  close: { parameters: ["i32"], result: "i32" },
  getdents64: { parameters: ["i32", "buffer", "usize"], result: "isize" },
} as const;

/** `/proc` read through libc: needs only `--allow-ffi`. */
class LibcProc implements ProcessTable {
  readonly source = "/proc through libc";
  #lib: Deno.DynamicLibrary<typeof PROC_SYMBOLS>;
  #stat = new Uint8Array(1024);
  #dirents = new Uint8Array(65536);
  #decoder = new TextDecoder();

  constructor(lib: Deno.DynamicLibrary<typeof PROC_SYMBOLS>) {
    this.#lib = lib;
  }

  /** Whether /proc can be read this way here. */
  works(): boolean {
    return this.#groupOf("self") !== null;
  }

  scan(): Promise<GroupMembers> {
    const members: GroupMembers = new Map();
    const { open, close, getdents64 } = this.#lib.symbols;
    const fd = open(path("/proc"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Promise.reject(new Error("cannot open /proc"));
    try {
      const buffer = this.#dirents;
      const view = new DataView(buffer.buffer);
      for (let i = 0; i < MAX_DIRENT_READS; i++) {
        const n = Number(getdents64(fd, buffer, BigInt(buffer.length)));
        if (n <= 0) break;
        for (let at = 0; at < n;) {
          const name = this.#name(buffer, at + DIRENT_NAME);
          if (isPid(name)) {
            const pgid = this.#groupOf(name);
            if (pgid !== null) add(members, pgid, Number(name));
          }
          at += view.getUint16(at + DIRENT_RECLEN, true);
        }
      }
    } finally {
      close(fd);
    }
    return Promise.resolve(members);
  }

  check(pids: readonly number[]): Promise<Map<number, number>> {
    const live = new Map<number, number>();
    for (const pid of pids) {
      const pgid = this.#groupOf(String(pid));
      if (pgid !== null) live.set(pid, pgid);
    }
    return Promise.resolve(live);
  }

  #name(buffer: Uint8Array, from: number): string {
    const end = buffer.indexOf(0, from);
    return this.#decoder.decode(buffer.subarray(from, end === -1 ? undefined : end));
  }

  // The live group of /proc/NAME, or null (gone, a zombie). The first
  // kilobyte holds the fields up to the group: comm is at most 64 bytes.
  #groupOf(name: string): number | null {
    const { open, read, close } = this.#lib.symbols;
    const fd = open(path(`/proc/${name}/stat`), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return null;
    try {
      const n = Number(read(fd, this.#stat, BigInt(this.#stat.length)));
      return n > 0
        ? liveGroupOf(this.#decoder.decode(this.#stat.subarray(0, n)))
        : null;
    } finally {
      close(fd);
    }
  }
}

function path(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/** `ps`, a process per look: needs only `--allow-run`. */
class Ps implements ProcessTable {
  readonly source = "ps";
  // How to ask about some pids only: procps's `-q` reads only those (`-p`
  // still reads the whole table, 35 times slower with 7,000 processes);
  // others know only `-p`; null: neither, so filter a full look.
  #select: "-q" | "-p" | null = "-q";

  async scan(): Promise<GroupMembers> {
    const { live, ok } = await this.#ps(["-A"]);
    if (!ok) throw new Error("ps failed");
    const members: GroupMembers = new Map();
    for (const [pid, pgid] of live) add(members, pgid, pid);
    return members;
  }

  async check(pids: readonly number[]): Promise<Map<number, number>> {
    if (pids.length === 0) return new Map();
    while (this.#select !== null) {
      // With a pid list, ps exits 1 when none of them exists: that is an
      // answer too, unless ps said why on stderr (an option it lacks).
      const { live, ok, complained } = await this.#ps([this.#select, pids.join(",")]);
      if (ok || !complained) return live;
      this.#select = this.#select === "-q" ? "-p" : null;
    }
    const all = await this.scan();
    const wanted = new Set(pids);
    const live = new Map<number, number>();
    for (const [pgid, members] of all) {
      for (const pid of members) if (wanted.has(pid)) live.set(pid, pgid);
    }
    return live;
  }

  // Live processes `ps` lists with `select`, each with its group.
  async #ps(
    select: string[],
  ): Promise<{ live: Map<number, number>; ok: boolean; complained: boolean }> {
    // Through spawnOwn: the reaper must know the pid is tend's (pids.ts).
    const out = await spawnOwn("ps", {
      args: [...select, "-o", "pid=,pgid=,stat="],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    const live = new Map<number, number>();
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pid, pgid, stat] = line.trim().split(/\s+/);
      if (pid && pgid && stat && !stat.startsWith("Z")) {
        live.set(Number(pid), Number(pgid));
      }
    }
    return { live, ok: out.success, complained: out.stderr.length > 0 };
  }
}

/**
 * The best way to read the process table here, or `null` when there is
 * none: `/proc` with Deno's API where it may (`--allow-all`), else `/proc`
 * through libc (`--allow-ffi`), else `ps` if it runs.
 */
export async function processTable(): Promise<ProcessTable | null> {
  // Ask first: without read permission Deno would prompt on a terminal.
  // With it, /proc still answers NotCapable unless all is allowed.
  if (Deno.permissions.querySync({ name: "read", path: "/proc" }).state === "granted") {
    try {
      Deno.readTextFileSync("/proc/self/stat");
      return new DenoProc();
    } catch {
      // Not permitted (Deno needs --allow-all for /proc), or no /proc.
    }
  }
  const lib = openLibc(PROC_SYMBOLS);
  if (lib !== null) {
    const table = new LibcProc(lib);
    if (table.works()) return table;
  }
  try {
    const ps = new Ps();
    await ps.scan();
    return ps;
  } catch {
    return null;
  }
}

/** The tables tend can use, each built whether it works here or not (tests). */
export const TABLES = {
  deno: (): ProcessTable => new DenoProc(),
  libc: (): ProcessTable | null => {
    const lib = openLibc(PROC_SYMBOLS);
    return lib === null ? null : new LibcProc(lib);
  },
  ps: (): ProcessTable => new Ps(),
};
