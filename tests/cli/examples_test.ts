/**
 * The deployment examples stay true: the systemd unit passes
 * `systemd-analyze verify`, and the unit and the Dockerfile run tend with
 * the permissions of the `start` task. (The Dockerfile cannot be built
 * here: there is no container engine. These checks keep it honest.)
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { only } from "../_fakes/proc.ts";
import { PERMISSIONS, tempDir } from "../_fakes/tend.ts";

const EXAMPLES = fileURLToPath(new URL("../../examples/", import.meta.url));
const UNIT = join(EXAMPLES, "tend.service");
const DOCKERFILE = join(EXAMPLES, "Dockerfile");

/** Why the unit cannot be verified here, or null when it can. */
const NO_ANALYZE: string | null = await (async () => {
  try {
    await new Deno.Command("systemd-analyze", { args: ["--version"], stdout: "null" })
      .output();
    return null;
  } catch {
    return "needs systemd-analyze (Debian's systemd package)";
  }
})();

function execStart(unit: string): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  assert.ok(line, "the unit has an ExecStart=");
  return line.slice("ExecStart=".length).split(/\s+/);
}

Deno.test(
  only(
    "examples/tend.service passes systemd-analyze verify without a word on stderr",
    NO_ANALYZE,
  ),
  async () => {
    let unit = await Deno.readTextFile(UNIT);
    const deno = execStart(unit)[0]!;
    // verify wants ExecStart's program to exist here; where Deno lives
    // elsewhere, point the copy at this one.
    try {
      await Deno.stat(deno);
    } catch {
      unit = unit.replace(`ExecStart=${deno} `, `ExecStart=${Deno.execPath()} `);
    }
    await using dir = await tempDir();
    const file = await dir.write("tend.service", unit);
    const out = await new Deno.Command("systemd-analyze", {
      args: ["verify", "--man=no", file],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    // It exits 0 on warnings (an unknown key, a bad value): any output fails.
    assert.equal(stderr, "", "systemd-analyze had something to say");
    assert.equal(out.code, 0);
  },
);

Deno.test("the unit and the Dockerfile run tend with the start task's permissions", async () => {
  const fromUnit = execStart(await Deno.readTextFile(UNIT));
  const flags = (a: string) => a.startsWith("--allow-") || a.startsWith("--v8-flags=");
  assert.deepEqual(fromUnit.filter(flags), PERMISSIONS);
  assert.ok(fromUnit.includes("--subreaper"));
  const dockerfile = await Deno.readTextFile(DOCKERFILE);
  const entrypoint = dockerfile.match(/^ENTRYPOINT (\[.*\])$/m)?.[1];
  assert.ok(entrypoint, "the Dockerfile has an exec-form ENTRYPOINT");
  const argv = JSON.parse(entrypoint) as string[];
  assert.deepEqual(argv.filter(flags), PERMISSIONS);
  assert.ok(PERMISSIONS.includes("--allow-ffi"), "reaping and sd_notify need it");
  assert.ok(
    PERMISSIONS.includes("--v8-flags=--enable-experimental-regexp-engine"),
    "log probes need the linear-time engine",
  );
});

Deno.test("the Dockerfile installs the Deno that CI uses, from npm, and caches by the lock file", async () => {
  const dockerfile = await Deno.readTextFile(DOCKERFILE);
  const ci = await Deno.readTextFile(
    fileURLToPath(new URL("../../.ci/run", import.meta.url)),
  );
  const version = ci.match(/npm install -g (deno@[\d.]+)/)?.[1];
  assert.ok(version, ".ci/run installs Deno from npm");
  assert.ok(
    dockerfile.includes(`npm install -g ${version}`),
    `the Dockerfile installs ${version}`,
  );
  assert.match(dockerfile, /deno-native install --frozen --entrypoint main\.ts/);
  assert.match(dockerfile, /"--cached-only"/);
});
