/**
 * The Supervisor's policies, on fake processes and a fake clock: a second
 * stop request kills, a repeat within 50 ms is the same keypress, reloads
 * are coalesced and applied by name, and tend exits when every process
 * has finished for good.
 */

import assert from "node:assert/strict";
import type { Config } from "../lib/config/load.ts";
import type { ProcessSpec } from "../lib/core/spec.ts";
import { DEFAULT_TIMING } from "../lib/core/spec.ts";
import { type LogDestination, Logger } from "../lib/output/log.ts";
import { type LoadResult, Supervisor } from "../lib/supervisor.ts";
import { FakeProber, FakeReactor } from "./_fakes/fakes.ts";

/** The log's text records, kept in memory. */
class Lines implements LogDestination {
  text = "";
  write(p: Uint8Array): Promise<number> {
    this.text += new TextDecoder().decode(p);
    return Promise.resolve(p.length);
  }
  /** Every record so far, without its time. */
  get records(): string[] {
    return this.text.split("\n").filter((l) => l !== "").map((l) => l.slice(13));
  }
}

function config(processes: Record<string, ProcessSpec>): Config {
  return { file: "procs.yaml", timing: { ...DEFAULT_TIMING }, processes };
}

function setUp(
  processes: Record<string, ProcessSpec>,
  load: (() => Promise<LoadResult>) | null = null,
) {
  const reactor = new FakeReactor();
  const prober = new FakeProber(reactor.clock);
  const out = new Lines();
  const log = new Logger({ out, now: () => 0 });
  const supervisor = new Supervisor({
    config: config(processes),
    load,
    spawner: reactor,
    prober,
    clock: reactor.monitorClock,
    log,
    signalNumber: (signal) =>
      ({ SIGKILL: 9, SIGTERM: 15 } as Record<string, number>)[signal] ?? 0,
  });
  const records = async () => {
    await log.flush();
    return out.records;
  };
  return { reactor, supervisor, records, prober };
}

/** Settles `promise` within the fake clock's time, or says it did not. */
async function settled<T>(
  reactor: FakeReactor,
  promise: Promise<T>,
): Promise<T | "pending"> {
  let result: T | "pending" = "pending";
  void promise.then((value) => result = value);
  await reactor.advance(0);
  return result;
}

Deno.test("interrupt(): the first request stops gracefully, a second one kills every group", async () => {
  const { reactor, supervisor, records } = setUp({
    a: { argv: ["a"] },
    b: { argv: ["b"] },
  });
  supervisor.start();
  for (const p of reactor.spawnedProcesses) p.ignoreTerm = true;
  assert.equal(supervisor.interrupt("SIGTERM"), "stopping");
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.signals), [["SIGTERM"], [
    "SIGTERM",
  ]]);
  await reactor.advance(1);
  assert.equal(supervisor.interrupt("SIGINT"), "killing");
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.signals), [
    ["SIGTERM", "SIGKILL"],
    ["SIGTERM", "SIGKILL"],
  ]);
  assert.equal(await settled(reactor, supervisor.exit), 0);
  const text = await records();
  assert.ok(
    text.includes(
      "tend SIGTERM: stopping every process (send it again to kill them at once)",
    ),
  );
  assert.ok(text.includes("tend SIGINT again: sending SIGKILL to every process group"));
  assert.equal(text.at(-1), "tend every process has stopped");
});

Deno.test("interrupt(): the same signal again within 50 ms is the same keypress, not a kill", async () => {
  const { reactor, supervisor, records } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  reactor.last.ignoreTerm = true;
  assert.equal(supervisor.interrupt("SIGINT"), "stopping");
  await reactor.advance(0.049);
  assert.equal(supervisor.interrupt("SIGINT"), "repeat");
  assert.deepEqual(reactor.last.signals, ["SIGTERM"]);
  await reactor.advance(0.001);
  assert.equal(supervisor.interrupt("SIGINT"), "killing");
  assert.deepEqual(reactor.last.signals, ["SIGTERM", "SIGKILL"]);
  // The second press arrives twice too (deno task): one kill, logged once.
  await reactor.advance(0.001);
  assert.equal(supervisor.interrupt("SIGINT"), "repeat");
  const text = await records();
  assert.equal(
    text.filter((r) => r.includes("SIGINT again")).length,
    1,
    text.join("\n"),
  );
});

Deno.test("a stop tells the spawner tend is leaving, and a stop request during it settles insisted", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  reactor.last.ignoreTerm = true;
  assert.equal(reactor.left, false);
  assert.equal(supervisor.interrupt("SIGTERM"), "stopping");
  assert.equal(reactor.left, true, "exits are reported after their output, at once");
  assert.equal(await settled(reactor, supervisor.insisted), "pending");
  await reactor.advance(0.049);
  assert.equal(supervisor.interrupt("SIGTERM"), "repeat");
  assert.equal(
    await settled(reactor, supervisor.insisted),
    "pending",
    "the same keypress",
  );
  assert.equal(supervisor.interrupt("SIGINT"), "killing");
  assert.equal(await settled(reactor, supervisor.insisted), undefined);
  assert.equal(await settled(reactor, supervisor.exit), 0);
});

Deno.test("a stop request after everything finished settles insisted too", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"], restart: "never" } });
  supervisor.start();
  reactor.last.processEnded({ code: 0, signal: null });
  assert.equal(await settled(reactor, supervisor.exit), 0);
  // tend waits for its stdout on its way out; SIGTERM ends that wait.
  assert.equal(supervisor.interrupt("SIGTERM"), "killing");
  assert.equal(await settled(reactor, supervisor.insisted), undefined);
});

Deno.test("shutdown() twice is one stop, and exit settles once every child is gone", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  reactor.last.terminationDelay = 2;
  const first = supervisor.shutdown(0);
  assert.equal(supervisor.shutdown(3), first);
  await reactor.advance(1.9);
  assert.equal(await settled(reactor, supervisor.exit), "pending");
  await reactor.advance(0.1);
  assert.equal(await settled(reactor, supervisor.exit), 0);
  assert.deepEqual(reactor.last.signals, ["SIGTERM"]);
});

Deno.test("reload(): removed processes stop, added start, changed restart, unchanged keep their pid", async () => {
  const next = config({
    keep: { argv: ["keep"] },
    change: { argv: ["changed"] },
    add: { argv: ["add"] },
  });
  next.timing.killTime = 9;
  const { reactor, supervisor, records } = setUp(
    {
      keep: { argv: ["keep"] },
      change: { argv: ["change"] },
      drop: { argv: ["drop"] },
    },
    () => Promise.resolve({ config: next }),
  );
  supervisor.start();
  const pids = Object.fromEntries(supervisor.status().map((s) => [s.name, s.pid]));
  const report = await supervisor.reload("SIGHUP");
  assert.deepEqual(report, {
    ok: true,
    added: ["add"],
    removed: ["drop"],
    changed: ["change"],
    unchanged: ["keep"],
  });
  await reactor.advance(1);
  const after = Object.fromEntries(supervisor.status().map((s) => [s.name, s.pid]));
  assert.equal(after.keep, pids.keep);
  assert.notEqual(after.change, pids.change);
  assert.deepEqual(Object.keys(after), ["keep", "change", "add"]);
  assert.equal(supervisor.monitor.killTime, 9, "new monitor-wide timing applies");
  const text = await records();
  assert.ok(text.includes("tend SIGHUP: reloading procs.yaml"));
  assert.ok(
    text.includes(
      "tend reloaded procs.yaml: 1 added, 1 removed, 1 changed, 1 unchanged",
    ),
  );
});

Deno.test("reload(): a file with problems changes nothing and every problem is logged", async () => {
  const problems = [
    "procs.yaml:2:3: processes.a.cmd: must not be empty",
    "procs.yaml:5:1: x",
  ];
  const { reactor, supervisor, records } = setUp(
    { a: { argv: ["a"] } },
    () => Promise.resolve({ problems }),
  );
  supervisor.start();
  const pid = reactor.last.pid;
  assert.deepEqual(await supervisor.reload("SIGHUP"), { ok: false, problems });
  assert.equal(supervisor.status()[0]!.pid, pid);
  const text = await records();
  assert.ok(
    text.includes("tend reload failed, keeping the running config: 2 problems"),
  );
  for (const problem of problems) assert.ok(text.includes(`tend ${problem}`));
});

Deno.test("reload(): requests during a reload are served by one more reload that starts after them", async () => {
  let loads = 0;
  const gates: (() => void)[] = [];
  const { supervisor } = setUp({ a: { argv: ["a"] } }, () => {
    loads++;
    return new Promise((resolve) =>
      gates.push(() => resolve({ config: config({ a: { argv: ["a"] } }) }))
    );
  });
  supervisor.start();
  const first = supervisor.reload("SIGHUP");
  const second = supervisor.reload("SIGHUP");
  const third = supervisor.reload("SIGHUP");
  assert.equal(second, third, "coalesced into one");
  await Promise.resolve();
  assert.equal(loads, 1);
  gates.shift()!();
  await first;
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(loads, 2, "the second load starts after the first is done");
  gates.shift()!();
  assert.equal((await second).ok, true);
  assert.equal(loads, 2);
});

Deno.test("reload() without a file reports that there is nothing to reload", async () => {
  const { supervisor, records } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  assert.equal((await supervisor.reload("SIGHUP")).ok, false);
  assert.ok(
    (await records()).includes(
      "tend SIGHUP: nothing to reload when running a single command",
    ),
  );
});

Deno.test("when every process has finished for good, exit is the first failure's status", async () => {
  const { reactor, supervisor, records } = setUp({
    ok: { argv: ["ok"], restart: "never" },
    bad: { argv: ["bad"], restart: "on-failure" },
    killed: { argv: ["killed"], restart: "never" },
  });
  supervisor.start();
  const [ok, bad, killed] = reactor.spawnedProcesses;
  ok!.processEnded({ code: 0, signal: null });
  killed!.processEnded({ code: null, signal: "SIGKILL" });
  assert.equal(await settled(reactor, supervisor.exit), "pending", "bad still runs");
  bad!.processEnded({ code: 0, signal: null });
  assert.equal(await settled(reactor, supervisor.exit), 128 + 9);
  assert.ok((await records()).includes("tend every process has finished; exiting"));
});

Deno.test("a process that could never start makes the exit status 127", async () => {
  const { reactor, supervisor } = setUp({ nope: { argv: ["nope"], restart: "never" } });
  reactor.failWith = "Failed to spawn 'nope': No such file or directory (os error 2)";
  supervisor.start();
  assert.equal(await settled(reactor, supervisor.exit), 127);
});

Deno.test("a process FATAL after maxRestarts exits with how it last died, not 127", async () => {
  // Regression: every FATAL process counted as one that could not start.
  const { reactor, supervisor } = setUp({
    a: { argv: ["a"], restart: "on-failure", maxRestarts: 1 },
  });
  supervisor.start();
  reactor.last.processEnded({ code: 3, signal: null });
  await reactor.advance(1); // the back-off; the copy dies young too
  reactor.last.processEnded({ code: 3, signal: null });
  assert.equal(supervisor.monitor.status()[0]?.state, "FATAL");
  assert.equal(await settled(reactor, supervisor.exit), 3);
});

Deno.test("every process exiting 0 under restart: never exits 0", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"], restart: "never" } });
  supervisor.start();
  reactor.last.processEnded({ code: 0, signal: null });
  assert.equal(await settled(reactor, supervisor.exit), 0);
});

Deno.test("a reload that removes the last process that could still run ends tend", async () => {
  const { reactor, supervisor } = setUp(
    { done: { argv: ["done"], restart: "never" }, left: { argv: ["left"] } },
    () =>
      Promise.resolve({
        config: config({ done: { argv: ["done"], restart: "never" } }),
      }),
  );
  supervisor.start();
  reactor.spawnedProcesses[0]!.processEnded({ code: 0, signal: null });
  assert.equal(await settled(reactor, supervisor.exit), "pending");
  await supervisor.reload("SIGHUP");
  await reactor.advance(1);
  assert.equal(await settled(reactor, supervisor.exit), 0);
});

Deno.test("fail(): an internal failure kills every group, restarts nothing and exits 1", async () => {
  const { reactor, supervisor, records } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  supervisor.fail(new Error("boom"));
  assert.deepEqual(reactor.last.signals, ["SIGTERM", "SIGKILL"]);
  assert.equal(await settled(reactor, supervisor.exit), 1);
  await reactor.advance(10);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.match((await records()).join("\n"), /tend internal failure: Error: boom/);
});

Deno.test("stopProcesses holds, startProcesses releases, restartProcesses bounces; each by name", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"] }, b: { argv: ["b"] } });
  supervisor.start();
  const pidOf = (name: string) => supervisor.processStatus(name).pid;
  const firstB = pidOf("b");
  supervisor.stopProcesses(["a"]);
  const stopped = supervisor.waitFor("a", (s) => s.state === "STOPPED", 10_000);
  await reactor.advance(1);
  assert.equal((await stopped)?.held, true);
  await reactor.advance(100);
  assert.equal(supervisor.processStatus("a").state, "STOPPED");
  supervisor.startProcesses(["a"]);
  assert.equal(supervisor.processStatus("a").state, "RUNNING");
  supervisor.restartProcesses(["b"]);
  await reactor.advance(1);
  assert.notEqual(pidOf("b"), firstB);
  assert.equal(supervisor.processStatus("b").state, "RUNNING");
});

Deno.test("an unknown name among several changes nothing for any of them", () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  assert.throws(() => supervisor.stopProcesses(["a", "nope"]), {
    name: "UnknownProcessError",
    message: 'Cannot find process "nope": no process has that name',
  });
  assert.deepEqual(reactor.last.signals, []);
  assert.throws(() => supervisor.signalProcesses("SIGUSR1", ["nope", "a"]), RangeError);
  assert.deepEqual(reactor.last.signals, []);
});

Deno.test("signalProcesses reports, per name, a process with no child to signal", () => {
  const { reactor, supervisor } = setUp({
    a: { argv: ["a"] },
    b: { argv: ["b"], autostart: false },
  });
  supervisor.start();
  assert.deepEqual(supervisor.signalProcesses("SIGHUP", ["a", "b"]), [
    null,
    'Cannot signal process "b": it is STOPPED, with no process to signal',
  ]);
  assert.deepEqual(reactor.last.signals, ["SIGHUP"]);
});

Deno.test("waitFor gives up with null after its timeout", async () => {
  const { reactor, supervisor } = setUp({ a: { argv: ["a"] } });
  supervisor.start();
  reactor.last.ignoreTerm = true;
  const wait = supervisor.waitFor("a", (s) => s.state === "EXITED", 3000);
  await reactor.advance(3);
  assert.equal(await wait, null);
});

Deno.test("a held process keeps tend running when everything else has finished", async () => {
  const { reactor, supervisor } = setUp({
    job: { argv: ["job"], restart: "never" },
    web: { argv: ["web"] },
  });
  supervisor.start();
  supervisor.stopProcesses(["web"]);
  await reactor.advance(1);
  reactor.spawnedProcesses[0]!.processEnded({ code: 0, signal: null });
  assert.equal(await settled(reactor, supervisor.exit), "pending");
});

Deno.test("probes drive readiness: a dependent starts once its dependency's probe passes", async () => {
  const { reactor, supervisor, prober, records } = setUp({
    db: {
      argv: ["db"],
      ready: { check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 },
    },
    api: { argv: ["api"], dependsOn: { db: "ready" } },
  });
  prober.script({ ok: false, message: "connection refused" }, {
    ok: true,
    message: "connected",
  });
  supervisor.start();
  await reactor.advance(0);
  assert.equal(supervisor.processStatus("db").state, "STARTING");
  assert.equal(supervisor.processStatus("api").waiting, "waiting for db: ready");
  await reactor.advance(1);
  assert.equal(supervisor.processStatus("db").state, "RUNNING");
  assert.equal(supervisor.processStatus("api").state, "RUNNING");
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.request.argv[0]), [
    "db",
    "api",
  ]);
  const text = await records();
  assert.ok(
    text.some((line) => line.startsWith("[db] tend: ready (")),
    text.join("\n"),
  );
  assert.ok(text.includes("[api] tend: waiting for db: ready"));
});

Deno.test("a log probe makes a process ready when its own output matches", async () => {
  const { reactor, supervisor } = setUp({
    web: {
      argv: ["web"],
      ready: { check: { kind: "log", pattern: "listening on \\d+" } },
    },
  });
  supervisor.start();
  await reactor.advance(0);
  reactor.last.outReceived("starting\n");
  assert.equal(supervisor.processStatus("web").state, "STARTING");
  reactor.last.outReceived("listening on 8000\n");
  await reactor.advance(0);
  assert.equal(supervisor.processStatus("web").state, "RUNNING");
});

Deno.test("a failing liveness probe restarts the process, with the reason in the log", async () => {
  const { reactor, supervisor, prober, records } = setUp({
    api: {
      argv: ["api"],
      alive: {
        check: { kind: "http", url: "http://127.0.0.1:8000/health" },
        period: 1,
        failures: 2,
      },
    },
  });
  prober.fallback = { ok: false, message: "HTTP 500" };
  supervisor.start();
  const first = reactor.last;
  await reactor.advance(2);
  assert.deepEqual(first.signals, ["SIGTERM"]);
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.match(
    (await records()).join("\n"),
    /\[api\] tend: liveness probe failed: .*HTTP 500/,
  );
});

Deno.test("status and SIGUSR2's records carry each running child's last probe result, not only the last verdict", async () => {
  const { reactor, supervisor, records, prober } = setUp({
    db: {
      argv: ["db"],
      ready: { check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 },
    },
  });
  prober.fallback = { ok: false, message: "Connection refused" };
  supervisor.start();
  await reactor.advance(0);
  const db = supervisor.processStatus("db");
  assert.deepEqual([db.state, db.ready, db.probe], [
    "STARTING",
    false,
    "tcp 127.0.0.1:5432: Connection refused",
  ]);
  supervisor.reportStatus();
  assert.match(
    (await records()).at(-1)!,
    /^\[db\] tend: STARTING, pid \d+, up 0ms, 0 restarts, probe: tcp 127\.0\.0\.1:5432: Connection refused$/,
  );
  assert.deepEqual(supervisor.status().map((s) => s.probe), [db.probe]);
});
