/**
 * The WebAssembly framer (`framer.wat`, embedded by `framer_wasm.ts`): the
 * instance tend's framing and log encoding share, and the layout of its
 * memory.
 *
 * {@linkcode LineFramer} copies a window of a chunk into the module's
 * memory and has {@linkcode SimdFramer.frame} find the bounds of the lines
 * that can take the batch path; it hands them to its sink as usual, with
 * the window as the bytes. A log sink that gets lines living in this
 * memory then writes their records with {@linkcode SimdFramer.text} or
 * {@linkcode SimdFramer.json}, in one more pass over bytes still in cache,
 * and copies them into its buffer. Every other sink (the output ring, a log
 * probe) reads the same lines through the same batch contract.
 *
 * The memory is laid out once and never grows, so the views handed out
 * stay valid. One instance serves every framer of the process: calls are
 * synchronous, and a framer marks it {@linkcode SimdFramer.busy} while it
 * hands lines on, so that a framer pushed from inside a sink (none is
 * today) takes the JS path rather than overwrite the window.
 *
 * Where WebAssembly or its SIMD is not there (V8's `--lite-mode`, a CPU
 * without SSE4.1), {@linkcode SIMD} is `null` and everything stays on the
 * JS path.
 *
 * @module
 */

import { FRAMER_WASM } from "./framer_wasm.ts";

// Readable bytes kept after every region: 16-byte loads and stores may go
// up to 15 bytes past what they are for.
const SLACK = 64;

/** The longest record prefix the module is given (longer ones go the JS way). */
export const PREFIX_MAX = 4096 - SLACK;
/** The longest record suffix the module is given. */
export const SUFFIX_MAX = 256 - SLACK;
/** Bytes of a chunk framed at once (a bigger chunk goes in several windows). */
export const WINDOW = 128 * 1024;
/** Lines framed at once (bounds arrays' length). */
export const BOUNDS = 8192;

const PRE = 0;
const SUF = PREFIX_MAX + SLACK;
const IN = SUF + SUFFIX_MAX + SLACK;
const STARTS = IN + WINDOW + SLACK;
const ENDS = STARTS + 4 * BOUNDS;
const OUT = ENDS + 4 * BOUNDS;
// Room for the JSON record of a 64 KiB line at its worst (every byte
// \u00xx) in one go, with its prefix and suffix.
const OUT_SIZE = 400 * 1024;
const MEMORY = OUT + OUT_SIZE + SLACK;

/** Why {@linkcode SimdFramer.frame} stopped. */
export const STOP = {
  /** No `\n` before the window's end. */
  end: 0,
  /** {@linkcode BOUNDS} lines framed: hand them on and call again. */
  full: 1,
  /** The next line is longer than the longest line. */
  long: 2,
  /** The next line has a byte a record escapes, or is not valid UTF-8. */
  escape: 3,
} as const;

interface Exports {
  memory: WebAssembly.Memory;
  count: WebAssembly.Global;
  reason: WebAssembly.Global;
  out_pos: WebAssembly.Global;
  frame(
    inp: number,
    inEnd: number,
    max: number,
    starts: number,
    ends: number,
    cap: number,
    base: number,
  ): number;
  text(
    bytes: number,
    starts: number,
    ends: number,
    i: number,
    n: number,
    out: number,
    outEnd: number,
    pre: number,
    preLen: number,
  ): number;
  json(
    bytes: number,
    starts: number,
    ends: number,
    i: number,
    n: number,
    out: number,
    outEnd: number,
    pre: number,
    preLen: number,
    suf: number,
    sufLen: number,
  ): number;
  valid_utf8(p: number, end: number): number;
}

/** Where records are written: the log's buffer (see `Logger.reserve`). */
export interface RecordOut {
  /** Makes room for `n` more bytes and returns the buffer. */
  reserve(n: number): Uint8Array;
  /** The write position in that buffer. */
  readonly length: number;
  /** Marks bytes up to `end` as written. */
  commit(end: number): void;
}

/** One instance of the module, and its memory's regions. */
export class SimdFramer {
  /** The window a chunk is framed in; the bytes lines are handed on with. */
  readonly window: Uint8Array;
  /** Where {@linkcode frame} puts each line's start, relative to the window. */
  readonly starts: Int32Array;
  /** Where {@linkcode frame} puts each line's end, relative to the window. */
  readonly ends: Int32Array;
  /** Set while a framer hands lines from the window on. */
  busy = false;
  #x: Exports;
  #buffer: ArrayBuffer;
  #mem: Uint8Array;
  // What the prefix and suffix regions hold now (records of many sinks
  // share them; a sink's prefix is a new array whenever it changes).
  #prefix: Uint8Array | null = null;
  #suffix: Uint8Array | null = null;

  /** Instantiates `bytes` (the embedded module by default); throws where it cannot. */
  constructor(bytes: Uint8Array = FRAMER_WASM) {
    const module = new WebAssembly.Module(bytes as Uint8Array<ArrayBuffer>);
    this.#x = new WebAssembly.Instance(module, {}).exports as unknown as Exports;
    const memory = this.#x.memory;
    if (memory.buffer.byteLength < MEMORY) {
      memory.grow(Math.ceil((MEMORY - memory.buffer.byteLength) / 65536));
    }
    this.#buffer = memory.buffer as ArrayBuffer;
    this.#mem = new Uint8Array(this.#buffer);
    this.window = new Uint8Array(this.#buffer, IN, WINDOW);
    this.starts = new Int32Array(this.#buffer, STARTS, BOUNDS);
    this.ends = new Int32Array(this.#buffer, ENDS, BOUNDS);
  }

  /** Copies `chunk[from..to)` (at most {@linkcode WINDOW} bytes) into the window. */
  load(chunk: Uint8Array, from: number, to: number): void {
    const n = to - from;
    this.#mem.set(
      from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to),
      IN,
    );
    // Zeros after the window: a byte there is never taken for a "\n".
    this.#mem.fill(0, IN + n, IN + n + 16);
  }

  /**
   * Frames the window's lines from offset `at` to `end` (the loaded
   * length), lines being at most `max` bytes; returns the offset of the
   * first byte not framed. {@linkcode count} lines were framed into
   * {@linkcode starts} and {@linkcode ends}; {@linkcode reason} says why
   * it stopped.
   */
  frame(at: number, end: number, max: number): number {
    return this.#x.frame(
      IN + at,
      IN + end,
      Math.min(max, 1 << 30),
      STARTS,
      ENDS,
      BOUNDS,
      IN,
    ) - IN;
  }

  /** Lines the last {@linkcode frame} framed. */
  get count(): number {
    return this.#x.count.value as number;
  }

  /** Why the last {@linkcode frame} stopped. */
  get reason(): number {
    return this.#x.reason.value as number;
  }

  /**
   * Whether lines given as `bytes`, `starts` and `ends` live in this
   * module's memory (so that {@linkcode text} and {@linkcode json} can
   * write their records), and `prefix` and `suffix` fit.
   */
  holds(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    prefix: Uint8Array,
    suffix: Uint8Array | null = null,
  ): boolean {
    const buffer = this.#buffer;
    return bytes.buffer === buffer && starts.buffer === buffer &&
      ends.buffer === buffer && prefix.length <= PREFIX_MAX &&
      (suffix === null || suffix.length <= SUFFIX_MAX);
  }

  /**
   * Writes the text records `prefix + line + "\n"` of lines `i` to
   * `count - 1` into `out`, as many as fit in the output region at a
   * time; returns `count`, or a line whose record cannot fit at all (the
   * caller writes that one). The lines must be {@linkcode frame}'s (see
   * {@linkcode holds}): nothing in them is escaped.
   */
  text(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    i: number,
    count: number,
    prefix: Uint8Array,
    out: RecordOut,
  ): number {
    this.#setPrefix(prefix);
    const x = this.#x;
    const base = bytes.byteOffset;
    // Bounded: each round writes at least one line or stops.
    while (i < count) {
      const next = x.text(
        base,
        starts.byteOffset,
        ends.byteOffset,
        i,
        count,
        OUT,
        OUT + OUT_SIZE,
        PRE,
        prefix.length,
      );
      if (next === i) break;
      this.#copyOut(out);
      i = next;
    }
    return i;
  }

  /**
   * Writes the JSON records `prefix + escaped line + suffix` of lines `i`
   * to `count - 1` into `out`, as {@linkcode text} does.
   */
  json(
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    i: number,
    count: number,
    prefix: Uint8Array,
    suffix: Uint8Array,
    out: RecordOut,
  ): number {
    this.#setPrefix(prefix);
    if (this.#suffix !== suffix) {
      this.#mem.set(suffix, SUF);
      this.#suffix = suffix;
    }
    const x = this.#x;
    const base = bytes.byteOffset;
    while (i < count) {
      const next = x.json(
        base,
        starts.byteOffset,
        ends.byteOffset,
        i,
        count,
        OUT,
        OUT + OUT_SIZE,
        PRE,
        prefix.length,
        SUF,
        suffix.length,
      );
      if (next === i) break;
      this.#copyOut(out);
      i = next;
    }
    return i;
  }

  /** Whether `bytes` is valid UTF-8 by the module's validator (for tests). */
  isUtf8(bytes: Uint8Array): boolean {
    if (bytes.length > WINDOW) throw new RangeError("at most WINDOW bytes");
    this.#mem.set(bytes, IN);
    // Not zeros: the validator must not read past the end.
    this.#mem.fill(0xff, IN + bytes.length, IN + bytes.length + 16);
    return this.#x.valid_utf8(IN, IN + bytes.length) === 1;
  }

  #setPrefix(prefix: Uint8Array): void {
    if (this.#prefix === prefix) return;
    this.#mem.set(prefix, PRE);
    this.#prefix = prefix;
  }

  #copyOut(out: RecordOut): void {
    const len = (this.#x.out_pos.value as number) - OUT;
    const buf = out.reserve(len);
    const at = out.length;
    buf.set(this.#mem.subarray(OUT, OUT + len), at);
    out.commit(at + len);
  }
}

/**
 * Instantiates the module, or returns `null` where WebAssembly or its
 * SIMD is not there (or `bytes` is not a module that works).
 */
export function loadSimdFramer(bytes: Uint8Array = FRAMER_WASM): SimdFramer | null {
  try {
    return new SimdFramer(bytes);
  } catch {
    return null;
  }
}

/** The process's instance, or `null`: then tend frames and encodes in JS. */
export const SIMD: SimdFramer | null = typeof WebAssembly === "object"
  ? loadSimdFramer()
  : null;
