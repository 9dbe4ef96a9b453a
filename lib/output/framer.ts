/**
 * Output framing: the bytes a child writes become lines (procmon's
 * `LoggingProtocol`).
 *
 * Rules: a line ends at `\n` (a `\r` before it is dropped too); a line
 * longer than {@linkcode MAX_LINE} bytes is handed on in pieces of at most
 * that size, cut on a UTF-8 character boundary where possible, so memory
 * stays bounded whatever a child writes; a last line without a newline is
 * handed on by {@linkcode LineFramer.end}. Bytes that are not valid UTF-8
 * are shown as `\xNN` by {@linkcode escapeUtf8}.
 *
 * This is tend's hot loop, so lines are passed as `(bytes, start, end)`
 * views into the chunk that was read, never copied or decoded here, and
 * UTF-8 validity (and, for a sink with the batch path, the absence of
 * control characters) is checked once per chunk rather than once per line.
 *
 * @module
 */

import { isUtf8 } from "node:buffer";
import type { OutputHandler } from "../core/ports.ts";
import { escapeUtf8Into, isPlain, TEXT_GROWTH } from "./escape.ts";

/** The longest line handed on in one piece, in bytes (64 KiB). */
export const MAX_LINE = 64 * 1024;

const NL = 0x0a;
const CR = 0x0d;

/** Receives the lines of one stream. */
export interface LineSink {
  /**
   * Takes one line: `bytes[start..end)`, without its line ending.
   *
   * @param valid `true` when those bytes are valid UTF-8; otherwise the
   * sink shows them with {@linkcode escapeUtf8}.
   * The bytes are only borrowed: they may change once this returns.
   */
  line(bytes: Uint8Array, start: number, end: number, valid: boolean): void;
  /**
   * Optional fast path: takes `count` lines at once, line `i` being
   * `bytes[starts[i]..ends[i])`, in order, each valid UTF-8 with no control
   * character but TAB (see {@linkcode isPlain}: nothing a text record would
   * escape) and at most `maxLine` long. A sink without it gets every line
   * through `line`. The bytes and arrays are only borrowed.
   */
  lines?(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, count: number): void;
}

// Lines handed to LineSink.lines at most at once.
const BATCH = 1024;

/**
 * Cuts a byte stream into lines for a {@linkcode LineSink}.
 *
 * @example
 * ```ts
 * import { LineFramer } from "./framer.ts";
 * const lines: string[] = [];
 * const framer = new LineFramer({
 *   line: (b, s, e) => lines.push(new TextDecoder().decode(b.subarray(s, e))),
 * });
 * framer.push(new TextEncoder().encode("hello\nwor"));
 * framer.push(new TextEncoder().encode("ld"));
 * framer.end();
 * // lines is ["hello", "world"]
 * ```
 */
export class LineFramer {
  /** Where lines go. Settable so a framer can exist before its sink does. */
  sink: LineSink;
  #max: number;
  // The start of a line that has not ended yet; allocated on first need.
  #carry: Uint8Array | null = null;
  #carryLen = 0;
  // Whether pieces of the carried line were handed on already, so that a
  // lone "\r" left of it at its end is the line ending, not an empty line.
  #continued = false;
  // Whether end() handed on a line whose "\r" was the last byte so far: a
  // "\n" coming next (the stream went on) completes that line ending.
  #endedOnCr = false;
  // Line bounds for LineSink.lines, allocated on first need.
  #starts: Int32Array | null = null;
  #ends: Int32Array | null = null;

  /**
   * @param sink receives every line
   * @param maxLine longest piece handed on at once @default MAX_LINE
   */
  constructor(sink: LineSink, maxLine: number = MAX_LINE) {
    if (maxLine < 4) {
      throw new RangeError(`Cannot frame lines: maxLine ${maxLine} is below 4`);
    }
    this.sink = sink;
    this.#max = maxLine;
  }

  /** Bytes held back waiting for the end of their line (at most `maxLine`). */
  get pending(): number {
    return this.#carryLen;
  }

  /** Takes the next chunk of the stream. The chunk is not kept. */
  push(chunk: Uint8Array): void {
    if (this.#endedOnCr && chunk.length > 0) {
      this.#endedOnCr = false;
      if (chunk[0] === NL) chunk = chunk.subarray(1);
    }
    let pos = 0;
    const len = chunk.length;
    if (this.#carryLen > 0) {
      const nl = chunk.indexOf(NL);
      if (nl === -1) {
        this.#append(chunk, 0, len);
        return;
      }
      this.#append(chunk, 0, nl);
      this.#emitCarry();
      pos = nl + 1;
    }
    const last = chunk.lastIndexOf(NL);
    if (last >= pos) {
      // A newline byte is never part of a multi-byte character, so when the
      // region of whole lines is valid, every line in it is; and when the
      // region holds no control character, no line does.
      const allValid = isUtf8(
        pos === 0 && last + 1 === len ? chunk : chunk.subarray(pos, last),
      );
      pos = allValid && this.sink.lines && isPlain(chunk, pos, last, true)
        ? this.#batch(chunk, pos, last)
        : this.#oneByOne(chunk, pos, last, allValid);
    }
    // The unfinished tail: whole pieces now, the rest carried over.
    while (len - pos > this.#max) {
      pos = this.#emitPiece(chunk, pos, len);
      this.#continued = true;
    }
    if (pos < len) this.#append(chunk, pos, len);
  }

  // Hands on the complete lines of chunk[pos..last] (last is a newline) one
  // by one; returns where the rest of the chunk starts.
  #oneByOne(chunk: Uint8Array, pos: number, last: number, allValid: boolean): number {
    const sink = this.sink;
    const max = this.#max;
    while (pos <= last) {
      const nl = chunk.indexOf(NL, pos);
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      if (end - pos <= max) {
        sink.line(chunk, pos, end, allValid || isUtf8(chunk.subarray(pos, end)));
      } else {
        this.#emitLong(chunk, pos, end);
      }
      pos = nl + 1;
    }
    return pos;
  }

  // The same for valid text and a sink with the batch fast path: bounds are
  // gathered and handed on up to BATCH lines at a time.
  #batch(chunk: Uint8Array, pos: number, last: number): number {
    const sink = this.sink;
    const max = this.#max;
    const starts = this.#starts ??= new Int32Array(BATCH);
    const ends = this.#ends ??= new Int32Array(BATCH);
    let n = 0;
    while (pos <= last) {
      const nl = chunk.indexOf(NL, pos);
      let end = nl;
      if (end > pos && chunk[end - 1] === CR) end--;
      if (end - pos > max) {
        if (n > 0) sink.lines!(chunk, starts, ends, n);
        n = 0;
        this.#emitLong(chunk, pos, end);
      } else {
        starts[n] = pos;
        ends[n] = end;
        if (++n === BATCH) {
          sink.lines!(chunk, starts, ends, n);
          n = 0;
        }
      }
      pos = nl + 1;
    }
    if (n > 0) sink.lines!(chunk, starts, ends, n);
    return pos;
  }

  /** The stream ended: hands on a last line that had no newline. */
  end(): void {
    if (this.#carryLen === 0) return;
    this.#endedOnCr = this.#carry![this.#carryLen - 1] === CR;
    this.#emitCarry();
  }

  // Emits bytes[start..end) as one line or several pieces.
  #emitLong(bytes: Uint8Array, start: number, end: number): void {
    while (end - start > this.#max) start = this.#emitPiece(bytes, start, end);
    this.sink.line(bytes, start, end, isUtf8(bytes.subarray(start, end)));
  }

  // Emits one piece of at most `max` bytes from bytes[start..end), where
  // end - start >= max; returns where the next piece starts.
  #emitPiece(bytes: Uint8Array, start: number, end: number): number {
    const cut = utf8Boundary(bytes, start, Math.min(start + this.#max, end));
    this.sink.line(bytes, start, cut, isUtf8(bytes.subarray(start, cut)));
    return cut;
  }

  #emitCarry(): void {
    const carry = this.#carry!;
    let end = this.#carryLen;
    if (carry[end - 1] === CR) end--;
    this.#carryLen = 0;
    const continued = this.#continued;
    this.#continued = false;
    if (end === 0 && continued) return;
    this.sink.line(carry, 0, end, isUtf8(carry.subarray(0, end)));
  }

  // Adds bytes[start..end) to the carried partial line, handing on full
  // pieces so the carry never holds more than `max` bytes.
  #append(bytes: Uint8Array, start: number, end: number): void {
    const max = this.#max;
    this.#carry ??= new Uint8Array(max);
    const carry = this.#carry;
    while (start < end) {
      const room = max - this.#carryLen;
      const n = Math.min(room, end - start);
      carry.set(bytes.subarray(start, start + n), this.#carryLen);
      this.#carryLen += n;
      start += n;
      if (this.#carryLen === max && start < end) {
        // Full and more to come: hand on a piece, keep the cut-off tail of a
        // character (at most 3 bytes) for the next piece.
        const cut = utf8Boundary(carry, 0, max);
        this.sink.line(carry, 0, cut, isUtf8(carry.subarray(0, cut)));
        carry.copyWithin(0, cut, max);
        this.#carryLen = max - cut;
        this.#continued = true;
      }
    }
  }
}

/**
 * Moves a cut point back to the start of the UTF-8 character it splits, if
 * it splits one: when the last lead byte before `cut` starts a character
 * longer than what is left before `cut`. Never returns `start` or less.
 */
function utf8Boundary(bytes: Uint8Array, start: number, cut: number): number {
  for (let i = cut - 1; i >= cut - 3 && i > start; i--) {
    const b = bytes[i]!;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return i + need > cut ? i : cut;
  }
  return cut;
}

/**
 * Returns `bytes[start..end)` as valid UTF-8, with every byte that is not
 * part of a valid character written as the four ASCII characters `\xNN`.
 *
 * Valid input is returned as a view, not copied; otherwise the result is
 * at most four times as long as the input (the log escapes straight into
 * its own buffer instead, with {@linkcode escapeUtf8Into}).
 *
 * @example
 * ```ts
 * import { escapeUtf8 } from "./framer.ts";
 * const out = escapeUtf8(new Uint8Array([0xff, 0x68, 0x69]), 0, 3);
 * new TextDecoder().decode(out); // "\\xffhi"
 * ```
 */
export function escapeUtf8(bytes: Uint8Array, start: number, end: number): Uint8Array {
  if (isUtf8(bytes.subarray(start, end))) return bytes.subarray(start, end);
  const out = new Uint8Array(TEXT_GROWTH * (end - start));
  return out.subarray(0, escapeUtf8Into(bytes, start, end, out, 0));
}

/**
 * The handler for one child's stream: bytes are framed into lines for
 * `lines`, and each write hands back `backpressure()`, so the reader waits
 * while the log is congested.
 *
 * @example
 * ```ts
 * import { framedOutput } from "./framer.ts";
 * const seen: number[] = [];
 * const out = framedOutput({ line: (_b, s, e) => seen.push(e - s) }, () => undefined);
 * out.write(new TextEncoder().encode("abc\nde"));
 * out.end();
 * // seen is [3, 2]
 * ```
 *
 * @param lines where the lines go
 * @param backpressure a promise while the destination is congested
 */
export function framedOutput(
  lines: LineSink,
  backpressure: () => Promise<void> | undefined,
): OutputHandler {
  const framer = new LineFramer(lines);
  return {
    write(chunk) {
      framer.push(chunk);
      return backpressure();
    },
    end: () => framer.end(),
  };
}

/**
 * A sink that hands every line to `first` and then to `second`, keeping
 * the batch fast path for each sink that has one (the output ring in
 * front of the log, say); `first` itself when there is no `second`.
 *
 * @example
 * ```ts
 * import { teeLines } from "./framer.ts";
 * const a: number[] = [], b: number[] = [];
 * const sink = teeLines({ line: (_b, s, e) => a.push(e - s) }, {
 *   line: (_b, s, e) => b.push(e - s),
 * });
 * sink.line(new Uint8Array(3), 0, 3, true);
 * // a and b are both [3]
 * ```
 */
export function teeLines(first: LineSink, second: LineSink | null): LineSink {
  // Nothing to tee (a process without a log probe, say): no cost at all.
  if (second === null) return first;
  return {
    line(bytes, start, end, valid) {
      first.line(bytes, start, end, valid);
      second.line(bytes, start, end, valid);
    },
    lines(bytes, starts, ends, count) {
      batchTo(first, bytes, starts, ends, count);
      batchTo(second, bytes, starts, ends, count);
    },
  };
}

function batchTo(
  sink: LineSink,
  bytes: Uint8Array,
  starts: Int32Array,
  ends: Int32Array,
  count: number,
): void {
  if (sink.lines) sink.lines(bytes, starts, ends, count);
  else for (let i = 0; i < count; i++) sink.line(bytes, starts[i]!, ends[i]!, true);
}
