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

const encoder = new TextEncoder();

/** Writes all of `text` to `out`. */
export function write(out: SyncWriter, text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
}
