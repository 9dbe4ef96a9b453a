/**
 * What a file descriptor is open on, and whether it is non-blocking: real
 * files, devices and FIFOs opened by the test itself.
 */

import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { fdKind, isNonBlocking } from "../../lib/os/stdio.ts";
import { tempDir } from "../_fakes/tend.ts";

async function fifo(dir: string): Promise<string> {
  const path = join(dir, "fifo");
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(out.success);
  return path;
}

Deno.test("fdKind tells files, devices, pipes and closed descriptors apart", async () => {
  await using dir = await tempDir();
  const cases: [number, string][] = [
    [openSync(await dir.write("file", "x"), "r"), "file"],
    [openSync("/dev/null", "w"), "device"],
    // O_RDWR: opening a FIFO that way does not wait for a reader.
    [openSync(await fifo(dir.path), "r+"), "pipe"],
  ];
  try {
    for (const [fd, kind] of cases) assert.equal(fdKind(fd), kind);
    assert.equal(fdKind(987654), "unknown");
  } finally {
    for (const [fd] of cases) closeSync(fd);
  }
});

Deno.test({
  name: "isNonBlocking reads O_NONBLOCK of a descriptor (Linux)",
  ignore: Deno.build.os !== "linux",
  fn: async () => {
    await using dir = await tempDir();
    const path = await fifo(dir.path);
    const blocking = openSync(path, "r+");
    const nonBlocking = openSync(path, constants.O_RDWR | constants.O_NONBLOCK);
    try {
      assert.equal(await isNonBlocking(blocking), false);
      assert.equal(await isNonBlocking(nonBlocking), true);
      assert.equal(await isNonBlocking(987654), null);
    } finally {
      closeSync(blocking);
      closeSync(nonBlocking);
    }
  },
});
