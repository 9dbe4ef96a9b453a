/**
 * Output framing: bytes to lines, partial lines, invalid UTF-8, long lines.
 */

import assert from "node:assert/strict";
import { escapeUtf8, LineFramer, MAX_LINE } from "../../lib/output/framer.ts";

const decoder = new TextDecoder();

/** A line as text, invalid UTF-8 escaped as `\xNN`. */
function lineText(bytes: Uint8Array, start: number, end: number): string {
  return decoder.decode(escapeUtf8(bytes, start, end));
}

const enc = new TextEncoder();
const dec = new TextDecoder();

interface Seen {
  bytes: Uint8Array;
  valid: boolean;
}

function collect(
  maxLine?: number,
): { framer: LineFramer; seen: Seen[]; texts: () => string[] } {
  const seen: Seen[] = [];
  const framer = new LineFramer({
    line(bytes, start, end, valid) {
      // Lines are borrowed: copy them, as a real sink does.
      seen.push({ bytes: bytes.slice(start, end), valid });
    },
  }, maxLine);
  return {
    framer,
    seen,
    texts: () => seen.map((s) => lineText(s.bytes, 0, s.bytes.length)),
  };
}

Deno.test("complete lines in one chunk are handed on one by one", () => {
  const { framer, texts } = collect();
  framer.push(enc.encode("one\ntwo\n\nthree\n"));
  assert.deepEqual(texts(), ["one", "two", "", "three"]);
});

Deno.test("a line split across chunks is joined", () => {
  const { framer, texts } = collect();
  framer.push(enc.encode("hel"));
  framer.push(enc.encode("lo wo"));
  assert.deepEqual(texts(), []);
  framer.push(enc.encode("rld\nnext"));
  assert.deepEqual(texts(), ["hello world"]);
  assert.equal(framer.pending, 4);
});

Deno.test("a last line without a newline is handed on at end", () => {
  const { framer, texts } = collect();
  framer.push(enc.encode("a\npartial"));
  assert.deepEqual(texts(), ["a"]);
  framer.end();
  assert.deepEqual(texts(), ["a", "partial"]);
  framer.end();
  assert.deepEqual(texts(), ["a", "partial"], "a second end adds nothing");
});

Deno.test("CRLF line endings lose their CR, even when the CR ends a chunk", () => {
  const { framer, texts } = collect();
  framer.push(enc.encode("dos\r\nsplit\r"));
  framer.push(enc.encode("\nkeep\rcr\n"));
  assert.deepEqual(texts(), ["dos", "split", "keep\rcr"]);
});

Deno.test("any chunking of a stream gives the same lines", () => {
  const text = "alpha\nβeta — ünïcödé\n\n😀 emoji line\r\nlast without newline";
  const bytes = enc.encode(text);
  const whole = collect();
  whole.framer.push(bytes);
  whole.framer.end();
  for (let seed = 1; seed <= 200; seed++) {
    const { framer, texts, seen } = collect();
    let pos = 0, r = seed;
    while (pos < bytes.length) {
      r = (r * 1103515245 + 12345) % 2147483648;
      const n = 1 + (r % 7);
      framer.push(bytes.subarray(pos, pos + n));
      pos += n;
    }
    framer.end();
    assert.deepEqual(texts(), whole.texts(), `seed ${seed}`);
    assert.ok(seen.every((s) => s.valid), `seed ${seed}: every line is valid UTF-8`);
  }
  assert.deepEqual(whole.texts(), [
    "alpha",
    "βeta — ünïcödé",
    "",
    "😀 emoji line",
    "last without newline",
  ]);
});

Deno.test("invalid UTF-8 is escaped as \\xNN and marked invalid", () => {
  const { framer, seen, texts } = collect();
  framer.push(
    new Uint8Array([0xff, ...enc.encode("hello world!\n"), 0x61, 0xc3, 0x0a]),
  );
  assert.deepEqual(texts(), ["\\xffhello world!", "a\\xc3"]);
  assert.deepEqual(seen.map((s) => s.valid), [false, false]);
});

Deno.test("valid lines next to an invalid one are still marked valid", () => {
  const { framer, seen } = collect();
  framer.push(
    new Uint8Array([...enc.encode("ok\n"), 0xfe, 0x0a, ...enc.encode("fine\n")]),
  );
  assert.deepEqual(seen.map((s) => s.valid), [true, false, true]);
});

Deno.test("escapeUtf8 keeps valid characters and escapes every bad byte", () => {
  const cases: [number[], string][] = [
    [[0x68, 0x69], "hi"],
    [[0xc3, 0xa9], "é"],
    [[0xc0, 0xaf], "\\xc0\\xaf"], // overlong "/"
    [[0xed, 0xa0, 0x80], "\\xed\\xa0\\x80"], // a UTF-16 surrogate
    [[0xf4, 0x90, 0x80, 0x80], "\\xf4\\x90\\x80\\x80"], // above U+10FFFF
    [[0xe2, 0x82], "\\xe2\\x82"], // truncated "€"
    [[0x80, 0x41], "\\x80A"], // a stray continuation byte
    [[0xf0, 0x9f, 0x98, 0x80, 0xff], "😀\\xff"],
  ];
  for (const [bytes, want] of cases) {
    const out = escapeUtf8(new Uint8Array(bytes), 0, bytes.length);
    assert.equal(dec.decode(out), want, `bytes ${bytes.map((b) => b.toString(16))}`);
  }
});

Deno.test("escapeUtf8 returns valid input as a view without copying", () => {
  const bytes = enc.encode("xxhello");
  const out = escapeUtf8(bytes, 2, 7);
  assert.equal(out.buffer, bytes.buffer);
  assert.equal(dec.decode(out), "hello");
});

Deno.test("a line of several MiB with no newline comes out in pieces of at most 64 KiB", () => {
  const { framer, seen } = collect();
  const total = 5 * 1024 * 1024 + 123;
  const chunk = new Uint8Array(65536).fill(0x61);
  let fed = 0;
  while (fed < total) {
    const n = Math.min(chunk.length, total - fed);
    framer.push(chunk.subarray(0, n));
    fed += n;
    assert.ok(framer.pending <= MAX_LINE, "the carry stays bounded");
  }
  framer.end();
  assert.ok(seen.every((s) => s.bytes.length <= MAX_LINE && s.bytes.length > 0));
  assert.equal(seen.reduce((n, s) => n + s.bytes.length, 0), total);
  assert.equal(seen.length, Math.ceil(total / MAX_LINE));
});

Deno.test("a long line inside one big chunk is cut into pieces too", () => {
  const { framer, seen } = collect(8);
  framer.push(enc.encode("0123456789abcdefghij\nshort\n"));
  assert.deepEqual(seen.map((s) => dec.decode(s.bytes)), [
    "01234567",
    "89abcdef",
    "ghij",
    "short",
  ]);
});

Deno.test("a line of exactly the maximum is one piece, across chunks too", () => {
  const { framer, seen } = collect(8);
  framer.push(enc.encode("abcd"));
  framer.push(enc.encode("efgh"));
  framer.push(enc.encode("\nxyz\n"));
  assert.deepEqual(seen.map((s) => dec.decode(s.bytes)), ["abcdefgh", "xyz"]);
});

Deno.test("pieces are cut on character boundaries, not inside a character", () => {
  for (const chunkSize of [1, 3, 5, 1000]) {
    const { framer, seen } = collect(8);
    const bytes = enc.encode("ab€€€€€€€€z"); // € is 3 bytes
    for (let i = 0; i < bytes.length; i += chunkSize) {
      framer.push(bytes.subarray(i, i + chunkSize));
    }
    framer.end();
    assert.ok(
      seen.every((s) => s.valid && s.bytes.length <= 8),
      `chunks of ${chunkSize}`,
    );
    assert.equal(seen.map((s) => dec.decode(s.bytes)).join(""), "ab€€€€€€€€z");
  }
});

Deno.test("the framer does not keep the chunks it is given", () => {
  const { framer, texts } = collect();
  const chunk = enc.encode("abc");
  framer.push(chunk);
  chunk.fill(0x7a); // the reader reuses its buffer
  framer.push(enc.encode("\n"));
  assert.deepEqual(texts(), ["abc"]);
});

Deno.test("the batch path hands on exactly the lines the one-by-one path does", () => {
  // Empty lines, CRLF, lines over the maximum, invalid bytes, and more
  // lines in one chunk than one batch holds.
  const parts = [
    "a\n",
    "\n",
    "crlf\r\n",
    "x".repeat(20) + "\n",
    "é€😀\n",
    "\xff",
    "z\n",
    "\n".repeat(3000),
    "tail",
  ];
  const bytes = new Uint8Array(
    parts.flatMap((p) => p === "\xff" ? [0xff] : [...enc.encode(p)]),
  );
  const oneByOne: string[] = [];
  const single = new LineFramer({
    line: (b, s, e) => void oneByOne.push(lineText(b, s, e)),
  }, 8);
  const batched: string[] = [];
  let batches = 0;
  const batch = new LineFramer({
    line: (b, s, e) => void batched.push(lineText(b, s, e)),
    lines(b, starts, ends, count) {
      batches++;
      for (let i = 0; i < count; i++) batched.push(lineText(b, starts[i]!, ends[i]!));
    },
  }, 8);
  for (const size of [bytes.length, 7, 1]) {
    oneByOne.length = 0;
    batched.length = 0;
    for (let i = 0; i < bytes.length; i += size) {
      single.push(bytes.subarray(i, i + size));
      batch.push(bytes.subarray(i, i + size));
    }
    single.end();
    batch.end();
    assert.deepEqual(batched, oneByOne, `chunks of ${size}`);
  }
  assert.ok(batches > 3, "the batch path was taken");
  assert.equal(oneByOne.length, 3010);
});

Deno.test("the batch path is never handed a line with a control character", () => {
  const batched: string[] = [];
  const single: string[] = [];
  const framer = new LineFramer({
    line: (b, s, e) => void single.push(lineText(b, s, e)),
    lines(b, starts, ends, count) {
      for (let i = 0; i < count; i++) batched.push(lineText(b, starts[i]!, ends[i]!));
    },
  });
  framer.push(enc.encode("plain\ttab\nand crlf\r\n"));
  framer.push(enc.encode("esc \x1b[2K\nnext\n"));
  framer.push(enc.encode("cr\rinside\nls \u2028\nnel \u0085\n"));
  assert.deepEqual(batched, ["plain\ttab", "and crlf"]);
  assert.deepEqual(single, [
    "esc \x1b[2K",
    "next",
    "cr\rinside",
    "ls \u2028",
    "nel \u0085",
  ]);
});

Deno.test("a CRLF line of exactly the maximum gives no extra empty line", () => {
  // Regression: the "\r" went on as a carry of its own and came out as "".
  for (
    const chunks of [["abcd", "\r\nnext\n"], ["abcd\r", "\nnext\n"], [
      "abcd\r\n",
      "next\n",
    ]]
  ) {
    const { framer, texts } = collect(4);
    for (const c of chunks) framer.push(enc.encode(c));
    framer.end();
    assert.deepEqual(texts(), ["abcd", "next"], JSON.stringify(chunks));
  }
  // A real empty CRLF line still counts.
  const { framer, texts } = collect(4);
  framer.push(enc.encode("ab\r\n\r"));
  framer.push(enc.encode("\nc\n"));
  assert.deepEqual(texts(), ["ab", "", "c"]);
});

Deno.test("a stream that goes on after end() between CR and LF gives no empty line", () => {
  // The spawner ends a stream early when it stops waiting for it; the rest
  // may still come.
  const { framer, texts } = collect(64);
  framer.push(enc.encode("abc\r"));
  framer.end();
  framer.push(enc.encode("\nnext\n"));
  framer.push(enc.encode("\n"));
  framer.end();
  assert.deepEqual(texts(), ["abc", "next", ""]);
});
