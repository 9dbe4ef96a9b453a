/**
 * The probe scheduler on the fake clock: delay, period, timeout, both
 * thresholds, late answers, stop with the process, and the event-driven
 * kinds (log, notify). Times are asserted exactly, in seconds.
 */

import assert from "node:assert/strict";
import {
  describeCheck,
  type ProbeOutcome,
  type ProbeRole,
  ProbeRunner,
} from "../../lib/core/probes.ts";
import type { ProbeCheck, ProbeSpec } from "../../lib/core/spec.ts";
import { FakeProber, FakeReactor } from "../_fakes/fakes.ts";

const TCP: ProbeCheck = { kind: "tcp", host: "127.0.0.1", port: 5432 };
const PASS = { ok: true, message: "connected" };
const FAIL = { ok: false, message: "connection refused" };

interface Fixture {
  reactor: FakeReactor;
  prober: FakeProber;
  runner: ProbeRunner;
  /** Every verdict change, with the clock time in seconds. */
  changes: { at: number; passing: boolean; detail: string }[];
  /** Every result, as the runner reported it. */
  results: ProbeOutcome[];
}

function setUp(
  role: ProbeRole,
  probe: Partial<ProbeSpec> = {},
  reactor = new FakeReactor(),
): Fixture {
  const prober = new FakeProber(reactor.clock);
  const changes: Fixture["changes"] = [];
  const results: ProbeOutcome[] = [];
  const runner = new ProbeRunner({
    role,
    probe: { check: TCP, ...probe },
    target: { name: "db", pid: 42 },
    prober,
    clock: reactor.monitorClock,
    onChange: (passing, detail) =>
      changes.push({ at: reactor.seconds(), passing, detail }),
    onResult: (outcome) => results.push(outcome),
  });
  return { reactor, prober, runner, changes, results };
}

// --- timing --------------------------------------------------------------------

Deno.test("the first check runs initialDelay after start, then one every period", async () => {
  const { reactor, prober, runner } = setUp("ready", { initialDelay: 5, period: 2 });
  runner.start();
  await reactor.advance(4.999);
  assert.deepEqual(prober.times, []);
  await reactor.advance(0.001);
  assert.deepEqual(prober.times, [5]);
  await reactor.advance(6);
  assert.deepEqual(prober.times, [5, 7, 9, 11]);
  runner.stop();
});

Deno.test("the defaults are Kubernetes': no delay, a check every 10 s, with the target and a 1 s timeout", async () => {
  const { reactor, prober, runner } = setUp("ready");
  runner.start();
  await reactor.advance(25);
  assert.deepEqual(prober.times, [0, 10, 20]);
  assert.deepEqual(prober.last.check, TCP);
  assert.deepEqual(prober.last.target, { name: "db", pid: 42 });
  assert.equal(prober.last.timeoutMs, 1000);
  runner.stop();
});

Deno.test("start() runs no check and no callback by itself, even with initialDelay 0", async () => {
  const { reactor, prober, runner, results } = setUp("ready");
  runner.start();
  assert.equal(prober.calls.length, 0);
  assert.equal(results.length, 0);
  await reactor.advance(0);
  assert.equal(prober.calls.length, 1);
  runner.stop();
});

Deno.test("the period runs from the start of one check to the start of the next, whatever the check takes", async () => {
  const { reactor, prober, runner } = setUp("ready", { period: 1 });
  prober.fallback = { ...PASS, after: 300 };
  runner.start();
  await reactor.advance(3.5);
  assert.deepEqual(prober.times, [0, 1, 2, 3]);
  runner.stop();
});

Deno.test("checks never overlap: with timeout above period, the next check starts when the last is given up", async () => {
  const { reactor, prober, runner, results } = setUp("ready", {
    period: 1,
    timeout: 3,
  });
  prober.fallback = "hang";
  runner.start();
  await reactor.advance(2.999);
  assert.deepEqual(prober.times, [0]);
  await reactor.advance(0.001);
  assert.deepEqual(prober.times, [0, 3]);
  assert.deepEqual(results.map((r) => [r.at / 1000, r.message]), [
    [3, "timed out after 3s"],
  ]);
  await reactor.advance(3);
  assert.deepEqual(prober.times, [0, 3, 6]);
  runner.stop();
});

Deno.test("start() twice starts one schedule", async () => {
  const { reactor, prober, runner } = setUp("ready", { period: 1 });
  runner.start();
  runner.start();
  await reactor.advance(2);
  assert.deepEqual(prober.times, [0, 1, 2]);
  runner.stop();
});

// --- timeout -------------------------------------------------------------------------

Deno.test("a check that does not answer within timeout fails at that instant, and the prober is told to give up", async () => {
  const { reactor, prober, runner, results } = setUp("ready", { timeout: 2 });
  prober.script("hang");
  runner.start();
  await reactor.advance(1.999);
  assert.equal(results.length, 0);
  assert.equal(prober.last.signal?.aborted, false);
  await reactor.advance(0.001);
  assert.deepEqual(results, [{ ok: false, message: "timed out after 2s", at: 2000 }]);
  assert.equal(prober.calls[0]!.signal?.aborted, true);
  runner.stop();
});

Deno.test("an answer that comes after the timeout is ignored, even a pass", async () => {
  const { reactor, prober, runner, results, changes } = setUp("ready", {
    timeout: 1,
    period: 10,
  });
  prober.script({ ...PASS, after: 1500 });
  runner.start();
  await reactor.advance(5);
  assert.deepEqual(results.map((r) => r.message), ["timed out after 1s"]);
  assert.equal(runner.passing, false);
  assert.deepEqual(changes, []);
  runner.stop();
});

Deno.test("an answer just inside the timeout counts", async () => {
  const { reactor, prober, runner, changes } = setUp("ready", { timeout: 1 });
  prober.script({ ...PASS, after: 999 });
  runner.start();
  await reactor.advance(1);
  assert.deepEqual(changes, [
    { at: 0.999, passing: true, detail: "tcp 127.0.0.1:5432: connected" },
  ]);
  runner.stop();
});

Deno.test("a prober that rejects, or throws, counts as a failed check", async () => {
  const reactor = new FakeReactor();
  const results: ProbeOutcome[] = [];
  let calls = 0;
  const runner = new ProbeRunner({
    role: "ready",
    probe: { check: TCP, period: 1 },
    target: { name: "db", pid: 42 },
    prober: {
      check: () => {
        calls++;
        if (calls === 1) return Promise.reject(new Error("socket exploded"));
        throw new Error("no sockets today");
      },
    },
    clock: reactor.monitorClock,
    onChange: () => {},
    onResult: (outcome) => results.push(outcome),
  });
  runner.start();
  await reactor.advance(1);
  assert.deepEqual(results.map((r) => [r.ok, r.message]), [
    [false, "the check failed: socket exploded"],
    [false, "the check failed: no sockets today"],
  ]);
  runner.stop();
});

// --- readiness thresholds ------------------------------------------------------------

Deno.test("readiness starts not ready and becomes ready after successes passes in a row", async () => {
  const { reactor, prober, runner, changes } = setUp("ready", {
    period: 1,
    successes: 3,
  });
  prober.script(PASS, PASS, FAIL, PASS, PASS, PASS);
  assert.equal(runner.passing, false);
  runner.start();
  await reactor.advance(4);
  assert.equal(runner.passing, false, "the failure at 2 s started the count again");
  assert.deepEqual(changes, []);
  await reactor.advance(1);
  assert.equal(runner.passing, true);
  assert.deepEqual(changes, [
    {
      at: 5,
      passing: true,
      detail: "tcp 127.0.0.1:5432: 3 passes in a row, the last: connected",
    },
  ]);
  runner.stop();
});

Deno.test("failures while not ready change nothing", async () => {
  const { reactor, prober, runner, changes } = setUp("ready", { period: 1 });
  prober.fallback = FAIL;
  runner.start();
  await reactor.advance(10);
  assert.equal(runner.passing, false);
  assert.deepEqual(changes, []);
  assert.equal(runner.streak, 11);
  runner.stop();
});

Deno.test("a ready probe becomes not ready after failures failures in a row, and ready again after successes passes", async () => {
  const { reactor, prober, runner, changes } = setUp("ready", {
    period: 1,
    successes: 2,
    failures: 3,
  });
  prober.script(PASS, PASS, FAIL, FAIL, PASS, FAIL, FAIL, FAIL, FAIL, PASS, PASS);
  runner.start();
  await reactor.advance(11);
  assert.deepEqual(changes.map((c) => [c.at, c.passing]), [
    [1, true],
    [7, false], // the pass at 4 s broke the first run of failures
    [10, true],
  ]);
  assert.equal(
    changes[1]!.detail,
    "tcp 127.0.0.1:5432: 3 failures in a row, the last: connection refused",
  );
  runner.stop();
});

Deno.test("every result reaches onResult with its time, and the runner keeps the last and its run", async () => {
  const { reactor, prober, runner, results } = setUp("ready", { period: 1 });
  prober.script(PASS, FAIL, FAIL);
  runner.start();
  await reactor.advance(2);
  assert.deepEqual(results, [
    { ...PASS, at: 0 },
    { ...FAIL, at: 1000 },
    { ...FAIL, at: 2000 },
  ]);
  assert.deepEqual(runner.last, { ...FAIL, at: 2000 });
  assert.equal(runner.streak, 2);
  assert.equal(runner.checks, 3);
  runner.stop();
});

// --- liveness ---------------------------------------------------------------------------

Deno.test("liveness is alive until failures failures in a row, then fails once with the last reason and checks no more", async () => {
  const { reactor, prober, runner, changes } = setUp("alive", {
    period: 1,
    failures: 3,
  });
  prober.script(FAIL, FAIL, { ok: false, message: "HTTP 500 Internal Server Error" });
  prober.fallback = PASS;
  assert.equal(runner.passing, true);
  runner.start();
  await reactor.advance(1);
  assert.deepEqual(changes, []);
  await reactor.advance(1);
  assert.deepEqual(changes, [
    {
      at: 2,
      passing: false,
      detail:
        "tcp 127.0.0.1:5432: 3 failures in a row, the last: HTTP 500 Internal Server Error",
    },
  ]);
  assert.equal(runner.active, false, "it stopped itself");
  await reactor.advance(30);
  assert.deepEqual(prober.times, [0, 1, 2]);
});

Deno.test("a pass breaks a liveness run of failures", async () => {
  const { reactor, prober, runner, changes } = setUp("alive", {
    period: 1,
    failures: 2,
  });
  prober.script(FAIL, PASS, FAIL, PASS, FAIL, FAIL);
  runner.start();
  await reactor.advance(4);
  assert.equal(changes.length, 0);
  await reactor.advance(1);
  assert.deepEqual(changes.map((c) => [c.at, c.passing]), [[5, false]]);
});

Deno.test("liveness counts timeouts as failures", async () => {
  const { reactor, prober, runner, changes } = setUp("alive", {
    period: 2,
    timeout: 0.5,
    failures: 2,
  });
  prober.fallback = "hang";
  runner.start();
  await reactor.advance(2.5);
  assert.deepEqual(changes, [
    {
      at: 2.5,
      passing: false,
      detail:
        "tcp 127.0.0.1:5432: 2 failures in a row, the last: timed out after 500ms",
    },
  ]);
  assert.ok(prober.calls.every((call) => call.signal?.aborted));
});

Deno.test("a liveness probe of an event-driven kind is refused", () => {
  for (const check of [{ kind: "log", pattern: "x" }, { kind: "notify" }] as const) {
    assert.throws(
      () => setUp("alive", { check }),
      new RangeError(
        `Cannot run a liveness probe of kind "${check.kind}": it is for readiness only`,
      ),
    );
  }
});

// --- stop ---------------------------------------------------------------------------------

Deno.test("stop() during the initial delay: no check ever runs", async () => {
  const { reactor, prober, runner } = setUp("ready", { initialDelay: 5 });
  runner.start();
  await reactor.advance(4);
  runner.stop();
  await reactor.advance(60);
  assert.deepEqual(prober.calls, []);
  assert.equal(reactor.clock.countTimers(), 0, "no timer is left");
});

Deno.test("stop() during a check aborts it, ignores its answer, and no check follows", async () => {
  const { reactor, prober, runner, results, changes } = setUp("ready", {
    period: 1,
    timeout: 5,
  });
  prober.script({ ...PASS, after: 500 });
  runner.start();
  await reactor.advance(0.25);
  runner.stop();
  assert.equal(prober.last.signal?.aborted, true);
  await reactor.advance(0.5);
  assert.equal(prober.last.answered, true);
  assert.deepEqual(results, []);
  assert.deepEqual(changes, []);
  assert.equal(runner.passing, false);
  await reactor.advance(60);
  assert.equal(prober.calls.length, 1);
  assert.equal(reactor.clock.countTimers(), 0, "no timer is left");
});

Deno.test("stop() between checks cancels the next one", async () => {
  const { reactor, prober, runner } = setUp("ready", { period: 1 });
  runner.start();
  await reactor.advance(1.5);
  runner.stop();
  await reactor.advance(10);
  assert.deepEqual(prober.times, [0, 1]);
  assert.equal(reactor.clock.countTimers(), 0);
});

Deno.test("a runner stopped before it started never starts", async () => {
  const { reactor, prober, runner } = setUp("ready");
  runner.stop();
  runner.start();
  await reactor.advance(30);
  assert.deepEqual(prober.calls, []);
  assert.equal(runner.active, false);
});

// --- log probes ------------------------------------------------------------------------------

Deno.test("a log probe passes on the first matching line, with no timer and no prober", async () => {
  const { reactor, prober, runner, changes, results } = setUp("ready", {
    check: { kind: "log", pattern: "listening on :(\\d+)" },
  });
  runner.start();
  assert.equal(runner.wantsLines, true);
  assert.equal(reactor.clock.countTimers(), 0);
  runner.line("starting up");
  runner.line("loading 3 modules");
  assert.deepEqual(results, []);
  await reactor.advance(2);
  runner.line("listening on :8000");
  assert.deepEqual(changes, [
    {
      at: 2,
      passing: true,
      detail: 'log /listening on :(\\d+)/: matched "listening on :8000"',
    },
  ]);
  assert.equal(runner.wantsLines, false, "no more lines are needed");
  runner.line("listening on :9000");
  assert.equal(results.length, 1);
  assert.deepEqual(prober.calls, []);
  runner.stop();
});

Deno.test("a log probe ignores lines before start and after stop", () => {
  const { runner, changes } = setUp("ready", { check: { kind: "log", pattern: "up" } });
  runner.line("up");
  assert.equal(runner.wantsLines, false);
  runner.start();
  runner.stop();
  runner.line("up");
  assert.deepEqual(changes, []);
});

Deno.test("a log probe quotes at most 200 characters of the line", () => {
  const { runner, results } = setUp("ready", { check: { kind: "log", pattern: "^x" } });
  runner.start();
  runner.line("x".repeat(500));
  assert.equal(results[0]!.message, `matched "${"x".repeat(200)}…"`);
});

Deno.test("a log probe whose pattern does not compile never passes", () => {
  const { runner, changes } = setUp("ready", { check: { kind: "log", pattern: "(" } });
  runner.start();
  runner.line("(");
  assert.equal(runner.wantsLines, false);
  assert.deepEqual(changes, []);
});

// --- notify probes ----------------------------------------------------------------------------

Deno.test("a notify probe passes on READY=1 and keeps STATUS= as its text", () => {
  const { reactor, runner, changes, results } = setUp("ready", {
    check: { kind: "notify" },
  });
  runner.start();
  assert.equal(reactor.clock.countTimers(), 0);
  runner.notify("STATUS=loading the cache");
  assert.equal(runner.passing, false);
  assert.deepEqual(results.map((r) => [r.ok, r.message]), [
    [false, "status: loading the cache"],
  ]);
  runner.notify("MAINPID=7\nWATCHDOG=1\nREADY=0");
  assert.equal(runner.passing, false, "only READY=1 counts");
  runner.notify("READY=1\nSTATUS=serving");
  assert.deepEqual(changes, [
    { at: 0, passing: true, detail: "notify: READY=1; status: serving" },
  ]);
  runner.notify("STATUS=42 clients");
  assert.deepEqual(runner.last, {
    ok: true,
    message: "READY=1; status: 42 clients",
    at: 0,
  });
  runner.notify("READY=1");
  assert.equal(changes.length, 1, "ready once");
  runner.stop();
  runner.notify("STATUS=late");
  assert.equal(runner.last?.message, "READY=1; status: 42 clients");
});

Deno.test("notify messages reach only notify probes, lines only log probes", async () => {
  const { reactor, prober, runner, results } = setUp("ready", { period: 1 });
  prober.fallback = FAIL;
  runner.start();
  runner.notify("READY=1");
  runner.line("anything");
  await reactor.advance(0);
  assert.deepEqual(results.map((r) => r.message), ["connection refused"]);
  runner.stop();
});

// --- describeCheck ------------------------------------------------------------------------------

Deno.test("describeCheck() names each kind the way a user wrote it", () => {
  assert.equal(
    describeCheck({ kind: "http", url: "http://127.0.0.1:8000/health" }),
    "http://127.0.0.1:8000/health",
  );
  assert.equal(describeCheck({ kind: "tcp", host: "::1", port: 80 }), "tcp [::1]:80");
  assert.equal(
    describeCheck({ kind: "exec", argv: ["pg_isready", "-h", "my host"] }),
    "exec pg_isready -h 'my host'",
  );
  assert.equal(
    describeCheck({ kind: "exec", argv: ["/bin/sh", "-c", "test -e /tmp/up"] }),
    "shell test -e /tmp/up",
  );
  assert.equal(describeCheck({ kind: "notify" }), "notify");
});
