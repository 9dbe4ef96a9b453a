/**
 * What each process has printed, counted for `/metrics`: lines and bytes
 * per stream, and how many times its children exited.
 *
 * The output path is tend's hot loop, so counting must cost next to
 * nothing: bytes are counted once per chunk read from the pipe (exactly
 * what the child wrote, line endings included), lines once per batch the
 * framer hands on (a batch of a thousand lines is one addition), and the
 * counts live in plain objects looked up once per child, when its pipes
 * are wired, never per line. A line longer than the framer's 64 KiB
 * pieces counts once per piece, as tend's log shows it.
 *
 * @module
 */

import type { OutputHandler, OutputStream } from "../core/ports.ts";
import type { LineSink } from "./framer.ts";

/** What one stream of one process has carried. */
export interface StreamCount {
  /** Lines (records in tend's log). */
  lines: number;
  /** Bytes as the child wrote them. */
  bytes: number;
}

/** The counts of one process. */
export interface ProcessCount {
  /** Its stdout. */
  stdout: StreamCount;
  /** Its stderr. */
  stderr: StreamCount;
  /** How many of its children have exited. */
  exits: number;
}

/**
 * Counts per process name. A process a reload removes loses its counts
 * (a process added later under its name starts from zero, which
 * Prometheus reads as a counter reset); one a reload changes keeps them.
 *
 * @example
 * ```ts
 * import { ProcessCounters } from "./counters.ts";
 * const counters = new ProcessCounters();
 * const sink = counters.lines("web", "stdout", { line: () => {} });
 * sink.line(new Uint8Array(3), 0, 3, true);
 * counters.get("web")?.stdout.lines; // 1
 * ```
 */
export class ProcessCounters {
  #counts = new Map<string, ProcessCount>();

  /** The counts of `name`, if it has any. */
  get(name: string): ProcessCount | undefined {
    return this.#counts.get(name);
  }

  /** The counts of `name`, created at zero on first need. */
  of(name: string): ProcessCount {
    let count = this.#counts.get(name);
    if (count === undefined) {
      count = {
        stdout: { lines: 0, bytes: 0 },
        stderr: { lines: 0, bytes: 0 },
        exits: 0,
      };
      this.#counts.set(name, count);
    }
    return count;
  }

  /** A child of `name` exited. */
  exited(name: string): void {
    this.of(name).exits++;
  }

  /** Drops the counts of a removed process. */
  forget(name: string): void {
    this.#counts.delete(name);
  }

  /**
   * `sink`, counting the lines it gets for `name`'s `stream` on the way
   * (one addition per batch on the fast path).
   */
  lines(name: string, stream: OutputStream, sink: LineSink): LineSink {
    const count = this.of(name)[stream];
    const out: LineSink = {
      line(bytes, start, end, valid) {
        count.lines++;
        sink.line(bytes, start, end, valid);
      },
    };
    const batch = sink.lines?.bind(sink);
    out.lines = batch === undefined
      ? (bytes, starts, ends, n) => {
        count.lines += n;
        for (let i = 0; i < n; i++) sink.line(bytes, starts[i]!, ends[i]!, true);
      }
      : (bytes, starts, ends, n) => {
        count.lines += n;
        batch(bytes, starts, ends, n);
      };
    return out;
  }

  /** `handler`, counting the bytes of each chunk for `name`'s `stream`. */
  bytes(name: string, stream: OutputStream, handler: OutputHandler): OutputHandler {
    const count = this.of(name)[stream];
    return {
      write(chunk) {
        count.bytes += chunk.length;
        return handler.write(chunk);
      },
      end: () => handler.end(),
    };
  }
}
