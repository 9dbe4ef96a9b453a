/**
 * Health: the probe runners of each child, started and stopped by the
 * monitor's events, verdicts sent to the target with the child's pid, the
 * `log` probe's line hook and the `notify` entry point, and status. On the
 * fake clock, with a fake prober and a recording target.
 */

import assert from "node:assert/strict";
import type { MonitorEvent } from "../lib/core/events.ts";
import type { ProcessSpec } from "../lib/core/spec.ts";
import {
  Health,
  type HealthTarget,
  needsNotifySocket,
  readsLines,
} from "../lib/health.ts";
import type { LineSink } from "../lib/output/framer.ts";
import { systemClock } from "../lib/os/clock.ts";
import { DenoProber } from "../lib/os/probes.ts";
import { teeLines } from "../lib/output/framer.ts";
import { FakeProber, FakeReactor } from "./_fakes/fakes.ts";
import { eventually, groupMembers, NO_PS, only } from "./_fakes/proc.ts";

const TCP = { kind: "tcp", host: "127.0.0.1", port: 5432 } as const;
const HTTP = { kind: "http", url: "http://127.0.0.1:8000/health" } as const;
const PASS = { ok: true, message: "connected" };
const FAIL = { ok: false, message: "connection refused" };
const encoder = new TextEncoder();

/** What the target was told, in order. */
class RecordingTarget implements HealthTarget {
  readonly calls: string[] = [];
  throwing: Error | null = null;
  setReady(name: string, pid: number, ready: boolean, detail: string): void {
    this.calls.push(`setReady ${name} ${pid} ${ready} ${detail}`);
    if (this.throwing) throw this.throwing;
  }
  liveFailed(name: string, pid: number, reason: string): void {
    this.calls.push(`liveFailed ${name} ${pid} ${reason}`);
    if (this.throwing) throw this.throwing;
  }
}

function setUp(specs: Record<string, ProcessSpec>) {
  const reactor = new FakeReactor();
  const prober = new FakeProber(reactor.clock);
  const target = new RecordingTarget();
  const errors: unknown[] = [];
  const health = new Health({
    prober,
    clock: reactor.monitorClock,
    target,
    specOf: (name) => specs[name],
    onError: (error) => errors.push(error),
  });
  const emit = (event: MonitorEvent) => health.event(event);
  const started = (name: string, pid: number) => emit({ type: "started", name, pid });
  const exited = (name: string, pid: number) =>
    emit({
      type: "exited",
      name,
      pid,
      status: { code: 0, signal: null },
      runtime: 1,
    });
  return { reactor, prober, target, health, errors, specs, emit, started, exited };
}

/** One line through a sink, as the framer hands it on. */
function feed(sink: LineSink, text: string | Uint8Array, valid = true): void {
  const bytes = typeof text === "string" ? encoder.encode(text) : text;
  sink.line(bytes, 0, bytes.length, valid);
}

/** Bytes that fail the test if anyone looks at them. */
class Untouchable extends Uint8Array {
  override subarray(): Uint8Array<ArrayBuffer> {
    throw new Error("the line's bytes were read");
  }
}

// --- starting and stopping ------------------------------------------------------------

Deno.test("a child's readiness probe starts with it and tells the target with the child's pid", async () => {
  const { reactor, prober, target, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1 } },
  });
  prober.script(FAIL, PASS);
  started("db", 100);
  await reactor.advance(0);
  assert.deepEqual(prober.calls.map((c) => c.target.pid), [100]);
  assert.deepEqual(target.calls, []);
  await reactor.advance(1);
  assert.deepEqual(target.calls, [
    "setReady db 100 true tcp 127.0.0.1:5432: connected",
  ]);
});

Deno.test("the target is never called from inside event(), even with initialDelay 0 and an instant answer", async () => {
  const { reactor, target, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP } },
  });
  started("db", 100);
  assert.deepEqual(target.calls, []);
  await reactor.advance(0);
  assert.equal(target.calls.length, 1);
});

Deno.test("liveness runs from the start, alongside readiness, and its failure is told once with the reason", async () => {
  const { reactor, prober, target, started } = setUp({
    api: {
      argv: ["api"],
      ready: { check: HTTP, period: 5 },
      alive: { check: TCP, period: 1, failures: 2 },
    },
  });
  // Readiness never passes; liveness fails from the first check.
  prober.fallback = FAIL;
  started("api", 7);
  await reactor.advance(0);
  assert.deepEqual(prober.calls.map((c) => c.check.kind).sort(), ["http", "tcp"]);
  await reactor.advance(5);
  assert.deepEqual(target.calls, [
    "liveFailed api 7 tcp 127.0.0.1:5432: 2 failures in a row, the last: connection refused",
  ]);
  const tcpChecks = prober.calls.filter((c) => c.check.kind === "tcp").length;
  assert.equal(tcpChecks, 2, "liveness stopped after it failed");
});

Deno.test("a ready process that fails its readiness probe is told not ready, and nothing else", async () => {
  const { reactor, prober, target, started } = setUp({
    api: { argv: ["api"], ready: { check: HTTP, period: 1, failures: 2 } },
  });
  prober.script(PASS, FAIL, FAIL, PASS);
  started("api", 7);
  await reactor.advance(3);
  assert.deepEqual(target.calls, [
    "setReady api 7 true http://127.0.0.1:8000/health: connected",
    "setReady api 7 false http://127.0.0.1:8000/health: 2 failures in a row, the last: connection refused",
    "setReady api 7 true http://127.0.0.1:8000/health: connected",
  ]);
});

Deno.test("a process with only a liveness probe is never told ready or not", async () => {
  const { reactor, target, started } = setUp({
    api: { argv: ["api"], alive: { check: TCP, period: 1 } },
  });
  started("api", 7);
  await reactor.advance(10);
  assert.deepEqual(target.calls, []);
});

Deno.test("the probes stop when the child exits: no more checks, no late verdict, no timer left", async () => {
  const { reactor, prober, target, started, exited, health } = setUp({
    db: {
      argv: ["db"],
      ready: { check: TCP, period: 1, timeout: 5 },
      alive: { check: HTTP, period: 1, failures: 1 },
    },
  });
  prober.script({ ...PASS, after: 500 }, { ...FAIL, after: 500 });
  started("db", 100);
  await reactor.advance(0.25);
  exited("db", 100);
  assert.ok(prober.calls.every((c) => c.signal?.aborted), "checks in flight aborted");
  await reactor.advance(30);
  assert.equal(prober.calls.length, 2);
  assert.deepEqual(target.calls, []);
  assert.equal(reactor.clock.countTimers(), 0);
  assert.equal(health.status("db")?.ready?.active, false);
});

Deno.test("the probes stop when the child is sent its stop signal", async () => {
  const { reactor, prober, emit, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1 } },
  });
  started("db", 100);
  await reactor.advance(1);
  emit({ type: "stop-signal", name: "db", pid: 100, signal: "SIGTERM" });
  await reactor.advance(10);
  assert.equal(prober.calls.length, 2);
});

Deno.test("a state event with another pid, or none, stops the old child's probes", async () => {
  const { reactor, prober, emit, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1 } },
  });
  started("db", 100);
  emit({ type: "state", name: "db", state: "RUNNING", held: false, pid: 100 });
  await reactor.advance(1);
  assert.equal(prober.calls.length, 2, "the same pid keeps them going");
  emit({ type: "state", name: "db", state: "STOPPED", held: true, pid: null });
  await reactor.advance(10);
  assert.equal(prober.calls.length, 2);
});

Deno.test("events for an old pid do not stop the new child's probes", async () => {
  const { reactor, prober, started, exited, emit } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1 } },
  });
  started("db", 100);
  started("db", 101);
  exited("db", 100);
  emit({ type: "stop-signal", name: "db", pid: 100, signal: "SIGTERM" });
  await reactor.advance(2);
  assert.deepEqual(prober.calls.map((c) => c.target.pid), [101, 101, 101]);
});

Deno.test("a restart gets fresh probes for the new pid, and the old child's late answer goes nowhere", async () => {
  const { reactor, prober, target, started, exited, health } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 10, timeout: 5 } },
  });
  prober.script("hang");
  started("db", 100);
  await reactor.advance(0);
  const old = prober.last;
  exited("db", 100);
  started("db", 101);
  await reactor.advance(0);
  old.answer(PASS);
  await reactor.advance(0);
  assert.deepEqual(target.calls, ["setReady db 101 true tcp 127.0.0.1:5432: ok"]);
  assert.equal(health.status("db")?.pid, 101);
});

Deno.test("a process without probes gets no runner, no status and no line hook", async () => {
  const { reactor, prober, health, started } = setUp({ web: { argv: ["web"] } });
  started("web", 5);
  await reactor.advance(60);
  assert.deepEqual(prober.calls, []);
  assert.equal(health.status("web"), null);
  assert.equal(health.lines("web", 5, "stdout"), null);
  assert.equal(health.status("nobody"), null);
});

Deno.test("an exec probe runs with the process's cwd, environment and user", async () => {
  const { reactor, prober, started } = setUp({
    job: {
      argv: ["job"],
      cwd: "/srv/job",
      env: { A: "1" },
      clearEnv: true,
      uid: 1000,
      gid: 1000,
      ready: { check: { kind: "exec", argv: ["test", "-e", "ready"] } },
    },
  });
  started("job", 9);
  await reactor.advance(0);
  assert.deepEqual(prober.last.target, {
    name: "job",
    pid: 9,
    cwd: "/srv/job",
    env: { A: "1" },
    clearEnv: true,
    uid: 1000,
    gid: 1000,
  });
});

Deno.test("an error the target throws goes to onError, and the probes carry on", async () => {
  const { reactor, prober, target, errors, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1, failures: 1 } },
  });
  target.throwing = new Error("monitor said no");
  prober.script(PASS, FAIL, PASS);
  started("db", 100);
  await reactor.advance(2);
  assert.equal(target.calls.length, 3);
  assert.deepEqual(errors.map((e) => (e as Error).message), [
    "monitor said no",
    "monitor said no",
    "monitor said no",
  ]);
});

// --- log probes --------------------------------------------------------------------------

const LOG_SPEC: ProcessSpec = {
  argv: ["api"],
  ready: { check: { kind: "log", pattern: "listening on :\\d+" } },
};

Deno.test("a log probe is ready on the first matching line, from either stream", () => {
  const { target, health, started } = setUp({ api: LOG_SPEC });
  // The output path asks for its sinks before the started event.
  const out = health.lines("api", 7, "stdout")!;
  const err = health.lines("api", 7, "stderr")!;
  started("api", 7);
  feed(out, "starting");
  feed(err, "warning: listening on :8000 (stderr)");
  feed(out, "listening on :9000");
  assert.deepEqual(target.calls, [
    'setReady api 7 true log /listening on :\\d+/: matched "warning: listening on :8000 (stderr)"',
  ]);
});

Deno.test("a log sink does not touch the line's bytes once its probe has passed, nor before its child started", () => {
  const { target, health, started } = setUp({ api: LOG_SPEC });
  const out = health.lines("api", 7, "stdout")!;
  const untouchable = new Untouchable(8);
  out.line(untouchable, 0, 8, true);
  started("api", 7);
  feed(out, "listening on :1");
  out.line(untouchable, 0, 8, true);
  out.lines!(untouchable, Int32Array.of(0), Int32Array.of(8), 1);
  assert.equal(target.calls.length, 1);
});

Deno.test("a log sink matches only the line's own bytes, in a shared chunk", () => {
  const { target, health, started } = setUp({
    api: { argv: ["api"], ready: { check: { kind: "log", pattern: "^up$" } } },
  });
  const out = health.lines("api", 7, "stdout")!;
  started("api", 7);
  const chunk = encoder.encode("not up\nup\nup again\n");
  out.line(chunk, 0, 6, true);
  assert.deepEqual(target.calls, []);
  out.line(chunk, 7, 9, true);
  assert.deepEqual(target.calls, ['setReady api 7 true log /^up$/: matched "up"']);
});

Deno.test("a log sink takes batches of lines too", () => {
  const { target, health, started } = setUp({ api: LOG_SPEC });
  const out = health.lines("api", 7, "stdout")!;
  started("api", 7);
  const chunk = encoder.encode("a\nlistening on :80\nb\n");
  out.lines!(chunk, Int32Array.of(0, 2, 19), Int32Array.of(1, 18, 20), 3);
  assert.deepEqual(target.calls, [
    'setReady api 7 true log /listening on :\\d+/: matched "listening on :80"',
  ]);
});

Deno.test("a log probe sees invalid UTF-8 the way the log shows it", () => {
  const { target, health, started } = setUp({
    api: { argv: ["api"], ready: { check: { kind: "log", pattern: "\\\\xff ready" } } },
  });
  const out = health.lines("api", 7, "stdout")!;
  started("api", 7);
  feed(out, Uint8Array.of(0xff, 0x20, ...encoder.encode("ready")), false);
  assert.deepEqual(target.calls, [
    'setReady api 7 true log /\\\\xff ready/: matched "\\\\xff ready"',
  ]);
});

Deno.test("a log sink of an old child ignores lines once a new child runs", () => {
  const { target, health, started, exited } = setUp({ api: LOG_SPEC });
  const old = health.lines("api", 7, "stdout")!;
  started("api", 7);
  exited("api", 7);
  started("api", 8);
  feed(old, "listening on :1");
  assert.deepEqual(target.calls, []);
  feed(health.lines("api", 8, "stdout")!, "listening on :1");
  assert.equal(target.calls.length, 1);
});

// --- notify probes --------------------------------------------------------------------------

Deno.test("notified() makes a notify process ready on READY=1 and keeps its STATUS", () => {
  const { target, health, started } = setUp({
    db: { argv: ["db"], ready: { check: { kind: "notify" } } },
    web: { argv: ["web"], ready: { check: TCP } },
  });
  started("db", 3);
  started("web", 4);
  assert.equal(health.notified("db", 3, "STATUS=replaying the journal"), true);
  assert.equal(health.status("db")?.last?.message, "status: replaying the journal");
  assert.equal(health.notified("db", 99, "READY=1"), false, "another pid");
  assert.equal(health.notified("web", 4, "READY=1"), false, "not a notify probe");
  assert.equal(health.notified("ghost", 1, "READY=1"), false);
  assert.deepEqual(target.calls, []);
  assert.equal(health.notified("db", 3, "READY=1\nSTATUS=accepting connections"), true);
  assert.deepEqual(target.calls, [
    "setReady db 3 true notify: READY=1; status: accepting connections",
  ]);
});

Deno.test("readsLines() and needsNotifySocket() tell which processes need the output tee and a socket", () => {
  assert.equal(readsLines(LOG_SPEC), true);
  assert.equal(readsLines({ argv: ["x"], ready: { check: TCP } }), false);
  assert.equal(readsLines(undefined), false);
  assert.equal(
    needsNotifySocket({ argv: ["x"], ready: { check: { kind: "notify" } } }),
    true,
  );
  assert.equal(needsNotifySocket({ argv: ["x"], alive: { check: TCP } }), false);
});

// --- status ---------------------------------------------------------------------------------

Deno.test("status() shows each probe, its verdict and run, and the latest result of either", async () => {
  const { reactor, prober, health, started, exited } = setUp({
    api: {
      argv: ["api"],
      ready: { check: HTTP, period: 2 },
      alive: { check: TCP, period: 3 },
    },
  });
  prober.fallback = PASS;
  started("api", 7);
  await reactor.advance(3);
  assert.deepEqual(health.status("api"), {
    pid: 7,
    ready: {
      role: "ready",
      check: "http://127.0.0.1:8000/health",
      passing: true,
      active: true,
      streak: 2,
      last: { ...PASS, at: 2000 },
    },
    alive: {
      role: "alive",
      check: "tcp 127.0.0.1:5432",
      passing: true,
      active: true,
      streak: 2,
      last: { ...PASS, at: 3000 },
    },
    last: { ...PASS, at: 3000, role: "alive" },
  });
  exited("api", 7);
  const after = health.status("api")!;
  assert.equal(after.ready?.active, false, "kept after the exit, stopped");
  assert.deepEqual(after.last, { ...PASS, at: 3000, role: "alive" });
});

Deno.test("forget() stops a process's probes and drops its status", async () => {
  const { reactor, prober, health, started } = setUp({
    db: { argv: ["db"], ready: { check: TCP, period: 1 } },
  });
  started("db", 1);
  await reactor.advance(0);
  health.forget("db");
  await reactor.advance(5);
  assert.equal(prober.calls.length, 1);
  assert.equal(health.status("db"), null);
});

Deno.test("close() stops every probe and ignores later starts", async () => {
  const { reactor, prober, health, started } = setUp({
    a: { argv: ["a"], ready: { check: TCP, period: 1 } },
    b: { argv: ["b"], alive: { check: TCP, period: 1 } },
  });
  started("a", 1);
  started("b", 2);
  await reactor.advance(0);
  health.close();
  started("a", 3);
  await reactor.advance(5);
  assert.equal(prober.calls.length, 2);
  assert.equal(reactor.clock.countTimers(), 0);
});

// --- teeLines --------------------------------------------------------------------------------

Deno.test("teeLines() hands batches to both sinks, line by line to one without a batch path", () => {
  const seen: string[] = [];
  const first: LineSink = {
    line: () => seen.push("first line"),
    lines: (_b, _s, _e, count) => seen.push(`first batch ${count}`),
  };
  const second: LineSink = { line: (_b, s, e) => seen.push(`second ${s}-${e}`) };
  const tee = teeLines(first, second);
  tee.lines!(new Uint8Array(4), Int32Array.of(0, 2), Int32Array.of(1, 3), 2);
  tee.line(new Uint8Array(1), 0, 1, false);
  assert.deepEqual(seen, [
    "first batch 2",
    "second 0-1",
    "second 2-3",
    "first line",
    "second 0-1",
  ]);
  assert.equal(teeLines(first, null), first, "nothing to tee: the sink itself");
});

// --- with the real prober and real time --------------------------------------------------------

/**
 * The real prober, keeping every check it runs, so a test can wait for
 * the last one to settle (its process killed and reaped) before it ends.
 */
function realProber() {
  const real = new DenoProber();
  const running = new Set<Promise<unknown>>();
  return {
    check: (...args: Parameters<DenoProber["check"]>) => {
      const pending = real.check(...args);
      running.add(pending);
      void pending.finally(() => running.delete(pending));
      return pending;
    },
    settled: () => Promise.all([...running]),
  };
}

Deno.test("with the real prober, a server that opens its port after 1.5 s is ready by tcp and by http only then", async () => {
  const target = new RecordingTarget();
  const ready = new Map<string, number>();
  const from = performance.now();
  const done = Promise.withResolvers<void>();
  const prober = realProber();
  const health = new Health({
    prober,
    clock: systemClock,
    target: {
      setReady: (name, pid, isReady, detail) => {
        target.setReady(name, pid, isReady, detail);
        if (isReady) ready.set(name, performance.now() - from);
        if (ready.size === 2) done.resolve();
      },
      liveFailed: (name, pid, reason) => target.liveFailed(name, pid, reason),
    },
    specOf: (name) => specs[name],
  });
  // The port is chosen now, and nothing listens on it until 1.5 s from now.
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = probe.addr.port;
  probe.close();
  const specs: Record<string, ProcessSpec> = {
    bytcp: {
      argv: ["srv"],
      ready: { check: { kind: "tcp", host: "127.0.0.1", port }, period: 0.1 },
    },
    byhttp: {
      argv: ["srv"],
      ready: {
        check: { kind: "http", url: `http://127.0.0.1:${port}/health` },
        period: 0.1,
      },
    },
  };
  let server: Deno.HttpServer | null = null;
  const opening = setTimeout(() => {
    server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => {} },
      () => new Response("ok"),
    );
  }, 1500);
  const giveUp = setTimeout(
    () => done.reject(new Error("not ready within 20 s")),
    20_000,
  );
  try {
    health.event({ type: "started", name: "bytcp", pid: 1 });
    health.event({ type: "started", name: "byhttp", pid: 2 });
    await done.promise;
  } finally {
    clearTimeout(opening);
    clearTimeout(giveUp);
    health.close();
    await prober.settled();
    await (server as Deno.HttpServer | null)?.shutdown();
  }
  for (const [name, ms] of ready) assert.ok(ms >= 1490, `${name} ready after ${ms} ms`);
  assert.deepEqual(target.calls.sort(), [
    `setReady byhttp 2 true http://127.0.0.1:${port}/health: HTTP 200 OK`,
    "setReady bytcp 1 true tcp 127.0.0.1:" + port + ": connected",
  ]);
});

Deno.test(
  {
    ...only(
      "with the real prober, a hanging exec liveness probe is killed at its timeout and fails the process",
      NO_PS,
    ),
  },
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "tend-health-" });
    const file = `${dir}/pid`;
    const failed = Promise.withResolvers<string>();
    const prober = realProber();
    const health = new Health({
      prober,
      clock: systemClock,
      target: {
        setReady: () => {},
        liveFailed: (_name, _pid, reason) => failed.resolve(reason),
      },
      specOf: () => ({
        argv: ["srv"],
        alive: {
          check: {
            kind: "exec",
            argv: ["sh", "-c", `echo $$ > ${file}; exec sleep 1000`],
          },
          timeout: 0.3,
          failures: 1,
        },
      }),
    });
    const giveUp = setTimeout(
      () => failed.reject(new Error("no verdict within 20 s")),
      20_000,
    );
    try {
      health.event({ type: "started", name: "srv", pid: 1 });
      // The runner's own timeout and the prober's fire together; either
      // way the verdict is a timeout, at 300 ms.
      assert.match(
        await failed.promise,
        /^exec sh -c 'echo \$\$ > .*; exec sleep 1000': timed out after 300ms/,
      );
      const pgid = Number((await Deno.readTextFile(file)).trim());
      await eventually(
        "the probe's group to be gone",
        async () => (await groupMembers(pgid)).length === 0,
      );
    } finally {
      clearTimeout(giveUp);
      health.close();
      await prober.settled();
      await Deno.remove(dir, { recursive: true });
    }
  },
);
