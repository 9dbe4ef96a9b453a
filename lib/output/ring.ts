/**
 * Recent output per process, for `tend logs`: the last 1,000 lines and at
 * most 1 MiB of each process, with when each line was captured, its
 * stream and its pid; and followers that read new lines as they come.
 *
 * Every line a child prints passes through here as well as through the
 * log, so storing one costs no allocation: each process has a circular
 * byte buffer (grown by doubling from 4 KiB, so an idle process costs
 * little) and a circular index of typed arrays (start, length, time,
 * sequence number, pid, stream). The batch path of {@linkcode LineSink}
 * copies a whole run of lines into the buffer at once, the line endings
 * between them included, and only writes numbers into the index per line.
 *
 * Followers never hold lines themselves: each keeps a cursor (a line
 * number) per process and reads from the rings when it has room. A
 * follower that falls further behind than a ring holds finds its cursor
 * before the oldest line kept, and is told how many lines it lost; tend's
 * memory and the children's speed do not depend on how fast anyone reads.
 *
 * @module
 */

import type { OutputStream } from "../core/ports.ts";
import { escapeUtf8, type LineSink } from "./framer.ts";

/** Lines kept per process. */
export const RING_LINES = 1000;
/** Bytes kept per process (line endings between lines included). */
export const RING_BYTES = 1024 * 1024;

// The smallest buffers a process starts with; each doubles when full.
const MIN_BYTES = 4096;
const MIN_SLOTS = 64;

const STREAMS: readonly OutputStream[] = ["stdout", "stderr"];
const decoder = new TextDecoder();
const EMPTY = new Uint8Array(0);

/** How an {@linkcode OutputRing} bounds each process's lines. */
export interface RingOptions {
  /** Lines kept per process. @default RING_LINES */
  maxLines?: number;
  /** Bytes kept per process. @default RING_BYTES */
  maxBytes?: number;
  /** Wall-clock milliseconds, for capture times. @default Date.now */
  now?: () => number;
}

/** One line read back from a ring. */
export interface KeptLine {
  /** The process's name. */
  process: string;
  /** The stream it came on. */
  stream: OutputStream;
  /** The pid of the child that wrote it. */
  pid: number;
  /** When it was captured, in wall-clock milliseconds. */
  time: number;
  /** Its place in the order of every line of every process. */
  seq: number;
  /** The line, without its ending; invalid UTF-8 shown as `\xNN`. */
  text: string;
}

/** What a follower reads: a line, or how many lines of a process it missed. */
export type FollowItem =
  | ({ kind: "line" } & KeptLine)
  | { kind: "lost"; process: string; count: number };

/**
 * The last lines of one process. Line numbers count every line the process
 * ever wrote under this ring; the ring holds lines `first` to `end - 1`.
 */
export class ProcessRing {
  /** The process's name. */
  readonly name: string;
  #store: OutputRing;
  #maxLines: number;
  #maxBytes: number;
  // Bytes: absolute offsets count every byte ever stored; the byte at
  // absolute offset `a` is at buf[(a - base) % buf.length].
  #buf: Uint8Array = new Uint8Array(0);
  #base = 0;
  #head = 0;
  // The index: line n is at slot (n - slotBase) % slots.
  #slots = 0;
  #slotBase = 0;
  #starts = new Float64Array(0);
  #lens = new Int32Array(0);
  #times = new Float64Array(0);
  #seqs = new Float64Array(0);
  #pids = new Int32Array(0);
  #streams = new Uint8Array(0);
  #first = 0;
  #end = 0;
  /** Whether the process was removed; set by {@linkcode OutputRing.forget}. */
  forgotten = false;

  /** Builds an empty ring; {@linkcode OutputRing} does. */
  constructor(store: OutputRing, name: string, maxLines: number, maxBytes: number) {
    this.#store = store;
    this.name = name;
    this.#maxLines = maxLines;
    this.#maxBytes = maxBytes;
  }

  /** The number of the oldest line kept. */
  get first(): number {
    return this.#first;
  }

  /** The number the next line will get. */
  get end(): number {
    return this.#end;
  }

  /** Bytes the ring holds now, line endings between lines included. */
  get bytes(): number {
    return this.#first === this.#end ? 0 : this.#head - this.#startOf(this.#first);
  }

  /** Bytes allocated for its buffer. */
  get capacity(): number {
    return this.#buf.length;
  }

  /** The sequence number of line `n` (which must be kept). */
  seqOf(n: number): number {
    return this.#seqs[this.#slot(n)]!;
  }

  /** Line `n`, which must be kept (`first <= n < end`). */
  read(n: number): KeptLine {
    const slot = this.#slot(n);
    return {
      process: this.name,
      stream: STREAMS[this.#streams[slot]!]!,
      pid: this.#pids[slot]!,
      time: this.#times[slot]!,
      seq: this.#seqs[slot]!,
      text: decoder.decode(this.#bytesOf(this.#starts[slot]!, this.#lens[slot]!)),
    };
  }

  /** Stores one line: `bytes[start..end)`. */
  put(
    pid: number,
    stream: number,
    bytes: Uint8Array,
    start: number,
    end: number,
    valid: boolean,
  ): void {
    if (!valid) {
      bytes = escapeUtf8(bytes, start, end);
      start = 0;
      end = bytes.length;
    }
    const len = end - start;
    if (len > this.#maxBytes) {
      // Cannot happen with tend's framer (64 KiB pieces); keep the limit anyway.
      start = end - this.#maxBytes;
    }
    const at = this.#reserveBytes(end - start);
    this.#copyIn(bytes, start, end);
    this.#index(
      at,
      end - start,
      this.#store.now(),
      this.#store.nextSeq(1),
      pid,
      stream,
    );
    this.#store.wake();
  }

  /** Stores a batch of valid lines; see {@linkcode LineSink.lines}. */
  putAll(
    pid: number,
    stream: number,
    bytes: Uint8Array,
    starts: Int32Array,
    ends: Int32Array,
    count: number,
  ): void {
    // Lines a batch holds beyond what the ring keeps would be evicted at
    // once: count them as written, store only the rest.
    let skip = count - this.#maxLines;
    if (skip > 0) {
      this.#end += skip;
      this.#first = this.#end;
      this.#store.nextSeq(skip);
    } else {
      skip = 0;
    }
    const from = starts[skip]!;
    const to = ends[count - 1]!;
    if (to - from > this.#maxBytes) {
      for (let i = skip; i < count; i++) {
        this.put(pid, stream, bytes, starts[i]!, ends[i]!, true);
      }
      return;
    }
    const time = this.#store.now();
    const at = this.#reserveBytes(to - from);
    this.#copyIn(bytes, from, to);
    const n = count - skip;
    this.#reserveSlots(n);
    // The slots run in at most two stretches (the index is circular).
    const first = this.#slot(this.#end);
    const split = Math.min(first + n, this.#slots);
    const seq = this.#store.nextSeq(n);
    const delta = at - from;
    this.#stretch(first, split, skip, seq, delta, starts, ends, time, pid, stream);
    if (split - first < n) {
      const done = split - first;
      this.#stretch(
        0,
        n - done,
        skip + done,
        seq + done,
        delta,
        starts,
        ends,
        time,
        pid,
        stream,
      );
    }
    this.#end += n;
    this.#store.wake();
  }

  // The hot loop: index slots [a, b) get lines i, i + 1, ...: numbers into
  // typed arrays, no calls, no allocation; what is the same for the whole
  // batch is filled natively.
  #stretch(
    a: number,
    b: number,
    i: number,
    seq: number,
    delta: number,
    starts: Int32Array,
    ends: Int32Array,
    time: number,
    pid: number,
    stream: number,
  ): void {
    const lineStarts = this.#starts, lens = this.#lens, seqs = this.#seqs;
    this.#times.fill(time, a, b);
    this.#pids.fill(pid, a, b);
    this.#streams.fill(stream, a, b);
    for (let slot = a; slot < b; slot++, i++) {
      const start = starts[i]!;
      lineStarts[slot] = delta + start;
      lens[slot] = ends[i]! - start;
      seqs[slot] = seq++;
    }
  }

  #slot(n: number): number {
    return (n - this.#slotBase) % this.#slots;
  }

  #startOf(n: number): number {
    return this.#starts[this.#slot(n)]!;
  }

  // Makes room for `n` more bytes at the head, growing the buffer up to
  // maxBytes and then evicting the oldest lines; returns where they go.
  #reserveBytes(n: number): number {
    const head = this.#head;
    const oldest = this.#first === this.#end ? head : this.#startOf(this.#first);
    const used = head - oldest;
    if (used + n <= this.#buf.length) return head;
    if (this.#buf.length < this.#maxBytes) {
      let size = Math.max(MIN_BYTES, this.#buf.length * 2);
      while (size < used + n) size *= 2;
      this.#growBytes(Math.min(size, this.#maxBytes), oldest, used);
      if (used + n <= this.#buf.length) return head;
    }
    // Full: the oldest lines go until the kept bytes start at `limit`.
    const limit = head + n - this.#buf.length;
    const starts = this.#starts;
    const slots = this.#slots;
    let slot = this.#slot(this.#first);
    while (this.#first < this.#end && starts[slot]! < limit) {
      this.#first++;
      if (++slot === slots) slot = 0;
    }
    return head;
  }

  // Makes room for `n` more lines in the index (n <= maxLines), growing it
  // up to maxLines and then evicting the oldest lines.
  #reserveSlots(n: number): void {
    const kept = this.#end - this.#first;
    if (kept + n <= this.#slots) return;
    if (this.#slots < this.#maxLines) this.#growSlots(kept + n);
    const over = this.#end - this.#first + n - this.#slots;
    if (over > 0) this.#first += over;
  }

  // Moves the bytes still kept to the start of a bigger buffer.
  #growBytes(size: number, oldest: number, used: number): void {
    const bigger = new Uint8Array(size);
    if (used > 0) bigger.set(this.#bytesOf(oldest, used));
    this.#buf = bigger;
    this.#base = oldest;
  }

  // Copies bytes[from..to) to the head, wrapping around the buffer's end.
  #copyIn(bytes: Uint8Array, from: number, to: number): void {
    const n = to - from;
    if (n === 0) return;
    const buf = this.#buf;
    const at = (this.#head - this.#base) % buf.length;
    const room = buf.length - at;
    if (n <= room) {
      buf.set(n === bytes.length ? bytes : bytes.subarray(from, to), at);
    } else {
      buf.set(bytes.subarray(from, from + room), at);
      buf.set(bytes.subarray(from + room, to), 0);
    }
    this.#head += n;
  }

  // The `len` bytes at absolute offset `start`, copied if they wrap.
  #bytesOf(start: number, len: number): Uint8Array {
    if (len === 0) return EMPTY;
    const buf = this.#buf;
    const at = (start - this.#base) % buf.length;
    if (at + len <= buf.length) return buf.subarray(at, at + len);
    const out = new Uint8Array(len);
    out.set(buf.subarray(at));
    out.set(buf.subarray(0, len - (buf.length - at)), buf.length - at);
    return out;
  }

  // Adds one line to the index.
  #index(
    start: number,
    len: number,
    time: number,
    seq: number,
    pid: number,
    stream: number,
  ): void {
    this.#reserveSlots(1);
    const slot = this.#slot(this.#end++);
    this.#starts[slot] = start;
    this.#lens[slot] = len;
    this.#times[slot] = time;
    this.#seqs[slot] = seq;
    this.#pids[slot] = pid;
    this.#streams[slot] = stream;
  }

  #growSlots(need: number): void {
    let size = Math.max(MIN_SLOTS, this.#slots * 2);
    while (size < need) size *= 2;
    size = Math.min(this.#maxLines, size);
    const starts = new Float64Array(size);
    const lens = new Int32Array(size);
    const times = new Float64Array(size);
    const seqs = new Float64Array(size);
    const pids = new Int32Array(size);
    const streams = new Uint8Array(size);
    for (let n = this.#first, i = 0; n < this.#end; n++, i++) {
      const slot = this.#slot(n);
      starts[i] = this.#starts[slot]!;
      lens[i] = this.#lens[slot]!;
      times[i] = this.#times[slot]!;
      seqs[i] = this.#seqs[slot]!;
      pids[i] = this.#pids[slot]!;
      streams[i] = this.#streams[slot]!;
    }
    this.#starts = starts;
    this.#lens = lens;
    this.#times = times;
    this.#seqs = seqs;
    this.#pids = pids;
    this.#streams = streams;
    this.#slots = size;
    this.#slotBase = this.#first;
  }
}

/**
 * Every process's recent output, and the followers reading it.
 *
 * @example
 * ```ts
 * import { OutputRing } from "./ring.ts";
 * const ring = new OutputRing({ maxLines: 2 });
 * const sink = ring.lines("web", 42, "stdout");
 * for (const text of ["one", "two", "three"]) {
 *   const bytes = new TextEncoder().encode(text);
 *   sink.line(bytes, 0, bytes.length, true);
 * }
 * ring.tail(["web"], 10).map((l) => l.text); // ["two", "three"]
 * ```
 */
export class OutputRing {
  #rings = new Map<string, ProcessRing>();
  #followers = new Set<RingFollower>();
  #maxLines: number;
  #maxBytes: number;
  #now: () => number;
  #seq = 0;
  #waking = false;

  /** Builds an empty store. */
  constructor(options: RingOptions = {}) {
    this.#maxLines = options.maxLines ?? RING_LINES;
    this.#maxBytes = options.maxBytes ?? RING_BYTES;
    this.#now = options.now ?? Date.now;
    if (!(this.#maxLines >= 1) || !(this.#maxBytes >= 1)) {
      throw new RangeError(
        "Cannot build an output ring: its limits must be at least 1",
      );
    }
  }

  /**
   * The sink for the lines one child writes to one stream; lines go into
   * the ring of process `name`, created on first need.
   */
  lines(name: string, pid: number, stream: OutputStream): LineSink {
    const ring = this.ring(name);
    const code = stream === "stdout" ? 0 : 1;
    return {
      line: (bytes, start, end, valid) => ring.put(pid, code, bytes, start, end, valid),
      lines: (bytes, starts, ends, count) =>
        ring.putAll(pid, code, bytes, starts, ends, count),
    };
  }

  /** The ring of process `name`, created (and shown to followers) if need be. */
  ring(name: string): ProcessRing {
    let ring = this.#rings.get(name);
    if (ring === undefined) {
      ring = new ProcessRing(this, name, this.#maxLines, this.#maxBytes);
      this.#rings.set(name, ring);
      for (const follower of this.#followers) follower.added(ring);
    }
    return ring;
  }

  /**
   * Drops the ring of a removed process: a process added later under the
   * same name starts afresh. Lines its last child still writes go to the
   * old ring, which followers drain and then let go.
   */
  forget(name: string): void {
    const ring = this.#rings.get(name);
    if (ring === undefined) return;
    ring.forgotten = true;
    this.#rings.delete(name);
  }

  /** The names of the processes that have a ring. */
  names(): string[] {
    return [...this.#rings.keys()];
  }

  /**
   * The last `n` lines of each named process (every process for `null`),
   * merged in the order they were written.
   */
  tail(names: readonly string[] | null, n: number): KeptLine[] {
    return this.reader(names, n).take(Infinity).flatMap((item) =>
      item.kind === "line" ? [lineOf(item)] : []
    );
  }

  /**
   * A reader of the last `n` lines of each named process (every process
   * for `null`) as they are now: it reads in pieces, like a follower, but
   * stops at the lines the rings held when it was made (and is
   * {@linkcode RingFollower.done} then), so a long answer needs no copy.
   */
  reader(names: readonly string[] | null, n: number): RingFollower {
    return new RingFollower(this, names, n, null);
  }

  /**
   * Starts following the named processes (`null`: every process, those
   * added later included), from each one's last `n` lines. `wake` is
   * called (at most once per turn of the event loop) when new lines may
   * be there to {@linkcode RingFollower.take}.
   */
  follow(names: readonly string[] | null, n: number, wake: () => void): RingFollower {
    const follower = new RingFollower(this, names, n, wake);
    this.#followers.add(follower);
    return follower;
  }

  /** The number of followers, for tests and limits. */
  get followers(): number {
    return this.#followers.size;
  }

  /** Wall-clock milliseconds now. */
  now(): number {
    return this.#now();
  }

  /** Hands out `n` sequence numbers; returns the first. */
  nextSeq(n: number): number {
    const seq = this.#seq;
    this.#seq += n;
    return seq;
  }

  /** New lines were stored: wakes the followers once this turn is over. */
  wake(): void {
    if (this.#waking || this.#followers.size === 0) return;
    this.#waking = true;
    queueMicrotask(() => {
      this.#waking = false;
      for (const follower of [...this.#followers]) follower.wake();
    });
  }

  /** Stops telling `follower` about new lines. */
  unfollow(follower: RingFollower): void {
    this.#followers.delete(follower);
  }

  /** The rings a follower starts with. */
  current(): ProcessRing[] {
    return [...this.#rings.values()];
  }
}

function lineOf(item: { kind: "line" } & KeptLine): KeptLine {
  const { kind: _, ...line } = item;
  return line;
}

/**
 * A reader of new lines across processes: see {@linkcode OutputRing.follow}.
 * It holds a cursor per process, never lines.
 */
export class RingFollower {
  #store: OutputRing;
  #names: ReadonlySet<string> | null;
  #cursors = new Map<ProcessRing, number>();
  // For a reader (no wake): where each ring ended when it was made.
  #limits: Map<ProcessRing, number> | null;
  #wake: (() => void) | null;
  #closed = false;

  /**
   * Builds a follower (see {@linkcode OutputRing.follow}), or, with no
   * `wake`, a reader (see {@linkcode OutputRing.reader}).
   */
  constructor(
    store: OutputRing,
    names: readonly string[] | null,
    n: number,
    wake: (() => void) | null,
  ) {
    this.#store = store;
    this.#names = names === null ? null : new Set(names);
    this.#wake = wake;
    this.#limits = wake === null ? new Map() : null;
    for (const ring of store.current()) {
      if (this.#names === null || this.#names.has(ring.name)) {
        this.#cursors.set(ring, Math.max(ring.first, ring.end - Math.max(0, n)));
        this.#limits?.set(ring, ring.end);
      }
    }
  }

  /** Whether a reader has read all it was made for (never, for a follower). */
  get done(): boolean {
    if (this.#limits === null) return false;
    for (const [ring, cursor] of this.#cursors) {
      if (cursor < this.#stop(ring)) return false;
    }
    return true;
  }

  // Where reading a ring stops: its end, or for a reader its end back then.
  #stop(ring: ProcessRing): number {
    return Math.min(ring.end, this.#limits?.get(ring) ?? Infinity);
  }

  /** A ring was created: a process this follower reads gets one from its start. */
  added(ring: ProcessRing): void {
    if (this.#limits !== null) return;
    if (this.#names === null || this.#names.has(ring.name)) {
      this.#cursors.set(ring, ring.first);
    }
  }

  /** Called by the store when new lines were stored. */
  wake(): void {
    if (!this.#closed) this.#wake?.();
  }

  /** Whether a line is waiting (or lines were lost). */
  get pending(): boolean {
    for (const [ring, cursor] of this.#cursors) {
      if (cursor < this.#stop(ring)) return true;
    }
    return false;
  }

  /**
   * Up to `max` lines, oldest first across processes, each process's lost
   * lines (those its ring dropped before this follower read them) counted
   * first.
   */
  take(max: number): FollowItem[] {
    const items: FollowItem[] = [];
    for (const [ring, cursor] of this.#cursors) {
      if (cursor < ring.first) {
        items.push({ kind: "lost", process: ring.name, count: ring.first - cursor });
        this.#cursors.set(ring, ring.first);
      }
    }
    let lines = 0;
    while (lines < max) {
      let best: ProcessRing | null = null;
      let bestSeq = Infinity;
      for (const [ring, cursor] of this.#cursors) {
        if (cursor >= this.#stop(ring)) continue;
        const seq = ring.seqOf(cursor);
        if (seq < bestSeq) {
          bestSeq = seq;
          best = ring;
        }
      }
      if (best === null) break;
      const cursor = this.#cursors.get(best)!;
      items.push({ kind: "line", ...best.read(cursor) });
      this.#cursors.set(best, cursor + 1);
      lines++;
    }
    // A removed process's ring, read to its end, is let go.
    for (const [ring, cursor] of this.#cursors) {
      if (ring.forgotten && cursor >= ring.end) this.#cursors.delete(ring);
    }
    return items;
  }

  /** Stops following; the store forgets this follower. */
  close(): void {
    this.#closed = true;
    this.#store.unfollow(this);
  }
}
