/**
 * Keeps the descriptors tend inherited from its parent away from its
 * children. A parent that leaves one open (a shell's `7<secret`, a CI
 * runner's pipe) would otherwise pass it to every child, those started as
 * another user (`user:`) too, and a parent waiting for that pipe's EOF
 * would wait as long as any child lives. systemd and supervisord give
 * their children only 0, 1 and 2; so does tend, where it may call libc.
 *
 * Deno's own descriptors are close-on-exec already, so marking every one
 * above 2 changes nothing for tend itself.
 *
 * @module
 */

import { openLibc } from "./libc.ts";

const SYMBOLS = {
  close_range: { parameters: ["u32", "u32", "i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
} as const;

const CLOSE_RANGE_CLOEXEC = 1 << 2;
const F_SETFD = 2;
const FD_CLOEXEC = 1;

/**
 * Marks every descriptor above 2 close-on-exec: `close_range(2)` with
 * `CLOSE_RANGE_CLOEXEC` (Linux 5.11), else each one `/proc/self/fd` lists.
 *
 * @returns `null` when done, else why it could not be (no `--allow-ffi`)
 */
export function keepInheritedFromChildren(): string | null {
  const lib = openLibc(SYMBOLS);
  if (lib === null) return "it needs --allow-ffi";
  try {
    if (lib.symbols.close_range(3, 0xffff_ffff, CLOSE_RANGE_CLOEXEC) === 0) return null;
    let fds: number[];
    try {
      fds = [...Deno.readDirSync("/proc/self/fd")].map((entry) => Number(entry.name));
    } catch (error) {
      return `cannot list /proc/self/fd (${(error as Error).message})`;
    }
    for (const fd of fds) if (fd > 2) lib.symbols.fcntl(fd, F_SETFD, FD_CLOEXEC);
    return null;
  } finally {
    lib.close();
  }
}
