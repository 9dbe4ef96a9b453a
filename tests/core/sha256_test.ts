/** core/sha256.ts agrees with node:crypto. */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { sha256Hex } from "../../lib/core/sha256.ts";

Deno.test("sha256Hex gives node:crypto's digest, across block boundaries and UTF-8", () => {
  const texts = ["", "abc", "/srv/app/procs.yaml", "é☃\u{1F600}\0x"];
  for (let n = 50; n < 140; n++) texts.push("a".repeat(n));
  for (const text of texts) {
    assert.equal(
      sha256Hex(text),
      createHash("sha256").update(text).digest("hex"),
      JSON.stringify(text),
    );
  }
});
