/**
 * Whether a file descriptor is non-blocking: FIFOs opened by the test
 * itself, both ways.
 */

import assert from "node:assert/strict";
import { closeSync, constants, openSync } from "node:fs";
import { join } from "node:path";
import { isNonBlocking } from "../../lib/os/stdio.ts";
import { tempDir } from "../_fakes/tend.ts";

async function fifo(dir: string): Promise<string> {
  const path = join(dir, "fifo");
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(out.success);
  return path;
}

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
