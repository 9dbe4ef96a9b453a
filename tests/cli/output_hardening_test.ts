/**
 * End-to-end tests of tend's output under hostile conditions: children
 * that print what could fake a record or blow up memory, and a stdout that
 * fails, fills up, blocks, goes away or is never read.
 *
 * tend runs as users run it (`main.ts` with the start task's permissions),
 * with real pipes, real files and real signals. Every wait is for an event
 * with a generous timeout; nothing asserts how fast anything happens. Some
 * tests need python3 (to hold a pipe the way a parent can: non-blocking,
 * or never read) and root (to mount a small tmpfs); they skip, saying why,
 * without them.
 */

import assert from "node:assert/strict";
import { only } from "../_fakes/proc.ts";
import { MAIN, PERMISSIONS } from "../_fakes/tend.ts";

const dec = new TextDecoder();

/** Why tests that need python3 cannot run here, or null when they can. */
const NO_PYTHON: string | null = await (async () => {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "print(1)"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) return null;
  } catch {
    // not installed
  }
  return "needs python3 to hold tend's stdout";
})();

/** tend's command line under `deno run`, with the start task's permissions. */
function tendArgv(args: string[]): string[] {
  return [Deno.execPath(), "run", ...PERMISSIONS, MAIN, ...args];
}

/** Runs a python3 script with `args`; resolves with its stdout, stderr and status. */
async function python(
  script: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command("python3", {
    args: ["-c", script, ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

// Runs argv with stdout on /dev/null; prints its exit status and the peak
// resident memory (KiB) of the processes it waited for: tend, and its
// children, which are small.
const PEAK_RSS = `
import resource, subprocess, sys
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
`;

Deno.test({
  ...only(
    "64 MiB of invalid UTF-8 without a newline keeps tend's peak memory under 100 MB, as text and as JSON",
    NO_PYTHON,
  ),
  fn: async () => {
    const child = "head -c 67108864 /dev/zero | tr '\\0' '\\377'";
    for (const format of ["text", "json"]) {
      const argv = tendArgv([
        "run",
        "--log-format",
        format,
        "--restart",
        "never",
        "--",
        "sh",
        "-c",
        child,
      ]);
      const out = await python(PEAK_RSS, argv);
      const [code, kib] = out.stdout.trim().split(" ").map(Number);
      assert.equal(code, 0, out.stderr);
      // The README's bound: 100 MB (10^8 bytes), in KiB.
      assert.ok(
        kib! * 1024 < 100e6,
        `${format}: peak ${(kib! * 1024 / 1e6).toFixed(1)} MB`,
      );
    }
  },
});
