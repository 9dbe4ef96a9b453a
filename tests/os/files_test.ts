/**
 * The non-blocking opener the config loader uses over libc: it reads
 * regular files, tells what it opened, never blocks on a FIFO, and fails
 * with Deno's own errors.
 */

import assert from "node:assert/strict";
import { loadConfig } from "../../lib/config/load.ts";
import { libcUnavailable } from "../../lib/os/libc.ts";
import { makedev, nonBlockingOpener } from "../../lib/os/files.ts";
import { only } from "../_fakes/proc.ts";

const NO_LIBC = libcUnavailable();

Deno.test("makedev encodes as glibc does", () => {
  assert.equal(makedev(8n, 1n), 0x801n);
  assert.equal(makedev(259n, 0x12345n), (0x123n << 20n) | (259n << 8n) | 0x45n);
  assert.equal(makedev(0x12345n, 0n), (0x12n << 44n) | (0x345n << 8n));
});

Deno.test(
  only("a regular file is read whole, and fstat says what stat says", NO_LIBC),
  async () => {
    const open = nonBlockingOpener()!;
    const file = await Deno.makeTempFile();
    try {
      const text = "x".repeat(200_000);
      await Deno.writeTextFile(file, text);
      const handle = await open(file);
      try {
        const stat = await handle.stat();
        const info = await Deno.stat(file);
        assert.deepEqual(stat, {
          isFile: true,
          dev: BigInt(info.dev),
          ino: BigInt(info.ino!),
          size: 200_000n,
        });
        const buffer = new Uint8Array(300_000);
        let length = 0;
        for (let i = 0; i < 100; i++) {
          const n = await handle.read(buffer, length, buffer.length - length);
          if (n === 0) break;
          length += n;
        }
        assert.equal(new TextDecoder().decode(buffer.subarray(0, length)), text);
      } finally {
        await handle.close();
      }
    } finally {
      await Deno.remove(file);
    }
  },
);

Deno.test(
  only("a FIFO with no writer opens at once, and is not taken for a file", NO_LIBC),
  async () => {
    const dir = await Deno.makeTempDir();
    const fifo = `${dir}/fifo`;
    try {
      const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
      assert.ok(made.success);
      const handle = await nonBlockingOpener()!(fifo);
      try {
        assert.equal((await handle.stat()).isFile, false);
      } finally {
        await handle.close();
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test(
  only("a missing file fails as Deno.open fails, with its reason", NO_LIBC),
  async () => {
    await assert.rejects(
      () => nonBlockingOpener()!("/nonexistent/tend-file"),
      (e: unknown) =>
        e instanceof Deno.errors.NotFound && /No such file/.test(String(e)),
    );
  },
);

Deno.test(
  only("loadConfig reads a config, and refuses a FIFO, through the opener", NO_LIBC),
  async () => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(
        `${dir}/procs.yaml`,
        "processes:\n  a: {cmd: [sleep, '1']}\n",
      );
      const config = await loadConfig(`${dir}/procs.yaml`, {
        open: nonBlockingOpener()!,
      });
      assert.deepEqual(Object.keys(config.processes), ["a"]);
      await new Deno.Command("mkfifo", { args: [`${dir}/fifo.yaml`] }).output();
      await assert.rejects(
        () => loadConfig(`${dir}/fifo.yaml`, { open: nonBlockingOpener()! }),
        (e: unknown) => /is a FIFO, not a regular file/.test(String(e)),
      );
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
