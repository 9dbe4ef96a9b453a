/**
 * What a record shows for bytes that are not plain text: invalid UTF-8 and
 * control characters, written as escapes straight into the log's buffer.
 *
 * A text record is one line, and no child may fake one: a carriage return,
 * a vertical tab, a form feed, NEL, U+2028 or U+2029 ends a line for a
 * terminal or a line splitter, and ANSI escape sequences move the cursor
 * or clear a line, so a child printing them could paint a record of some
 * other process. In text records every control character but TAB is
 * therefore shown as an escape (`\r`, `\x1b`, `\x7f`, `\u0085`, `\u2028`),
 * except, when colour is on, SGR sequences (`ESC [ ... m`, colours and
 * styles only), which pass through and are reset at the end of the line.
 * Bytes that are not valid UTF-8 are shown as `\xNN` in both formats; JSON
 * records escape control characters the JSON way.
 *
 * Every escape is written into room the caller reserved, at most
 * {@linkcode TEXT_GROWTH} (text) or {@linkcode JSON_GROWTH} (JSON) bytes per
 * input byte, so what a child prints costs memory in proportion to one
 * piece of a line, never an array that grows with it.
 *
 * @module
 */

/**
 * The most bytes {@linkcode escapeTextInto} writes per input byte (`\xNN`
 * for one byte); {@linkcode SGR_RESET} may follow.
 */
export const TEXT_GROWTH = 4;

/** The most bytes {@linkcode escapeJsonInto} writes per input byte (`\u00NN`). */
export const JSON_GROWTH = 6;

/** Ends the colours a child's line set (`ESC [ 0 m`), so they stop with it. */
export const SGR_RESET: Uint8Array = new Uint8Array([0x1b, 0x5b, 0x30, 0x6d]);

const HEX = new TextEncoder().encode("0123456789abcdef");
const BACKSLASH = 0x5c;
const NL = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const ESC = 0x1b;
const DEL = 0x7f;

// Below this many bytes a plain loop beats setting up a word view.
const SHORT = 64;

/**
 * Whether `bytes[start..end)`, which must be valid UTF-8, holds no
 * character that a text record escapes: no control character but TAB
 * (C0, DEL, C1 such as NEL), no U+2028 or U+2029.
 *
 * With `lineEnds`, the range is several lines: `\n`, and `\r` right before
 * `\n`, are their endings and allowed (`bytes[end]` may then be read, to see
 * what follows a `\r` at the very end).
 *
 * This runs over every chunk a child writes, so it reads four bytes at a
 * time and looks closer only at words that hold a byte below 0x20, DEL or
 * a byte above 0x7f.
 */
export function isPlain(
  bytes: Uint8Array,
  start: number,
  end: number,
  lineEnds = false,
): boolean {
  if (lineEnds && SIMD !== null && end - start >= SHORT) {
    return isPlainSimd(SIMD, bytes, start, end);
  }
  let i = start;
  if (end - start >= SHORT) {
    const base = bytes.byteOffset;
    // Bytes up to the first 4-byte boundary, then whole words.
    const head = start + ((4 - ((base + start) & 3)) & 3);
    for (; i < head; i++) if (!plainAt(bytes, i, lineEnds)) return false;
    const words = (end - i) >> 2;
    const w32 = wordsOf(bytes.buffer);
    const first = (base + i) >> 2;
    for (let k = 0; k < words; k++) {
      const w = w32[first + k]!;
      const low = w & 0x7f7f7f7f;
      // Per byte b, the top bit of: ~((b & 0x7f) + 0x60 | b) is set when
      // b < 0x20; (b & 0x7f) + 1 when b & 0x7f is 0x7f; b itself when
      // b > 0x7f. No carry crosses a byte, so the test is exact.
      if ((~((low + 0x60606060) | w) | (low + 0x01010101) | w) & 0x80808080) {
        const at = i + 4 * k;
        for (let j = at; j < at + 4; j++) {
          if (!plainAt(bytes, j, lineEnds)) return false;
        }
      }
    }
    i += 4 * words;
  }
  for (; i < end; i++) if (!plainAt(bytes, i, lineEnds)) return false;
  return true;
}

// The scan of whole chunks, in WebAssembly SIMD: sixteen bytes at a time,
// about three times as fast as the word loop (which it falls back to where
// WebAssembly or its SIMD is not there). Built from plain.wat with
// `wat2wasm plain.wat`; escape_test.ts checks that these bytes are that.
// deno-fmt-ignore
export const PLAIN_WASM =
  "AGFzbQEAAAABCAFgA39/fwF/AwIBAAUDAQABBxECBm1lbW9yeQIABHNjYW4AAArYAQHVAQIDewF/QQAg" +
  "Amv9DyEFAkADQCAAQRBqIAFLDQEgAP0ABAAhAyADQSD9D/0mIANBCf0P/SMgA0EK/Q/9IyAF/U79UP1P" +
  "IANB/wD9D/0j/VAgA0HCAf0P/SP9UCADQeIB/Q/9I/1QIgT9UwRAIAAgBP1kaGoPCyAAQRBqIQAMAAsL" +
  "AkADQCAAIAFPDQEgAC0AACIGQSBJBEAgBkEJRyAGQQpHIAJFcnEEQCAADwsLIAZB/wBGIAZBwgFGciAG" +
  "QeIBRnIEQCAADwsgAEEBaiEADAALCyABCw==";

interface Simd {
  memory: WebAssembly.Memory;
  view: Uint8Array;
  /** The first byte in memory[i..end) to look closer at, or end. */
  scan(i: number, end: number, lf: number): number;
}

const SIMD: Simd | null = (() => {
  try {
    const bytes = Uint8Array.from(atob(PLAIN_WASM), (c) => c.charCodeAt(0));
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes));
    const memory = exports.memory as WebAssembly.Memory;
    return {
      memory,
      view: new Uint8Array(memory.buffer),
      scan: exports.scan as Simd["scan"],
    };
  } catch {
    return null;
  }
})();

// isPlain over lines: the range is copied into the module's memory and
// scanned there; each flagged byte is looked at in the original, where the
// byte after the range is too.
function isPlainSimd(
  simd: Simd,
  bytes: Uint8Array,
  start: number,
  end: number,
): boolean {
  const n = end - start;
  if (simd.view.length < n) {
    simd.memory.grow(Math.ceil((n - simd.view.length) / 65536));
    simd.view = new Uint8Array(simd.memory.buffer);
  }
  simd.view.set(bytes.subarray(start, end));
  for (let i = simd.scan(0, n, 1); i < n; i = simd.scan(i + 1, n, 1)) {
    if (!plainAt(bytes, start + i, true)) return false;
  }
  return true;
}

// A word view of the last buffer scanned, kept: the lines of one chunk
// share its buffer, and a view per line would be an object per line.
let wordBuffer: ArrayBufferLike | null = null;
let wordView: Int32Array<ArrayBufferLike> = new Int32Array(0);

function wordsOf(buffer: ArrayBufferLike): Int32Array<ArrayBufferLike> {
  if (buffer !== wordBuffer) {
    wordBuffer = buffer;
    wordView = new Int32Array(buffer, 0, buffer.byteLength >> 2);
  }
  return wordView;
}

// Whether the byte at bytes[j] may be shown as it is (see isPlain); bytes
// after a lead byte are read without a bound, as valid UTF-8 has them.
function plainAt(bytes: Uint8Array, j: number, lineEnds: boolean): boolean {
  const b = bytes[j]!;
  if (b >= 0x20 && b < DEL) return true;
  if (b === TAB) return true;
  if (b < 0x20) return lineEnds && (b === NL || (b === CR && bytes[j + 1] === NL));
  if (b === DEL) return false;
  // C1 controls are U+0080..U+009F: C2 80..C2 9F.
  if (b === 0xc2) return bytes[j + 1]! >= 0xa0;
  // U+2028 and U+2029: E2 80 A8, E2 80 A9.
  if (b === 0xe2) {
    return !(bytes[j + 1] === 0x80 && (bytes[j + 2] === 0xa8 || bytes[j + 2] === 0xa9));
  }
  return true;
}

// The code point of the C1 control (C2 80..9F) or the U+2028 / U+2029
// (E2 80 A8 / A9) that starts at src[i], or 0 for anything else: what both
// formats escape beyond ASCII's controls. A C1 control takes 2 bytes, the
// separators 3.
function unsafeCodeAt(src: Uint8Array, i: number, end: number): number {
  const b = src[i];
  if (b === 0xc2) {
    const c = src[i + 1]!;
    return i + 1 < end && c >= 0x80 && c <= 0x9f ? c : 0;
  }
  if (b === 0xe2 && i + 2 < end && src[i + 1] === 0x80) {
    const c = src[i + 2];
    return c === 0xa8 ? 0x2028 : c === 0xa9 ? 0x2029 : 0;
  }
  return 0;
}

/**
 * Writes `src[start..end)` (one line, without its ending) into `out` at
 * `pos` as a text record shows it, and returns the end of what it wrote.
 * `out` needs room for {@linkcode TEXT_GROWTH} bytes per input byte plus
 * {@linkcode SGR_RESET}.
 *
 * @param valid whether the bytes are valid UTF-8 (then they are not checked)
 * @param colors let SGR sequences through, and reset them at the end
 *
 * @example
 * ```ts
 * import { escapeTextInto } from "./escape.ts";
 * const src = new Uint8Array([...new TextEncoder().encode("a\rb\x1b[2K\u2028"), 0xff]);
 * const out = new Uint8Array(64);
 * const end = escapeTextInto(src, 0, src.length, false, out, 0, false);
 * new TextDecoder().decode(out.subarray(0, end)); // "a\\rb\\x1b[2K\\u2028\\xff"
 * ```
 */
export function escapeTextInto(
  src: Uint8Array,
  start: number,
  end: number,
  valid: boolean,
  out: Uint8Array,
  pos: number,
  colors: boolean,
): number {
  let from = start;
  let sgr = false;
  let i = start;
  while (i < end) {
    const b = src[i]!;
    if ((b >= 0x20 && b < DEL) || b === TAB) {
      i++;
      continue;
    }
    if (b > DEL) {
      const n = valid ? leadLength(b) : utf8SequenceLength(src, i, end);
      if (n === 0) {
        pos = copyRun(src, from, i, out, pos);
        pos = hexEscape(b, out, pos);
        from = ++i;
      } else {
        const code = unsafeCodeAt(src, i, end);
        if (code !== 0) {
          pos = copyRun(src, from, i, out, pos);
          pos = unicodeEscape(code, out, pos);
          from = i += n;
        } else {
          i += n;
        }
      }
      continue;
    }
    if (colors && b === ESC) {
      const n = sgrLength(src, i, end);
      if (n > 0) {
        sgr = true;
        i += n;
        continue;
      }
    }
    pos = copyRun(src, from, i, out, pos);
    if (b === CR) {
      out[pos++] = BACKSLASH;
      out[pos++] = 0x72; // r
    } else {
      pos = hexEscape(b, out, pos);
    }
    from = ++i;
  }
  pos = copyRun(src, from, end, out, pos);
  if (sgr) {
    out.set(SGR_RESET, pos);
    pos += SGR_RESET.length;
  }
  return pos;
}

/**
 * Writes `src[start..end)` into `out` at `pos` as the inside of a JSON
 * string: `"`, `\` and control characters escaped, bytes that are not valid
 * UTF-8 as `\\xNN` (the text `\xNN`), everything else as it is. Returns the
 * end of what it wrote; `out` needs room for {@linkcode JSON_GROWTH} bytes
 * per input byte.
 *
 * @param valid whether the bytes are valid UTF-8 (then they are not checked)
 */
export function escapeJsonInto(
  src: Uint8Array,
  start: number,
  end: number,
  valid: boolean,
  out: Uint8Array,
  pos: number,
): number {
  if (valid) return escapeValidJsonInto(src.subarray(start, end), out, pos);
  let from = start;
  let i = start;
  while (i < end) {
    const b = src[i]!;
    if (b > DEL) {
      const n = utf8SequenceLength(src, i, end);
      const code = n > 0 ? unsafeCodeAt(src, i, end) : 0;
      if (code !== 0) {
        // See escapeValidJsonInto.
        pos = copyRun(src, from, i, out, pos);
        pos = unicodeEscape(code, out, pos);
        from = i += n;
        continue;
      }
      if (n > 0) {
        i += n;
        continue;
      }
      pos = copyRun(src, from, i, out, pos);
      out[pos++] = BACKSLASH;
      pos = hexEscape(b, out, pos);
    } else if (b >= 0x20 && b !== 0x22 && b !== BACKSLASH) {
      i++;
      continue;
    } else {
      pos = copyRun(src, from, i, out, pos);
      pos = jsonEscape(b, out, pos);
    }
    from = ++i;
  }
  return copyRun(src, from, end, out, pos);
}

// The hot loop of JSON output: valid text, three tests a byte, over a
// view from 0 to its length (which lets V8 drop the bounds checks).
function escapeValidJsonInto(src: Uint8Array, out: Uint8Array, pos: number): number {
  let from = 0;
  for (let i = 0; i < src.length; i++) {
    const b = src[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== BACKSLASH && b !== 0xe2 && b !== 0xc2) {
      continue;
    }
    // U+2028 and U+2029, and the C1 controls U+0080..U+009F (NEL among
    // them), are valid in JSON, but JavaScript before ES2019 and many line
    // splitters (Python's splitlines) take some of them for line ends, and
    // a terminal acts on the rest: escaped as in text.
    const code = b >= 0x80 ? unsafeCodeAt(src, i, src.length) : -1;
    if (code === 0) continue;
    if (i > from) {
      out.set(src.subarray(from, i), pos);
      pos += i - from;
    }
    if (code > 0) {
      pos = unicodeEscape(code, out, pos);
      i += code < 0x100 ? 1 : 2;
      from = i + 1;
      continue;
    }
    from = i + 1;
    pos = jsonEscape(b, out, pos);
  }
  if (from === 0) {
    out.set(src, pos);
    return pos + src.length;
  }
  out.set(src.subarray(from), pos);
  return pos + src.length - from;
}

// `\"`, `\\`, `\n`, `\t`, `\r` or `\u00NN`.
function jsonEscape(b: number, out: Uint8Array, pos: number): number {
  out[pos++] = BACKSLASH;
  if (b === 0x22 || b === BACKSLASH) out[pos++] = b;
  else if (b === NL) out[pos++] = 0x6e; // n
  else if (b === TAB) out[pos++] = 0x74; // t
  else if (b === CR) out[pos++] = 0x72; // r
  else {
    out[pos++] = 0x75; // u00NN
    out[pos++] = 0x30;
    out[pos++] = 0x30;
    out[pos++] = HEX[b >> 4]!;
    out[pos++] = HEX[b & 15]!;
  }
  return pos;
}

/**
 * Writes `bytes[start..end)` into `out` at `pos` with every byte that is
 * not part of a valid UTF-8 character as the four characters `\xNN`, and
 * returns the end of what it wrote. `out` needs room for
 * {@linkcode TEXT_GROWTH} bytes per input byte.
 */
export function escapeUtf8Into(
  bytes: Uint8Array,
  start: number,
  end: number,
  out: Uint8Array,
  pos: number,
): number {
  let from = start;
  let i = start;
  while (i < end) {
    const n = utf8SequenceLength(bytes, i, end);
    if (n > 0) {
      i += n;
      continue;
    }
    pos = copyRun(bytes, from, i, out, pos);
    pos = hexEscape(bytes[i]!, out, pos);
    from = ++i;
  }
  return copyRun(bytes, from, end, out, pos);
}

// Copies src[from..to) to out at pos; a short run byte by byte, so that
// escaping allocates nothing (a subarray is an object).
function copyRun(
  src: Uint8Array,
  from: number,
  to: number,
  out: Uint8Array,
  pos: number,
): number {
  if (to - from > 32) {
    out.set(src.subarray(from, to), pos);
    return pos + to - from;
  }
  while (from < to) out[pos++] = src[from++]!;
  return pos;
}

// `\xNN`.
function hexEscape(b: number, out: Uint8Array, pos: number): number {
  out[pos++] = BACKSLASH;
  out[pos++] = 0x78; // x
  out[pos++] = HEX[b >> 4]!;
  out[pos++] = HEX[b & 15]!;
  return pos;
}

// `\uNNNN`.
function unicodeEscape(code: number, out: Uint8Array, pos: number): number {
  out[pos++] = BACKSLASH;
  out[pos++] = 0x75; // u
  out[pos++] = HEX[(code >> 12) & 15]!;
  out[pos++] = HEX[(code >> 8) & 15]!;
  out[pos++] = HEX[(code >> 4) & 15]!;
  out[pos++] = HEX[code & 15]!;
  return pos;
}

// The length of an SGR sequence at src[i] (ESC [ digits ; : ... m), or 0
// when what starts there is anything else (it is escaped then).
function sgrLength(src: Uint8Array, i: number, end: number): number {
  if (i + 2 >= end || src[i + 1] !== 0x5b) return 0;
  for (let j = i + 2; j < end; j++) {
    const b = src[j]!;
    if (b === 0x6d) return j + 1 - i; // m
    if (!((b >= 0x30 && b <= 0x39) || b === 0x3b || b === 0x3a)) return 0;
  }
  return 0;
}

// The length of a character from its lead byte, in valid UTF-8.
function leadLength(b: number): number {
  return b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
}

/**
 * The length of the valid UTF-8 character at `bytes[i]`, or 0 when there is
 * none (a bad lead byte, a bad or missing continuation, an overlong form, a
 * surrogate, above U+10FFFF).
 */
export function utf8SequenceLength(bytes: Uint8Array, i: number, end: number): number {
  const b0 = bytes[i]!;
  if (b0 < 0x80) return 1;
  let n: number, lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) n = 2;
  else if (b0 >= 0xe0 && b0 <= 0xef) {
    n = 3;
    if (b0 === 0xe0) lo = 0xa0;
    if (b0 === 0xed) hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    n = 4;
    if (b0 === 0xf0) lo = 0x90;
    if (b0 === 0xf4) hi = 0x8f;
  } else return 0;
  if (i + n > end) return 0;
  const b1 = bytes[i + 1]!;
  if (b1 < lo || b1 > hi) return 0;
  for (let k = 2; k < n; k++) {
    const b = bytes[i + k]!;
    if (b < 0x80 || b > 0xbf) return 0;
  }
  return n;
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

/**
 * A string as a text record shows it: every control character but TAB
 * (line breaks included), DEL, the C1 controls and U+2028/U+2029 escaped,
 * so that it stays one line no terminal or line splitter can be fooled by.
 * For text that came from elsewhere (a tend server's answer, say) before
 * it is printed.
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape.ts";
 * escapeText("a\rb\x1b[2K"); // "a\\rb\\x1b[2K"
 * escapeText("fine\ttext"); // "fine\ttext"
 * ```
 */
export function escapeText(text: string): string {
  // The common case, nothing to escape, costs one test.
  // deno-lint-ignore no-control-regex
  if (!/[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/.test(text)) return text;
  const src = textEncoder.encode(text);
  const out = new Uint8Array(TEXT_GROWTH * src.length + SGR_RESET.length);
  return textDecoder.decode(
    out.subarray(0, escapeTextInto(src, 0, src.length, true, out, 0, false)),
  );
}
