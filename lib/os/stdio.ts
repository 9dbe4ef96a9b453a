/**
 * What tend's own stdout is like: whether the log may write to it in big
 * pieces depends on it.
 *
 * @module
 */

// O_NONBLOCK on Linux for x86 and Arm, where Deno runs.
const O_NONBLOCK = 0o4000;

/**
 * Whether `fd` is in non-blocking mode (`O_NONBLOCK`, which a parent can
 * set on the pipe or terminal it hands tend), from Linux's
 * `/proc/PID/fdinfo/FD`: read directly where Deno may (it wants
 * `--allow-all` for /proc), else through `cat`, which needs only
 * `--allow-run`. Null when it cannot be told (no /proc, no `cat`).
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
  return flags ? (parseInt(flags[1]!, 8) & O_NONBLOCK) !== 0 : null;
}
