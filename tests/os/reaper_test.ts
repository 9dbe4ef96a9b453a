/**
 * The reaper against real processes: each scenario runs in a process of
 * its own (reaper_harness.ts), as a child subreaper (no privilege needed)
 * or as PID 1 of a new PID namespace (root, `unshare`), and its summary is
 * checked: every status of tend's own children right, every orphan
 * reaped, nothing left.
 */

import assert from "node:assert/strict";
import { ownPids, spawnOwn } from "../../lib/os/pids.ts";
import { ffiSpawnerUnavailable } from "../../lib/os/ffi_spawner.ts";
import { listChildren, processStat } from "../../lib/os/reaper.ts";
import { only } from "../_fakes/proc.ts";
import type { Summary } from "./reaper_harness.ts";

const HARNESS = new URL("./reaper_harness.ts", import.meta.url).pathname;

/** Why PID-namespace tests cannot run here, or null when they can. */
export const NO_PIDNS: string | null = await (async () => {
  if (Deno.uid() !== 0) return "needs root for unshare --pid";
  try {
    const out = await new Deno.Command("unshare", {
      args: ["--fork", "--pid", "--mount-proc", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "unshare --fork --pid --mount-proc fails here";
  } catch {
    return "needs util-linux unshare";
  }
})();

async function harness(pid1: boolean, args: string[]): Promise<Summary> {
  const deno = [
    Deno.execPath(),
    "run",
    "--allow-ffi",
    "--allow-run",
    "--allow-read",
    "--allow-write",
    HARNESS,
    ...args,
  ];
  const [program, ...rest] = pid1
    ? ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child", ...deno]
    : deno;
  const child = new Deno.Command(program!, {
    args: rest,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // Bounded: the harness ends within seconds; kill it if it hangs.
  const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
  const out = await child.output();
  clearTimeout(timer);
  const text = new TextDecoder().decode(out.stdout).trim();
  const last = text.split("\n").pop() ?? "";
  assert.ok(
    out.success && last.startsWith("{"),
    `harness failed (${out.code}): ${new TextDecoder().decode(out.stderr)}\n${text}`,
  );
  return JSON.parse(last) as Summary;
}

function assertClean(s: Summary, statuses: number, reaped: number): void {
  const dump = JSON.stringify(s);
  assert.deepEqual(s.rejected, [], `no status taken from Deno: ${dump}`);
  assert.equal(s.statuses, statuses, dump);
  assert.equal(s.right, statuses, `every exit code right: ${dump}`);
  assert.equal(s.reaped, reaped, `every orphan reaped: ${dump}`);
  assert.equal(s.zombiesLeft, 0, `no zombie left: ${dump}`);
  assert.equal(s.childrenLeft, 0, `no child left: ${dump}`);
}

Deno.test("spawnOwn registers the child until its status settles; listChildren and processStat see it", async () => {
  const child = spawnOwn("sleep", { args: ["30"], stdin: "null" });
  try {
    assert.ok(ownPids.has(child.pid));
    assert.ok(listChildren().includes(child.pid), "in /proc/self/task/*/children");
    const stat = processStat(child.pid);
    assert.ok(stat !== null && stat.ppid === Deno.pid, JSON.stringify(stat));
    assert.notEqual(stat.state, "Z");
  } finally {
    child.kill("SIGKILL");
    await child.status;
  }
  // The registration goes in a callback of the status promise.
  await Promise.resolve();
  assert.ok(!ownPids.has(child.pid));
  assert.equal(processStat(2 ** 22 + 1), null, "a pid that cannot exist");
});

Deno.test("subreaper: 41 statuses of tend's own children right while 100 orphans are reaped, none left", async () => {
  const s = await harness(false, ["--subreaper"]);
  assert.equal(s.subreaper, true, JSON.stringify(s));
  assertClean(s, 41, 100);
});

Deno.test("subreaper: one of tend's own zombies hides 100 orphans from the peek; the /proc scan reaps them", async () => {
  const s = await harness(false, [
    "--subreaper",
    "--scenario=block",
    "--interval=60000",
  ]);
  assert.ok(s.hidden > 0 && s.scans > 0, `the peek was hidden: ${JSON.stringify(s)}`);
  assertClean(s, 2, 100);
});

Deno.test("subreaper: stopOrphans stops a live orphan with SIGTERM and kills one that ignores it", async () => {
  const s = await harness(false, ["--subreaper", "--scenario=stop"]);
  const dump = JSON.stringify(s);
  assert.equal(s.stopped, 2, dump);
  assert.equal(s.killed, 1, dump);
  assert.equal(s.left, 0, dump);
  assert.equal(s.childrenLeft, 0, dump);
});

Deno.test(
  only("PID 1: 41 statuses right while 100 orphans are reaped, none left", NO_PIDNS),
  async () => {
    const s = await harness(true, []);
    assert.equal(s.pid, 1, JSON.stringify(s));
    assertClean(s, 41, 100);
  },
);

Deno.test(
  only("PID 1: a hidden peek is covered by the /proc scan", NO_PIDNS),
  async () => {
    const s = await harness(true, ["--scenario=block", "--interval=60000"]);
    assert.ok(s.hidden > 0, `the peek was hidden: ${JSON.stringify(s)}`);
    assertClean(s, 2, 100);
  },
);

/** Why the FFI spawner's scenario cannot run here, or null. */
const NO_FFI_SPAWNER = ffiSpawnerUnavailable();

Deno.test(
  only(
    "subreaper: 40 FFI children (reaped by the FFI spawner) and 20 of Deno's keep their statuses while 100 orphans are reaped",
    NO_FFI_SPAWNER,
  ),
  async () => {
    const s = await harness(false, ["--subreaper", "--scenario=ffi"]);
    assert.equal(s.subreaper, true, JSON.stringify(s));
    assertClean(s, 61, 100);
  },
);

Deno.test(
  only(
    "PID 1: the FFI spawner's children, Deno's and 100 orphans, each reaped by the one it belongs to, none left",
    NO_PIDNS ?? NO_FFI_SPAWNER,
  ),
  async () => {
    const s = await harness(true, ["--scenario=ffi"]);
    assert.equal(s.pid, 1, JSON.stringify(s));
    assertClean(s, 61, 100);
  },
);
