/**
 * What only the FFI spawner does: its wait statuses, its place in the pid
 * registry next to Deno's children, signal dispositions reset to default
 * in its children, and where it cannot run. The behaviour it shares with
 * DenoSpawner is tested against both in spawner_test.ts.
 */

import assert from "node:assert/strict";
import type { ChildEvents, SpawnRequest } from "../../lib/core/ports.ts";
import type { ExitStatus } from "../../lib/core/spec.ts";
import {
  decodeWaitStatus,
  FfiSpawner,
  ffiSpawnerUnavailable,
} from "../../lib/os/ffi_spawner.ts";
import { ownPids, spawnOwn } from "../../lib/os/pids.ts";
import { processStat } from "../../lib/os/reaper.ts";
import { eventually, only } from "../_fakes/proc.ts";

const NO_FFI = ffiSpawnerUnavailable();
const MODULE = new URL("../../lib/os/ffi_spawner.ts", import.meta.url).href;
const decoder = new TextDecoder();

function req(argv: string[]): SpawnRequest {
  return {
    argv,
    cwd: undefined,
    env: {},
    clearEnv: false,
    uid: undefined,
    gid: undefined,
  };
}

/** Events that record the output and resolve `exited` with the status. */
function recorder() {
  let out = "";
  let resolve!: (status: ExitStatus) => void;
  const exited = new Promise<ExitStatus>((r) => resolve = r);
  const events: ChildEvents = {
    stdout: { write: (chunk) => void (out += decoder.decode(chunk)), end() {} },
    stderr: { write: () => {}, end() {} },
    exit: (status) => resolve(status),
  };
  return { events, exited, out: () => out };
}

/** Runs a script in a Deno process of its own; returns its last stdout line, parsed. */
async function subprocess(
  script: string,
  flags: string[],
  shell = "",
): Promise<Record<string, unknown>> {
  const file = await Deno.makeTempFile({ prefix: "tend-ffi-", suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  const deno = [Deno.execPath(), "run", ...flags, file].map((w) => `'${w}'`).join(" ");
  const out = await new Deno.Command("sh", {
    args: ["-c", `${shell}exec ${deno}`],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  const text = decoder.decode(out.stdout).trim();
  assert.equal(out.code, 0, text + decoder.decode(out.stderr));
  return JSON.parse(text.split("\n").pop()!);
}

Deno.test("decodeWaitStatus: codes, named signals, and 128+N for signals Deno cannot name", () => {
  assert.deepEqual(decodeWaitStatus(0), { code: 0, signal: null });
  assert.deepEqual(decodeWaitStatus(3 << 8), { code: 3, signal: null });
  assert.deepEqual(decodeWaitStatus(255 << 8), { code: 255, signal: null });
  assert.deepEqual(decodeWaitStatus(9), { code: null, signal: "SIGKILL" });
  // The core-dump bit does not change the signal.
  assert.deepEqual(decodeWaitStatus(0x80 | 11), { code: null, signal: "SIGSEGV" });
  assert.deepEqual(decodeWaitStatus(15), { code: null, signal: "SIGTERM" });
  // Deno names these two, so tend reports them by name either way.
  assert.deepEqual(decodeWaitStatus(30), { code: null, signal: "SIGPWR" });
  assert.deepEqual(decodeWaitStatus(16), { code: null, signal: "SIGSTKFLT" });
  // glibc's own 32 and 33, and the real-time signals.
  assert.deepEqual(decodeWaitStatus(32), { code: 160, signal: null });
  assert.deepEqual(decodeWaitStatus(40), { code: 168, signal: null });
  assert.deepEqual(decodeWaitStatus(64), { code: 192, signal: null });
});

Deno.test(
  only(
    "an FFI child is registered as one tend reaps itself until the waitpid that reaps it; a Deno.Command child is Deno's",
    NO_FFI,
  ),
  async () => {
    const spawner = new FfiSpawner();
    const { events, exited } = recorder();
    const child = spawner.spawn(req(["sleep", "1000"]), events);
    assert.ok(ownPids.has(child.pid), "registered in the same turn as the spawn");
    assert.ok(ownPids.reapsItself(child.pid));
    const deno = spawnOwn("sleep", { args: ["1000"], stdin: "null" });
    assert.ok(ownPids.has(deno.pid));
    assert.ok(!ownPids.reapsItself(deno.pid), "never one tend may waitpid");
    child.signal("SIGKILL");
    deno.kill("SIGKILL");
    assert.deepEqual(await exited, { code: null, signal: "SIGKILL" });
    assert.ok(!ownPids.has(child.pid));
    await deno.status;
  },
);

Deno.test(
  only(
    "Child.reaped reaps an exited FFI child at once, before its exit is reported",
    NO_FFI,
  ),
  async () => {
    const spawner = new FfiSpawner();
    const { events, exited } = recorder();
    const child = spawner.spawn(req(["sh", "-c", "exit 5"]), events);
    // Without a turn of the event loop, so that the epoll wait cannot see it.
    const deadline = performance.now() + 20_000;
    while (processStat(child.pid)?.state !== "Z") {
      assert.ok(performance.now() < deadline, "the child did not exit");
    }
    assert.ok(ownPids.reapsItself(child.pid));
    assert.equal(child.reaped, true);
    assert.ok(!ownPids.has(child.pid), "unregistered with the waitpid");
    assert.equal(processStat(child.pid), null, "no zombie left");
    assert.deepEqual(await exited, { code: 5, signal: null });
  },
);

Deno.test(
  only(
    "30 FFI children and 30 Deno.Command children at once each get their own status",
    NO_FFI,
  ),
  async () => {
    const spawner = new FfiSpawner();
    const ffi: Promise<[ExitStatus, number]>[] = [];
    const deno: Promise<[number, number]>[] = [];
    for (let i = 0; i < 30; i++) {
      const code = i + 1;
      const script = `sleep 0.0${i % 10}; exit ${code}`;
      const { events, exited } = recorder();
      spawner.spawn(req(["sh", "-c", script]), events);
      ffi.push(exited.then((status) => [status, code]));
      const child = spawnOwn("sh", { args: ["-c", script], stdin: "null" });
      deno.push(child.status.then((status) => [status.code, code]));
    }
    for (const [status, code] of await Promise.all(ffi)) {
      assert.deepEqual(status, { code, signal: null });
    }
    for (const [got, code] of await Promise.all(deno)) assert.equal(got, code);
  },
);

Deno.test(
  only(
    "children start with every signal at its default action, even those tend ignores",
    NO_FFI,
  ),
  async () => {
    // tend started with SIGHUP and SIGINT ignored (as under nohup, or from
    // a shell's background job): an ignored signal stays ignored across
    // exec, so the child would inherit them without the reset.
    const result = await subprocess(
      `import { FfiSpawner } from ${JSON.stringify(MODULE)};
let text = "";
const out = { write: (c) => void (text += new TextDecoder().decode(c)), end() {} };
await new Promise((resolve) => new FfiSpawner().spawn({
  argv: ["grep", "-E", "^SigIgn", "/proc/self/status"],
  cwd: undefined, env: {}, clearEnv: false, uid: undefined, gid: undefined,
}, { stdout: out, stderr: out, exit: resolve }));
const mask = (s) => s.match(/SigIgn:\\s*(\\S+)/)[1];
console.log(JSON.stringify({
  tend: mask(Deno.readTextFileSync("/proc/self/status")),
  child: mask(text),
}));`,
      // -A: Deno reads /proc/self only with --allow-all.
      ["-A"],
      "trap '' HUP INT; ",
    );
    const tend = BigInt(`0x${result.tend}`);
    const child = BigInt(`0x${result.child}`);
    assert.equal(tend & 0x3n, 0x3n, `tend ignores SIGHUP and SIGINT: ${result.tend}`);
    // Only glibc's two internal signals (32, 33) stay ignored: glibc sets
    // them so in every posix_spawn child, Deno.Command's too.
    assert.equal(child & ~0x180000000n, 0n, `the child ignores ${result.child}`);
  },
);

Deno.test("without --allow-ffi the FFI spawner says why it cannot run; scoped to libc's path it runs", async () => {
  const script = `import { FfiSpawner, ffiSpawnerUnavailable } from ${
    JSON.stringify(MODULE)
  };
const why = ffiSpawnerUnavailable();
let text = null;
if (why === null) {
  text = "";
  const out = { write: (c) => void (text += new TextDecoder().decode(c)), end() {} };
  await new Promise((resolve) => new FfiSpawner().spawn({
    argv: ["echo", "scoped"], cwd: undefined, env: { A: "1" }, clearEnv: false,
    uid: undefined, gid: undefined,
  }, { stdout: out, stderr: out, exit: resolve }));
}
console.log(JSON.stringify({ why, text }));`;
  const without = await subprocess(script, ["--allow-read", "--allow-run"]);
  assert.deepEqual(without, { why: "needs --allow-ffi", text: null });
  if (NO_FFI !== null) return;
  const libc = [
    "/lib/x86_64-linux-gnu/libc.so.6",
    "/usr/lib64/libc.so.6",
    "/lib64/libc.so.6",
  ]
    .find((path) => {
      try {
        return Deno.statSync(path).isFile;
      } catch {
        return false;
      }
    });
  if (libc === undefined) return;
  const scoped = await subprocess(script, [
    `--allow-ffi=${libc}`,
    "--allow-read",
    "--allow-run",
  ]);
  assert.deepEqual(scoped, { why: null, text: "scoped\n" });
});

Deno.test(
  only(
    "a spawn through the FFI spawner leaves nothing for the epoll wait once its child is done",
    NO_FFI,
  ),
  async () => {
    // Deno's op sanitizer fails this test if a wait is still out at its end.
    const spawner = new FfiSpawner();
    const { events, exited, out } = recorder();
    const child = spawner.spawn(req(["sh", "-c", "echo done"]), events);
    assert.deepEqual(await exited, { code: 0, signal: null });
    assert.equal(out(), "done\n");
    await eventually("the registry to let go", () => !ownPids.has(child.pid));
  },
);
