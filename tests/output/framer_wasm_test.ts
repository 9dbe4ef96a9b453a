/**
 * The WebAssembly framer: its embedded bytes are what framer.wat assembles
 * to, its UTF-8 validator agrees with node:buffer's, and, differentially,
 * tend's output through it is byte for byte what the JS path gives: the
 * log's records (text and JSON, with and without colour, stdout and
 * stderr), a log file's records (rotated) and the output ring's lines, on
 * random streams in random chunks; and on both paths no child's bytes can
 * forge a record: one record per line handed on, each a whole line that
 * starts as tend's records do, valid UTF-8 with every control character
 * escaped, and at most a bounded length.
 *
 * `FUZZ_SEED=N FUZZ_CASES=N deno task test tests/output/framer_wasm_test.ts`
 * runs other or more cases; a failure names its seed and case.
 */

import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import {
  LineFramer,
  type LineSink,
  MAX_LINE,
  teeLines,
} from "../../lib/output/framer.ts";
import { FRAMER_WASM } from "../../lib/output/framer_wasm.ts";
import { TEXT_GROWTH } from "../../lib/output/escape.ts";
import {
  type LogFileHandle,
  LogFiles,
  type LogFileSystem,
} from "../../lib/output/files.ts";
import { type LogFormat, Logger } from "../../lib/output/log.ts";
import { OutputRing } from "../../lib/output/ring.ts";
import {
  BOUNDS,
  loadSimdFramer,
  SIMD,
  SimdFramer,
  WINDOW,
} from "../../lib/output/wasm.ts";
import { assemble, FRAMER_MODULE, FRAMER_WAT, moduleText } from "../../tools/wasm.ts";
import { only } from "../_fakes/proc.ts";

/** Why the embedded WebAssembly cannot be checked against its source here, or null. */
const NO_WAT2WASM: string | null = await (async () => {
  try {
    await new Deno.Command("wat2wasm", { args: ["--version"], stdout: "null" })
      .output();
    return null;
  } catch {
    return "needs wat2wasm (Debian's wabt) to assemble lib/output/framer.wat";
  }
})();

/** Why the framer cannot run here (no WebAssembly SIMD), or null. */
const NO_SIMD: string | null = SIMD === null
  ? "WebAssembly SIMD is not available: tend frames in JS"
  : null;

const enc = new TextEncoder();
const dec = new TextDecoder();

Deno.test({
  ...only("the embedded framer is what framer.wat assembles to", NO_WAT2WASM),
  fn: async () => {
    const bytes = await assemble(FRAMER_WAT);
    assert.deepEqual(FRAMER_WASM, bytes, "run `deno task wasm`");
    assert.equal(await Deno.readTextFile(FRAMER_MODULE), await moduleText(bytes));
  },
});

Deno.test("bytes that are not a working module leave the JS path", () => {
  assert.equal(loadSimdFramer(new Uint8Array([0, 0x61, 0x73, 0x6d, 9, 9])), null);
  assert.equal(loadSimdFramer(new Uint8Array(0)), null);
});

// ---- the UTF-8 validator ----------------------------------------------------

const hex = (b: Uint8Array) =>
  Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(" ");

Deno.test({
  ...only("valid_utf8 agrees with isUtf8 on every 1- to 3-byte sequence", NO_SIMD),
  fn: () => {
    const w = new SimdFramer();
    const check = (bytes: Uint8Array) => {
      if (w.isUtf8(bytes) !== isUtf8(bytes)) {
        assert.fail(`${hex(bytes)}: valid_utf8 says ${!isUtf8(bytes)}`);
      }
    };
    const buf = new Uint8Array(40);
    for (let a = 0; a < 256; a++) {
      for (let b = -1; b < 256; b++) {
        // At every place in a 16-byte block, and at the very end.
        const at = (a * 7 + b) & 15;
        buf.fill(0x61);
        buf[at + 10] = a;
        if (b >= 0) buf[at + 11] = b;
        check(buf);
        check(b >= 0 ? Uint8Array.of(0x61, a, b) : Uint8Array.of(a));
      }
    }
    // Three bytes with a non-ASCII lead, across a block's edge.
    for (let a = 0x80; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (let c = 0; c < 256; c += a >= 0xe0 ? 1 : 17) {
          const at = 12 + ((a + b + c) & 7);
          buf.fill(0x62);
          buf[at] = a, buf[at + 1] = b, buf[at + 2] = c;
          check(buf);
        }
      }
    }
  },
});

Deno.test({
  ...only(
    "valid_utf8 agrees with isUtf8 on 4-byte sequences and corrupted text",
    NO_SIMD,
  ),
  fn: () => {
    const w = new SimdFramer();
    const check = (bytes: Uint8Array) => {
      if (w.isUtf8(bytes) !== isUtf8(bytes)) {
        assert.fail(`${hex(bytes)}: valid_utf8 says ${!isUtf8(bytes)}`);
      }
    };
    const buf = new Uint8Array(48);
    const rest = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0xa0, 0xbf, 0xc0, 0xf0, 0xff];
    for (let a = 0xf0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        for (const c of rest) {
          for (const d of rest) {
            const at = 13 + ((a ^ b ^ c ^ d) & 3);
            buf.fill(0x63);
            buf[at] = a, buf[at + 1] = b, buf[at + 2] = c, buf[at + 3] = d;
            check(buf);
          }
        }
      }
    }
    const r = new Rand(7);
    const chars = ["a", "\n", "é", "€", "中", "😀", "\u{10ffff}", "\u07ff", "\u0800"];
    for (let i = 0; i < 3000; i++) {
      let text = "";
      for (let n = r.int(0, 80); n > 0; n--) text += r.pick(chars);
      const bytes = enc.encode(text);
      if (bytes.length > 0 && r.chance(0.7)) {
        bytes[r.int(0, bytes.length - 1)] = r.int(0, 255);
      }
      check(bytes);
    }
  },
});

// ---- random streams -----------------------------------------------------------

/** mulberry32: deterministic, so that a failing case can be run again. */
class Rand {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  next(): number {
    this.#s = (this.#s + 0x6d2b79f5) >>> 0;
    let t = this.#s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo + 1));
  }
  pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.next() * xs.length)]!;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

const ASCII =
  "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,:;-_=+()[]{}<>/";
// Non-ASCII characters, among them those whose lead bytes (C2, E2) the
// framer looks at closer without their being escaped.
const MULTI = [
  "é",
  "ß",
  "ж",
  "€",
  "中",
  "😀",
  "𝄞",
  "\u00a0",
  "£",
  "°",
  "—",
  "’",
  "…",
  "→",
  "─",
  "\u07ff",
  "\u0800",
  "\uffff",
];
// What a record escapes, or JSON does: control characters, DEL, C1
// controls, U+2028/U+2029, SGR and other escape sequences, quotes.
const SPECIAL = [
  '"',
  "\\",
  "\t",
  "\x00",
  "\x01",
  "\x08",
  "\x0b",
  "\x0c",
  "\x1b",
  "\x1b[31m",
  "\x1b[0m",
  "\x1b[2K",
  "\x1f",
  "\x7f",
  "\r",
  "\u0085",
  "\u0080",
  "\u009f",
  "\u2028",
  "\u2029",
];
const INVALID = [
  [0xff],
  [0xfe],
  [0x80],
  [0xbf],
  [0xc0, 0x80],
  [0xc1, 0xbf],
  [0xc2],
  [0xe2],
  [0xe2, 0x80],
  [0xe0, 0x80, 0x80],
  [0xed, 0xa0, 0x80],
  [0xf4, 0x90, 0x80, 0x80],
  [0xf5, 0x80, 0x80, 0x80],
  [0xf0, 0x9f, 0x98],
  [0xc3],
];

function ascii(r: Rand, n: number): string {
  let s = "";
  for (let i = 0; i < n; i++) s += ASCII[r.int(0, ASCII.length - 1)];
  return s;
}

/** One line's bytes (without its ending), of a shape `kind` picks. */
function lineBody(r: Rand, kind: number, max: number): number[] {
  const out: number[] = [];
  const text = (s: string) => {
    for (const b of enc.encode(s)) out.push(b);
  };
  switch (kind) {
    case 0: // empty
      break;
    case 1: // short
      text(ascii(r, r.int(1, 40)));
      break;
    case 2: // 100 bytes, as in the benchmark
      text(ascii(r, 99));
      break;
    case 3: // about 1 KB
      text(ascii(r, r.int(900, 1100)));
      break;
    case 4: // about the longest line
      text(ascii(r, Math.max(0, max + r.int(-4, 4))));
      break;
    case 5: // UTF-8 text
      for (let n = r.int(1, 120); n > 0; n--) {
        text(r.chance(0.5) ? r.pick(MULTI) : ascii(r, 1));
      }
      break;
    case 6: // UTF-8 about the longest line, so that cuts fall inside characters
      while (out.length < max + 8 && out.length < max + r.int(-8, 8)) {
        text(r.chance(0.6) ? r.pick(MULTI) : ascii(r, 1));
      }
      break;
    case 7: // invalid UTF-8 here and there
      for (let n = r.int(0, 60); n > 0; n--) {
        if (r.chance(0.15)) out.push(...r.pick(INVALID));
        else text(r.chance(0.2) ? r.pick(MULTI) : ascii(r, 1));
      }
      break;
    case 8: // control characters, escapes, lone CRs
      for (let n = r.int(1, 80); n > 0; n--) {
        text(r.chance(0.2) ? r.pick(SPECIAL) : ascii(r, 1));
      }
      break;
    case 9: // random bytes (line endings too)
      for (let n = r.int(0, 200); n > 0; n--) out.push(r.int(0, 255));
      break;
    case 10: // about the longest line, an invalid byte near the cut
      text(ascii(r, Math.max(0, max + r.int(-6, 2))));
      out.push(...r.pick(INVALID));
      text(ascii(r, r.int(0, 4)));
      break;
    case 11: // 100 bytes with one special character
      text(ascii(r, r.int(0, 60)) + r.pick(SPECIAL) + ascii(r, r.int(0, 40)));
      break;
    default: // longer than the longest line
      text(ascii(r, r.int(max + 1, 3 * max)));
  }
  return out;
}

const ENDINGS = [
  [0x0a],
  [0x0a],
  [0x0a],
  [0x0d, 0x0a],
  [0x0d, 0x0a],
  [0x0d, 0x0d, 0x0a],
  [
    0x0d,
  ],
  [],
  [0x0a, 0x0a],
];

const PROFILES: readonly { name: string; kinds: readonly number[] }[] = [
  { name: "flood", kinds: [2, 2, 2, 2, 2, 1, 0] },
  { name: "tiny", kinds: [0, 0, 1] }, // more lines than the bounds arrays hold
  { name: "mixed", kinds: [0, 1, 1, 2, 2, 3, 5, 8, 11] },
  { name: "utf8", kinds: [5, 5, 5, 1, 2, 6] },
  { name: "invalid", kinds: [7, 7, 2, 1, 9] },
  { name: "bytes", kinds: [9] },
  { name: "long", kinds: [4, 4, 6, 10, 12, 2, 1] },
  { name: "controls", kinds: [8, 8, 11, 11, 2, 1, 0] },
  { name: "everything", kinds: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] },
];

interface Case {
  what: string;
  data: Uint8Array;
  /** Where chunks end. */
  cuts: number[];
  /** Chunks after which end() is called (the stream ended, and went on). */
  ends: Set<number>;
  /** Chunks after which the event loop turns (so the time stamp changes). */
  turns: Set<number>;
  max: number;
  format: LogFormat;
  color: boolean;
  stream: "stdout" | "stderr";
  wasmFrom: number;
  ringLines: number;
  /** The log file's maxBytes (0: never rotated). */
  fileMax: number;
}

function makeCase(r: Rand, format: LogFormat, i: number): Case {
  const profile = r.pick(PROFILES);
  const max = r.chance(0.6)
    ? MAX_LINE
    : r.pick([4, 5, 7, 15, 16, 31, 100, 1000, 65535]);
  // Chunk sizes (below): single bytes, 64 KiB reads, random, bigger than
  // the window, or cut right after CRs and LFs.
  const mode = r.int(0, 6);
  // Many tiny chunks or pieces cost time and little WebAssembly: less of it.
  const small = mode === 0 || mode === 2 || max < 1000;
  const budget = r.pick(
    small ? [50, 500, 5000, 40_000] : [500, 5000, 70_000, 200_000, 400_000],
  );
  const bytes: number[] = [];
  while (bytes.length < budget) {
    for (const b of lineBody(r, r.pick(profile.kinds), max)) bytes.push(b);
    bytes.push(...r.pick(ENDINGS));
  }
  if (r.chance(0.2)) bytes.push(0x0d); // a last lone CR
  const data = Uint8Array.from(bytes);
  const cuts = [0];
  for (let pos = 0; pos < data.length;) {
    let size: number;
    if (mode === 0) size = 1;
    else if (mode === 1) size = 65536;
    else if (mode === 2) size = r.int(1, 16);
    else if (mode === 3) size = r.int(1, 5000);
    else if (mode === 4) size = r.int(1, 2 * WINDOW + 100);
    else if (mode === 5) {
      let p = pos + 1;
      while (
        p < data.length && p - pos < 70_000 &&
        !((data[p - 1] === 0x0d || data[p - 1] === 0x0a) && r.chance(0.3))
      ) p++;
      size = p - pos;
    } else {
      size = r.pick([1, 2, 3, 100, 4096, 65535, 65536, 65537, WINDOW, WINDOW + 1]);
    }
    pos = Math.min(data.length, pos + size);
    cuts.push(pos);
  }
  const ends = new Set<number>();
  const turns = new Set<number>();
  for (let c = 1; c < cuts.length; c++) {
    if (r.chance(0.01)) ends.add(c);
    if (r.chance(0.05)) turns.add(c);
  }
  const color = r.chance(0.5);
  const stream = r.chance(0.5) ? "stdout" : "stderr";
  const wasmFrom = r.pick([0, 0, 256]);
  const ringLines = r.chance(0.5) ? 10_000_000 : r.int(1, 2000);
  const fileMax = r.pick([0, 0, 20_000, 100_000]);
  return {
    what:
      `${format} case ${i} (seed ${SEED}): ${profile.name}, ${data.length} bytes in ${
        cuts.length - 1
      } chunks (mode ${mode}), max ${max}, ${stream}, color ${color}, wasmFrom ${wasmFrom}`,
    data,
    cuts,
    ends,
    turns,
    max,
    format,
    color,
    stream,
    wasmFrom,
    ringLines,
    fileMax,
  };
}

/**
 * Log files in memory: what a {@linkcode LogFiles} wrote, by path, with
 * renames and removals as the real file system does them.
 */
class MemoryFs implements LogFileSystem {
  files = new Map<string, Uint8Array[]>();

  open(path: string): Promise<LogFileHandle> {
    let parts = this.files.get(path);
    if (parts === undefined) this.files.set(path, parts = []);
    const held = parts;
    return Promise.resolve({
      size: held.reduce((n, p) => n + p.length, 0),
      regular: true,
      write: (p: Uint8Array) => (held.push(p.slice()), Promise.resolve(p.length)),
      truncate: () => Promise.reject(new Error("not expected")),
      close: () => {},
    });
  }

  rename(from: string, to: string): Promise<boolean> {
    const parts = this.files.get(from);
    if (parts === undefined) return Promise.resolve(false);
    this.files.delete(from);
    this.files.set(to, parts);
    return Promise.resolve(true);
  }

  remove(path: string): Promise<void> {
    this.files.delete(path);
    return Promise.resolve();
  }

  /** Every file's text, by path, oldest first (`FILE.N` ... `FILE.1`, `FILE`). */
  texts(): [string, string][] {
    const age = (path: string) => Number(path.match(/\.(\d+)$/)?.[1] ?? 0);
    return [...this.files]
      .sort(([a], [b]) => age(b) - age(a))
      .map(([path, parts]) => [path, parts.map((p) => dec.decode(p)).join("")]);
  }
}

/** What one run wrote: the log's bytes, the log file's and the ring's lines. */
interface Output {
  log: Uint8Array;
  /** The log file and its rotated copies, by path. */
  files: [string, string][];
  ring: string[];
  /** Lines (and pieces) the WebAssembly framer handed on. */
  framed: number;
  /** Lines (and pieces) the JS path handed on. */
  other: number;
}

// The case through the composition the supervisor builds (the ring, then
// the log), framed with or without WebAssembly; the clock moves only at
// the case's turns, so both runs see the same times.
async function run(c: Case, wasm: boolean): Promise<Output> {
  let tick = 0;
  const now = () => 1_764_000_000_000 + tick * 1234;
  const parts: Uint8Array[] = [];
  const log = new Logger({
    out: { write: (p) => (parts.push(p.slice()), Promise.resolve(p.length)) },
    format: c.format,
    color: c.color,
    now,
  });
  // Bytes never bound it: which lines a ring keeps under its byte limit
  // depends on how lines were batched (within a batch of the limit).
  const ring = new OutputRing({ maxLines: c.ringLines, maxBytes: 1 << 28, now });
  let framed = 0;
  let other = 0;
  const spy: LineSink = {
    line: () => void other++,
    lines(bytes, _starts, _ends, count) {
      if (bytes === SIMD?.window) framed += count;
      else other += count;
    },
  };
  // The log file, as the supervisor adds it (text without colour, rotated).
  const fs = new MemoryFs();
  const files = new LogFiles({ fs, now });
  files.configure(
    { web: { log: { file: "/logs/web.log", maxBytes: c.fileMax, backups: 1000 } } },
    () => false,
  );
  const sink = teeLines(
    teeLines(
      teeLines(ring.lines("web", 42, c.stream), log.lines("web", 42, c.stream)),
      files.lines("web", 42, c.stream),
    ),
    spy,
  );
  const framer = new LineFramer(sink, c.max, { wasm, wasmFrom: c.wasmFrom });
  for (let i = 1; i < c.cuts.length; i++) {
    // A fresh copy: nothing may depend on a chunk staying put.
    framer.push(c.data.slice(c.cuts[i - 1], c.cuts[i]));
    if (c.ends.has(i)) framer.end();
    if (c.turns.has(i)) {
      tick++;
      // Lets the log's turn end (its microtask), as a read would.
      await Promise.resolve();
    }
  }
  framer.end();
  await log.flush();
  await files.close();
  const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) all.set(p, at), at += p.length;
  const lines = ring.tail(["web"], Infinity).map((l) =>
    `${l.seq} ${l.time} ${l.stream} ${l.pid} ${l.text}`
  );
  return { log: all, files: fs.texts(), ring: lines, framed, other };
}

// deno-lint-ignore no-control-regex
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/;
// deno-lint-ignore no-control-regex
const SGR = /\x1b\[[0-9;:]*m/g;
const TIME = /^\d\d:\d\d:\d\d\.\d{3} /;

/**
 * Asserts that `text`, tend's records of `lines` lines, cannot have been
 * forged by the child: exactly one record a line, each a whole line that
 * starts with the time, the stream's mark and `[web]`, with no control
 * character left but TAB (and, with colour, SGR sequences), valid UTF-8,
 * and no longer than the longest piece escaped at its worst.
 */
function assertSafe(
  c: Case,
  bytes: Uint8Array,
  lines: number,
  format: LogFormat,
  color: boolean,
  what: string,
): void {
  assert.ok(isUtf8(bytes), `${what}: not valid UTF-8`);
  const text = dec.decode(bytes);
  assert.ok(text === "" || text.endsWith("\n"), `${what}: a record is not whole`);
  const records = text === "" ? [] : text.slice(0, -1).split("\n");
  assert.equal(records.length, lines, `${what}: records`);
  const longest = TEXT_GROWTH * c.max;
  for (const [i, record] of records.entries()) {
    let body: string;
    if (format === "json") {
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(record, /[\x00-\x1f]/, `${what}: record ${i}`);
      const parsed = JSON.parse(record);
      assert.equal(parsed.stream, c.stream, `${what}: record ${i}`);
      assert.equal(parsed.process, "web", `${what}: record ${i}`);
      assert.ok(parsed.message.startsWith("[web] "), `${what}: record ${i}`);
      body = parsed.message.slice("[web] ".length);
    } else {
      const plain = color ? record.replace(SGR, "") : record;
      assert.doesNotMatch(plain, CONTROL, `${what}: record ${i}`);
      assert.match(plain, TIME, `${what}: record ${i}`);
      const mark = c.stream === "stderr" ? "2> " : "";
      const tag = plain.slice(13, 13 + mark.length + 6);
      assert.equal(tag, `${mark}[web] `, `${what}: record ${i}`);
      body = plain.slice(13 + tag.length);
    }
    assert.ok(
      enc.encode(body).length <= longest,
      `${what}: record ${i} is ${enc.encode(body).length} bytes`,
    );
  }
}

function firstDiff(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return a.length === b.length ? -1 : n;
}

const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20261202);
const CASES = Number(Deno.env.get("FUZZ_CASES") ?? 100);

async function differential(format: LogFormat): Promise<void> {
  const r = new Rand(SEED + (format === "json" ? 1 : 0));
  let framed = 0;
  let other = 0;
  for (let i = 0; i < CASES; i++) {
    const c = makeCase(r, format, i);
    const js = await run(c, false);
    const wasm = await run(c, true);
    const d = firstDiff(wasm.log, js.log);
    if (d !== -1) {
      const show = (x: Uint8Array) =>
        JSON.stringify(dec.decode(x.subarray(Math.max(0, d - 100), d + 100)));
      assert.fail(
        `${c.what}: the logs differ at byte ${d} (wasm ${wasm.log.length} bytes, js ${js.log.length})\n` +
          `wasm: ${show(wasm.log)}\njs:   ${show(js.log)}`,
      );
    }
    assert.deepEqual(wasm.ring, js.ring, `${c.what}: the rings differ`);
    assert.deepEqual(wasm.files, js.files, `${c.what}: the log files differ`);
    assert.equal(js.framed, 0);
    assert.equal(wasm.framed + wasm.other, js.other, `${c.what}: line counts`);
    for (const [path, text] of wasm.files) {
      if (c.fileMax > 0 && text.split("\n").length > 2) {
        assert.ok(enc.encode(text).length <= c.fileMax, `${c.what}: ${path} too big`);
      }
    }
    for (const [name, out] of [["wasm", wasm], ["js", js]] as const) {
      assertSafe(
        c,
        out.log,
        out.other + out.framed,
        format,
        c.color,
        `${c.what}, ${name} log`,
      );
      const file = enc.encode(out.files.map(([, text]) => text).join(""));
      assertSafe(
        c,
        file,
        out.other + out.framed,
        "text",
        false,
        `${c.what}, ${name} file`,
      );
    }
    framed += wasm.framed;
    other += wasm.other;
  }
  // Both paths were taken, and WebAssembly's often (1-byte chunks and
  // small ones, carried lines, control characters and invalid UTF-8 are
  // the JS path's, and many cases are made of them).
  assert.ok(framed > (framed + other) / 10, `framed ${framed}, JS ${other}`);
  assert.ok(other > 0, `framed ${framed}, JS ${other}`);
}

Deno.test({
  ...only(
    "fuzz: text records, a log file and the ring are the same through WebAssembly and JS, and no line forges a record",
    NO_SIMD,
  ),
  fn: () => differential("text"),
});

Deno.test({
  ...only(
    "fuzz: JSON records, a log file and the ring are the same through WebAssembly and JS, and no line forges a record",
    NO_SIMD,
  ),
  fn: () => differential("json"),
});

// ---- targeted cases -------------------------------------------------------------

/** The lines a framer hands on, and whether each came through WebAssembly. */
function frameAll(text: string | Uint8Array, max = MAX_LINE): [string, boolean][] {
  const seen: [string, boolean][] = [];
  const framer = new LineFramer(
    {
      line: (b, s, e) =>
        seen.push([JSON.stringify(dec.decode(b.subarray(s, e))), false]),
      lines: (b, starts, ends, n) => {
        for (let i = 0; i < n; i++) {
          seen.push([JSON.stringify(dec.decode(b.subarray(starts[i], ends[i]))), true]);
        }
      },
    },
    max,
    { wasmFrom: 0 },
  );
  framer.push(typeof text === "string" ? enc.encode(text) : text);
  framer.end();
  return seen;
}

Deno.test({
  ...only(
    "the framer takes plain lines and leaves each other line to JS, one line",
    NO_SIMD,
  ),
  fn: () => {
    const s = (t: string) => JSON.stringify(t);
    assert.deepEqual(
      frameAll("a\r\nb\rc\nd\n\x1b[1mbold\ne — £ ’\nnel\u0085\nsep\u2028\nlast"),
      [
        [s("a"), true],
        [s("b\rc"), false],
        [s("d"), true],
        [s("\x1b[1mbold"), false],
        [s("e — £ ’"), true],
        [s("nel\u0085"), false],
        [s("sep\u2028"), false],
        [s("last"), false], // the tail, at end()
      ],
    );
    // Too long: cut in pieces by JS; the next line is framed again.
    assert.deepEqual(frameAll("abcdefgh\nok\n", 4), [
      [s("abcd"), false],
      [s("efgh"), false],
      [s("ok"), true],
    ]);
    // Invalid UTF-8 costs only its own line.
    assert.deepEqual(
      frameAll(Uint8Array.of(0x61, 0x0a, 0xc3, 0x28, 0x0a, 0x62, 0x0a)),
      [
        [s("a"), true],
        [s("\ufffd("), false],
        [s("b"), true],
      ],
    );
  },
});

Deno.test({
  ...only(
    "a chunk of more lines than the bounds hold, or bigger than the window, frames whole",
    NO_SIMD,
  ),
  fn: () => {
    const many = "x\n".repeat(3 * BOUNDS + 5);
    const seen = frameAll(many);
    assert.equal(seen.length, 3 * BOUNDS + 5);
    assert.ok(seen.every(([text, framed]) => text === '"x"' && framed));
    // Lines across the window's edge, and one longer than a window.
    const line = "y".repeat(999) + "\n";
    const big = line.repeat(Math.ceil((2 * WINDOW) / 1000)) + "z".repeat(WINDOW + 10) +
      "\n" +
      line;
    const lines = frameAll(big, 2 * WINDOW);
    assert.deepEqual(
      lines.map(([text]) => JSON.parse(text).length),
      big.split("\n").slice(0, -1).map((l) => l.length),
    );
    assert.deepEqual(lines.at(-2), [JSON.stringify("z".repeat(WINDOW + 10)), false]);
    assert.equal(lines.at(-1)![1], true);
  },
});

Deno.test("where V8 has no WebAssembly (--jitless), SIMD is null and the JS path frames and escapes", async () => {
  const framer = new URL("../../lib/output/framer.ts", import.meta.url).href;
  const wasm = new URL("../../lib/output/wasm.ts", import.meta.url).href;
  const code = `
    import { LineFramer } from ${JSON.stringify(framer)};
    import { SIMD } from ${JSON.stringify(wasm)};
    const seen = [];
    const framer = new LineFramer({ line: (b, s, e, valid) =>
      seen.push([new TextDecoder().decode(b.subarray(s, e)), valid]) });
    framer.push(new TextEncoder().encode("a\\r\\n" + "plain\\n".repeat(100) + "\\x1b[2K\\n"));
    framer.push(Uint8Array.of(0xe2, 0x82));
    framer.push(Uint8Array.of(0xac, 0x0a, 0xff, 0x0a));
    framer.end();
    console.log(JSON.stringify({ wasm: typeof WebAssembly, simd: SIMD, seen }));
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--v8-flags=--jitless", code],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, dec.decode(out.stderr));
  const { wasm: type, simd, seen } = JSON.parse(dec.decode(out.stdout));
  assert.equal(type, "undefined");
  assert.equal(simd, null);
  assert.deepEqual(seen, [
    ["a", true],
    ...Array(100).fill(["plain", true]),
    ["\x1b[2K", true],
    ["€", true],
    ["\ufffd", false],
  ]);
});
