/**
 * What a record shows for bytes that are not valid UTF-8, written as
 * escapes straight into the log's buffer.
 *
 * Bytes that are not valid UTF-8 are shown as `\xNN` in both formats; JSON
 * records also escape `"`, `\` and control characters the JSON way.
 *
 * Every escape is written into room the caller reserved, at most
 * {@linkcode TEXT_GROWTH} (text) or {@linkcode JSON_GROWTH} (JSON) bytes per
 * input byte, so what a child prints costs memory in proportion to one
 * piece of a line, never an array that grows with it (a child writing a
 * gigabyte of invalid bytes once took tend past 400 MB that way).
 *
 * @module
 */

/** The most bytes {@linkcode escapeUtf8Into} writes per input byte (`\xNN`). */
export const TEXT_GROWTH = 4;

/** The most bytes {@linkcode escapeJsonInto} writes per input byte (`\u00NN`). */
export const JSON_GROWTH = 6;

const HEX = new TextEncoder().encode("0123456789abcdef");
const BACKSLASH = 0x5c;
const NL = 0x0a;
const CR = 0x0d;
const TAB = 0x09;
const DEL = 0x7f;

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
  let from = start;
  let i = start;
  while (i < end) {
    const b = src[i]!;
    if (b >= 0x20 && b !== 0x22 && b !== BACKSLASH) {
      if (b <= DEL || valid) {
        i++;
        continue;
      }
      const n = utf8SequenceLength(src, i, end);
      if (n > 0) {
        i += n;
        continue;
      }
      pos = copyRun(src, from, i, out, pos);
      out[pos++] = BACKSLASH;
      pos = hexEscape(b, out, pos);
      from = ++i;
      continue;
    }
    pos = copyRun(src, from, i, out, pos);
    out[pos++] = BACKSLASH;
    if (b === 0x22 || b === BACKSLASH) out[pos++] = b;
    else if (b === NL) out[pos++] = 0x6e; // \n
    else if (b === TAB) out[pos++] = 0x74; // \t
    else if (b === CR) out[pos++] = 0x72; // \r
    else {
      out[pos++] = 0x75; // \u00XX
      out[pos++] = 0x30;
      out[pos++] = 0x30;
      out[pos++] = HEX[b >> 4]!;
      out[pos++] = HEX[b & 15]!;
    }
    from = ++i;
  }
  return copyRun(src, from, end, out, pos);
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
