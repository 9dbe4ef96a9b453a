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
import { MAIN, PERMISSIONS, stripAnsi, tend } from "../_fakes/tend.ts";

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

// What ends a line for a terminal or a line splitter (LF, VT, FF, CR, the
// separators, NEL, U+2028, U+2029, as Python's str.splitlines), and ESC,
// which starts cursor movement and erasing.
// deno-lint-ignore no-control-regex
const BREAKS = /[\n\v\f\r\x1c-\x1e\x85\u2028\u2029\x1b]/;

Deno.test("a child printing CR, VT, FF, NEL, U+2028, U+2029 and ANSI sequences cannot forge another's text record", async () => {
  const forged = "21:00:00.000 [victim] FORGED";
  // printf's octal escapes: \033 ESC, \302\205 NEL, \342\200\250 U+2028.
  const attempts = [
    ["\\r", "\\r"],
    ["\\033[2K\\r", "\\x1b[2K\\r"],
    ["\\033[1A\\033[2K", "\\x1b[1A\\x1b[2K"],
    ["\\033]0;title\\007", "\\x1b]0;title\\x07"],
    ["\\v", "\\x0b"],
    ["\\f", "\\x0c"],
    ["\\302\\205", "\\u0085"],
    ["\\342\\200\\250", "\\u2028"],
    ["\\342\\200\\251", "\\u2029"],
  ];
  const script = attempts.map(([raw]) => `printf 'x${raw}${forged}\\n'`).join("; ");
  for (const color of ["never", "always"]) {
    await using t = tend([
      "run",
      "--color",
      color,
      "--restart",
      "never",
      "--",
      "sh",
      "-c",
      script + "; printf '\\033[31mred\\033[0m\\n'",
    ]);
    assert.equal(await t.exit(), 0, t.transcript());
    const lines = t.lines.map((line) => color === "always" ? stripAnsi(line) : line);
    // Every line is one whole record: a time, then tend's or a process's tag.
    for (const line of lines) {
      assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} (tend |\[sh\] )/, t.transcript());
      assert.ok(!BREAKS.test(line), `one line: ${JSON.stringify(line)}`);
    }
    assert.ok(!lines.some((l) => l.includes("[victim]") && !l.includes("[sh] x\\")));
    for (const [, shown] of attempts) {
      assert.ok(
        lines.some((l) => l.endsWith(`[sh] x${shown}${forged}`)),
        `${shown}\n${t.transcript()}`,
      );
    }
    // Colours: only on a colour log, and only SGR; reset at the line's end.
    const red = t.lines.find((l) => l.includes("red"))!;
    assert.ok(
      color === "always"
        ? red.endsWith("\x1b[31mred\x1b[0m\x1b[0m")
        : red.endsWith("[sh] \\x1b[31mred\\x1b[0m"),
      JSON.stringify(red),
    );
  }
});
