/**
 * Writing to the terminal: the only place, with `main.ts`, where tend
 * prints anything other than its log.
 *
 * @module
 */

/** Something text can be written to synchronously: `Deno.stdout`, `Deno.stderr`. */
export interface SyncWriter {
  /** Writes some of `p`, returning how many bytes were written. */
  writeSync(p: Uint8Array): number;
}

/**
 * Text could not be written (stdout on a full disk, a closed pipe); the
 * command line reports it in one line and exits 74, or quietly when the
 * reader has gone.
 */
export class WriteError extends Error {
  /** Whether the reader has gone (EPIPE): nobody is there to tell. */
  readonly readerGone: boolean;

  /** Wraps the OS's error; `message` is its message. */
  constructor(cause: unknown) {
    super(cause instanceof Error ? cause.message : String(cause), { cause });
    this.name = "WriteError";
    this.readerGone = cause instanceof Deno.errors.BrokenPipe;
  }
}

const encoder = new TextEncoder();

// The most bytes a pipe takes whole or not at all (see the log's PIPE_BUF).
const PIPE_BUF = 4096;

/**
 * Writes all of `text` to `out`.
 *
 * A non-blocking stdout that is full (EAGAIN) is waited for. Writes are at
 * most 4096 bytes and end at a line end where lines allow, so that a
 * retry after EAGAIN repeats nothing on a pipe (`Deno.stdout` reports
 * EAGAIN even for bytes it took into a hidden buffer; see the log).
 *
 * @throws {WriteError} when the OS refuses the write
 */
export function write(out: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  let wait = 1;
  while (off < bytes.length) {
    let end = Math.min(bytes.length, off + PIPE_BUF);
    if (end < bytes.length) {
      const nl = bytes.subarray(off, end).lastIndexOf(0x0a);
      if (nl !== -1) end = off + nl + 1;
    }
    try {
      off += out.writeSync(bytes.subarray(off, end));
      wait = 1;
    } catch (error) {
      if (error instanceof Deno.errors.Interrupted) continue;
      if (!(error instanceof Deno.errors.WouldBlock)) throw new WriteError(error);
      // Nothing else runs meanwhile: this is the whole of `tend --help`.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, wait);
      wait = Math.min(wait * 2, 50);
    }
  }
}
