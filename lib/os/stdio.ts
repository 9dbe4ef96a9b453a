/**
 * What tend's own stdout is like: whether the log may write to it in big
 * pieces depends on it.
 *
 * @module
 */

import { openLibc } from "./libc.ts";
import { spawnOwn } from "./pids.ts";

// O_NONBLOCK on Linux for x86 and Arm, where Deno runs.
const O_NONBLOCK = 0o4000;
const F_GETFL = 3;

/**
 * Whether `fd` is in non-blocking mode (`O_NONBLOCK`, which a parent can
 * set on the pipe or terminal it hands tend): `fcntl(F_GETFL)` through
 * FFI where it can be had; else Linux's `/proc/PID/fdinfo/FD`, read
 * directly where Deno may (it wants `--allow-all` for /proc), else through
 * `cat`, which needs only `--allow-run`. Null when it cannot be told.
 *
 * (`node:fs` and `node:tty` would tell a file from a pipe, but importing
 * them costs every start of tend about 17 ms.)
 *
 * @example
 * ```ts ignore
 * import { isNonBlocking } from "./stdio.ts";
 * if (await isNonBlocking(1) === false) console.log("stdout blocks");
 * ```
 */
export async function isNonBlocking(fd: number): Promise<boolean | null> {
  // fcntl is variadic; its third argument is ignored for F_GETFL.
  const libc = openLibc({
    fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  });
  const flags = libc?.symbols.fcntl(fd, F_GETFL, 0) ?? -1;
  if (flags >= 0) return (flags & O_NONBLOCK) !== 0;
  const path = `/proc/${Deno.pid}/fdinfo/${fd}`;
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    try {
      // Through spawnOwn: the reaper must know the pid is tend's (pids.ts).
      const out = await spawnOwn("cat", {
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
  const found = /^flags:\s*([0-7]+)\s*$/m.exec(text);
  return found ? (parseInt(found[1]!, 8) & O_NONBLOCK) !== 0 : null;
}
