/**
 * Recent output per process, for `tend logs`: the last 1,000 lines and at
 * most 1 MiB of each process, with when each line was captured, its
 * stream and its pid; and followers that read new lines as they come.
 *
 * Every line a child prints passes through here as well as through the
 * log, so storing lines costs as little as copying them: each process has
 * a circular byte buffer (grown by doubling from 4 KiB, so an idle process
 * costs little) and a circular table of typed arrays with one record per
 * *batch* of lines (where its bytes are, how many lines, when, which pid
 * and stream, the first line's sequence number), not one per line. The
 * batch path of {@linkcode LineSink} copies a whole run of lines into the
 * buffer at once, the line endings between them included; where one line
 * ends is found again when someone reads (a `\n`, with a `\r` before it
 * dropped, exactly as the framer cut them). Each batch is stored in one
 * piece (a batch that would wrap starts over at the buffer's start), so
 * reading never has to join two pieces.
 *
 * Eviction keeps exactly the last 1,000 lines (a partly evicted batch
 * just starts later) and never more than 1 MiB: when bytes run short, the
 * oldest batch loses lines from its front (found with one `indexOf` each;
 * only long lines get there, as 1,000 short ones fit) until there is room.
 * The room a batch leaves unused at the buffer's end is counted as used,
 * so the bytes kept are within a batch of the limit, never over it.
 *
 * Followers never hold lines themselves: each keeps a position (a line
 * number, and where that line is) per process and reads from the rings when it has room. A
 * follower that falls further behind than a ring holds finds its cursor
 * before the oldest line kept, and is told how many lines it lost; tend's
 * memory and the children's speed do not depend on how fast anyone reads.
 *
 * @module
 */

import type { OutputStream } from "../core/ports.ts";
import { escapeUtf8Into, TEXT_GROWTH } from "./escape.ts";
import type { LineSink } from "./framer.ts";

// Where invalid UTF-8 is escaped before it is stored (see OutputRing.put).
let scratch = new Uint8Array(0);

/** Lines kept per process. */
export const RING_LINES = 1000;
/** Bytes kept per process (line endings between lines included). */
export const RING_BYTES = 1024 * 1024;

// The smallest buffers a process starts with; each doubles when full.
const MIN_BYTES = 4096;
const MIN_SLOTS = 16;

const STREAMS: readonly OutputStream[] = ["stdout", "stderr"];
const decoder = new TextDecoder();

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

/** Where a reader is in a ring: line `line`, in batch `batch`, at byte `at`. */
export interface RingPos {
  /** The line number. */
  line: number;
  /** The batch that holds it (or will: the next one, at the ring's end). */
  batch: number;
  /** The line's first byte (absolute offset), or -1 before its batch came. */
  at: number;
}

/**
 * The last lines of one process. Line numbers count every line the process
 * ever wrote under this ring; the ring holds lines `first` to `end - 1`.
 * Batch numbers likewise: it holds batches `firstBatch` to `endBatch - 1`.
 */
export class ProcessRing {
  /** The process's name. */
  readonly name: string;
  #store: OutputRing;
  #maxLines: number;
  #maxBytes: number;
  // Bytes: absolute offsets count every byte ever stored (and the padding
  // skipped at the buffer's end); absolute offset `a` is at buf[(a - base) % length].
  #buf: Uint8Array = new Uint8Array(0);
  #base = 0;
  #head = 0;
  // The batch table: batch b is at slot (b - slotBase) % slots.
  #slots = 0;
  #slotBase = 0;
  #firstBatch = 0;
  #endBatch = 0;
  #bStart = new Float64Array(0);
  #bLen = new Int32Array(0);
  #bLine = new Float64Array(0);
  #bCount = new Int32Array(0);
  #bTime = new Float64Array(0);
  #bSeq = new Float64Array(0);
  #bPid = new Int32Array(0);
  #bStream = new Uint8Array(0);
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

  /** Bytes the ring holds now (line endings between lines included). */
  get bytes(): number {
    return this.#firstBatch === this.#endBatch
      ? 0
      : this.#head - this.#startOf(this.#firstBatch);
  }

  /** Bytes allocated for its buffer. */
  get capacity(): number {
    return this.#buf.length;
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
      // Escaped into one scratch buffer, reused: a flood of bad bytes must
      // not make garbage at four times its own rate.
      const need = TEXT_GROWTH * (end - start);
      if (scratch.length < need) scratch = new Uint8Array(need);
      end = escapeUtf8Into(bytes, start, end, scratch, 0);
      bytes = scratch;
      start = 0;
    }
    // Cannot happen with tend's framer (64 KiB pieces); keep the limit anyway.
    if (end - start > this.#maxBytes) start = end - this.#maxBytes;
    this.#append(bytes, start, end, 1, pid, stream);
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
      this.#dropBefore(this.#first);
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
    this.#append(bytes, from, to, count - skip, pid, stream);
  }

  // The hot path: one copy and one record, however many lines.
  #append(
    bytes: Uint8Array,
    from: number,
    to: number,
    count: number,
    pid: number,
    stream: number,
  ): void {
    const n = to - from;
    const at = this.#reserveBytes(n);
    if (n > 0) {
      const phys = (at - this.#base) % this.#buf.length;
      this.#buf.set(
        from === 0 && n === bytes.length ? bytes : bytes.subarray(from, to),
        phys,
      );
    }
    this.#head = at + n;
    if (this.#endBatch - this.#firstBatch === this.#slots) this.#growSlots();
    const slot = this.#slot(this.#endBatch++);
    this.#bStart[slot] = at;
    this.#bLen[slot] = n;
    this.#bLine[slot] = this.#end;
    this.#bCount[slot] = count;
    this.#bTime[slot] = this.#store.now();
    this.#bSeq[slot] = this.#store.nextSeq(count);
    this.#bPid[slot] = pid;
    this.#bStream[slot] = stream;
    this.#end += count;
    if (this.#end - this.#first > this.#maxLines) {
      this.#first = this.#end - this.#maxLines;
      this.#dropBefore(this.#first);
    }
    this.#store.wake();
  }

  #slot(b: number): number {
    return (b - this.#slotBase) % this.#slots;
  }

  #startOf(b: number): number {
    return this.#bStart[this.#slot(b)]!;
  }

  // Drops the batches whose every line is before line `first`.
  #dropBefore(first: number): void {
    while (this.#firstBatch < this.#endBatch) {
      const slot = this.#slot(this.#firstBatch);
      if (this.#bLine[slot]! + this.#bCount[slot]! > first) break;
      this.#firstBatch++;
    }
  }

  // Drops the oldest batch, for room.
  #dropOldest(): void {
    const slot = this.#slot(this.#firstBatch++);
    this.#first = Math.max(this.#first, this.#bLine[slot]! + this.#bCount[slot]!);
  }

  // Makes room for `n` bytes in one piece, growing the buffer up to
  // maxBytes and then dropping the oldest batches; returns where they go.
  #reserveBytes(n: number): number {
    while (true) {
      const empty = this.#firstBatch === this.#endBatch;
      // An empty ring starts over at the buffer's start: no padding.
      if (empty) this.#base = this.#head;
      const cap = this.#buf.length;
      const oldest = empty ? this.#head : this.#startOf(this.#firstBatch);
      const used = this.#head - oldest;
      let pad = 0;
      if (cap > 0) {
        const phys = (this.#head - this.#base) % cap;
        // A batch that would run past the buffer's end starts at its start.
        if (phys + n > cap) pad = cap - phys;
        if (used + pad + n <= cap) return this.#head + pad;
      }
      if (cap < this.#maxBytes) {
        let size = Math.max(MIN_BYTES, cap * 2);
        while (size < used + n) size *= 2;
        this.#growBytes(Math.min(size, this.#maxBytes), oldest, used);
        continue;
      }
      this.#trimOldest(used + pad + n - cap);
    }
  }

  // Frees at least `needed` bytes from the oldest batch: its lines the line
  // limit already dropped, then as many more as it takes (or all of it).
  // Only long lines get here: 1,000 short ones fit in the buffer.
  #trimOldest(needed: number): void {
    const slot = this.#slot(this.#firstBatch);
    const buf = this.#buf;
    const last = this.#bLine[slot]! + this.#bCount[slot]! - 1;
    let line = this.#bLine[slot]!;
    let start = this.#bStart[slot]!;
    let freed = 0;
    while (line < last && (line < this.#first || freed < needed)) {
      const phys = (start - this.#base) % buf.length;
      const step = buf.indexOf(0x0a, phys) - phys + 1;
      start += step;
      freed += step;
      line++;
    }
    if (line < this.#first || freed < needed) {
      this.#dropOldest();
      return;
    }
    this.#bSeq[slot] = this.#bSeq[slot]! + (line - this.#bLine[slot]!);
    this.#bStart[slot] = start;
    this.#bLen[slot] = this.#bLen[slot]! - freed;
    this.#bCount[slot] = last - line + 1;
    this.#bLine[slot] = line;
    this.#first = Math.max(this.#first, line);
  }

  // Moves the bytes still kept to the start of a bigger buffer.
  #growBytes(size: number, oldest: number, used: number): void {
    const bigger = new Uint8Array(size);
    const buf = this.#buf;
    if (used > 0) {
      const at = (oldest - this.#base) % buf.length;
      const first = Math.min(used, buf.length - at);
      bigger.set(buf.subarray(at, at + first));
      if (first < used) bigger.set(buf.subarray(0, used - first), first);
    }
    this.#buf = bigger;
    this.#base = oldest;
  }

  #growSlots(): void {
    const size = Math.min(this.#maxLines + 1, Math.max(MIN_SLOTS, this.#slots * 2));
    if (size <= this.#slots) {
      // Cannot happen: each batch kept holds a line kept. Make room anyway.
      this.#dropOldest();
      return;
    }
    // Each table's records, oldest first, into a bigger one of its kind.
    const move = <T extends Float64Array | Int32Array | Uint8Array>(
      from: T,
      to: T,
    ): T => {
      for (let b = this.#firstBatch, i = 0; b < this.#endBatch; b++, i++) {
        to[i] = from[this.#slot(b)]!;
      }
      return to;
    };
    this.#bStart = move(this.#bStart, new Float64Array(size));
    this.#bLen = move(this.#bLen, new Int32Array(size));
    this.#bLine = move(this.#bLine, new Float64Array(size));
    this.#bCount = move(this.#bCount, new Int32Array(size));
    this.#bTime = move(this.#bTime, new Float64Array(size));
    this.#bSeq = move(this.#bSeq, new Float64Array(size));
    this.#bPid = move(this.#bPid, new Int32Array(size));
    this.#bStream = move(this.#bStream, new Uint8Array(size));
    this.#slots = size;
    this.#slotBase = this.#firstBatch;
  }

  /** Where line `n` is (`first <= n <= end`: at `end`, where the next will be). */
  locate(n: number): RingPos {
    if (n >= this.#end) return { line: this.#end, batch: this.#endBatch, at: -1 };
    // The batch holding line n: the last whose first line is at or before it.
    let lo = this.#firstBatch;
    let hi = this.#endBatch - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#bLine[this.#slot(mid)]! <= n) lo = mid;
      else hi = mid - 1;
    }
    const slot = this.#slot(lo);
    let at = this.#bStart[slot]!;
    const buf = this.#buf;
    for (let k = this.#bLine[slot]!; k < n; k++) {
      const phys = (at - this.#base) % buf.length;
      at += buf.indexOf(0x0a, phys) - phys + 1;
    }
    return { line: n, batch: lo, at };
  }

  /** Whether `pos` still points at a line kept (or at the end). */
  valid(pos: RingPos): boolean {
    return pos.line >= this.#first;
  }

  /** The sequence number of the line at `pos` (which must be before `end`). */
  seqAt(pos: RingPos): number {
    const slot = this.#slot(pos.batch);
    return this.#bSeq[slot]! + (pos.line - this.#bLine[slot]!);
  }

  /**
   * Reads the line at `pos` (which must be valid and before `end`) and
   * moves `pos` to the next one.
   */
  readAt(pos: RingPos): KeptLine {
    const slot = this.#slot(pos.batch);
    if (pos.at < 0) pos.at = this.#bStart[slot]!;
    const buf = this.#buf;
    const phys = (pos.at - this.#base) % buf.length;
    const spanEnd = (this.#bStart[slot]! - this.#base) % buf.length + this.#bLen[slot]!;
    const last = pos.line === this.#bLine[slot]! + this.#bCount[slot]! - 1;
    let stop = last ? spanEnd : buf.indexOf(0x0a, phys);
    const next = stop + 1;
    // The framer dropped a "\r" before each "\n"; the last line's is not here.
    if (!last && stop > phys && buf[stop - 1] === 0x0d) stop--;
    const line: KeptLine = {
      process: this.name,
      stream: STREAMS[this.#bStream[slot]!]!,
      pid: this.#bPid[slot]!,
      time: this.#bTime[slot]!,
      seq: this.#bSeq[slot]! + (pos.line - this.#bLine[slot]!),
      text: decoder.decode(buf.subarray(phys, stop)),
    };
    pos.line++;
    if (last) {
      pos.batch++;
      pos.at = pos.batch < this.#endBatch ? this.#startOf(pos.batch) : -1;
    } else {
      pos.at += next - phys;
    }
    return line;
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
 * It holds a position per process, never lines.
 */
export class RingFollower {
  #store: OutputRing;
  #names: ReadonlySet<string> | null;
  #cursors = new Map<ProcessRing, RingPos>();
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
        this.#cursors.set(
          ring,
          ring.locate(Math.max(ring.first, ring.end - Math.max(0, n))),
        );
        this.#limits?.set(ring, ring.end);
      }
    }
  }

  /** Whether a reader has read all it was made for (never, for a follower). */
  get done(): boolean {
    if (this.#limits === null) return false;
    for (const [ring, pos] of this.#cursors) {
      if (pos.line < this.#stop(ring)) return false;
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
      this.#cursors.set(ring, ring.locate(ring.first));
    }
  }

  /** Called by the store when new lines were stored. */
  wake(): void {
    if (!this.#closed) this.#wake?.();
  }

  /** Whether a line is waiting (or lines were lost). */
  get pending(): boolean {
    for (const [ring, pos] of this.#cursors) {
      if (pos.line < this.#stop(ring)) return true;
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
    for (const [ring, pos] of this.#cursors) {
      if (!ring.valid(pos)) {
        items.push({ kind: "lost", process: ring.name, count: ring.first - pos.line });
        this.#cursors.set(ring, ring.locate(ring.first));
      }
    }
    let lines = 0;
    while (lines < max) {
      let best: ProcessRing | null = null;
      let bestSeq = Infinity;
      for (const [ring, pos] of this.#cursors) {
        if (pos.line >= this.#stop(ring)) continue;
        const seq = ring.seqAt(pos);
        if (seq < bestSeq) {
          bestSeq = seq;
          best = ring;
        }
      }
      if (best === null) break;
      items.push({ kind: "line", ...best.readAt(this.#cursors.get(best)!) });
      lines++;
    }
    // A removed process's ring, read to its end, is let go.
    for (const [ring, pos] of this.#cursors) {
      if (ring.forgotten && pos.line >= ring.end) this.#cursors.delete(ring);
    }
    return items;
  }

  /** Stops following; the store forgets this follower. */
  close(): void {
    this.#closed = true;
    this.#store.unfollow(this);
  }
}
