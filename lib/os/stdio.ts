/**
 * What tend's own standard streams are open on: how the log writes to
 * stdout depends on it.
 *
 * @module
 */

import { constants, fstatSync } from "node:fs";
import { isatty } from "node:tty";

/** What a file descriptor is open on. */
export type FdKind = "file" | "device" | "terminal" | "pipe" | "socket" | "unknown";

/**
 * What `fd` is open on, from `isatty(3)` and `fstat(2)`: a regular file
 * (or a block device), a terminal, another character device (`/dev/null`),
 * a pipe or FIFO, a socket, or "unknown" when it cannot be told.
 *
 * @example
 * ```ts
 * import { fdKind } from "./stdio.ts";
 * const kind = fdKind(1); // "pipe" under `tend run | cat`
 * ```
 */
export function fdKind(fd: number): FdKind {
  try {
    if (isatty(fd)) return "terminal";
    const stat = fstatSync(fd);
    if (stat.isFile() || stat.isBlockDevice()) return "file";
    if (stat.isFIFO()) return "pipe";
    if (stat.isSocket()) return "socket";
    if (stat.isCharacterDevice()) return "device";
  } catch {
    // a closed descriptor, say: nothing is known
  }
  return "unknown";
}

/**
 * Whether `fd` is in non-blocking mode (`O_NONBLOCK`, which a parent can
 * set on the pipe or terminal it hands tend), from Linux's
 * `/proc/PID/fdinfo/FD`: read directly where Deno may (it wants
 * `--allow-all` for /proc), else through `cat`, which needs only
 * `--allow-run`. Null when it cannot be told (no /proc, no `cat`).
 */
export async function isNonBlocking(fd: number): Promise<boolean | null> {
  const path = `/proc/${Deno.pid}/fdinfo/${fd}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    try {
      const out = await new Deno.Command("cat", {
        args: [path],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
      if (!out.success) return null;
      text = new TextDecoder().decode(out.stdout);
    } catch {
      return null;
    }
  }
  // "flags:\t0104001": the open file's status flags, in octal.
  const flags = /^flags:\s*([0-7]+)\s*$/m.exec(text);
  return flags ? (parseInt(flags[1]!, 8) & constants.O_NONBLOCK) !== 0 : null;
}
