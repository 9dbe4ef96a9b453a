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
import { join } from "node:path";
import { only } from "../_fakes/proc.ts";
import {
  type LogRecord,
  MAIN,
  PERMISSIONS,
  readLines,
  stripAnsi,
  tempDir,
  tend,
  TIMEOUT,
} from "../_fakes/tend.ts";

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

/** Why tests that mount a tmpfs cannot run here, or null when they can. */
const NO_TMPFS: string | null = await (async () => {
  if (Deno.uid() !== 0) return "needs root to mount a small tmpfs";
  const dir = await Deno.makeTempDir();
  try {
    const out = await mount(dir, "size=64k");
    if (!out.success) return `cannot mount a tmpfs: ${dec.decode(out.stderr).trim()}`;
    await umount(dir);
    return null;
  } catch (error) {
    return `cannot mount a tmpfs: ${error}`;
  } finally {
    await Deno.remove(dir);
  }
})();

function mount(dir: string, options: string): Promise<Deno.CommandOutput> {
  return new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", options, "tmpfs", dir],
    stdout: "null",
    stderr: "piped",
  }).output();
}

async function umount(dir: string): Promise<void> {
  await new Deno.Command("umount", { args: [dir], stdout: "null", stderr: "null" })
    .output();
}

/** Resolves once `test()` is true, checking every 10 ms; fails at TIMEOUT. */
async function until(
  what: string,
  test: () => boolean | Promise<boolean>,
): Promise<void> {
  const deadline = performance.now() + TIMEOUT;
  while (!(await test())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

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

// Runs argv with stdout on a pipe that is O_NONBLOCK (as a parent such as
// Node can leave it), read in 64 KiB gulps with pauses, so that tend keeps
// finding it full (EAGAIN); prints what arrived as JSON.
const NON_BLOCKING_READER = `
import json, os, re, subprocess, sys, time
r, w = os.pipe()
os.set_blocking(w, False)
p = subprocess.Popen(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE)
os.close(w)
chunks = []
for _ in range(100000):
    time.sleep(0.005)
    data = os.read(r, 65536)
    if not data:
        break
    chunks.append(data)
p.wait(timeout=60)
out = b"".join(chunks)
print(json.dumps({
    "code": p.returncode,
    "numbers": [int(n) for n in re.findall(rb"\\[seq\\] (\\d+)$", out, re.M)],
    "final": re.search(rb" tend every process has stopped$", out, re.M) is not None,
    "stderr": p.stderr.read().decode(),
}))
`;

Deno.test({
  ...only(
    "on an O_NONBLOCK pipe as stdout, every line of a flood arrives exactly once and in order",
    NO_PYTHON,
  ),
  fn: async () => {
    const lines = 200_000;
    const out = await python(
      NON_BLOCKING_READER,
      tendArgv(["run", "--restart", "never", "--", "seq", "1", String(lines)]),
    );
    const got = JSON.parse(out.stdout) as {
      code: number;
      numbers: number[];
      final: boolean;
      stderr: string;
    };
    assert.equal(got.code, 0, got.stderr || out.stderr);
    assert.equal(got.numbers.length, lines, "each line once");
    assert.ok(got.numbers.every((n, i) => n === i + 1), "in order");
    assert.ok(got.final, "tend's last record came too");
  },
});

Deno.test({
  ...only(
    "with stdout on a full disk, records are dropped while it is full, and once there is room a record says how many were lost",
    NO_TMPFS,
  ),
  fn: async () => {
    await using dir = await tempDir();
    const disk = join(dir.path, "disk");
    await Deno.mkdir(disk);
    const out = await mount(disk, "size=256k");
    assert.ok(out.success, dec.decode(out.stderr));
    let proc: Deno.ChildProcess | null = null;
    try {
      // Room for a few KiB of log, then the disk is full.
      const filler = join(disk, "filler");
      await Deno.writeFile(filler, new Uint8Array(232 * 1024));
      const logFile = join(disk, "tend.log");
      const child = `i=0; while :; do i=$((i+1)); echo "n $i ${
        "x".repeat(200)
      }"; sleep 0.005; done`;
      proc = new Deno.Command("sh", {
        args: [
          "-c",
          'exec "$@" > "$0"',
          logFile,
          ...tendArgv(["run", "--log-format", "json", "--", "sh", "-c", child]),
        ],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      const notes: string[] = [];
      const stderr = readLines(proc.stderr, (line) => notes.push(line));
      await until(
        "a note that the log cannot be written",
        () => notes.some((n) => n.includes("cannot write the log")),
      );
      // Let some records be dropped, then make room.
      await new Promise((resolve) => setTimeout(resolve, 300));
      await Deno.remove(filler);

      const records = async () => {
        const text = await Deno.readTextFile(logFile);
        // The record a full disk cut short is no JSON: skip it.
        return text.split("\n").flatMap((line) => {
          try {
            return [JSON.parse(line) as LogRecord];
          } catch {
            return [];
          }
        });
      };
      const numberOf = (r: LogRecord) =>
        Number(/^\[sh\] n (\d+) /.exec(r.message)?.[1] ?? NaN);
      await until("records after the one about lost records", async () => {
        const all = await records();
        const lost = all.findIndex((r) => r.event === "log-lost");
        return lost !== -1 &&
          all.slice(lost).filter((r) => numberOf(r) > 0).length >= 5;
      });
      proc.kill("SIGTERM");
      assert.equal((await proc.status).code, 0);
      await stderr;

      const all = await records();
      const at = all.findIndex((r) => r.event === "log-lost");
      const lost = all[at]!;
      assert.equal(all.filter((r) => r.event === "log-lost").length, 1);
      assert.equal(lost.level, "warn");
      assert.match(
        lost.message,
        /^up to \d+ log records? w(as|ere) lost: No space left on device/,
      );
      const before = all.slice(0, at).map(numberOf).filter((n) => n > 0);
      const after = all.slice(at).map(numberOf).filter((n) => n > 0);
      const gap = after[0]! - before.at(-1)! - 1;
      assert.ok(gap > 0, "records were dropped while the disk was full");
      assert.ok(
        gap <= (lost.lost as number),
        `${gap} missing, up to ${lost.lost} said lost`,
      );
      assert.ok(
        after.every((n, i) => i === 0 || n === after[i - 1]! + 1),
        "nothing lost after",
      );
      assert.ok(
        all.at(-1)!.message === "every process has stopped",
        "tend's last record",
      );
      assert.equal(
        notes.filter((n) => n.includes("cannot write the log")).length,
        1,
        notes.join("\n"),
      );
      assert.equal(
        notes.filter((n) => n.includes("written again")).length,
        1,
        notes.join("\n"),
      );
    } finally {
      try {
        proc?.kill("SIGKILL");
      } catch {
        // exited
      }
      await proc?.status;
      await umount(disk);
    }
  },
});

Deno.test("when stdout's reader goes away, tend says so once on stderr and goes on supervising", async () => {
  await using dir = await tempDir();
  const starts = join(dir.path, "starts");
  // A child that keeps dying and being restarted, and counts its starts.
  const child = `echo start >> ${starts}; echo "hello"; exit 3`;
  const proc = new Deno.Command(Deno.execPath(), {
    args: tendArgv([
      "run",
      "--min-restart-delay",
      "0.05",
      "--max-restart-delay",
      "0.05",
      "--",
      "sh",
      "-c",
      child,
    ]).slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    const stderr = new Response(proc.stderr).text();
    // Read tend's first line, then close the pipe: its reader has gone.
    const reader = proc.stdout.getReader();
    await reader.read();
    await reader.cancel();
    const count = async () =>
      (await Deno.readTextFile(starts).catch(() => "")).split("\n").length - 1;
    const closedAt = await count();
    await until(
      "restarts after stdout went away",
      async () => await count() >= closedAt + 5,
    );
    proc.kill("SIGTERM");
    assert.equal((await proc.status).code, 0);
    const notes = (await stderr).split("\n").filter((l) => l !== "");
    assert.deepEqual(notes.length, 1, notes.join("\n"));
    assert.match(
      notes[0]!,
      /^tend: the log's reader has gone \(Broken pipe \(os error 32\)\)/,
    );
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch {
      // exited
    }
    await proc.status;
  }
});

/**
 * Starts tend running a flood with stdout on a pipe the test stops
 * reading once the child is up, as `tend run | sleep 1000` does; resolves
 * with the process and its stderr, once the flood has started.
 */
async function tendIntoStalledPipe(): Promise<{
  proc: Deno.ChildProcess;
  stderr: Promise<string>;
}> {
  const proc = new Deno.Command(Deno.execPath(), {
    args: tendArgv(["run", "--", "sh", "-c", "exec yes flood"]).slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(proc.stderr).text();
  const reader = proc.stdout.getReader();
  let text = "";
  while (!text.includes("[sh] flood\n")) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`tend's stdout ended early: ${text}`);
    text += dec.decode(value);
  }
  // From here on nobody reads: the pipe fills up and tend's writes stall.
  reader.releaseLock();
  return { proc, stderr };
}

/** Waits for `proc` to exit, up to TIMEOUT: far longer than tend's 2 s, far shorter than never. */
async function exitOf(proc: Deno.ChildProcess): Promise<number> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const status = await Promise.race([
      proc.status,
      new Promise<null>((resolve) => timer = setTimeout(() => resolve(null), TIMEOUT)),
    ]);
    assert.ok(status !== null, `tend still runs ${TIMEOUT} ms after SIGTERM`);
    return status.code;
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("with a stdout nobody reads, SIGTERM still ends tend: its output gets a deadline", async () => {
  const { proc, stderr } = await tendIntoStalledPipe();
  try {
    proc.kill("SIGTERM");
    assert.equal(await exitOf(proc), 0);
    assert.match(
      await stderr,
      /^tend: stdout did not take the log within 2s: exiting with \d+ bytes of the log unwritten\n$/,
    );
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch {
      // exited
    }
    await proc.status;
    await proc.stdout.cancel();
  }
});

Deno.test("with a stdout nobody reads, a second stop request ends tend's wait for it at once", async () => {
  const { proc, stderr } = await tendIntoStalledPipe();
  try {
    proc.kill("SIGTERM");
    // By now the child is gone and tend waits for its stdout (should it
    // still be stopping the child, the second request ends that wait
    // too). A different signal: never taken for a repeat of one keypress.
    await new Promise((resolve) => setTimeout(resolve, 500));
    proc.kill("SIGINT");
    assert.equal(await exitOf(proc), 0);
    assert.match(
      await stderr,
      /^tend: asked to stop again: exiting with \d+ bytes of the log unwritten\n$/,
    );
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch {
      // exited
    }
    await proc.status;
    await proc.stdout.cancel();
  }
});

// Runs argv with stdout on a pipe whose reader has already gone; prints
// the exit status and stderr as JSON.
const CLOSED_READER = `
import json, os, subprocess, sys
r, w = os.pipe()
os.close(r)
p = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=w, stderr=subprocess.PIPE)
print(json.dumps({"code": p.returncode, "stderr": p.stderr.decode()}))
`;

Deno.test("tend --version and tend check with stdout on /dev/full say so in one line on stderr and exit 74", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    "processes:\n  web:\n    cmd: [sleep, '1']\n",
  );
  for (const args of [["--version"], ["check", file], ["--help"], ["run", "--help"]]) {
    const out = await new Deno.Command("sh", {
      args: ["-c", 'exec "$@" > /dev/full', "sh", ...tendArgv(args)],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
    const stderr = dec.decode(out.stderr);
    assert.equal(out.code, 74, `${args.join(" ")}: ${stderr}`);
    assert.equal(
      stderr,
      "tend: cannot write to stdout: No space left on device (os error 28)\n",
    );
  }
});

Deno.test({
  ...only(
    "tend --version and tend check with stdout on a closed pipe exit quietly with 141, as SIGPIPE would",
    NO_PYTHON,
  ),
  fn: async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      "processes:\n  web:\n    cmd: [sleep, '1']\n",
    );
    for (const args of [["--version"], ["check", file]]) {
      const out = await python(CLOSED_READER, tendArgv(args));
      assert.deepEqual(JSON.parse(out.stdout), { code: 141, stderr: "" }, out.stderr);
    }
  },
});

Deno.test("after a second stop request during the stop, a working stdout still gets tend's last records", async () => {
  // Regression: the second request, made before tend waited for its
  // stdout, ended that wait before it began, and the last records were lost.
  await using t = tend([
    "run",
    "--",
    "sh",
    "-c",
    "trap '' TERM; echo ready; while :; do sleep 1; done",
  ]);
  await t.line(/\[sh\] ready$/);
  t.signal("SIGTERM");
  await t.line(/\[sh\] tend: stopping: sent SIGTERM/);
  t.signal("SIGINT");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.match(t.lines.at(-1)!, / tend every process has stopped$/, t.transcript());
  assert.equal(t.stderr, "");
});
