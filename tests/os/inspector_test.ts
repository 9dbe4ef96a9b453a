/**
 * The SIGUSR1 guard on its own (tests/cli/os_hardening_test.ts storms a
 * real tend with SIGUSR1 while racing for the port).
 *
 * `deno test` starts no SIGUSR1 task of its own, as the compiled binary
 * does not: the guard runs here in what is, for SIGUSR1, that binary's
 * situation.
 */

import assert from "node:assert/strict";
import { guardInspector, guardWarning } from "../../lib/os/inspector.ts";
import { libcUnavailable } from "../../lib/os/libc.ts";
import { dispositionOf, isCaught } from "../../lib/os/signals.ts";
import { NO_PS, only } from "../_fakes/proc.ts";

const INSPECTOR = new URL("../../lib/os/inspector.ts", import.meta.url).href;

/** The signals `pid` ignores, as the bit mask `ps` shows. */
async function ignored(pid: number): Promise<bigint> {
  const out = await new Deno.Command("ps", {
    args: ["-o", "ignored=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return BigInt(`0x${new TextDecoder().decode(out.stdout).trim()}`);
}

Deno.test(
  only(
    "the guard makes SIGUSR1 a no-op in tend that its children still get at its default action",
    libcUnavailable() ?? NO_PS,
  ),
  async () => {
    const guard = guardInspector();
    assert.deepEqual(guard, { guarded: true, late: false });
    assert.equal(guardWarning(guard), null);
    assert.strictEqual(guardInspector(), guard, "a second call changes nothing");
    assert.ok(isCaught(dispositionOf(10)!), "SIGUSR1 is caught, not ignored");
    // Were SIGUSR1 at its default action, this would end the test run.
    for (let i = 0; i < 5; i++) Deno.kill(Deno.pid, "SIGUSR1");
    const child = new Deno.Command("sleep", { args: ["100"], stdin: "null" }).spawn();
    try {
      // SIG_IGN would be inherited across execve; a handler is not.
      assert.equal((await ignored(child.pid)) & (1n << 9n), 0n);
      child.kill("SIGUSR1");
      assert.equal((await child.status).signal, "SIGUSR1");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // already gone
      }
    }
  },
);

Deno.test("without --allow-ffi the guard says why, and SIGUSR1 still does not end the process", async () => {
  const script = `import { guardInspector } from ${JSON.stringify(INSPECTOR)};
const guard = guardInspector();
Deno.kill(Deno.pid, "SIGUSR1");
await new Promise((resolve) => setTimeout(resolve, 100));
console.log(JSON.stringify(guard));`;
  const file = await Deno.makeTempFile({ prefix: "tend-guard-", suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  // `deno eval` would grant every permission; `deno run` grants none.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", file],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  const text = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, text + new TextDecoder().decode(out.stderr));
  const guard = JSON.parse(text);
  assert.equal(guard.guarded, false);
  assert.match(guard.reason, /--allow-ffi/);
  assert.match(guardWarning(guard)!, /^SIGUSR1 is unsafe here \(needs --allow-ffi\)/);
});
