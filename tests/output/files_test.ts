/**
 * Log files on a fake file system: rotation (whole records, in order,
 * nothing lost, the oldest copy gone), failures (half-written records cut
 * off, reported once, counted), congestion (dropped and counted, never
 * holding anyone back) and the files following the config.
 */

import assert from "node:assert/strict";
import type { MonitorEvent } from "../../lib/core/events.ts";
import {
  type LogFileHandle,
  LogFiles,
  type LogFileSystem,
  RotatingFile,
} from "../../lib/output/files.ts";
import type { LogFileSpec } from "../../lib/core/spec.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** One file of the fake file system. */
interface FakeFile {
  bytes: Uint8Array;
  regular: boolean;
}

/**
 * A file system in memory, with a disk that can fill up (`space`), writes
 * that fail (`failWith`), and writes that wait for the test (`hold`).
 */
class FakeFs implements LogFileSystem {
  files = new Map<string, FakeFile>();
  /** Bytes the disk still takes; a write past it is cut short, then fails. */
  space = Infinity;
  /** When set, every write fails with it. */
  failWith: Error | null = null;
  /** When set, opens fail with it. */
  failOpen: Error | null = null;
  /** Writes wait while this is set. */
  hold: Promise<void> | null = null;
  opens = 0;
  log: string[] = [];

  open(path: string): Promise<LogFileHandle> {
    if (this.failOpen) return Promise.reject(this.failOpen);
    this.opens++;
    let file = this.files.get(path);
    if (file === undefined) {
      file = { bytes: new Uint8Array(0), regular: true };
      this.files.set(path, file);
    }
    const it = file;
    let open = true;
    const handle: LogFileHandle = {
      size: file.bytes.length,
      regular: file.regular,
      write: async (p: Uint8Array): Promise<number> => {
        assert.ok(open, "write after close");
        if (this.hold) await this.hold;
        if (this.failWith) throw this.failWith;
        if (this.space <= 0) throw new Error("cannot write: No space left on device");
        const n = Math.min(p.length, this.space);
        this.space -= n;
        const grown = new Uint8Array(it.bytes.length + n);
        grown.set(it.bytes);
        grown.set(p.subarray(0, n), it.bytes.length);
        it.bytes = grown;
        return n;
      },
      truncate: (size: number): Promise<void> => {
        this.space += it.bytes.length - size;
        it.bytes = it.bytes.slice(0, size);
        return Promise.resolve();
      },
      close: () => {
        open = false;
      },
    };
    return Promise.resolve(handle);
  }

  rename(from: string, to: string): Promise<boolean> {
    const file = this.files.get(from);
    if (file === undefined) return Promise.resolve(false);
    this.log.push(`rename ${from} ${to}`);
    this.files.delete(from);
    this.files.set(to, file);
    return Promise.resolve(true);
  }

  remove(path: string): Promise<void> {
    this.log.push(`remove ${path}`);
    this.files.delete(path);
    return Promise.resolve();
  }

  text(path: string): string {
    const file = this.files.get(path);
    return file === undefined ? "" : dec.decode(file.bytes);
  }

  names(): string[] {
    return [...this.files.keys()].sort();
  }
}

// What the Logger does with a batch: write until all of it is taken.
async function writeAll(dest: RotatingFile, text: string): Promise<void> {
  const p = enc.encode(text);
  let off = 0;
  while (off < p.length) off += await dest.write(p.subarray(off));
}

// Records "r0000\n" ... of 6 bytes each, in batches of `per`.
function records(from: number, count: number): string {
  let out = "";
  for (let i = from; i < from + count; i++) out += `r${String(i).padStart(4, "0")}\n`;
  return out;
}

const F = "/logs/web.log";

Deno.test("a rotating file keeps F, F.1 ... F.backups, each within maxBytes, with the latest records whole and in order", async () => {
  const fs = new FakeFs();
  const file = new RotatingFile(fs, { file: F, maxBytes: 64, backups: 2 });
  // Batches of 7 records (42 bytes) do not divide 64: every rotation
  // falls inside a batch.
  for (let i = 0; i < 100; i += 7) await writeAll(file, records(i, 7));
  assert.deepEqual(fs.names(), [F, `${F}.1`, `${F}.2`]);
  const all = fs.text(`${F}.2`) + fs.text(`${F}.1`) + fs.text(F);
  for (const name of fs.names()) {
    const text = fs.text(name);
    assert.ok(text.length <= 64, `${name} holds ${text.length} bytes`);
    assert.match(text, /^(r\d{4}\n)+$/, `${name} holds whole records only`);
  }
  // The newest records, none missing between the files.
  const numbers = all.trim().split("\n").map((r) => Number(r.slice(1)));
  const last = 104;
  assert.equal(numbers.at(-1), last);
  assert.deepEqual(numbers, numbers.map((_, i) => last - numbers.length + 1 + i));
  // 10 records (60 bytes) fit a file: F.2 and F.1 are full.
  assert.equal(fs.text(`${F}.2`).length, 60);
  assert.equal(fs.text(`${F}.1`).length, 60);
});

Deno.test("a rotation renames the oldest copy first, and the last rename replaces the oldest beyond backups", async () => {
  const fs = new FakeFs();
  const file = new RotatingFile(fs, { file: F, maxBytes: 12, backups: 3 });
  for (let i = 0; i < 5; i++) await writeAll(file, records(i * 2, 2));
  assert.deepEqual(fs.log, [
    `rename ${F} ${F}.1`,
    `rename ${F}.1 ${F}.2`,
    `rename ${F} ${F}.1`,
    `rename ${F}.2 ${F}.3`,
    `rename ${F}.1 ${F}.2`,
    `rename ${F} ${F}.1`,
    `rename ${F}.2 ${F}.3`,
    `rename ${F}.1 ${F}.2`,
    `rename ${F} ${F}.1`,
  ]);
  assert.equal(fs.text(`${F}.3`), records(2, 2));
  assert.equal(fs.text(F), records(8, 2));
});

Deno.test("backups: 0 removes the full file; maxBytes: 0 never rotates", async () => {
  const fs = new FakeFs();
  const none = new RotatingFile(fs, { file: F, maxBytes: 12, backups: 0 });
  for (let i = 0; i < 3; i++) await writeAll(none, records(i * 2, 2));
  assert.deepEqual(fs.names(), [F]);
  assert.equal(fs.text(F), records(4, 2));
  assert.deepEqual(fs.log, [`remove ${F}`, `remove ${F}`]);

  const other = new FakeFs();
  const never = new RotatingFile(other, { file: F, maxBytes: 0, backups: 5 });
  for (let i = 0; i < 50; i++) await writeAll(never, records(i * 10, 10));
  assert.deepEqual(other.names(), [F]);
  assert.equal(other.text(F), records(0, 500));
});

Deno.test("a record larger than maxBytes gets a file of its own, whole", async () => {
  const fs = new FakeFs();
  const file = new RotatingFile(fs, { file: F, maxBytes: 10, backups: 3 });
  await writeAll(file, "ab\n" + "x".repeat(25) + "\ncd\n");
  assert.equal(fs.text(`${F}.2`), "ab\n");
  assert.equal(fs.text(`${F}.1`), "x".repeat(25) + "\n");
  assert.equal(fs.text(F), "cd\n");
});

Deno.test("a file already past maxBytes when opened is rotated before the first record", async () => {
  const fs = new FakeFs();
  fs.files.set(F, { bytes: enc.encode("old\n".repeat(10)), regular: true });
  const file = new RotatingFile(fs, { file: F, maxBytes: 20, backups: 1 });
  await writeAll(file, "new\n");
  assert.equal(fs.text(`${F}.1`), "old\n".repeat(10));
  assert.equal(fs.text(F), "new\n");
});

Deno.test("a file that is not a regular file (a FIFO, /dev/stderr) is never renamed", async () => {
  const fs = new FakeFs();
  fs.files.set(F, { bytes: new Uint8Array(0), regular: false });
  const file = new RotatingFile(fs, { file: F, maxBytes: 10, backups: 2 });
  for (let i = 0; i < 10; i++) await writeAll(file, records(i, 1));
  assert.deepEqual(fs.log, []);
  assert.equal(fs.text(F), records(0, 10));
});

Deno.test("a write cut short by a full disk leaves no half record: it is cut off, and the write rejects", async () => {
  const fs = new FakeFs();
  const file = new RotatingFile(fs, { file: F, maxBytes: 0, backups: 0 });
  await writeAll(file, records(0, 2));
  fs.space = 9; // one record and half of the next
  await assert.rejects(writeAll(file, records(2, 3)), /No space left on device/);
  assert.equal(fs.text(F), records(0, 2));
  // The next write opens the file afresh and carries on after the last
  // whole record.
  fs.space = Infinity;
  const opens = fs.opens;
  await writeAll(file, records(5, 1));
  assert.equal(fs.opens, opens + 1);
  assert.equal(fs.text(F), records(0, 2) + records(5, 1));
});

Deno.test("the rotating file's errors are plain Errors, never taken for a reader that has gone", async () => {
  const fs = new FakeFs();
  fs.failOpen = new Deno.errors.BadResource("gone");
  const file = new RotatingFile(fs, { file: F, maxBytes: 0, backups: 0 });
  const error = await file.write(enc.encode("x\n")).catch((e) => e);
  assert.ok(error instanceof Error);
  assert.ok(!(error instanceof Deno.errors.BadResource));
  assert.equal(error.message, "gone");
});

const SPEC: LogFileSpec = { file: F, maxBytes: 0, backups: 0 };
const at = Date.UTC(2026, 10, 25, 12, 34, 56, 789);
const TIME = new Date(at).toTimeString().slice(0, 8) + ".789";

function feed(files: LogFiles, name: string, text: string, pid = 42): void {
  const bytes = enc.encode(text);
  files.lines(name, pid, "stdout").line(bytes, 0, bytes.length, true);
}

function started(name: string, pid: number): MonitorEvent {
  return { type: "started", name, pid };
}

Deno.test("a process's file gets its lines and tend's records about it, as text without colour", async () => {
  const fs = new FakeFs();
  const files = new LogFiles({ fs, now: () => at });
  files.configure({ web: { log: SPEC }, db: {} }, () => false);
  files.event(started("web", 42));
  feed(files, "web", "hello \x1b[31mred\x1b[0m");
  feed(files, "db", "not in web's file");
  files.event({ type: "state", name: "web", state: "RUNNING", held: false, pid: 42 });
  await files.close();
  assert.equal(
    fs.text(F),
    `${TIME} [web] tend: started, pid 42\n` +
      `${TIME} [web] hello \\x1b[31mred\\x1b[0m\n`,
  );
  assert.deepEqual(fs.names(), [F]);
});

Deno.test("a file that cannot be written is reported once, its records are counted, and the count is written once it works", async () => {
  const fs = new FakeFs();
  const notices: string[] = [];
  const files = new LogFiles({
    fs,
    now: () => at,
    retryInterval: 0,
    onNotice: (m) => notices.push(m),
  });
  files.configure({ web: { log: SPEC } }, () => false);
  fs.failOpen = new Error(`cannot open ${F}: Permission denied (os error 13)`);
  for (let i = 0; i < 5; i++) {
    feed(files, "web", `line ${i}`);
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  assert.equal(notices.length, 1, notices.join("\n"));
  assert.match(
    notices[0]!,
    /^web's log file: cannot write the log \(cannot open \/logs\/web\.log: Permission denied \(os error 13\)\)/,
  );
  fs.failOpen = null;
  feed(files, "web", "line 5");
  await files.close();
  assert.equal(
    fs.text(F),
    `${TIME} tend up to 5 log records were lost: cannot open ${F}: Permission denied (os error 13)\n` +
      `${TIME} [web] line 5\n`,
  );
  assert.equal(notices.length, 2);
  assert.match(
    notices[1]!,
    /^web's log file: the log is written again; up to 5 records were lost/,
  );
});

Deno.test("a file that cannot keep up drops records instead of holding anyone back, and says how many once it has", async () => {
  const fs = new FakeFs();
  const notices: string[] = [];
  const files = new LogFiles({
    fs,
    now: () => at,
    highWater: 100,
    onNotice: (m) => notices.push(m),
  });
  files.configure({ web: { log: SPEC } }, () => false);
  let release!: () => void;
  fs.hold = new Promise((resolve) => release = resolve);
  feed(files, "web", "first");
  await new Promise((resolve) => setTimeout(resolve, 0)); // the write is in flight
  // 27 bytes a record: four go in below the high-water mark, the rest
  // are dropped.
  for (let i = 0; i < 20; i++) feed(files, "web", `line ${String(i).padStart(2, "0")}`);
  fs.hold = null;
  release();
  await new Promise((resolve) => setTimeout(resolve, 0));
  feed(files, "web", "after");
  await files.close();
  const lines = fs.text(F).trimEnd().split("\n");
  assert.deepEqual(lines, [
    `${TIME} [web] first`,
    ...[0, 1, 2, 3].map((i) => `${TIME} [web] line 0${i}`),
    `${TIME} tend 16 log records were lost: this file could not keep up`,
    `${TIME} [web] after`,
  ]);
  assert.deepEqual(notices, [
    "web's log file: could not keep up; 16 log records were dropped from it",
  ]);
});

Deno.test("a reload that changes a file's settings moves the records to the new file at once; a removed process keeps its file until it exits", async () => {
  const fs = new FakeFs();
  const files = new LogFiles({ fs, now: () => at });
  const G = "/logs/other.log";
  files.configure(
    { web: { log: SPEC }, api: { log: { ...SPEC, file: G } } },
    () => false,
  );
  // The sink made before the reload follows the process's current file.
  const sink = files.lines("web", 42, "stdout");
  const say = (text: string) => sink.line(enc.encode(text), 0, text.length, true);
  say("before");
  files.configure(
    { web: { log: { file: "/logs/web2.log", maxBytes: 0, backups: 0 } } },
    (name) => name === "api",
  );
  say("after");
  feed(files, "api", "api still runs");
  files.event({
    type: "exited",
    name: "api",
    pid: 42,
    status: { code: 0, signal: null },
    runtime: 1,
  });
  feed(files, "api", "gone");
  await files.close();
  assert.equal(fs.text(F), `${TIME} [web] before\n`);
  assert.equal(fs.text("/logs/web2.log"), `${TIME} [web] after\n`);
  assert.equal(
    fs.text(G),
    `${TIME} [api] api still runs\n${TIME} [api] tend: exited with exit code 0 after 1s\n`,
  );
  assert.equal(files.fileOf("web"), null);
});

Deno.test("a new writer of the same path opens it only once the last one has let go", async () => {
  const fs = new FakeFs();
  const files = new LogFiles({ fs, now: () => at });
  files.configure({ web: { log: SPEC } }, () => false);
  let release!: () => void;
  fs.hold = new Promise((resolve) => release = resolve);
  feed(files, "web", "old settings");
  await new Promise((resolve) => setTimeout(resolve, 0));
  // Only the rotation changes: the same file, a new writer.
  files.configure({ web: { log: { ...SPEC, maxBytes: 1000 } } }, () => false);
  feed(files, "web", "new settings");
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(fs.opens, 1);
  fs.hold = null;
  release();
  await files.close();
  assert.equal(fs.opens, 2);
  assert.equal(fs.text(F), `${TIME} [web] old settings\n${TIME} [web] new settings\n`);
});

Deno.test("files held back together are bounded too: past the total, a file holding back much drops", async () => {
  const fs = new FakeFs();
  const notices: string[] = [];
  const files = new LogFiles({
    fs,
    now: () => at,
    // 27 bytes a record: a file may hold back 370 of them alone, but once
    // one holds back 1250 bytes (an eighth), the total of 2000 counts.
    highWater: 10_000,
    totalHighWater: 2000,
    onNotice: (m) => notices.push(m),
  });
  const G = "/logs/api.log";
  files.configure(
    { web: { log: SPEC }, api: { log: { ...SPEC, file: G } } },
    () => false,
  );
  let release!: () => void;
  fs.hold = new Promise((resolve) => release = resolve);
  feed(files, "web", "first");
  feed(files, "api", "first");
  await new Promise((resolve) => setTimeout(resolve, 0)); // both writes in flight
  const many = (name: string, from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      feed(files, name, `line ${String(i).padStart(2, "0")}`);
    }
  };
  many("api", 0, 40); // 1080 bytes: under a file's share, all kept
  many("web", 0, 60); // kept up to 1269 bytes (47), then the total is over
  fs.hold = null;
  release();
  await files.close();
  const web = fs.text(F).trimEnd().split("\n");
  assert.equal(web.length, 1 + 47 + 1, web.join("\n"));
  assert.equal(
    web.at(-1),
    `${TIME} tend 13 log records were lost: this file could not keep up`,
  );
  assert.equal(fs.text(G).trimEnd().split("\n").length, 41);
  assert.deepEqual(notices, [
    "web's log file: could not keep up; 13 log records were dropped from it",
  ]);
});
