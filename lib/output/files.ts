/**
 * Per-process log files: the text records of one process (its lines, and
 * tend's own records about it) written to its file as well as to tend's
 * log, with rotation by tend itself.
 *
 * Each file is a {@linkcode Logger} of its own, in text format without
 * colour, over a {@linkcode RotatingFile}: the records are the Logger's
 * (so they read exactly as tend's text log does), and the rotation is the
 * destination's. The Logger hands its destination whole batches of
 * records, and a destination may take any part of a batch, so the
 * {@linkcode RotatingFile} takes the whole records that fit, rotates, and
 * takes the rest: a record is never split across two files, and nothing
 * is lost in a rotation.
 *
 * A file never holds anything up. Its Logger's back-pressure is not handed
 * to the children (only tend's own log paces them): while more than
 * {@linkcode LogFilesOptions.highWater} bytes wait for a file (a slow or
 * stuck disk), or more than {@linkcode LogFilesOptions.totalHighWater}
 * for all of them together, its records are dropped and counted, and once
 * it catches up a record in the file says how many are missing there. So
 * tend's memory stays bounded however many files hang at once. A file that
 * cannot be written (a full disk, a folder that cannot be made, no
 * permission) is the Logger's failure case: reported once, retried every
 * second, the records dropped and counted meanwhile, and the count written
 * into the file once it works again.
 *
 * The files themselves are reached through a {@linkcode LogFileSystem}
 * (`os/log_files.ts` has the real one), so that this module stays pure
 * and the rotation is tested on a fake.
 *
 * @module
 */

import type { MonitorEvent } from "../core/events.ts";
import type { OutputStream } from "../core/ports.ts";
import type { LogFileSpec } from "../core/spec.ts";
import type { LineSink } from "./framer.ts";
import { type LogDestination, Logger } from "./log.ts";

/** An open log file, appending. */
export interface LogFileHandle {
  /** Its size when it was opened, in bytes. */
  readonly size: number;
  /**
   * Whether it is a regular file. Only a regular file is rotated: a FIFO or
   * a device (`/dev/stderr`) must never be renamed.
   */
  readonly regular: boolean;
  /** Appends some of `p`, resolving with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Cuts the file back to `size` bytes (what a failed write left half-written). */
  truncate(size: number): Promise<void>;
  /** Closes it. */
  close(): void;
}

/**
 * What log files need of the file system. Errors are plain `Error`s whose
 * message names the operation, the path and the OS's reason.
 */
export interface LogFileSystem {
  /** Opens `path` for appending, creating it, and the folders on the way to it. */
  open(path: string): Promise<LogFileHandle>;
  /** Renames `from` to `to`, replacing `to`; `false` when `from` does not exist. */
  rename(from: string, to: string): Promise<boolean>;
  /** Removes `path`; one that does not exist is fine. */
  remove(path: string): Promise<void>;
}

const NL = 0x0a;

/**
 * A log file as a {@linkcode LogDestination} that rotates: when the next
 * record would take the file past `maxBytes`, `FILE` becomes `FILE.1`,
 * `FILE.1` becomes `FILE.2` ... up to `FILE.<backups>` (whose old content
 * the rename replaces), and a new `FILE` is started. By renames only:
 * nothing is copied, and a reader holding the old file open keeps reading
 * it whole.
 *
 * It takes only whole records (bytes up to a line end) from a write, so a
 * record never spans two files; one record larger than `maxBytes` gets a
 * file of its own. A write that fails after part of its bytes went in has
 * that part cut off again, so a failure never leaves half a record in the
 * file either, and the file is opened afresh at the next write.
 *
 * @example
 * ```ts ignore
 * const file = new RotatingFile(fs, { file: "/var/log/web.log", maxBytes: 64_000, backups: 2 });
 * const logger = new Logger({ out: file });
 * ```
 */
export class RotatingFile implements LogDestination {
  /** What it writes, and when it rotates. */
  readonly spec: LogFileSpec;
  #fs: LogFileSystem;
  #after: Promise<void>;
  #handle: LogFileHandle | null = null;
  #size = 0;

  /**
   * @param fs the file system
   * @param spec the file and its rotation
   * @param after resolves once a previous writer of the same file has let
   *   go of it (a reload that changed the rotation); it is not opened before
   */
  constructor(
    fs: LogFileSystem,
    spec: LogFileSpec,
    after: Promise<void> = Promise.resolve(),
  ) {
    this.#fs = fs;
    this.spec = spec;
    this.#after = after;
  }

  /** The file's size as this writer knows it; 0 until it is first opened. */
  get size(): number {
    return this.#size;
  }

  /**
   * Writes the whole records of `p` that fit (at least one), rotating
   * first when the next one would not; resolves with how many bytes that
   * was. Rejects, with nothing of `p` left in the file, when the file
   * cannot be opened, rotated or written.
   */
  async write(p: Uint8Array): Promise<number> {
    try {
      if (this.#handle === null) await this.#open();
      let end = this.#fit(p);
      if (end === 0) {
        // Not one more record fits: a new file, where one always does,
        // unless it is larger than maxBytes on its own.
        if (this.#size > 0) {
          await this.#rotate();
          end = this.#fit(p);
        }
        if (end === 0) end = recordEnd(p);
      }
      await this.#put(p.subarray(0, end));
      return end;
    } catch (error) {
      // A plain Error whatever it was: the Logger takes Deno's BrokenPipe
      // and BadResource for a reader gone for good, which a file never is.
      throw new Error(error instanceof Error ? error.message : String(error));
    }
  }

  /** Closes the file; the next write opens it again. */
  close(): void {
    const handle = this.#handle;
    this.#handle = null;
    handle?.close();
  }

  // Whether this file rotates at all: maxBytes 0 says never, and only a
  // regular file may be renamed.
  get #rotates(): boolean {
    return this.spec.maxBytes > 0 && this.#handle?.regular === true;
  }

  // How many bytes of `p` go into the current file: all of it when it
  // fits (or the file never rotates), else up to the end of the last
  // record that fits; 0 when none does.
  #fit(p: Uint8Array): number {
    if (!this.#rotates) return p.length;
    const room = this.spec.maxBytes - this.#size;
    if (p.length <= room) return p.length;
    if (room <= 0) return 0;
    return p.subarray(0, room).lastIndexOf(NL) + 1;
  }

  async #open(): Promise<void> {
    await this.#after;
    const handle = await this.#fs.open(this.spec.file);
    this.#handle = handle;
    this.#size = handle.size;
  }

  async #rotate(): Promise<void> {
    const { file, backups } = this.spec;
    this.close();
    if (backups === 0) {
      await this.#fs.remove(file);
    } else {
      // Oldest first, so that each rename has a free name to go to: the
      // last one replaces FILE.<backups>, which is how the oldest goes.
      for (let i = backups - 1; i >= 1; i--) {
        await this.#fs.rename(`${file}.${i}`, `${file}.${i + 1}`);
      }
      await this.#fs.rename(file, `${file}.1`);
    }
    await this.#open();
  }

  // Writes all of `chunk`. On a failure, what went in of it is cut off
  // again (whole records or nothing), and the file is let go of, so that
  // the next try opens it afresh and sees its real size.
  async #put(chunk: Uint8Array): Promise<void> {
    const handle = this.#handle!;
    const start = this.#size;
    let off = 0;
    try {
      while (off < chunk.length) off += await handle.write(chunk.subarray(off));
      this.#size = start + off;
    } catch (error) {
      if (off > 0 && handle.regular) {
        try {
          await handle.truncate(start);
        } catch {
          // The next open sees what is there; the count of lost records
          // is an upper bound anyway.
        }
      }
      this.close();
      throw error;
    }
  }
}

// The end of the first record of `p` (just past its line end), or the end
// of `p` when it holds no line end.
function recordEnd(p: Uint8Array): number {
  const nl = p.indexOf(NL);
  return nl === -1 ? p.length : nl + 1;
}

/** How {@linkcode LogFiles} writes. */
export interface LogFilesOptions {
  /** Where the files are. */
  fs: LogFileSystem;
  /**
   * Told, in one line naming the process, when a file starts failing, when
   * it works again, and how many records were dropped while it could not
   * keep up (tend's own log says so). @default nothing
   */
  onNotice?: (message: string) => void;
  /** Wall-clock milliseconds, for record times. @default Date.now */
  now?: () => number;
  /**
   * Bytes waiting for one file beyond which its records are dropped (and
   * counted) instead of buffered: enough for a flood to ride out a disk
   * that stalls for tens of milliseconds (writes to a fresh file were
   * seen to take 150 ms here), few enough to bound memory. @default 8 MiB
   */
  highWater?: number;
  /**
   * Bytes waiting for all files together beyond which a file holding back
   * more than an eighth of `highWater` (1 MiB) drops too: a hung network
   * mount under many files cannot take `highWater` times their number.
   * @default 32 MiB
   */
  totalHighWater?: number;
  /** Milliseconds between tries of a file that fails. @default 1000 */
  retryInterval?: number;
}

/**
 * Every process's log file: made, changed and closed as the config says
 * ({@linkcode LogFiles.configure}), fed by the output path
 * ({@linkcode LogFiles.lines}) and the monitor's events
 * ({@linkcode LogFiles.event}).
 *
 * @example
 * ```ts ignore
 * const files = new LogFiles({ fs, onNotice: (m) => log.log("warn", m) });
 * files.configure(config.processes, () => false);
 * const sink = files.lines("web", 42, "stdout");
 * ```
 */
export class LogFiles {
  #options: LogFilesOptions;
  #files = new Map<string, ProcessLogFile>();
  // Processes a reload removed while they ran: their files stay until
  // they exit, so that their last lines and their exit are in them.
  #leaving = new Set<string>();
  // Files being closed, by path, so that the next writer of a path opens
  // it only after the last one has let go.
  #closing = new Map<string, Promise<void>>();

  /** @param options where the files are, and what to say about them */
  constructor(options: LogFilesOptions) {
    this.#options = options;
  }

  /**
   * Makes the files match the config: a file for each process whose spec
   * has a `log`, one whose settings changed closed and opened anew (from
   * its next record on, without restarting the process), one no longer
   * wanted closed. A process gone from the config that still `running`
   * keeps its file until it exits.
   *
   * @param processes the processes of the config, by name
   * @param running whether a process has a child now
   */
  configure(
    processes: Readonly<Record<string, { log?: LogFileSpec }>>,
    running: (name: string) => boolean,
  ): void {
    const overBudget = () => this.#overBudget();
    const wanted = new Map<string, LogFileSpec>();
    for (const [name, spec] of Object.entries(processes)) {
      if (spec.log !== undefined) wanted.set(name, spec.log);
    }
    for (const [name, file] of [...this.#files]) {
      const next = wanted.get(name);
      if (next !== undefined && sameFile(next, file.spec)) {
        this.#leaving.delete(name);
        continue;
      }
      if (!Object.hasOwn(processes, name) && running(name)) {
        this.#leaving.add(name);
        continue;
      }
      this.#retire(name, file);
    }
    for (const [name, spec] of wanted) {
      if (this.#files.has(name)) continue;
      this.#files.set(
        name,
        new ProcessLogFile(
          name,
          spec,
          this.#options,
          this.#closing.get(spec.file),
          overBudget,
        ),
      );
    }
  }

  /** The log file of a process, or `null` when it has none. */
  fileOf(name: string): LogFileSpec | null {
    return this.#files.get(name)?.spec ?? null;
  }

  /**
   * A sink for the lines one child writes to one stream, into its
   * process's file: the file in force when each line comes, so a reload
   * that gives a running process a file, or another one, applies at once.
   */
  lines(name: string, pid: number, stream: OutputStream): LineSink {
    let bound: ProcessLogFile | undefined;
    let sink: LineSink | null = null;
    const current = (): LineSink | null => {
      const file = this.#files.get(name);
      if (file !== bound) {
        bound = file;
        sink = file?.lines(pid, stream) ?? null;
      }
      return sink;
    };
    return {
      line(bytes, start, end, valid) {
        current()?.line(bytes, start, end, valid);
      },
      lines(bytes, starts, ends, count) {
        const to = current();
        if (to === null) return;
        if (to.lines) to.lines(bytes, starts, ends, count);
        else for (let i = 0; i < count; i++) to.line(bytes, starts[i]!, ends[i]!, true);
      },
    };
  }

  /** Writes a record about one of tend's events into its process's file. */
  event(event: MonitorEvent): void {
    if (event.type === "state") return;
    const file = this.#files.get(event.name);
    if (file === undefined) return;
    file.event(event);
    if (
      this.#leaving.has(event.name) &&
      (event.type === "exited" || event.type === "abandoned")
    ) {
      this.#leaving.delete(event.name);
      this.#retire(event.name, file);
    }
  }

  /**
   * Writes what is left and closes every file; resolves once done (a file
   * that fails is tried once more first).
   */
  async close(): Promise<void> {
    for (const [name, file] of [...this.#files]) this.#retire(name, file);
    this.#leaving.clear();
    await Promise.all([...this.#closing.values()]);
  }

  // Whether every file together holds back more than the total allowed.
  // Only asked by a file that itself holds back a good deal, so the sum
  // over all files is not paid on the common path.
  #overBudget(): boolean {
    const limit = this.#options.totalHighWater ?? DEFAULT_TOTAL_HIGH_WATER;
    let total = 0;
    for (const file of this.#files.values()) {
      total += file.pending;
      if (total >= limit) return true;
    }
    return false;
  }

  #retire(name: string, file: ProcessLogFile): void {
    this.#files.delete(name);
    this.#leaving.delete(name);
    const path = file.spec.file;
    const closed: Promise<void> = file.close().finally(() => {
      if (this.#closing.get(path) === closed) this.#closing.delete(path);
    });
    this.#closing.set(path, closed);
  }
}

function sameFile(a: LogFileSpec, b: LogFileSpec): boolean {
  return a.file === b.file && a.maxBytes === b.maxBytes && a.backups === b.backups;
}

const DEFAULT_HIGH_WATER = 8 * 1024 * 1024;
const DEFAULT_TOTAL_HIGH_WATER = 32 * 1024 * 1024;

// One process's file: its Logger over its RotatingFile, and the count of
// records dropped while the file could not keep up.
class ProcessLogFile {
  readonly spec: LogFileSpec;
  #name: string;
  #file: RotatingFile;
  #logger: Logger;
  #highWater: number;
  // From this much held back, the total over every file counts too.
  #share: number;
  #overBudget: () => boolean;
  #onNotice: (message: string) => void;
  #dropped = 0;

  constructor(
    name: string,
    spec: LogFileSpec,
    options: LogFilesOptions,
    after: Promise<void> | undefined,
    overBudget: () => boolean,
  ) {
    this.#name = name;
    this.spec = spec;
    this.#highWater = options.highWater ?? DEFAULT_HIGH_WATER;
    this.#share = this.#highWater / 8;
    this.#overBudget = overBudget;
    const notice = options.onNotice ?? (() => {});
    this.#onNotice = (message) => notice(`${name}'s log file: ${message}`);
    this.#file = new RotatingFile(options.fs, spec, after);
    this.#logger = new Logger({
      out: this.#file,
      format: "text",
      color: false,
      ...(options.now ? { now: options.now } : {}),
      // Never reached: records are dropped well before (see #admit), and
      // the Logger's back-pressure is not handed to anyone anyway.
      highWater: Number.MAX_SAFE_INTEGER,
      ...(options.retryInterval !== undefined
        ? { retryInterval: options.retryInterval }
        : {}),
      onNotice: this.#onNotice,
    });
  }

  /** Bytes waiting for the file's write in flight to end. */
  get pending(): number {
    return this.#logger.pending;
  }

  lines(pid: number, stream: OutputStream): LineSink {
    const inner = this.#logger.lines(this.#name, pid, stream);
    return {
      line: (bytes, start, end, valid) => {
        if (this.#admit(1)) inner.line(bytes, start, end, valid);
      },
      lines: (bytes, starts, ends, count) => {
        if (!this.#admit(count)) return;
        if (inner.lines) inner.lines(bytes, starts, ends, count);
        else {for (let i = 0; i < count; i++) {
            inner.line(bytes, starts[i]!, ends[i]!, true);
          }}
      },
    };
  }

  event(event: MonitorEvent): void {
    if (this.#admit(1)) this.#logger.event(event);
  }

  async close(): Promise<void> {
    this.#admit(0);
    await this.#logger.flush();
    this.#file.close();
  }

  // Whether `count` more records may be buffered: not while more than the
  // high-water mark waits to be written (or a good deal does, and all the
  // files together are over theirs), when they are counted instead. Once
  // there is room again, a record says how many are missing here.
  #admit(count: number): boolean {
    const pending = this.#logger.pending;
    if (
      pending >= this.#highWater || (pending >= this.#share && this.#overBudget())
    ) {
      this.#dropped += count;
      return false;
    }
    if (this.#dropped > 0) {
      const n = this.#dropped;
      this.#dropped = 0;
      const records = `${n} log record${n === 1 ? " was" : "s were"}`;
      this.#logger.log(
        "warn",
        `${records} lost: this file could not keep up`,
        { event: "log-lost", lost: n, error: "the file could not keep up" },
      );
      this.#onNotice(`could not keep up; ${records} dropped from it`);
    }
    return true;
  }
}
