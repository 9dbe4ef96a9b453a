/**
 * The sd_notify lifecycle on fake processes and a fake clock: which
 * messages a Supervisor's life makes, and in what order. The sockets
 * themselves are tested in tests/os/notify_test.ts and end to end in
 * tests/cli/notify_test.ts.
 */

import assert from "node:assert/strict";
import { NotifyLifecycle } from "../../lib/cli/system.ts";
import type { Config } from "../../lib/config/load.ts";
import type { ProcessSpec } from "../../lib/core/spec.ts";
import { DEFAULT_TIMING } from "../../lib/core/spec.ts";
import { Logger } from "../../lib/output/log.ts";
import { type LoadResult, Supervisor } from "../../lib/supervisor.ts";
import { FakeProber, FakeReactor } from "../_fakes/fakes.ts";

function config(processes: Record<string, ProcessSpec>): Config {
  return { file: "procs.yaml", timing: { ...DEFAULT_TIMING }, processes };
}

function setUp(
  processes: Record<string, ProcessSpec>,
  load: (() => Promise<LoadResult>) | null = null,
) {
  const reactor = new FakeReactor();
  const log = new Logger({
    out: { write: (p) => Promise.resolve(p.length) },
    now: () => 0,
  });
  const supervisor = new Supervisor({
    config: config(processes),
    load,
    spawner: reactor,
    prober: new FakeProber(reactor.clock),
    clock: reactor.monitorClock,
    log,
    signalNumber: () => 15,
  });
  const sent: string[] = [];
  const lifecycle = new NotifyLifecycle(
    supervisor,
    (message) => sent.push(message),
    reactor.monitorClock,
    () => 12345n,
  );
  return { reactor, supervisor, sent, lifecycle };
}

Deno.test("READY=1 with the counts once every process runs, and only once", async () => {
  const { reactor, supervisor, sent } = setUp({
    a: { argv: ["a"] },
    b: { argv: ["b"] },
  });
  await reactor.advance(0);
  assert.deepEqual(sent, [], "nothing before the start");
  supervisor.start();
  await reactor.advance(0);
  assert.deepEqual(sent, ["READY=1\nSTATUS=2 running"]);
  // A death and a restart later: STATUS= follows, READY=1 is not repeated.
  reactor.spawnedProcesses[0]!.processEnded({ code: 1, signal: null });
  await reactor.advance(0.1);
  assert.deepEqual(sent.slice(1), ["STATUS=1 running, 1 backoff"]);
  await reactor.advance(1);
  assert.deepEqual(sent.slice(2), ["STATUS=2 running"]);
});

Deno.test("no READY=1 while a process backs off; it comes once the process runs", async () => {
  const { reactor, supervisor, sent } = setUp({
    a: { argv: ["a"] },
    b: { argv: ["b"] },
  });
  reactor.failWith = "No such file or directory";
  supervisor.start();
  await reactor.advance(0.5);
  assert.ok(sent.every((m) => !m.startsWith("READY=1")), JSON.stringify(sent));
  assert.deepEqual(sent, ["STATUS=2 backoff"]);
  reactor.failWith = null;
  await reactor.advance(0.5);
  assert.deepEqual(sent.slice(1), ["READY=1\nSTATUS=2 running"]);
});

Deno.test("a held process and one that finished for good count as settled", async () => {
  const { reactor, supervisor, sent } = setUp({
    held: { argv: ["h"], autostart: false },
    job: { argv: ["j"], restart: "never" },
    web: { argv: ["w"] },
  });
  supervisor.start();
  // The job is RUNNING too at first: that is ready already.
  await reactor.advance(0);
  assert.deepEqual(sent, ["READY=1\nSTATUS=2 running, 1 stopped"]);
  reactor.spawnedProcesses[0]!.processEnded({ code: 0, signal: null });
  await reactor.advance(0.2);
  assert.deepEqual(sent.slice(1), ["STATUS=1 running, 1 stopped, 1 exited"]);
});

Deno.test("with nothing to start (every process held), READY=1 comes all the same", async () => {
  const { reactor, supervisor, sent } = setUp({
    held: { argv: ["h"], autostart: false },
  });
  supervisor.start();
  await reactor.advance(0);
  assert.deepEqual(sent, ["READY=1\nSTATUS=1 stopped"]);
});

Deno.test("a reload: RELOADING=1 with MONOTONIC_USEC, then READY=1 once the changed process runs again", async () => {
  const next = config({ a: { argv: ["a2"] }, b: { argv: ["b"] } });
  const { reactor, supervisor, sent } = setUp(
    { a: { argv: ["a"] }, b: { argv: ["b"] } },
    () => Promise.resolve({ config: next }),
  );
  supervisor.start();
  await reactor.advance(0);
  sent.length = 0;
  const report = supervisor.reload("SIGHUP");
  assert.deepEqual(sent, ["RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading"]);
  assert.equal((await report).ok, true);
  // The changed process is stopping (the fake takes 1 s to exit).
  await reactor.advance(0.5);
  assert.ok(sent.every((m) => !m.startsWith("READY=1")), JSON.stringify(sent));
  await reactor.advance(0.5);
  assert.equal(sent.at(-1), "READY=1\nSTATUS=2 running");
});

Deno.test("a reload of an invalid file: RELOADING=1, then READY=1 at once", async () => {
  const { reactor, supervisor, sent } = setUp(
    { a: { argv: ["a"] } },
    () => Promise.resolve({ problems: ["procs.yaml:1:1: bad"] }),
  );
  supervisor.start();
  await reactor.advance(0);
  await supervisor.reload("SIGHUP");
  assert.deepEqual(sent, [
    "READY=1\nSTATUS=1 running",
    "RELOADING=1\nMONOTONIC_USEC=12345\nSTATUS=reloading",
    "READY=1\nSTATUS=1 running",
  ]);
});

Deno.test("STOPPING=1 as the shutdown begins, STATUS= while it goes on, nothing after stop()", async () => {
  const { reactor, supervisor, sent, lifecycle } = setUp({
    a: { argv: ["a"] },
    b: { argv: ["b"] },
  });
  supervisor.start();
  await reactor.advance(0);
  supervisor.interrupt("SIGTERM");
  assert.equal(sent.at(-1), "STOPPING=1\nSTATUS=stopping");
  await reactor.advance(0.1);
  assert.equal(sent.at(-1), "STATUS=stopping: 2 stopping");
  await reactor.advance(1);
  assert.equal(await supervisor.exit, 0);
  lifecycle.stop();
  const count = sent.length;
  await reactor.advance(1);
  assert.equal(sent.length, count);
  assert.equal(sent.filter((m) => m.startsWith("STOPPING=1")).length, 1);
  assert.equal(sent.filter((m) => m.startsWith("READY=1")).length, 1);
});

Deno.test("stop() without a shutdown (tend failed) still says STOPPING=1, once", async () => {
  const { reactor, supervisor, sent, lifecycle } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  await reactor.advance(0);
  supervisor.fail(new Error("boom"));
  lifecycle.stop();
  lifecycle.stop();
  assert.deepEqual(sent, ["READY=1\nSTATUS=1 running", "STOPPING=1\nSTATUS=stopping"]);
});

Deno.test("a burst of changes makes one STATUS= datagram", async () => {
  const names = Array.from({ length: 50 }, (_, i) => `p${i}`);
  const { reactor, supervisor, sent } = setUp(
    Object.fromEntries(names.map((name) => [name, { argv: [name] }])),
  );
  supervisor.start();
  await reactor.advance(0);
  sent.length = 0;
  for (const p of reactor.spawnedProcesses) p.processEnded({ code: 1, signal: null });
  await reactor.advance(0.1);
  assert.deepEqual(sent, ["STATUS=50 backoff"]);
});
