/**
 * The bundled yaml package (lib/config/vendor/yaml.js) is exactly what
 * tools/bundle_yaml.ts makes of the version deno.json pins, and lib/ loads
 * yaml only through it.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { BUNDLE, freshBundle } from "../../tools/bundle_yaml.ts";

const LIB = fileURLToPath(new URL("../../lib", import.meta.url));

Deno.test("the committed yaml bundle is what bundling the pinned package gives now", async () => {
  const committed = await Deno.readTextFile(BUNDLE);
  // Not assert.equal: a diff of 200 KB says less than the fix does.
  assert.ok(
    committed === await freshBundle(),
    `${BUNDLE} is stale: run deno task bundle-yaml`,
  );
});

Deno.test("lib/ imports yaml only through config/yaml_package.ts (so no npm package loads)", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const code = await Deno.readTextFile(path);
        if (
          /from\s+["'](?:yaml|npm:[^"']*)["']|import\(\s*["'](?:yaml|npm:)/.test(code)
        ) {
          offenders.push(relative(LIB, path));
        }
      }
    }
  };
  await walk(LIB);
  assert.deepEqual(offenders, []);
});
