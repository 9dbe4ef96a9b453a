/**
 * The log: text and JSON records, colours, batching and back-pressure, and
 * fairness between flooding children. Nothing here depends on speed.
 */

import assert from "node:assert/strict";
import { ProcessMonitor } from "../../lib/core/monitor.ts";
import { systemClock } from "../../lib/os/clock.ts";
import { DenoSpawner } from "../../lib/os/deno_spawner.ts";
import { LineFramer } from "../../lib/output/framer.ts";
import {
  colorOf,
  type LogDestination,
  Logger,
  PIPE_BUF,
  STDERR_MARK,
} from "../../lib/output/log.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A destination that keeps everything written to it. */
class Collect implements LogDestination {
  chunks: Uint8Array[] = [];
  writes = 0;
  write(p: Uint8Array): Promise<number> {
    this.chunks.push(p.slice());
    this.writes++;
    return Promise.resolve(p.length);
  }
  get text(): string {
    return this.chunks.map((c) => dec.decode(c)).join("");
  }
  get lines(): string[] {
    return this.text.split("\n").filter((l) => l !== "");
  }
}

/** A destination whose writes finish only when the test says so. */
class Gate implements LogDestination {
  written: Uint8Array[] = [];
  #pending: (() => void)[] = [];
  write(p: Uint8Array): Promise<number> {
    // Half of what is offered, to exercise partial writes.
    const n = Math.max(1, Math.floor(p.length / 2));
    this.written.push(p.slice(0, n));
    return new Promise((resolve) => this.#pending.push(() => resolve(n)));
  }
  /** Lets every write in flight finish. */
  release(): void {
    const pending = this.#pending;
    this.#pending = [];
    for (const done of pending) done();
  }
  get waiting(): number {
    return this.#pending.length;
  }
}

const at = Date.UTC(2026, 10, 25, 12, 34, 56, 789);
const fixed = () => at;

function feed(
  logger: Logger,
  name: string,
  pid: number,
  text: string | Uint8Array,
): void {
  const framer = new LineFramer(logger.lines(name, pid, "stdout"));
  framer.push(typeof text === "string" ? enc.encode(text) : text);
  framer.end();
}

Deno.test("text records hold `[name] line` verbatim after a time prefix", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  feed(logger, "web", 42, "hello world!\nsecond line\n");
  await logger.flush();
  const time = new Date(at);
  const hh = String(time.getHours()).padStart(2, "0");
  assert.deepEqual(out.lines, [
    `${hh}:${String(time.getMinutes()).padStart(2, "0")}:56.789 [web] hello world!`,
    `${hh}:34:56.789 [web] second line`,
  ]);
});

Deno.test("text records tell a line from stderr from one from stdout without colour", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  const stdout = new LineFramer(logger.lines("web", 42, "stdout"));
  const stderr = new LineFramer(logger.lines("web", 42, "stderr"));
  stdout.push(enc.encode("listening on :80\n"));
  stderr.push(enc.encode("listening on :80\n"));
  // Batches too, and through WebAssembly where it is there.
  const many = "x".repeat(99) + "\n";
  stderr.push(enc.encode(many.repeat(100)));
  stdout.push(enc.encode(many.repeat(100)));
  logger.event({ type: "started", name: "web", pid: 42 });
  await logger.flush();
  const time = /^\d\d:\d\d:56\.789 /;
  const lines = out.lines;
  assert.ok(lines.every((l) => time.test(l)), lines.join("\n"));
  const rest = lines.map((l) => l.replace(time, ""));
  assert.equal(rest[0], "[web] listening on :80");
  assert.equal(rest[1], `${STDERR_MARK} [web] listening on :80`);
  assert.equal(STDERR_MARK, "2>");
  // `[name] line` verbatim in both; the mark only on stderr's.
  assert.deepEqual(rest.slice(2, 102), Array(100).fill(`2> [web] ${"x".repeat(99)}`));
  assert.deepEqual(rest.slice(102, 202), Array(100).fill(`[web] ${"x".repeat(99)}`));
  assert.equal(rest[202], "[web] tend: started, pid 42");
  // A reader tells them apart by the mark, with a grep for instance.
  const fromStderr = lines.filter((l) => /^[0-9:.]+ 2> /.test(l));
  assert.equal(fromStderr.length, 101);
  assert.ok(!out.text.includes("\x1b"));
});

Deno.test("with colour, the stderr mark is there too; JSON records keep their stream field instead", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed, color: true });
  feed(logger, "web", 42, "out\n");
  const framer = new LineFramer(logger.lines("web", 42, "stderr"));
  framer.push(enc.encode("err\n"));
  await logger.flush();
  const c = colorOf("web");
  assert.match(
    out.lines[0]!,
    new RegExp(`\\x1b\\[0m \\x1b\\[${c}m\\[web\\]\\x1b\\[0m out$`),
  );
  assert.match(
    out.lines[1]!,
    new RegExp(
      `\\x1b\\[0m \\x1b\\[2m2>\\x1b\\[0m \\x1b\\[${c}m\\[web\\]\\x1b\\[0m err$`,
    ),
  );

  const json = new Collect();
  const jsonLogger = new Logger({ out: json, format: "json", now: fixed });
  const jsonErr = new LineFramer(jsonLogger.lines("web", 42, "stderr"));
  jsonErr.push(enc.encode("err\n"));
  await jsonLogger.flush();
  const record = JSON.parse(json.lines[0]!);
  assert.equal(record.stream, "stderr");
  assert.equal(record.message, "[web] err");
});

Deno.test("text records escape invalid UTF-8 and keep valid non-ASCII text", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  feed(logger, "web", 42, new Uint8Array([0xff, ...enc.encode("héllo\n")]));
  await logger.flush();
  assert.match(out.lines[0]!, / \[web\] \\xffhéllo$/);
});

Deno.test("JSON records carry time, level, process, stream, pid and message", async () => {
  const out = new Collect();
  const logger = new Logger({ out, format: "json", now: fixed });
  const framer = new LineFramer(logger.lines("web", 42, "stderr"));
  framer.push(enc.encode('say "hi"\\ \t\x01\n'));
  framer.push(new Uint8Array([0x61, 0xfe, 0x0a]));
  logger.event({ type: "started", name: "web", pid: 42 });
  logger.log("warn", "reloading");
  await logger.flush();
  const records = out.lines.map((l) => JSON.parse(l));
  assert.deepEqual(records[0], {
    time: "2026-11-25T12:34:56.789Z",
    level: "info",
    process: "web",
    stream: "stderr",
    pid: 42,
    message: '[web] say "hi"\\ \t\x01',
  });
  assert.equal(records[1].message, "[web] a\\xfe");
  assert.deepEqual(records[2], {
    time: "2026-11-25T12:34:56.789Z",
    level: "info",
    process: "web",
    stream: "tend",
    pid: 42,
    message: "[web] started, pid 42",
    event: "started",
  });
  assert.deepEqual(records[3], {
    time: "2026-11-25T12:34:56.789Z",
    level: "warn",
    process: null,
    stream: "tend",
    pid: null,
    message: "reloading",
  });
});

Deno.test("JSON output of every byte value parses back to the escaped text", async () => {
  const out = new Collect();
  const logger = new Logger({ out, format: "json", now: fixed });
  const bytes = new Uint8Array(256).map((_, i) => i).filter((b) => b !== 0x0a);
  feed(logger, "x", 1, bytes);
  await logger.flush();
  const message: string = JSON.parse(out.lines[0]!).message;
  let want = "[x] ";
  for (const b of bytes) {
    want += b < 0x80 ? String.fromCharCode(b) : `\\x${b.toString(16)}`;
  }
  assert.equal(message, want);
});

Deno.test("tend's events read as sentences with their details", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  logger.event({
    type: "exited",
    name: "web",
    pid: 7,
    status: { code: null, signal: "SIGKILL" },
    runtime: 12.34,
  });
  logger.event({ type: "restart-scheduled", name: "web", delay: 4 });
  logger.event({ type: "restart-scheduled", name: "web", delay: 0 });
  logger.event({
    type: "spawn-failed",
    name: "db",
    error: "No such file or directory",
  });
  logger.event({ type: "sigkill", name: "web", pid: 7, why: "killTime" });
  logger.event({ type: "sigkill", name: "web", pid: 7, why: "asked" });
  logger.event({
    type: "signal-failed",
    name: "web",
    pid: 7,
    signal: "SIGTERM",
    error: "Operation not permitted (os error 1)",
  });
  await logger.flush();
  assert.deepEqual(out.lines.map((l) => l.slice(13)), [
    "[web] tend: exited with signal SIGKILL after 12.3s",
    "[web] tend: restarting in 4s",
    "[web] tend: restarting now",
    "[db] tend: cannot start: No such file or directory",
    "[web] tend: still running after killTime: sent SIGKILL to its process group",
    "[web] tend: killed at once, as asked: sent SIGKILL to its process group",
    "[web] tend: cannot send SIGTERM to its process group: Operation not permitted (os error 1)",
  ]);
});

Deno.test("a message of tend's own with line breaks stays one text record", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  logger.log("error", "internal failure: Error: boom\n    at f (x.ts:1:1)\r\n    at g");
  logger.event({ type: "spawn-failed", name: "db", error: "first\nsecond" });
  await logger.flush();
  assert.deepEqual(out.lines.map((l) => l.slice(13)), [
    "tend internal failure: Error: boom\\n    at f (x.ts:1:1)\\n    at g",
    "[db] tend: cannot start: first\\nsecond",
  ]);
});

// What ends a line for a terminal or for a line splitter: LF, VT, FF, CR,
// the file/group/record separators, NEL, U+2028 and U+2029 (Python's
// str.splitlines), and ESC, which starts cursor movement and erasing.
// deno-lint-ignore no-control-regex
const BREAKS = /[\n\v\f\r\x1c-\x1e\x85\u2028\u2029\x1b]/;

Deno.test("a child cannot forge another's text record: control characters are escaped, one line per record", async () => {
  const attempts = [
    "\r21:00:00.000 [victim] FORGED",
    "\x1b[2K\r21:00:00.000 [victim] FORGED",
    "\x1b[1A\x1b[2K21:00:00.000 [victim] FORGED",
    "\x1b]0;title\x0721:00:00.000 [victim] FORGED",
    "x\v21:00:00.000 [victim] FORGED",
    "x\f21:00:00.000 [victim] FORGED",
    "x\u008521:00:00.000 [victim] FORGED",
    "x\u202821:00:00.000 [victim] FORGED",
    "x\u202921:00:00.000 [victim] FORGED",
    "x\x1c\x1d\x1e\x7f\x00 and a\ttab",
  ];
  for (const color of [false, true]) {
    const out = new Collect();
    const logger = new Logger({ out, now: fixed, color });
    // All in one chunk, with plain lines around them (the batch path is
    // not taken for it), and each alone in a chunk of its own.
    feed(
      logger,
      "evil",
      1,
      ["plain before", ...attempts, "plain after"].join("\n") + "\n",
    );
    for (const attempt of attempts) feed(logger, "evil", 1, attempt + "\n");
    await logger.flush();
    const records = out.text.split("\n").slice(0, -1);
    assert.equal(records.length, 2 * attempts.length + 2, `colour ${color}`);
    const bodies = records.map((record) => {
      // deno-lint-ignore no-control-regex
      const match = /^\S+ (?:\x1b\[\d+m)?\[evil\](?:\x1b\[0m)? (.*)$/.exec(record);
      assert.ok(match, `a record of evil: ${JSON.stringify(record)}`);
      return match[1]!;
    });
    for (const body of bodies) {
      assert.ok(
        !BREAKS.test(body),
        `one line, no escape sequence: ${JSON.stringify(body)}`,
      );
    }
    for (
      const want of [
        "\\r21:00:00.000 [victim] FORGED",
        "\\x1b[2K\\r21:00:00.000 [victim] FORGED",
        "\\x1b[1A\\x1b[2K21:00:00.000 [victim] FORGED",
        "\\x1b]0;title\\x0721:00:00.000 [victim] FORGED",
        "x\\x0b21:00:00.000 [victim] FORGED",
        "x\\u202821:00:00.000 [victim] FORGED",
        "x\\u008521:00:00.000 [victim] FORGED",
        "x\\x1c\\x1d\\x1e\\x7f\\x00 and a\ttab",
      ]
    ) {
      assert.equal(
        bodies.filter((b) => b === want).length,
        2,
        `${want}, colour ${color}`,
      );
    }
  }
});

Deno.test("with colour, a child's SGR colours pass through and are reset at the end of its line", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed, color: true });
  feed(logger, "web", 1, "\x1b[31mred\n\x1b[1;32mbold green\x1b[2K\n");
  await logger.flush();
  const [red, green] = out.lines;
  assert.ok(red!.endsWith("\x1b[0m \x1b[31mred\x1b[0m"), JSON.stringify(red));
  assert.ok(
    green!.endsWith("\x1b[1;32mbold green\\x1b[2K\x1b[0m"),
    JSON.stringify(green),
  );
});

Deno.test("tend's own text records escape control characters too", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  logger.log("error", "cannot start 'a\rb\x1b[2J\u2028'");
  await logger.flush();
  assert.deepEqual(out.lines.map((l) => l.slice(13)), [
    "tend cannot start 'a\\rb\\x1b[2J\\u2028'",
  ]);
});

Deno.test("with colour, each process's tag has its own stable colour", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed, color: true });
  feed(logger, "web", 1, "a\n");
  feed(logger, "db", 2, "b\n");
  await logger.flush();
  assert.ok(out.text.includes(`\x1b[${colorOf("web")}m[web]\x1b[0m a`));
  assert.ok(out.text.includes(`\x1b[${colorOf("db")}m[db]\x1b[0m b`));
  assert.equal(colorOf("web"), colorOf("web"));
  const colours = new Set(["web", "db", "worker", "cron", "api", "queue"].map(colorOf));
  assert.ok(colours.size >= 4, "names spread over the palette");
});

Deno.test("without colour, no escape sequence is written", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  feed(logger, "web", 1, "a\n");
  logger.event({ type: "started", name: "web", pid: 1 });
  await logger.flush();
  assert.ok(!out.text.includes("\x1b"));
});

Deno.test("many records in one turn become one write", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed });
  feed(logger, "web", 1, "line\n".repeat(1000));
  await logger.flush();
  assert.equal(out.writes, 1);
  assert.equal(out.lines.length, 1000);
});

Deno.test("a slow destination holds readers back instead of growing the buffer", async () => {
  const gate = new Gate();
  const logger = new Logger({ out: gate, now: fixed, highWater: 1000 });
  const framer = new LineFramer(logger.lines("web", 1, "stdout"));
  framer.push(enc.encode("x".repeat(99) + "\n"));
  assert.equal(logger.backpressure(), undefined, "below the mark: no waiting");
  await Promise.resolve(); // the first write starts and hangs on the gate
  assert.equal(gate.waiting, 1);
  for (let i = 0; i < 20; i++) framer.push(enc.encode("y".repeat(99) + "\n"));
  const wait = logger.backpressure();
  assert.ok(wait instanceof Promise, "above the mark: readers must wait");
  let released = false;
  wait.then(() => released = true);
  await Promise.resolve();
  assert.equal(released, false);
  // Writing on drains the buffer; the waiters go once it is below the mark.
  while (!released) {
    gate.release();
    await new Promise((r) => setTimeout(r, 0));
  }
  assert.ok(logger.pending < 1000);
  const flushed = logger.flush();
  while (gate.waiting > 0 || logger.pending > 0) {
    gate.release();
    await new Promise((r) => setTimeout(r, 0));
  }
  gate.release();
  await flushed;
  const all = dec.decode(new Uint8Array(gate.written.flatMap((c) => [...c])));
  assert.equal(all.split("\n").filter((l) => l.includes("[web] y")).length, 20);
});

Deno.test("time stamps stay fresh while a slow write is in flight", async () => {
  // Regression: the turn counter only moved when no write was in flight, so
  // under a slow stdout every later record kept the first record's time.
  const gate = new Gate();
  let now = at;
  const logger = new Logger({ out: gate, now: () => now });
  const turn = () => new Promise((r) => setTimeout(r, 0));
  feed(logger, "web", 1, "first\n");
  await turn(); // the first write starts and hangs on the gate
  assert.equal(gate.waiting, 1);
  for (const step of [1, 2, 3]) {
    now = at + step * 1000;
    feed(logger, "web", 1, `later ${step}\n`);
    logger.log("info", `event ${step}`);
    await turn();
  }
  const flushed = logger.flush();
  while (gate.waiting > 0) {
    gate.release();
    await turn();
  }
  await flushed;
  const all = dec.decode(new Uint8Array(gate.written.flatMap((c) => [...c])));
  const stamps = all.split("\n").filter((l) => l !== "").map((l) => l.slice(6, 12));
  // HH:MM:SS.mmm: the seconds and milliseconds move with the clock.
  assert.deepEqual(stamps, [
    "56.789",
    "57.789",
    "57.789",
    "58.789",
    "58.789",
    "59.789",
    "59.789",
  ]);
});

Deno.test("a destination that fails stops the log, not the logger's callers", async () => {
  const logger = new Logger({
    out: { write: () => Promise.reject(new Deno.errors.BrokenPipe("closed")) },
    now: fixed,
    highWater: 100,
  });
  for (let i = 0; i < 100; i++) feed(logger, "web", 1, "some output\n");
  await logger.flush();
  assert.equal(logger.pending, 0);
  assert.equal(logger.backpressure(), undefined);
});

/** ENOSPC as Deno reports it: a plain Error with a code. */
function noSpace(): Error {
  return Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
}

/** A destination that fails while `failure` is set, and counts its writes. */
class Flaky implements LogDestination {
  failure: Error | null = null;
  writes = 0;
  text = "";
  write(p: Uint8Array): Promise<number> {
    this.writes++;
    if (this.failure) return Promise.reject(this.failure);
    this.text += dec.decode(p);
    return Promise.resolve(p.length);
  }
  get lines(): string[] {
    return this.text.split("\n").filter((l) => l !== "").map((l) => l.slice(13));
  }
}

const turn = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("a full disk drops records while it lasts, and once writing works again a record says how many were lost", async () => {
  const out = new Flaky();
  const notices: string[] = [];
  const logger = new Logger({
    out,
    now: fixed,
    highWater: 10,
    retryInterval: 0,
    onNotice: (message) => notices.push(message),
  });
  feed(logger, "web", 1, "before\n");
  await logger.flush();
  out.failure = noSpace();
  for (let i = 0; i < 5; i++) {
    feed(logger, "web", 1, `lost ${i}\n`);
    await turn();
    // Dropping, not back-pressure: the children are not held back by it.
    assert.equal(logger.backpressure(), undefined);
  }
  assert.ok(out.writes > 5, "retried while failing");
  out.failure = null;
  feed(logger, "web", 1, "after\n");
  logger.log("info", "and tend's own");
  await logger.flush();
  assert.deepEqual(out.lines, [
    "[web] before",
    "tend up to 5 log records were lost: No space left on device (os error 28)",
    "[web] after",
    "tend and tend's own",
  ]);
  assert.deepEqual(notices, [
    "cannot write the log (No space left on device (os error 28)); " +
    "records are dropped, and counted, until it works again",
    "the log is written again; up to 5 records were lost",
  ]);
});

Deno.test("the record about lost records says so in JSON too", async () => {
  const out = new Flaky();
  const logger = new Logger({ out, format: "json", now: fixed, retryInterval: 0 });
  out.failure = Object.assign(new Error("Input/output error (os error 5)"), {
    code: "EIO",
  });
  feed(logger, "web", 1, "lost\n");
  await logger.flush();
  out.failure = null;
  feed(logger, "web", 1, "after\n");
  await logger.flush();
  const records = out.text.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(records[0], {
    time: "2026-11-25T12:34:56.789Z",
    level: "warn",
    process: null,
    stream: "tend",
    pid: null,
    message: "up to 1 log record was lost: Input/output error (os error 5)",
    event: "log-lost",
    lost: 1,
    error: "Input/output error (os error 5)",
  });
  assert.equal(records[1].message, "[web] after");
});

Deno.test("any other write error, one without a code too (EFBIG), is handled like a full disk", async () => {
  const out = new Flaky();
  const notices: string[] = [];
  const logger = new Logger({
    out,
    now: fixed,
    retryInterval: 0,
    onNotice: (message) => notices.push(message),
  });
  out.failure = new Error("File too large (os error 27)");
  feed(logger, "web", 1, "lost\n");
  await logger.flush();
  out.failure = null;
  feed(logger, "web", 1, "after\n");
  await logger.flush();
  assert.deepEqual(out.lines, [
    "tend up to 1 log record was lost: File too large (os error 27)",
    "[web] after",
  ]);
  assert.equal(notices.length, 2);
});

Deno.test("a failing destination is left alone until the retry is due, and flush tries it once more", async () => {
  const out = new Flaky();
  const logger = new Logger({ out, now: fixed, retryInterval: 3_600_000 });
  out.failure = noSpace();
  feed(logger, "web", 1, "first\n");
  await turn();
  const tried = out.writes;
  for (let i = 0; i < 10; i++) {
    feed(logger, "web", 1, `dropped ${i}\n`);
    await turn();
  }
  assert.equal(out.writes, tried, "no write while waiting for the retry");
  // Space again, and tend on its way out: its last records get there.
  out.failure = null;
  logger.log("info", "every process has stopped");
  await logger.flush();
  assert.deepEqual(out.lines, [
    "tend up to 11 log records were lost: No space left on device (os error 28)",
    "tend every process has stopped",
  ]);
});

Deno.test("a closed reader is noted once, its records are dropped, and nobody is held back", async () => {
  const notices: string[] = [];
  let writes = 0;
  const logger = new Logger({
    out: {
      write: () => {
        writes++;
        return Promise.reject(new Deno.errors.BrokenPipe("Broken pipe (os error 32)"));
      },
    },
    now: fixed,
    highWater: 100,
    retryInterval: 0,
    onNotice: (message) => notices.push(message),
  });
  for (let i = 0; i < 100; i++) {
    feed(logger, "web", 1, "some output\n");
    if (i % 10 === 9) {
      await turn();
      assert.equal(logger.backpressure(), undefined);
    }
  }
  await logger.flush();
  assert.equal(logger.unwritten, 0);
  assert.equal(writes, 1, "nothing is tried after EPIPE");
  assert.deepEqual(notices, [
    "the log's reader has gone (Broken pipe (os error 32)); " +
    "its records are dropped from now on, and supervision goes on",
  ]);
});

/**
 * A non-blocking pipe, as `Deno.stdout` shows one: it holds `capacity`
 * bytes until the reader (`drain`) takes them, and a write that does not
 * fit fails with EAGAIN; but a write longer than PIPE_BUF takes what fits
 * and fails all the same, as `Deno.stdout` does with the bytes it took into
 * its hidden buffer (see FINDINGS: a retry of such a write repeats them).
 */
class NonBlockingPipe implements LogDestination {
  read = "";
  writes: Uint8Array[] = [];
  #free: number;
  constructor(readonly capacity: number) {
    this.#free = capacity;
  }
  write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    const n = p.length <= PIPE_BUF
      ? (p.length <= this.#free ? p.length : 0)
      : Math.min(p.length, this.#free);
    this.#free -= n;
    this.read += dec.decode(p.subarray(0, n));
    return n === p.length ? Promise.resolve(n) : Promise.reject(
      new Deno.errors.WouldBlock("Resource temporarily unavailable (os error 11)"),
    );
  }
  drain(): void {
    this.#free = this.capacity;
  }
}

Deno.test("a non-blocking destination that is full is waited for: every record arrives once, in order", async () => {
  for (const atomicWrites of [true, false]) {
    const pipe = new NonBlockingPipe(16 * 1024);
    const notices: string[] = [];
    const logger = new Logger({
      out: pipe,
      now: fixed,
      highWater: 32 * 1024,
      atomicWrites,
      onNotice: (message) => notices.push(message),
    });
    const reader = setInterval(() => pipe.drain(), 2);
    try {
      let held = false;
      for (let i = 0; i < 2000; i++) {
        // Some records longer than PIPE_BUF, which go in slices.
        const pad = "x".repeat(i % 500 === 7 ? 10_000 : i % 300);
        feed(logger, "web", 1, `record ${i} ${pad}\n`);
        const wait = logger.backpressure();
        // Full, not failed: the children are held back, not dropped.
        if (wait) {
          held = true;
          await wait;
        }
      }
      await logger.flush();
      assert.ok(held, "back-pressure while the pipe was full");
    } finally {
      clearInterval(reader);
    }
    const records = pipe.read.split("\n").filter((l) => l !== "");
    if (atomicWrites) {
      assert.deepEqual(
        records.map((r) => Number(/\[web\] record (\d+) /.exec(r)?.[1])),
        Array.from({ length: 2000 }, (_, i) => i),
      );
    }
    // Once full, every write is atomic: at most PIPE_BUF, ending a record
    // (or exactly PIPE_BUF of a longer one).
    assert.ok(logger.atomicWrites);
    const firstFull = atomicWrites
      ? 0
      : pipe.writes.findIndex((w) => w.length > PIPE_BUF) + 1;
    for (const w of pipe.writes.slice(firstFull)) {
      assert.ok(w.length <= PIPE_BUF && (w.at(-1) === 0x0a || w.length === PIPE_BUF));
    }
    assert.deepEqual(notices, []);
  }
});

Deno.test("a destination known to block takes big writes again, unless an EAGAIN said otherwise", () => {
  const logger = new Logger({ out: new Collect(), atomicWrites: true });
  logger.atomicWrites = false;
  assert.equal(logger.atomicWrites, false);
  logger.atomicWrites = true;
  assert.equal(logger.atomicWrites, true);
});

Deno.test(
  "four flooding children all keep flowing and lose nothing, with bounded memory",
  async () => {
    const per = 20_000;
    const names = ["a", "b", "c", "d"];
    const firstAt = new Map<string, number>();
    const lastAt = new Map<string, number>();
    const counts = new Map<string, number>(names.map((n) => [n, 0]));
    let seen = 0;
    let partial = "";
    let maxPending = 0;
    const streamDecoder = new TextDecoder();
    let bad = 0;
    // A destination far slower than the children (at most 32 KiB a write,
    // one turn of the event loop each), so the readers really meet
    // back-pressure; what the test checks is order and bounds, not time.
    const out: LogDestination = {
      write(p) {
        // Everything buffered while the last write was in flight comes at once.
        maxPending = Math.max(maxPending, p.length);
        p = p.subarray(0, 32 * 1024);
        const text = partial + streamDecoder.decode(p, { stream: true });
        const lines = text.split("\n");
        partial = lines.pop()!;
        for (const line of lines) {
          const m = / \[(\w)\] (\w) (x+)$/.exec(line);
          if (!m) continue;
          const [, tag, name, pad] = m;
          if (tag !== name || pad!.length !== 80) bad++;
          if (!firstAt.has(name!)) firstAt.set(name!, seen);
          lastAt.set(name!, seen);
          counts.set(name!, counts.get(name!)! + 1);
          seen++;
        }
        return new Promise((resolve) => setTimeout(() => resolve(p.length), 0));
      },
    };
    const highWater = 64 * 1024;
    const logger = new Logger({ out, highWater });
    const pm = new ProcessMonitor({
      spawner: new DenoSpawner(),
      sink: logger,
      clock: systemClock,
      timing: { threshold: 0 },
    });
    const pad = "x".repeat(80);
    for (const name of names) {
      pm.addProcess(name, {
        argv: ["sh", "-c", `yes "${name} ${pad}" | head -n ${per}`],
        restart: "never",
      });
    }
    const done = new Promise<void>((resolve) => {
      const event = logger.event.bind(logger);
      let exited = 0;
      logger.event = (e) => {
        event(e);
        if (e.type === "exited" && ++exited === names.length) resolve();
      };
    });
    pm.startService();
    await done;
    await pm.stopService();
    await logger.flush();
    assert.equal(bad, 0, "no line was split or mixed");
    for (const name of names) assert.equal(counts.get(name), per, `lines of ${name}`);
    // Fair: every child's first line came before any child's last line.
    const firstLast = Math.min(...lastAt.values());
    for (const name of names) {
      assert.ok(
        firstAt.get(name)! < firstLast,
        `${name} started before anyone finished`,
      );
    }
    // Bounded: at most one chunk per reader beyond the mark, expanded by the prefixes.
    assert.ok(
      maxPending <= highWater + names.length * 2 * 64 * 1024,
      `pending peaked at ${maxPending}`,
    );
  },
);

Deno.test("a status request writes one record per process with its state", async () => {
  const out = new Collect();
  const logger = new Logger({ out, format: "json", now: fixed });
  const base = {
    restarts: 0,
    held: false,
    lastExit: null,
    lastExitAt: null,
    ready: false,
    probe: null,
    waiting: null,
    blocked: false,
    spawnError: null,
    delay: 1,
    nextStartAt: null,
    killAt: null,
  };
  logger.status([
    {
      ...base,
      name: "web",
      state: "RUNNING",
      pid: 7,
      startedAt: 0,
      uptime: 61,
      ready: true,
    },
    {
      ...base,
      name: "job",
      state: "BACKOFF",
      pid: null,
      startedAt: null,
      uptime: null,
      restarts: 3,
      lastExit: { code: 2, signal: null },
      delay: 8,
      nextStartAt: 14_000,
    },
    {
      ...base,
      name: "gone",
      state: "FATAL",
      pid: null,
      startedAt: null,
      uptime: null,
      spawnError: "No such file or directory (os error 2)",
    },
  ], 10_000);
  await logger.flush();
  const records = out.lines.map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => [r.level, r.event, r.state, r.message]), [
    ["info", "status", "RUNNING", "[web] RUNNING, pid 7, up 1m1s, 0 restarts"],
    [
      "info",
      "status",
      "BACKOFF",
      "[job] BACKOFF, starting in 4s, 3 restarts, last exit code 2",
    ],
    [
      "error",
      "status",
      "FATAL",
      "[gone] FATAL, 0 restarts, cannot start: No such file or directory (os error 2)",
    ],
  ]);
});

Deno.test("a destination that takes nothing for stallTimeout lets the readers go, drops and counts, and says so when it takes bytes again", async () => {
  // Regression: a stalled stdout (Ctrl-S, a hung log shipper) held every
  // child for ever: no output read, no ring, no log probe, no log file.
  const gate = new Gate();
  const notices: string[] = [];
  const logger = new Logger({
    out: gate,
    now: fixed,
    highWater: 1000,
    stallTimeout: 50,
    onNotice: (message) => notices.push(message),
  });
  const framer = new LineFramer(logger.lines("web", 1, "stdout"));
  framer.push(enc.encode("first\n"));
  await Promise.resolve(); // the first write starts and hangs on the gate
  assert.equal(gate.waiting, 1);
  for (let i = 0; i < 20; i++) framer.push(enc.encode("y".repeat(99) + "\n"));
  const wait = logger.backpressure();
  assert.ok(wait instanceof Promise, "held at first");
  await wait; // let go once the destination has taken nothing for 50 ms
  assert.equal(logger.backpressure(), undefined, "not held while stalled");
  assert.equal(logger.pending, 0, "what waited was dropped");
  for (let i = 0; i < 30; i++) framer.push(enc.encode("z".repeat(99) + "\n"));
  assert.ok(logger.pending < 1000, "bounded while stalled");
  framer.push(enc.encode("last\n"));
  const flushed = logger.flush();
  for (let i = 0; i < 100 && (gate.waiting > 0 || logger.pending > 0); i++) {
    gate.release();
    await new Promise((r) => setTimeout(r, 0));
  }
  gate.release();
  await flushed;
  const lines = dec.decode(new Uint8Array(gate.written.flatMap((c) => [...c])))
    .split("\n").filter((l) => l !== "").map((l) =>
      l.replace(/^\d\d:\d\d:\d\d\.\d{3} /, "")
    );
  assert.equal(lines[0], "[web] first");
  assert.match(
    lines[1]!,
    /^tend up to \d+ log records were lost: it took nothing for 0\.05 s$/,
  );
  assert.equal(lines.at(-1), "[web] last");
  const lost = Number(lines[1]!.match(/up to (\d+)/)![1]);
  const kept = lines.filter((l) => /\[web\] [yz]/.test(l)).length;
  assert.equal(lost + kept, 50, "every record is written or counted");
  assert.equal(notices.length, 2, notices.join("\n"));
  assert.match(notices[0]!, /has taken nothing for 0\.05 s/);
  assert.match(notices[1]!, /written again; up to \d+ records were lost/);
});

Deno.test("JSON records of tend's own escape U+2028 and U+2029 too", async () => {
  const out = new Collect();
  const logger = new Logger({ out, now: fixed, format: "json" });
  logger.log("info", "a\u2028b\u2029c\u0085d");
  await logger.flush();
  assert.equal(out.lines.length, 1);
  assert.ok(out.lines[0]!.includes("a\\u2028b\\u2029c\\u0085d"), out.lines[0]);
  assert.equal(JSON.parse(out.lines[0]!).message, "a\u2028b\u2029c\u0085d");
});
