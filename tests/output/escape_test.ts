/**
 * Escapes: which bytes a text record shows as they are, and how the rest
 * is written, into room reserved for it.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  escapeJsonInto,
  escapeTextInto,
  escapeUtf8Into,
  isPlain,
  JSON_GROWTH,
  PLAIN_WASM,
  SGR_RESET,
  TEXT_GROWTH,
} from "../../lib/output/escape.ts";
import { only } from "../_fakes/proc.ts";

/** Why the embedded WebAssembly cannot be checked against its source here, or null. */
const NO_WAT2WASM: string | null = await (async () => {
  try {
    await new Deno.Command("wat2wasm", { args: ["--version"], stdout: "null" })
      .output();
    return null;
  } catch {
    return "needs wat2wasm (Debian's wabt) to assemble lib/output/plain.wat";
  }
})();

const enc = new TextEncoder();
const dec = new TextDecoder();

/** `text` (or bytes) as a text record shows it, from a buffer of exactly the promised room. */
function shown(text: string | number[], colors = false): string {
  const src = typeof text === "string" ? enc.encode(text) : new Uint8Array(text);
  const out = new Uint8Array(TEXT_GROWTH * src.length + SGR_RESET.length);
  const valid = typeof text === "string";
  return dec.decode(
    out.subarray(0, escapeTextInto(src, 0, src.length, valid, out, 0, colors)),
  );
}

Deno.test("isPlain: exactly TAB and printable characters are plain, at every offset in a word", () => {
  // Every ASCII byte at every position of the 4-byte words and 16-byte
  // vectors the scans read (lines: the SIMD scan; one line: the word loop),
  // in ranges long enough for those and short ones that take neither.
  for (const lineEnds of [false, true]) {
    for (const length of [8, 100]) {
      for (let b = 0; b < 0x80; b++) {
        for (let at = 0; at < 20; at++) {
          const bytes = new Uint8Array(length + 24).fill(0x61);
          bytes[at + 3] = b;
          const want = at >= length || b === 0x09 || (b >= 0x20 && b < 0x7f) ||
            (lineEnds && b === 0x0a);
          assert.equal(
            isPlain(bytes, 3, 3 + length, lineEnds),
            want,
            `byte ${b} at ${at} of ${length}, lineEnds ${lineEnds}`,
          );
        }
      }
    }
  }
});

Deno.test("isPlain: the SIMD scan and the word loop agree with a plain reading on random text", () => {
  // Mostly letters, with line breaks, TABs, CRs, controls and the UTF-8
  // that matters (C1, U+2028) sprinkled in. Whole lines take the SIMD scan
  // (when there is WebAssembly), one line the word loop.
  const pieces = [
    "a",
    " ",
    "\n",
    "\t",
    "\r\n",
    "\r",
    "\x1b",
    "\x7f",
    "é",
    "\u0085",
    "\u2028",
    "—",
  ];
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const plainLine = /^[\t\x20-\x7e\u00a0-\u2027\u202a-\uffff]*$/u;
  for (let round = 0; round < 2000; round++) {
    let text = "";
    while (text.length < 100) {
      text += random() < 0.97 ? "xyz" : pieces[Math.floor(random() * pieces.length)];
    }
    const bytes = enc.encode(text);
    const lines = text.replaceAll("\r\n", "\n").split("\n");
    assert.equal(
      isPlain(bytes, 0, bytes.length, true),
      lines.every((line) => plainLine.test(line)),
      JSON.stringify(text),
    );
    assert.equal(
      isPlain(bytes, 0, bytes.length),
      plainLine.test(text),
      JSON.stringify(text),
    );
  }
});

Deno.test({
  ...only("the embedded SIMD scan is what plain.wat assembles to", NO_WAT2WASM),
  fn: async () => {
    const wasm = await Deno.makeTempFile({ suffix: ".wasm" });
    try {
      const wat = fileURLToPath(new URL("../../lib/output/plain.wat", import.meta.url));
      const out = await new Deno.Command("wat2wasm", { args: [wat, "-o", wasm] })
        .output();
      assert.ok(out.success, dec.decode(out.stderr));
      assert.equal(PLAIN_WASM, btoa(String.fromCharCode(...await Deno.readFile(wasm))));
    } finally {
      await Deno.remove(wasm);
    }
  },
});

Deno.test("isPlain: line endings are allowed only where asked, and only as endings", () => {
  const at = (text: string, lineEnds: boolean) => {
    const bytes = enc.encode(text.padEnd(80, "x"));
    return isPlain(bytes, 0, bytes.length, lineEnds);
  };
  assert.equal(at("a\nb", true), true);
  assert.equal(at("a\r\nb", true), true);
  assert.equal(at("a\nb", false), false);
  assert.equal(at("a\r\nb", false), false);
  assert.equal(at("a\rb", true), false, "a CR that ends no line");
  assert.equal(at("a\r\r\nb", true), false);
  // A CR at the very end is an ending when the byte after the range is "\n".
  const crlf = enc.encode("x".repeat(70) + "\r\n");
  assert.equal(isPlain(crlf, 0, crlf.length - 1, true), true);
});

Deno.test("isPlain: C1 controls, NEL, U+2028 and U+2029 are not plain; other UTF-8 is", () => {
  const cases: [string, boolean][] = [
    ["\u0085", false], // NEL
    ["\u0080", false],
    ["\u009f", false],
    ["\u00a0", true], // no-break space: C2 A0
    ["\u2028", false],
    ["\u2029", false],
    ["\u2027", true],
    ["\u202a", true],
    ["— “quoted” é 😀 привет", true],
  ];
  for (const [text, want] of cases) {
    for (const pad of [0, 1, 2, 3, 70]) {
      const bytes = enc.encode("y".repeat(pad) + text + "z".repeat(70));
      assert.equal(
        isPlain(bytes, 0, bytes.length),
        want,
        `${JSON.stringify(text)} after ${pad}`,
      );
    }
  }
});

Deno.test("text escapes: every control character but TAB becomes an escape, and nothing else changes", () => {
  assert.equal(shown("plain\ttext é 😀"), "plain\ttext é 😀");
  assert.equal(shown("a\rb"), "a\\rb");
  assert.equal(
    shown("\x1b[2K\x1b[1A\x1b]0;title\x07"),
    "\\x1b[2K\\x1b[1A\\x1b]0;title\\x07",
  );
  assert.equal(shown("\x0b\x0c\x00\x7f\x1f"), "\\x0b\\x0c\\x00\\x7f\\x1f");
  assert.equal(shown("x\u0085y\u2028z\u2029"), "x\\u0085y\\u2028z\\u2029");
  assert.equal(shown([0x61, 0xff, 0xc2, 0x85, 0xc2, 0x0d]), "a\\xff\\u0085\\xc2\\r");
});

Deno.test("text escapes with colour: SGR sequences pass and are reset at the end; others are escaped", () => {
  assert.equal(shown("\x1b[1;31mred\x1b[0m", true), "\x1b[1;31mred\x1b[0m\x1b[0m");
  assert.equal(shown("\x1b[38:2:1:2:3mx", true), "\x1b[38:2:1:2:3mx\x1b[0m");
  // Cursor movement, erasing, OSC titles and an unfinished SGR are not colours.
  assert.equal(shown("\x1b[2K\x1b[1A", true), "\\x1b[2K\\x1b[1A");
  assert.equal(shown("\x1b]0;t\x07", true), "\\x1b]0;t\\x07");
  assert.equal(shown("\x1b[31", true), "\\x1b[31");
  assert.equal(shown("no colour", true), "no colour");
  // Without colour, SGR is escaped like the rest.
  assert.equal(shown("\x1b[31mred"), "\\x1b[31mred");
});

Deno.test("escapes stay within the promised room for the worst input", () => {
  // Every byte escaped: invalid bytes and C0 controls take four bytes each.
  const worst = new Uint8Array(4096).map((_, i) => i % 2 ? 0xff : 0x01);
  const text = new Uint8Array(TEXT_GROWTH * worst.length + SGR_RESET.length);
  assert.equal(
    escapeTextInto(worst, 0, worst.length, false, text, 0, true),
    TEXT_GROWTH * worst.length,
  );
  const controls = new Uint8Array(4096).fill(0x01);
  const json = new Uint8Array(JSON_GROWTH * controls.length);
  assert.equal(
    escapeJsonInto(controls, 0, controls.length, true, json, 0),
    JSON_GROWTH * controls.length,
  );
  const utf8 = new Uint8Array(TEXT_GROWTH * worst.length);
  // (escapeUtf8Into keeps control characters: only bad bytes grow.)
  assert.equal(escapeUtf8Into(worst, 0, worst.length, utf8, 0), 4 * 2048 + 2048);
});

Deno.test("JSON escapes: bad bytes as \\xNN, control characters the JSON way", () => {
  const src = new Uint8Array([
    0x22,
    0x5c,
    0x0a,
    0x09,
    0x0d,
    0x01,
    0xff,
    ...enc.encode("é\u2028"),
  ]);
  const out = new Uint8Array(JSON_GROWTH * src.length);
  const end = escapeJsonInto(src, 0, src.length, false, out, 0);
  assert.equal(
    JSON.parse(`"${dec.decode(out.subarray(0, end))}"`),
    '"\\\n\t\r\x01\\xffé\u2028',
  );
});

Deno.test("JSON escapes U+2028 and U+2029 as \\u2028 and \\u2029, valid or not, and keeps other E2 sequences", () => {
  const text = "a\u2028b\u2029c\u20acd\u2026e";
  const src = new TextEncoder().encode(text);
  for (const valid of [true, false]) {
    const out = new Uint8Array(src.length * JSON_GROWTH);
    const end = escapeJsonInto(src, 0, src.length, valid, out, 0);
    const json = new TextDecoder().decode(out.subarray(0, end));
    assert.equal(json, "a\\u2028b\\u2029c\u20acd\u2026e", `valid: ${valid}`);
    assert.equal(JSON.parse(`"${json}"`), text);
  }
  // At the very end, and cut short (E2 80 without its last byte, invalid).
  const tail = new Uint8Array([0x61, 0xe2, 0x80, 0xa8]);
  const out = new Uint8Array(tail.length * JSON_GROWTH);
  const end = escapeJsonInto(tail, 0, tail.length, true, out, 0);
  assert.equal(new TextDecoder().decode(out.subarray(0, end)), "a\\u2028");
});

Deno.test("JSON escapes the C1 controls (NEL among them) as \\u0080..\\u009f, valid or not", () => {
  const text = "nel\u0085x\u009by\u00a0z";
  const src = new TextEncoder().encode(text);
  for (const valid of [true, false]) {
    const out = new Uint8Array(src.length * JSON_GROWTH);
    const end = escapeJsonInto(src, 0, src.length, valid, out, 0);
    const json = new TextDecoder().decode(out.subarray(0, end));
    assert.equal(json, "nel\\u0085x\\u009by\u00a0z", `valid: ${valid}`);
    assert.equal(JSON.parse(`"${json}"`), text);
  }
});
