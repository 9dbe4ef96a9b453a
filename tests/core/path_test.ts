/** core/path.ts agrees with node:path's posix functions. */

import assert from "node:assert/strict";
import * as node from "node:path";
import * as path from "../../lib/core/path.ts";

const CASES = [
  "",
  ".",
  "..",
  "/",
  "//",
  "///a",
  "a",
  "a/",
  "a//b",
  "/a/b/",
  "/a/b//",
  "a/./b",
  "a/../b",
  "a/../../b/",
  "../a/..",
  "/../a",
  "/a/b/../../..",
  "./",
  "a/.",
  "./a/./",
  "/tmp/x.yaml",
  "procs/../../etc/",
  "~/x",
  "a b/c d",
];

Deno.test("normalize, dirname, basename and isAbsolute agree with node:path", () => {
  for (const p of CASES) {
    assert.equal(
      path.normalize(p),
      node.posix.normalize(p),
      `normalize(${JSON.stringify(p)})`,
    );
    assert.equal(
      path.dirname(p),
      node.posix.dirname(p),
      `dirname(${JSON.stringify(p)})`,
    );
    assert.equal(
      path.basename(p),
      node.posix.basename(p),
      `basename(${JSON.stringify(p)})`,
    );
    assert.equal(
      path.isAbsolute(p),
      node.posix.isAbsolute(p),
      `isAbsolute(${JSON.stringify(p)})`,
    );
  }
});

Deno.test("join and resolve agree with node:path", () => {
  for (const a of CASES) {
    for (const b of CASES) {
      assert.equal(
        path.join(a, b),
        node.posix.join(a, b),
        `join(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
      );
      if (a.startsWith("/")) {
        assert.equal(
          path.resolve(a, b),
          node.posix.resolve(a, b),
          `resolve(${JSON.stringify(a)}, ${JSON.stringify(b)})`,
        );
      }
    }
  }
});
