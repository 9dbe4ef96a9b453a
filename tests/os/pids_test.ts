/**
 * The registry of tend's own children, and the rule that keeps it whole:
 * every spawn in lib/ goes through spawnOwn, so the reaper never takes the
 * exit status of a child Deno waits for.
 */

import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { ownPids, PidRegistry, spawnOwn } from "../../lib/os/pids.ts";

const LIB = fileURLToPath(new URL("../../lib", import.meta.url));

Deno.test("PidRegistry counts: a pid reused before the old unregistration stays registered", () => {
  const pids = new PidRegistry();
  pids.add(7);
  pids.add(7);
  pids.delete(7);
  assert.ok(pids.has(7));
  pids.delete(7);
  assert.ok(!pids.has(7));
  pids.delete(7);
  assert.equal(pids.size, 0);
});

Deno.test("spawnOwn registers before anything else runs and unregisters once the status settles", async () => {
  const child = spawnOwn("sh", { args: ["-c", "exit 3"], stdin: "null" });
  assert.ok(ownPids.has(child.pid), "registered in the same turn as the spawn");
  assert.equal((await child.status).code, 3);
  await Promise.resolve();
  assert.ok(!ownPids.has(child.pid));
  // output() through a registered child works as Deno.Command's does.
  const out = await spawnOwn("sh", { args: ["-c", "echo hi"], stdout: "piped" })
    .output();
  assert.equal(new TextDecoder().decode(out.stdout), "hi\n");
});

Deno.test("every spawn in lib/ goes through os/pids.ts (no Deno.Command anywhere else)", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const code = (await Deno.readTextFile(path))
          .replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/(^|[^:\\"'`])\/\/.*$/gm, "$1");
        const name = relative(LIB, path);
        if (name !== join("os", "pids.ts") && /\bDeno\.Command\b/.test(code)) {
          offenders.push(name);
        }
      }
    }
  };
  await walk(LIB);
  assert.deepEqual(offenders, [], "spawn with spawnOwn (lib/os/pids.ts) instead");
});

Deno.test("every posix_spawn in lib/ is the FFI spawner's, which adopts the pid at once", async () => {
  const offenders: string[] = [];
  const walk = async (dir: string) => {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.name.endsWith(".ts")) {
        const code = (await Deno.readTextFile(path))
          .replace(/\/\*[\s\S]*?\*\//g, "")
          .replace(/(^|[^:\\"'`])\/\/.*$/gm, "$1");
        const name = relative(LIB, path);
        const calls = code.match(/\.posix_spawn\(/g)?.length ?? 0;
        if (calls === 0) continue;
        if (name !== join("os", "ffi_spawner.ts")) offenders.push(name);
        // (ffi_spawner_test.ts checks that the pid is registered in the same
        // turn as the spawn.)
        else if (!/ownPids\.adopt\(pid\)/.test(code)) {
          offenders.push(`${name} (no adopt)`);
        }
      }
    }
  };
  await walk(LIB);
  assert.deepEqual(offenders, [], "only os/ffi_spawner.ts spawns with posix_spawn");
});
