/**
 * Writing what the command line prints: all of it, once, whatever the OS
 * says on the way.
 */

import assert from "node:assert/strict";
import { type SyncWriter, write, WriteError } from "../../lib/cli/console.ts";

const dec = new TextDecoder();

Deno.test("write waits out a full non-blocking stdout (EAGAIN) and repeats nothing", () => {
  const writes: Uint8Array[] = [];
  let calls = 0;
  const out: SyncWriter = {
    writeSync(p) {
      // Full every other time; otherwise it takes at most 1000 bytes.
      if (calls++ % 2 === 0) {
        throw new Deno.errors.WouldBlock(
          "Resource temporarily unavailable (os error 11)",
        );
      }
      const n = Math.min(p.length, 1000);
      writes.push(p.slice(0, n));
      return n;
    },
  };
  const text =
    Array.from({ length: 500 }, (_, i) => `line ${i} ${"x".repeat(i % 90)}\n`)
      .join("") + "x".repeat(9000);
  write(out, text);
  assert.equal(writes.map((w) => dec.decode(w)).join(""), text);
});

Deno.test("write asks for at most 4096 bytes at a time, ending at a line end where lines allow", () => {
  const asked: Uint8Array[] = [];
  write({
    writeSync(p) {
      asked.push(p.slice());
      return p.length;
    },
  }, "a".repeat(3000) + "\n" + "b".repeat(3000) + "\n" + "c".repeat(9000));
  assert.deepEqual(asked.map((p) => p.length), [3001, 3001, 4096, 4096, 808]);
});

Deno.test("write turns what the OS refuses into a WriteError, telling a reader that left apart", () => {
  const failing = (error: Error): SyncWriter => ({
    writeSync() {
      throw error;
    },
  });
  const full = Object.assign(new Error("No space left on device (os error 28)"), {
    code: "ENOSPC",
  });
  assert.throws(
    () => write(failing(full), "x\n"),
    (e) =>
      e instanceof WriteError && !e.readerGone &&
      e.message === "No space left on device (os error 28)",
  );
  assert.throws(
    () =>
      write(failing(new Deno.errors.BrokenPipe("Broken pipe (os error 32)")), "x\n"),
    (e) => e instanceof WriteError && e.readerGone,
  );
});
