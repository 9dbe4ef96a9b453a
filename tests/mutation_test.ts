/**
 * Every single-rule mutation of the monitor (tests/mutate.ts) is caught by
 * the fake-clock tests: no rule of procmon's is left unpinned.
 */

import assert from "node:assert/strict";
import { MUTATIONS, survivors } from "./mutate.ts";

Deno.test("no mutation of the monitor's rules survives its tests", async () => {
  assert.ok(MUTATIONS.length >= 30, "the list covers the rules");
  assert.deepEqual(await survivors(), []);
});
