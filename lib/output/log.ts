/**
 * tend's log: child output and tend's own events as records, written as
 * text lines or JSON lines to one destination.
 *
 * Every line a child prints passes through here, so this is the hot loop.
 * Records are encoded straight into a byte buffer (no per-line objects or
 * strings for valid UTF-8 in text mode) and the buffer is written once per
 * turn of the event loop, however many lines it holds. While a write is in
 * flight new records gather in a second buffer; when that one grows past
 * a high-water mark, {@linkcode Logger.backpressure} hands readers a
 * promise, so a flooding child is slowed down instead of growing memory.
 *
 * A destination that fails does not end the log. A non-blocking one that
 * is full (EAGAIN) is waited for, losing and repeating nothing. One that
 * fails (a full disk, EIO) has records dropped and counted while it fails,
 * with a retry now and then; once it works again, a record says how many
 * were lost. One whose reader has gone (EPIPE) has every record dropped
 * from then on. Either way the children are not held back by it, and the
 * logger says so through {@linkcode LoggerOptions.onNotice}, as it never
 * prints.
 *
 * @module
 */

import type { MonitorEvent } from "../core/events.ts";
import type { ProcessStatus } from "../core/monitor.ts";
import type { OutputHandler, OutputStream } from "../core/ports.ts";
import {
  escapeJsonInto,
  escapeTextInto,
  isPlain,
  JSON_GROWTH,
  SGR_RESET,
  TEXT_GROWTH,
} from "./escape.ts";
import { describeEvent, describeStatus, type LogLevel, STDERR_MARK } from "./format.ts";
import { framedOutput, type LineSink } from "./framer.ts";
import { SIMD } from "./wasm.ts";

export { type LogLevel, STDERR_MARK } from "./format.ts";

/** Where log bytes go: `Deno.stdout`, a file, or a test double. */
export interface LogDestination {
  /** Writes some of `p`, resolving with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
}

/** The two record formats. */
export type LogFormat = "text" | "json";

/** How a {@linkcode Logger} writes. */
export interface LoggerOptions {
  /** Where records go. */
  out: LogDestination;
  /** Record format. @default "text" */
  format?: LogFormat;
  /** ANSI colours in text format. @default false */
  color?: boolean;
  /** Wall-clock milliseconds, for record times. @default Date.now */
  now?: () => number;
  /** Bytes waiting to be written beyond which readers are held back. @default 1 MiB */
  highWater?: number;
  /**
   * Write at most {@linkcode PIPE_BUF} bytes at a time, each write ending at
   * the end of a record where records allow (a longer record goes in exact
   * 4096-byte slices). A pipe takes such a write whole or not at all, so a
   * non-blocking pipe that fills up (EAGAIN) neither loses nor repeats a
   * byte: `Deno.stdout` reports EAGAIN even for bytes it took into a hidden
   * buffer, which only writes of this shape never use. It costs speed
   * (one write per 4 KiB: about 110 MB/s through a pipe), so it is for a
   * destination that may be non-blocking; the logger turns it on by itself
   * at the first EAGAIN anyway. @default false
   */
  atomicWrites?: boolean;
  /**
   * Milliseconds between attempts to write again while the destination
   * fails; what comes in between is dropped (and counted) without trying.
   * @default 1000
   */
  retryInterval?: number;
  /**
   * Told, in one line, when the destination starts failing, when it works
   * again, and when its reader has gone: the logger never prints, so
   * `tend run` writes these to stderr. @default nothing
   */
  onNotice?: (message: string) => void;
  /**
   * Milliseconds a destination may take nothing, while readers are held
   * back, before it counts as stalled: a terminal paused with Ctrl-S, a log
   * shipper that hangs. A stalled destination must not hold the children
   * (their output, the ring, log probes, log files) for ever, so readers
   * are let go and records are dropped, and counted, until it takes bytes
   * again; a record then says how many were lost. @default 5000
   */
  stallTimeout?: number;
}

/**
 * The most bytes a pipe takes whole or not at all (POSIX requires at
 * least 512; Linux and macOS have 4096).
 */
export const PIPE_BUF = 4096;

const NL = 0x0a;

// How long to wait before writing again to a non-blocking destination
// that is full: doubling from 1 ms up to 50 ms (there is no poll(2) in
// Deno without FFI), about 1% of a core while it stays full.
const FULL_WAIT_MIN = 1;
const FULL_WAIT_MAX = 50;

const encoder = new TextEncoder();

// ANSI colours for process tags, chosen to read on dark and light terminals.
const PALETTE = [36, 33, 32, 35, 34, 96, 93, 92, 95, 94];
const DIM = "\x1b[2m";
const RESET = "\x1b[0m";
const LEVEL_COLOR: Record<LogLevel, string> = {
  info: "",
  warn: "\x1b[33m",
  error: "\x1b[31m",
};

/**
 * Picks a process's colour from its name, so it keeps its colour across
 * restarts, reloads and runs.
 */
export function colorOf(name: string): number {
  let h = 2166136261;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16777619);
  return PALETTE[(h >>> 0) % PALETTE.length]!;
}

/**
 * Writes log records: children's lines (through {@linkcode Logger.lines})
 * and tend's own events and messages.
 *
 * @example
 * ```ts
 * import { Logger } from "./log.ts";
 * const logger = new Logger({ out: Deno.stdout, format: "json" });
 * logger.log("info", "hello");
 * await logger.flush();
 * ```
 */
export class Logger {
  /** The record format. */
  readonly format: LogFormat;
  /** Whether text records carry ANSI colours. */
  readonly color: boolean;
  #out: LogDestination;
  #now: () => number;
  #highWater: number;
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(256 * 1024);
  #len = 0;
  #spare: Uint8Array<ArrayBuffer> | null = new Uint8Array(256 * 1024);
  #writing: Promise<void> | null = null;
  #scheduled = false;
  #drained: (() => void)[] = [];
  #pressure: Promise<void> | null = null;
  #atomic: boolean;
  // An EAGAIN was seen: the destination is non-blocking, whatever anyone says.
  #sawFull = false;
  #retryInterval: number;
  #onNotice: (message: string) => void;
  // Why the destination fails, while it does (null: it works).
  #failure: string | null = null;
  #retryAt = 0;
  // The reader has gone for good: nothing is written any more.
  #gone = false;
  // Records dropped since the destination started failing.
  #lost = 0;
  // Whether the last byte known to be written ended a line, so that the
  // record about lost ones starts on a line of its own.
  #lineStart = true;
  // Bytes of the write in flight not written yet.
  #inFlight = 0;
  #stallTimeout: number;
  // When the destination last took bytes (or a write began).
  #progressAt = 0;
  #stallTimer: ReturnType<typeof setTimeout> | undefined;
  // The destination took nothing for stallTimeout while readers waited.
  #stalled = false;
  // Records of one turn share one time prefix; see stamp().
  #turn = 0;
  #stampTurn = -1;
  #stamp = new Uint8Array(0);

  /** Builds a logger writing to `options.out`. */
  constructor(options: LoggerOptions) {
    this.#out = options.out;
    this.format = options.format ?? "text";
    this.color = options.color ?? false;
    this.#now = options.now ?? Date.now;
    this.#highWater = options.highWater ?? 1024 * 1024;
    this.#atomic = options.atomicWrites ?? false;
    this.#retryInterval = options.retryInterval ?? 1000;
    this.#onNotice = options.onNotice ?? (() => {});
    this.#stallTimeout = options.stallTimeout ?? 5000;
  }

  /** Bytes waiting for the write in flight to end. */
  get pending(): number {
    return this.#len;
  }

  /** Bytes logged and not written yet: those waiting, and what is left of the write in flight. */
  get unwritten(): number {
    return this.#len + this.#inFlight;
  }

  /**
   * Whether writes are cut to {@linkcode PIPE_BUF} (see
   * {@linkcode LoggerOptions.atomicWrites}). Turning it off says the
   * destination is known to block (no `O_NONBLOCK`), where big writes are
   * exact; once an EAGAIN has shown otherwise, it stays on.
   */
  get atomicWrites(): boolean {
    return this.#atomic;
  }

  set atomicWrites(on: boolean) {
    this.#atomic = on || this.#sawFull;
  }

  /**
   * The handler for the bytes one child writes to one stream: framed into
   * lines, each a record, with this log's back-pressure handed back to the
   * reader. With {@linkcode Logger.event} this makes the log a monitor's
   * whole sink.
   */
  output(name: string, pid: number, stream: OutputStream): OutputHandler {
    return framedOutput(this.lines(name, pid, stream), () => this.backpressure());
  }

  /** A sink for the lines one child writes to one stream. */
  lines(name: string, pid: number, stream: OutputStream): LineSink {
    return this.format === "json"
      ? new JsonLines(this, name, pid, stream)
      : new TextLines(this, this.#tag(name, stream));
  }

  /**
   * Returns a promise while the destination is congested (more than the
   * high-water mark waits to be written), `undefined` otherwise; readers
   * of child output wait for it before reading more.
   */
  backpressure(): Promise<void> | undefined {
    if (this.#len < this.#highWater || this.#stalled) return undefined;
    this.#watchStall();
    return this.#pressure ??= new Promise<void>((resolve) =>
      this.#drained.push(resolve)
    )
      .finally(() => this.#pressure = null);
  }

  // While readers are held, checks that the destination takes bytes; one
  // that took nothing for stallTimeout lets them go (see stallTimeout).
  #watchStall(): void {
    if (this.#stallTimer !== undefined) return;
    const check = () => {
      this.#stallTimer = undefined;
      if (this.#drained.length === 0 || this.#writing === null) return;
      const idle = performance.now() - this.#progressAt;
      if (idle < this.#stallTimeout) {
        this.#stallTimer = setTimeout(check, this.#stallTimeout - idle);
        return;
      }
      this.#stalled = true;
      this.#onNotice(
        `the log has taken nothing for ${this.#stallTimeout / 1000} s; records are ` +
          `dropped, and counted, until it takes them again, so that the children are ` +
          `not held`,
      );
      this.#dropPending();
      const waiting = this.#drained;
      this.#drained = [];
      for (const resolve of waiting) resolve();
    };
    this.#stallTimer = setTimeout(check, this.#stallTimeout);
  }

  // Drops the records waiting behind a stalled write (they end at a record
  // boundary: every commit does).
  #dropPending(): void {
    this.#drop(this.#buf.subarray(0, this.#len));
    this.#len = 0;
  }

  /** Writes a record about one of tend's own events. */
  event(event: MonitorEvent): void {
    if (event.type === "state") return;
    const { level, text, fields } = describeEvent(event);
    const pid = "pid" in event ? event.pid : null;
    this.#record(level, event.name, pid, text, { event: event.type, ...fields });
  }

  /**
   * Writes one record per process describing where it is, for a status
   * request (SIGUSR2).
   *
   * @param now the monitor clock's current time, in milliseconds
   */
  status(statuses: ProcessStatus[], now: number): void {
    for (const s of statuses) {
      this.#record(
        s.state === "FATAL" ? "error" : "info",
        s.name,
        s.pid,
        describeStatus(s, now),
        {
          event: "status",
          state: s.state,
          ready: s.ready,
          held: s.held,
          uptime: s.uptime,
          restarts: s.restarts,
          delay: s.delay,
          code: s.lastExit?.code ?? null,
          signal: s.lastExit?.signal ?? null,
        },
      );
    }
  }

  /** Writes a record that concerns tend as a whole, not one process. */
  log(level: LogLevel, message: string, extra: Record<string, unknown> = {}): void {
    this.#record(level, null, null, message, extra);
  }

  /**
   * Resolves once everything logged so far is written, or dropped because
   * the destination fails; a destination that fails is tried once more
   * first, whenever it was last tried (tend's last records, say, after the
   * disk got space again).
   */
  async flush(): Promise<void> {
    this.#retryAt = 0;
    while (this.#len > 0 || this.#writing) {
      if (!this.#writing) this.#startWrite();
      await this.#writing;
    }
  }

  #record(
    level: LogLevel,
    name: string | null,
    pid: number | null,
    text: string,
    extra: Record<string, unknown>,
  ): void {
    this.#appendString(this.#encode(level, name, pid, text, extra));
  }

  // One record as text, with its line end.
  #encode(
    level: LogLevel,
    name: string | null,
    pid: number | null,
    text: string,
    extra: Record<string, unknown>,
  ): string {
    if (this.format === "json") {
      const record = {
        time: new Date(this.#now()).toISOString(),
        level,
        process: name,
        stream: "tend",
        pid,
        message: name === null ? text : `[${name}] ${text}`,
        ...extra,
      };
      // C1 controls, U+2028 and U+2029 escaped too, as in child lines (see
      // escape.ts).
      return JSON.stringify(record).replace(
        /[\u0080-\u009f\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      ) + "\n";
    }
    const tag = name === null ? "tend" : `[${name}] tend:`;
    // One record per line, always: a stack trace or an OS message with line
    // breaks must not pass for several records, or for a child's output.
    const body = `${tag} ${escapeControls(text)}`;
    return this.color
      ? `${DIM}${this.#timeText()}${RESET} ${
        LEVEL_COLOR[level] || DIM
      }${body}${RESET}\n`
      : `${this.#timeText()} ${body}\n`;
  }

  // What follows the time in a text record of a child's line: the stream
  // mark for stderr (see STDERR_MARK), then `[name] `.
  #tag(name: string, stream: OutputStream): Uint8Array {
    const mark = stream === "stderr"
      ? this.color ? `${DIM}${STDERR_MARK}${RESET} ` : `${STDERR_MARK} `
      : "";
    return encoder.encode(
      this.color
        ? `${mark}\x1b[${colorOf(name)}m[${name}]${RESET} `
        : `${mark}[${name}] `,
    );
  }

  #timeText(now: number = this.#now()): string {
    const d = new Date(now);
    const p = (n: number, w = 2) => String(n).padStart(w, "0");
    return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${
      p(d.getMilliseconds(), 3)
    }`;
  }

  /**
   * The time prefix as bytes (text: `HH:MM:SS.mmm `; JSON: ISO 8601).
   * It is read once per turn of the event loop, not once per line: the
   * lines of one chunk arrived together.
   */
  stamp(): Uint8Array {
    if (this.#stampTurn !== this.#turn) {
      this.#stampTurn = this.#turn;
      const now = this.#now();
      const text = this.format === "json"
        ? new Date(now).toISOString()
        : this.color
        ? `${DIM}${this.#timeText(now)}${RESET} `
        : `${this.#timeText(now)} `;
      this.#stamp = encoder.encode(text);
    }
    return this.#stamp;
  }

  /** Counts turns of the event loop that produced records. */
  get turn(): number {
    return this.#turn;
  }

  /** Makes room for `n` more bytes and returns the buffer; see {@linkcode commit}. */
  reserve(n: number): Uint8Array {
    const need = this.#len + n;
    if (need > this.#buf.length) {
      let size = this.#buf.length * 2;
      while (size < need) size *= 2;
      const bigger = new Uint8Array(size);
      bigger.set(this.#buf.subarray(0, this.#len));
      this.#buf = bigger;
    }
    return this.#buf;
  }

  /** The write position in the buffer returned by {@linkcode reserve}. */
  get length(): number {
    return this.#len;
  }

  /** Marks bytes up to `end` as written into the buffer, and schedules a flush. */
  commit(end: number): void {
    this.#len = end;
    // Behind a stalled write, at most highWater waits; the rest is counted.
    if (this.#stalled && this.#len >= this.#highWater) this.#dropPending();
    if (!this.#scheduled) {
      this.#scheduled = true;
      // The turn ends here, so the next record gets a fresh time stamp even
      // while a slow write is in flight. One write per turn at most: while
      // one is in flight, its end starts the next.
      queueMicrotask(() => {
        this.#scheduled = false;
        this.#turn++;
        if (!this.#writing) this.#startWrite();
      });
    }
  }

  #appendString(text: string): void {
    const buf = this.reserve(text.length * 3);
    const { written } = encoder.encodeInto(text, buf.subarray(this.#len));
    this.commit(this.#len + written);
  }

  #startWrite(): void {
    if (this.#len === 0) return;
    const data = this.#buf.subarray(0, this.#len);
    // Swap buffers: records keep gathering while this one is written.
    this.#buf = this.#spare ?? new Uint8Array(Math.max(256 * 1024, this.#len));
    this.#spare = null;
    this.#len = 0;
    this.#progressAt = performance.now();
    this.#writing = this.#writeAll(data).finally(() => {
      this.#spare = data.buffer.byteLength <= 4 * 1024 * 1024
        ? new Uint8Array(data.buffer as ArrayBuffer)
        : null;
      this.#writing = null;
      if (this.#stalled) {
        // It took the stalled write at last: say what was lost, first.
        this.#stalled = false;
        if (this.#lost > 0 && this.#failure === null && !this.#gone) {
          this.#failure = `it took nothing for ${this.#stallTimeout / 1000} s`;
          this.#retryAt = 0;
        }
      }
      if (this.#len < this.#highWater) {
        const waiting = this.#drained;
        this.#drained = [];
        for (const resolve of waiting) resolve();
        // Nobody is held: no stall to watch for.
        clearTimeout(this.#stallTimer);
        this.#stallTimer = undefined;
      }
      if (this.#len > 0) this.#startWrite();
    });
  }

  // Writes one batch of records, or drops it while the destination fails;
  // never throws.
  async #writeAll(data: Uint8Array): Promise<void> {
    if (this.#gone) return;
    if (this.#failure !== null) {
      // Dropping without trying (no syscall) is what keeps the children
      // from waiting on a dead destination.
      if (performance.now() < this.#retryAt) return this.#drop(data);
      if (!await this.#put(this.#lostRecord(), false)) return this.#drop(data);
      this.#onNotice(
        `the log is written again; up to ${this.#lost} record${
          this.#lost === 1 ? " was" : "s were"
        } lost`,
      );
      this.#failure = null;
      this.#lost = 0;
    }
    await this.#put(data, true);
  }

  // Writes all of data; false when the destination failed (then the rest,
  // when `count`, is counted as lost).
  async #put(data: Uint8Array, count: boolean): Promise<boolean> {
    let off = 0;
    let wait = FULL_WAIT_MIN;
    try {
      while (off < data.length) {
        this.#inFlight = data.length - off;
        let n: number;
        try {
          n = await this.#out.write(data.subarray(off, this.#unitEnd(data, off)));
        } catch (error) {
          if (error instanceof Deno.errors.WouldBlock) {
            // A non-blocking destination that is full. From now on every
            // write is atomic, so that the retry repeats nothing (see
            // atomicWrites); wait for the reader, losing nothing, while
            // back-pressure holds the children.
            this.#atomic = this.#sawFull = true;
            await new Promise((resolve) => setTimeout(resolve, wait));
            wait = Math.min(wait * 2, FULL_WAIT_MAX);
            continue;
          }
          if (error instanceof Deno.errors.Interrupted) continue;
          if (count) this.#drop(data.subarray(off));
          this.#fail(error);
          return false;
        }
        off += n;
        if (n > 0) {
          this.#lineStart = data[off - 1] === NL;
          this.#progressAt = performance.now();
        }
        wait = FULL_WAIT_MIN;
      }
      return true;
    } finally {
      this.#inFlight = 0;
    }
  }

  // Where the write starting at `start` ends: the whole batch, or with
  // atomic writes at most PIPE_BUF bytes, after the last record that fits
  // (or exactly PIPE_BUF bytes of a longer one). Every batch ends with a
  // line end, so the last write always ends with one.
  #unitEnd(data: Uint8Array, start: number): number {
    const limit = start + PIPE_BUF;
    if (!this.#atomic || limit >= data.length) return data.length;
    const nl = data.subarray(start, limit).lastIndexOf(NL);
    return nl === -1 ? limit : start + nl + 1;
  }

  #drop(data: Uint8Array): void {
    // One record is one line, in both formats.
    for (let i = data.indexOf(NL); i !== -1; i = data.indexOf(NL, i + 1)) this.#lost++;
  }

  #fail(error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    if (
      error instanceof Deno.errors.BrokenPipe ||
      error instanceof Deno.errors.BadResource
    ) {
      // Nobody will read this destination again.
      this.#gone = true;
      this.#onNotice(
        `the log's reader has gone (${reason}); its records are dropped from now on, ` +
          `and supervision goes on`,
      );
      return;
    }
    // A full disk, EIO, a file over its size limit: it may well work again.
    if (this.#failure === null) {
      this.#onNotice(
        `cannot write the log (${reason}); records are dropped, and counted, ` +
          `until it works again`,
      );
    }
    this.#failure = reason;
    this.#retryAt = performance.now() + this.#retryInterval;
  }

  // The record that says how many records were lost, and why. The count
  // is an upper bound: Deno.stdout may have taken part of a failed write.
  #lostRecord(): Uint8Array {
    const n = this.#lost;
    const text = this.#encode(
      "warn",
      null,
      null,
      `up to ${n} log record${n === 1 ? " was" : "s were"} lost: ${this.#failure}`,
      { event: "log-lost", lost: n, error: this.#failure },
    );
    return encoder.encode(this.#lineStart ? text : "\n" + text);
  }
}

const CLOSE_JSON = encoder.encode('"}\n');
const OPEN_JSON = encoder.encode('{"time":"');

// Text records: `HH:MM:SS.mmm [name] line\n`.
class TextLines implements LineSink {
  #log: Logger;
  #tag: Uint8Array;
  // The time stamp and the tag together, rebuilt once per turn.
  #prefix: Uint8Array = new Uint8Array(0);
  #prefixTurn = -1;

  constructor(log: Logger, tag: Uint8Array) {
    this.#log = log;
    this.#tag = tag;
  }

  line(bytes: Uint8Array, start: number, end: number, valid: boolean): void {
    const log = this.#log;
    if (this.#prefixTurn !== log.turn) this.#rebuildPrefix();
    const prefix = this.#prefix;
    const plain = valid && isPlain(bytes, start, end);
    // Escapes are written straight into the log's buffer: room for the
    // longest they can be, not a copy of the line that grows.
    const room = plain ? end - start : TEXT_GROWTH * (end - start) + SGR_RESET.length;
    const buf = log.reserve(prefix.length + room + 1);
    let pos = log.length;
    buf.set(prefix, pos);
    pos += prefix.length;
    if (plain) {
      buf.set(bytes.subarray(start, end), pos);
      pos += end - start;
    } else {
      pos = escapeTextInto(bytes, start, end, valid, buf, pos, log.color);
    }
    buf[pos++] = 0x0a;
    log.commit(pos);
  }

  // Many valid lines at once. Lines the WebAssembly framer found have
  // their records written by it too (see wasm.ts). Otherwise the whole
  // span is copied into the log buffer in one go, placed far enough along
  // that each line can then be moved down into place (copyWithin) behind
  // its prefix: no per-line objects.
  lines(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, count: number): void {
    const log = this.#log;
    if (this.#prefixTurn !== log.turn) this.#rebuildPrefix();
    const prefix = this.#prefix;
    if (SIMD !== null && SIMD.holds(bytes, starts, ends, prefix)) {
      // Bounded: each round writes at least one line.
      for (let i = 0; i < count; i++) {
        i = SIMD.text(bytes, starts, ends, i, count, prefix, log);
        // A record too long for the module's output region: in JS.
        if (i < count) this.line(bytes, starts[i]!, ends[i]!, true);
      }
      return;
    }
    const step = prefix.length + 1;
    const first = starts[0]!;
    const span = ends[count - 1]! - first;
    const buf = log.reserve(count * step + span);
    let out = log.length;
    // Line i's output ends before line i+1's bytes begin: sum(prefix + len
    // + 1) up to i is at most count * step + (starts[i + 1] - first).
    const base = out + count * step - first;
    buf.set(bytes.subarray(first, first + span), base + first);
    for (let i = 0; i < count; i++) {
      buf.set(prefix, out);
      out += prefix.length;
      const from = base + starts[i]!;
      const to = base + ends[i]!;
      buf.copyWithin(out, from, to);
      out += to - from;
      buf[out++] = 0x0a;
    }
    log.commit(out);
  }

  #rebuildPrefix(): void {
    const stamp = this.#log.stamp();
    this.#prefixTurn = this.#log.turn;
    const prefix = new Uint8Array(stamp.length + this.#tag.length);
    prefix.set(stamp);
    prefix.set(this.#tag, stamp.length);
    this.#prefix = prefix;
  }
}

// JSON records: the fixed fields are encoded once per child and stream;
// each line adds only its time and its escaped text.
class JsonLines implements LineSink {
  #log: Logger;
  #middle: Uint8Array;
  // #prefix(): the stamp it was built with, and the whole prefix.
  #stamp: Uint8Array | null = null;
  #whole: Uint8Array = new Uint8Array(0);

  constructor(log: Logger, name: string, pid: number, stream: OutputStream) {
    this.#log = log;
    const head = JSON.stringify({
      level: "info",
      process: name,
      stream,
      pid,
      message: "",
    });
    // `","level":...,"message":"[name] ` — the record without time and text.
    this.#middle = encoder.encode(
      `",${head.slice(1, -2)}${JSON.stringify(`[${name}] `).slice(1, -1)}`,
    );
  }

  line(bytes: Uint8Array, start: number, end: number, valid: boolean): void {
    const log = this.#log;
    const stamp = log.stamp();
    // A JSON escape is at most 6 bytes (\u001f) per input byte; escapes go
    // straight into the log's buffer.
    const buf = log.reserve(
      OPEN_JSON.length + stamp.length + this.#middle.length +
        JSON_GROWTH * (end - start) + CLOSE_JSON.length,
    );
    let pos = log.length;
    buf.set(OPEN_JSON, pos);
    pos += OPEN_JSON.length;
    buf.set(stamp, pos);
    pos += stamp.length;
    buf.set(this.#middle, pos);
    pos += this.#middle.length;
    pos = escapeJsonInto(bytes, start, end, valid, buf, pos);
    buf.set(CLOSE_JSON, pos);
    log.commit(pos + CLOSE_JSON.length);
  }

  // Many valid lines at once: those the WebAssembly framer found are
  // written by it too (see wasm.ts), the rest one by one.
  lines(bytes: Uint8Array, starts: Int32Array, ends: Int32Array, count: number): void {
    const prefix = SIMD === null ? null : this.#prefix();
    if (prefix !== null && SIMD!.holds(bytes, starts, ends, prefix, CLOSE_JSON)) {
      // Bounded: each round writes at least one line.
      for (let i = 0; i < count; i++) {
        i = SIMD!.json(bytes, starts, ends, i, count, prefix, CLOSE_JSON, this.#log);
        if (i < count) this.line(bytes, starts[i]!, ends[i]!, true);
      }
      return;
    }
    for (let i = 0; i < count; i++) this.line(bytes, starts[i]!, ends[i]!, true);
  }

  // The record up to its text, `{"time":"...",...,"message":"[name] `,
  // rebuilt when the time stamp changes (once per turn at most).
  #prefix(): Uint8Array {
    const stamp = this.#log.stamp();
    if (stamp !== this.#stamp) {
      const prefix = new Uint8Array(
        OPEN_JSON.length + stamp.length + this.#middle.length,
      );
      prefix.set(OPEN_JSON);
      prefix.set(stamp, OPEN_JSON.length);
      prefix.set(this.#middle, OPEN_JSON.length + stamp.length);
      this.#stamp = stamp;
      this.#whole = prefix;
    }
    return this.#whole;
  }
}

// tend's own text with every control character but TAB escaped, as a
// child's line is (see escape.ts); a line break, CRLF included, is `\n`.
function escapeControls(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\r?\n|[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/g, (c) => {
    if (c.endsWith("\n")) return "\\n";
    if (c === "\r") return "\\r";
    const code = c.charCodeAt(0);
    return code < 0x80
      ? `\\x${code.toString(16).padStart(2, "0")}`
      : `\\u${code.toString(16).padStart(4, "0")}`;
  });
}
