/**
 * The single executable: `deno compile` (as `deno task compile` runs it)
 * builds a `tend` that works without Deno's CLI or the sources.
 *
 * `deno compile` downloads Deno's runtime (`denort`) the first time; where
 * that download cannot happen, the test is skipped and says so. Any other
 * compile failure fails the test.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };
import { only } from "../_fakes/proc.ts";

const root = fileURLToPath(new URL("../..", import.meta.url));
const dir = await Deno.makeTempDir({ prefix: "tend-compile-" });
const binary = `${dir}/tend`;

// The task's own flags, with the output moved to the temp dir.
const taskArgs = denoJson.tasks.compile.split(" ").slice(1)
  .map((arg) => arg === "tend" ? binary : arg);
const compiled = await new Deno.Command(Deno.execPath(), {
  args: taskArgs,
  cwd: root,
  stdout: "piped",
  stderr: "piped",
  env: { NO_COLOR: "1" },
}).output();
const compileLog = new TextDecoder().decode(compiled.stderr);
const cannotDownload = !compiled.success &&
  /dl\.deno\.land|error sending request|dns error|Connect/.test(compileLog);

async function tend(...args: string[]): Promise<{ code: number; out: string }> {
  const out = await new Deno.Command(binary, {
    args,
    cwd: root,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}

Deno.test(
  only(
    "deno compile builds a tend that runs on its own",
    cannotDownload
      ? "deno compile must download its runtime (denort) from dl.deno.land, " +
        "which this machine cannot reach"
      : null,
  ),
  async () => {
    try {
      assert.ok(compiled.success, `deno compile failed:\n${compileLog}`);
      const version = await tend("--version");
      assert.equal(version.out.trim(), `tend ${denoJson.version}`);
      const check = await tend("check", "procs.example.yaml");
      assert.equal(check.code, 0, check.out);
      const run = await tend("run", "--restart", "never", "--", "sh", "-c", "echo hi");
      assert.equal(run.code, 0, run.out);
      assert.match(run.out, /\[sh\] hi/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

if (cannotDownload) await Deno.remove(dir, { recursive: true });
