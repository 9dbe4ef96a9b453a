/**
 * ProcessMonitor with fake processes and fake time.
 *
 * The first part ports every test of Twisted's `test_procmon.py`
 * (`../shared/seed`) one to one: same scenario, same numbers, same name.
 * procmon's dicts map onto `status()`: `protocols` is the set of processes
 * with a live child, `timeStarted` is `startedAt`, `delay` is `delay`,
 * `murder` is a pending `killAt`, `restart` is a pending `nextStartAt`.
 * The second part covers what the seed does not.
 */

import assert from "node:assert/strict";
import {
  DuplicateProcessError,
  type MonitorSink,
  type MonitorState,
  NotRunningError,
  ProcessMonitor,
  type ProcessStatus,
  UnknownProcessError,
} from "../../lib/core/monitor.ts";
import type { ProcessSpec } from "../../lib/core/spec.ts";
import { type LogDestination, Logger } from "../../lib/output/log.ts";
import { FakeReactor, RecordingSink } from "../_fakes/fakes.ts";

interface Fixture {
  reactor: FakeReactor;
  sink: RecordingSink;
  pm: ProcessMonitor;
}

/**
 * The seed's setUp: a monitor on a fake reactor, min 2 s, max 10 s,
 * threshold 10 s; its sink records everything, unless `sink` is given.
 */
function setUp(other?: MonitorSink): Fixture {
  const reactor = new FakeReactor();
  const sink = new RecordingSink();
  const pm = new ProcessMonitor({
    spawner: reactor,
    sink: other ?? sink,
    clock: reactor.monitorClock,
  });
  pm.minRestartDelay = 2;
  pm.maxRestartDelay = 10;
  pm.threshold = 10;
  return { reactor, sink, pm };
}

/** tend's own log, as the seed's log observer sees procmon's: JSON records in memory. */
class LogObserver implements LogDestination {
  readonly logger = new Logger({ out: this, format: "json" });
  #text = "";
  write(p: Uint8Array): Promise<number> {
    this.#text += new TextDecoder().decode(p);
    return Promise.resolve(p.length);
  }
  /** The messages of the records of child output logged so far (the seed's `events`). */
  async messages(): Promise<string[]> {
    await this.logger.flush();
    return this.#text.split("\n").filter((line) => line !== "")
      .map((line) => JSON.parse(line) as { stream: string; message: string })
      .filter((record) => record.stream !== "tend")
      .map((record) => record.message);
  }
}

/** setUp with tend's real log as the monitor's sink, for the output tests. */
function setUpLogged(): Fixture & { log: LogObserver } {
  const log = new LogObserver();
  const fixture = setUp({
    event: (event) => log.logger.event(event),
    output: (name, pid, stream) => log.logger.output(name, pid, stream),
  });
  return { ...fixture, log };
}

function statusOf(pm: ProcessMonitor, name: string): ProcessStatus {
  const status = pm.status().find((s) => s.name === name);
  if (!status) throw new Error(`no status for ${name}`);
  return status;
}

/** procmon's `protocols.keys()`: processes that have a live child. */
function protocols(pm: ProcessMonitor): string[] {
  return pm.status().filter((s) => s.pid !== null).map((s) => s.name);
}

/** procmon's `timeStarted[name]`, in seconds. */
function timeStarted(pm: ProcessMonitor, name: string): number | null {
  const at = statusOf(pm, name).startedAt;
  return at === null ? null : at / 1000;
}

function spec(...argv: string[]): ProcessSpec {
  return { argv };
}

// ---------------------------------------------------------------------------
// The seed, test by test.

Deno.test("test_getStateIncludesProcesses: the JSON state lists every process", () => {
  const { pm } = setUp();
  pm.addProcess("foo", { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} });
  assert.deepEqual(pm.toJSON().processes, {
    foo: { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} },
  });
});

Deno.test("test_getStateExcludesReactor: the JSON state holds no spawner, clock or sink", () => {
  const { pm } = setUp();
  const state = pm.toJSON();
  assert.deepEqual(Object.keys(state).sort(), [
    "killTime",
    "maxRestartDelay",
    "minRestartDelay",
    "processes",
    "threshold",
  ]);
  assert.deepEqual(JSON.parse(JSON.stringify(pm)), state);
});

Deno.test("test_addProcess: a process added before startService starts only then", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} });
  assert.deepEqual(protocols(pm), []);
  assert.deepEqual(pm.processes, {
    foo: { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} },
  });
  pm.startService();
  await reactor.advance(0);
  assert.deepEqual(protocols(pm), ["foo"]);
});

Deno.test("test_addProcessDuplicateKeyError: adding a name twice throws", () => {
  const { pm } = setUp();
  pm.addProcess("foo", { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} });
  assert.throws(
    () => pm.addProcess("foo", { argv: ["arg1", "arg2"], uid: 1, gid: 2, env: {} }),
    DuplicateProcessError,
  );
});

Deno.test("test_addProcessEnv: the env given to addProcess reaches the spawner", async () => {
  const { pm, reactor } = setUp();
  const fakeEnv = { KEY: "value" };
  pm.startService();
  pm.addProcess("foo", { argv: ["foo"], uid: 1, gid: 2, env: fakeEnv });
  await reactor.advance(0);
  assert.deepEqual(reactor.spawnedProcesses[0]!.request.env, fakeEnv);
});

Deno.test("test_removeProcess: removeProcess drops the process from the public list", () => {
  const { pm } = setUp();
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  assert.equal(Object.keys(pm.processes).length, 1);
  pm.removeProcess("foo");
  assert.equal(Object.keys(pm.processes).length, 0);
});

Deno.test("test_removeProcessUnknownKeyError: removing an unknown name throws", () => {
  const { pm } = setUp();
  pm.startService();
  assert.throws(() => pm.removeProcess("foo"), UnknownProcessError);
});

Deno.test("test_startProcess: startProcess spawns it and records its start time", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startProcess("foo");
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  assert.equal(timeStarted(pm, "foo"), 0);
});

Deno.test("test_startProcessAlreadyStarted: starting a running process does nothing", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startProcess("foo");
  assert.equal(pm.startProcess("foo"), undefined);
  assert.equal(reactor.spawnedProcesses.length, 1);
});

Deno.test("test_startProcessUnknownKeyError: starting an unknown name throws", () => {
  const { pm } = setUp();
  assert.throws(() => pm.startProcess("foo"), UnknownProcessError);
});

Deno.test("test_stopProcessNaturalTermination: stopProcess sends TERM at once", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  assert.ok(protocols(pm).includes("foo"));
  // The fake process dies 1 second after its TERM.
  const timeToDie = reactor.last.terminationDelay = 1;
  // Run to the short-lived threshold, leaving time for the process to die.
  await reactor.advance(pm.threshold);
  pm.stopProcess("foo");
  assert.deepEqual(reactor.last.signals, ["SIGTERM"]);
  await reactor.advance(timeToDie);
  // It had run long enough, so it is restarted at once.
  assert.equal(reactor.seconds(), timeStarted(pm, "foo"));
  assert.equal(reactor.spawnedProcesses.length, 2);
});

Deno.test("test_stopProcessForcedKill: a process still alive after killTime is killed", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(pm.threshold);
  const proc = reactor.last;
  // The fake process outlives killTime.
  proc.terminationDelay = pm.killTime + 1;
  pm.stopProcess("foo");
  await reactor.advance(pm.killTime - 1);
  assert.equal(timeStarted(pm, "foo"), 0);
  await reactor.advance(1);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  // It is restarted at once.
  assert.equal(reactor.seconds(), timeStarted(pm, "foo"));
});

Deno.test("test_stopProcessUnknownKeyError: stopping an unknown name throws", () => {
  const { pm } = setUp();
  assert.throws(() => pm.stopProcess("foo"), UnknownProcessError);
});

Deno.test("test_stopProcessAlreadyStopped: stopping a stopped process does nothing", () => {
  const { pm } = setUp();
  pm.addProcess("foo", spec("foo"));
  assert.equal(pm.stopProcess("foo"), undefined);
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("test_outputReceivedCompleteLine: a complete line becomes one log record", async () => {
  const { pm, reactor, log } = setUpLogged();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(pm.threshold);
  reactor.last.outReceived("hello world!\n");
  assert.deepEqual(await log.messages(), ["[foo] hello world!"]);
});

Deno.test("test_outputReceivedCompleteLineInvalidUTF8: invalid UTF-8 is shown escaped", async () => {
  const { pm, reactor, log } = setUpLogged();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(pm.threshold);
  reactor.last.outReceived(
    new Uint8Array([0xff, ...new TextEncoder().encode("hello world!\n")]),
  );
  const messages = await log.messages();
  assert.equal(messages.length, 1);
  const [tag, output] = [messages[0]!.slice(0, 5), messages[0]!.slice(6)];
  assert.equal(tag, "[foo]");
  assert.equal(output, "\\xffhello world!");
});

Deno.test("test_outputReceivedPartialLine: a partial line waits for the process to end", async () => {
  const { pm, reactor, log } = setUpLogged();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(pm.threshold);
  reactor.last.outReceived("hello world!");
  assert.equal((await log.messages()).length, 0);
  reactor.last.processEnded({ code: 0, signal: null });
  assert.deepEqual(await log.messages(), ["[foo] hello world!"]);
});

Deno.test("a line still being read when the exit is reported is not split", async () => {
  // The spawner may report an exit before the streams end (the log held
  // them back past the drain limit); the rest of the line comes after.
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  const child = reactor.last;
  child.outReceived("hello ");
  child.events.exit({ code: 0, signal: null }, false);
  child.outReceived("world");
  assert.deepEqual(sink.messages, []);
  child.events.stdout.end();
  assert.deepEqual(sink.messages, ["hello world"]);
});

Deno.test("test_connectionLostLongLivedProcess: a long-lived process is restarted at once", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(pm.threshold);
  reactor.last.processEnded({ code: 0, signal: null });
  assert.ok(!protocols(pm).includes("foo"));
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
});

Deno.test("test_connectionLostMurderCancel: an exit cancels the pending SIGKILL", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(1);
  const before = reactor.clock.countTimers();
  pm.stopProcess("foo");
  // A killer is scheduled: a timer (and the fake's own exit timer) is active.
  assert.equal(statusOf(pm, "foo").killAt, (1 + pm.killTime) * 1000);
  assert.equal(reactor.clock.countTimers(), before + 2);
  const proc = reactor.last;
  await reactor.advance(proc.terminationDelay);
  // The killer is cancelled, not left to fire into nothing, and gone: the
  // one timer left is the restart's (it died young).
  assert.equal(statusOf(pm, "foo").killAt, null);
  assert.notEqual(statusOf(pm, "foo").nextStartAt, null);
  assert.equal(reactor.clock.countTimers(), before + 1, "the kill timer is cleared");
  await reactor.advance(pm.killTime * 2);
  assert.deepEqual(proc.signals, ["SIGTERM"]);
});

Deno.test("test_connectionLostProtocolDeletion: a dead process leaves the live set", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  assert.ok(protocols(pm).includes("foo"));
  reactor.last.signal("SIGKILL");
  await reactor.advance(reactor.last.terminationDelay);
  assert.ok(!protocols(pm).includes("foo"));
});

Deno.test("test_connectionLostMinMaxRestartDelay: the delay stays within min and max", async () => {
  const { pm, reactor } = setUp();
  pm.minRestartDelay = 2;
  pm.maxRestartDelay = 3;
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  assert.equal(statusOf(pm, "foo").delay, pm.minRestartDelay);
  await reactor.advance(pm.threshold - 1);
  reactor.last.processEnded({ code: 0, signal: null });
  assert.equal(statusOf(pm, "foo").delay, pm.maxRestartDelay);
});

Deno.test("test_connectionLostBackoffDelayDoubles: each early death doubles the delay", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  await reactor.advance(pm.threshold - 1); // 9 s
  assert.ok(protocols(pm).includes("foo"));
  assert.equal(statusOf(pm, "foo").delay, pm.minRestartDelay);
  // It dies within the threshold, so it is not restarted at once.
  reactor.last.processEnded({ code: 0, signal: null });
  assert.equal(statusOf(pm, "foo").delay, pm.minRestartDelay * 2);
});

Deno.test("test_startService: startService starts every process", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(0);
  assert.ok(protocols(pm).includes("foo"));
});

Deno.test("test_stopService: stopService stops every process", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  pm.startService();
  await reactor.advance(pm.threshold);
  assert.ok(protocols(pm).includes("foo"));
  assert.ok(protocols(pm).includes("bar"));
  await reactor.advance(1);
  const stopped = pm.stopService();
  // Beyond killTime every process has exited...
  await reactor.advance(pm.killTime + 1);
  // ...and none is restarted.
  assert.deepEqual(protocols(pm), []);
  await stopped;
});

Deno.test("test_stopServiceCancelRestarts: stopService cancels a scheduled restart", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(pm.threshold);
  assert.ok(protocols(pm).includes("foo"));
  await reactor.advance(1);
  // It dies early.
  reactor.last.processEnded({ code: 0, signal: null });
  assert.notEqual(statusOf(pm, "foo").nextStartAt, null);
  const stopped = pm.stopService();
  // The scheduled restart is cancelled.
  assert.equal(statusOf(pm, "foo").nextStartAt, null);
  await reactor.advance(0);
  assert.equal(reactor.spawnedProcesses.length, 1);
  await stopped;
});

Deno.test("test_stopServiceCleanupScheduledRestarts: stopService cancels every scheduled restart", async () => {
  const { pm, reactor } = setUp();
  pm.threshold = 5;
  pm.minRestartDelay = 5;
  pm.startService();
  pm.addProcess("foo", spec("foo"));
  // Stop it after 1 s.
  await reactor.advance(1);
  pm.stopProcess("foo");
  // It exits 1 s later and is scheduled to restart 5 s after that.
  await reactor.advance(1);
  assert.equal(statusOf(pm, "foo").nextStartAt, 7000);
  // Meanwhile the service stops.
  const stopped = pm.stopService();
  assert.equal(reactor.clock.countTimers(), 0, "the restart's timer is cleared");
  await reactor.advance(6);
  // The restart was cancelled.
  assert.deepEqual(protocols(pm), []);
  assert.equal(reactor.spawnedProcesses.length, 1);
  await stopped;
});

// ---------------------------------------------------------------------------
// Beyond the seed.

Deno.test("a spec's timing keys override the monitor's for that process", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", { argv: ["foo"], killTime: 2, minRestartDelay: 3 });
  pm.startService();
  assert.deepEqual(pm.timingOf("foo"), {
    threshold: 10,
    killTime: 2,
    minRestartDelay: 3,
    maxRestartDelay: 10,
  });
  const proc = reactor.last;
  proc.ignoreTerm = true;
  pm.stopProcess("foo");
  await reactor.advance(1.999);
  assert.deepEqual(proc.signals, ["SIGTERM"]);
  await reactor.advance(0.001);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  // It died at 2 s < threshold: back-off of its own min delay, 3 s.
  assert.equal(statusOf(pm, "foo").nextStartAt, 5000);
});

Deno.test("stopSignal chooses the polite signal", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", { argv: ["foo"], stopSignal: "SIGINT" });
  pm.startService();
  pm.stopProcess("foo");
  assert.deepEqual(reactor.last.signals, ["SIGINT"]);
});

Deno.test("the delay keeps doubling up to the max and resets after a healthy run", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const starts: number[] = [];
  // Four instant deaths: waits of 2, 4, 8, then 10 (capped).
  for (const wait of [2, 4, 8, 10]) {
    reactor.last.processEnded({ code: 1, signal: null });
    await reactor.advance(wait - 0.001);
    assert.equal(statusOf(pm, "foo").state, "BACKOFF");
    await reactor.advance(0.001);
    assert.equal(statusOf(pm, "foo").state, "RUNNING");
    starts.push(reactor.seconds());
  }
  assert.deepEqual(starts, [2, 6, 14, 24]);
  assert.equal(statusOf(pm, "foo").delay, 10);
  // A healthy run resets the delay and restarts at once.
  await reactor.advance(pm.threshold);
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(0);
  assert.equal(timeStarted(pm, "foo"), 34);
  assert.equal(statusOf(pm, "foo").delay, 2);
  assert.equal(statusOf(pm, "foo").restarts, 5);
});

Deno.test("restart: on-failure restarts after a failure but not after exit code 0", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("job", { argv: ["job"], restart: "on-failure" });
  pm.startService();
  reactor.last.processEnded({ code: 3, signal: null });
  await reactor.advance(2);
  assert.equal(reactor.spawnedProcesses.length, 2);
  reactor.last.processEnded({ code: null, signal: "SIGSEGV" });
  await reactor.advance(4);
  assert.equal(reactor.spawnedProcesses.length, 3);
  reactor.last.processEnded({ code: 0, signal: null });
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 3);
  assert.equal(statusOf(pm, "job").state, "EXITED");
  assert.deepEqual(statusOf(pm, "job").lastExit, { code: 0, signal: null });
  assert.equal(sink.types("job").at(-1), "not-restarting");
});

Deno.test("restart: never leaves an exited process alone, whatever its code", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("once", { argv: ["once"], restart: "never" });
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.equal(statusOf(pm, "once").state, "EXITED");
});

Deno.test("restart: never still restarts after a requested stop (a bounce)", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("once", { argv: ["once"], restart: "never" });
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.restartAll();
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.equal(statusOf(pm, "once").state, "RUNNING");
});

Deno.test("restart: always is the default and restarts after exit code 0", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  reactor.last.processEnded({ code: 0, signal: null });
  await reactor.advance(2);
  assert.equal(reactor.spawnedProcesses.length, 2);
});

Deno.test("a spawn failure is a death at age zero: it is logged and backs off", async () => {
  const { pm, reactor, sink } = setUp();
  pm.threshold = 0; // even then, a failed start never counts as healthy
  reactor.failWith = "Failed to spawn 'nope': No such file or directory (os error 2)";
  pm.addProcess("nope", spec("nope"));
  pm.startService();
  const status = statusOf(pm, "nope");
  assert.equal(status.state, "BACKOFF");
  assert.equal(status.spawnError, reactor.failWith);
  assert.equal(status.nextStartAt, 2000);
  assert.deepEqual(sink.events.slice(0, 2), [
    { type: "spawn-failed", name: "nope", error: reactor.failWith },
    { type: "restart-scheduled", name: "nope", delay: 2 },
  ]);
  await reactor.advance(2);
  assert.equal(statusOf(pm, "nope").nextStartAt, 6000);
  reactor.failWith = null;
  await reactor.advance(4);
  assert.equal(statusOf(pm, "nope").state, "RUNNING");
  assert.equal(statusOf(pm, "nope").spawnError, null);
});

Deno.test("a spawn failure under restart: never is FATAL", () => {
  const { pm, reactor } = setUp();
  reactor.failWith = "Permission denied (os error 13)";
  pm.addProcess("nope", { argv: ["nope"], restart: "never" });
  pm.startService();
  assert.equal(statusOf(pm, "nope").state, "FATAL");
});

Deno.test("status() reports state, pid, times, restarts, last exit and delay", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  assert.deepEqual(pm.status().map((s) => [s.name, s.state]), [
    ["foo", "STOPPED"],
    ["bar", "STOPPED"],
  ]);
  pm.startService();
  await reactor.advance(3);
  const foo = statusOf(pm, "foo");
  assert.deepEqual(foo, {
    name: "foo",
    state: "RUNNING",
    pid: reactor.spawnedProcesses[0]!.pid,
    startedAt: 0,
    uptime: 3,
    restarts: 0,
    held: false,
    lastExit: null,
    lastExitAt: null,
    spawnError: null,
    delay: 2,
    nextStartAt: null,
    killAt: null,
    ready: true,
    probe: null,
    waiting: null,
    blocked: false,
  });
  reactor.spawnedProcesses[1]!.processEnded({ code: 7, signal: null });
  assert.deepEqual(statusOf(pm, "bar"), {
    name: "bar",
    state: "BACKOFF",
    pid: null,
    startedAt: null,
    uptime: null,
    restarts: 0,
    held: false,
    lastExit: { code: 7, signal: null },
    lastExitAt: 3000,
    spawnError: null,
    delay: 4,
    nextStartAt: 5000,
    killAt: null,
    ready: false,
    probe: null,
    waiting: null,
    blocked: false,
  });
  pm.stopProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  assert.equal(statusOf(pm, "foo").killAt, 8000);
});

Deno.test("the JSON state rebuilds an equal monitor that runs the same specs", async () => {
  const { pm } = setUp();
  pm.killTime = 7;
  pm.addProcess("web", {
    argv: ["python3", "-m", "http.server"],
    cwd: "/srv",
    env: { A: "1" },
    clearEnv: true,
    restart: "on-failure",
    stopSignal: "SIGINT",
    threshold: 2,
  });
  pm.addProcess("tick", { argv: ["/bin/sh", "-c", "date"] });
  const json = JSON.stringify(pm);
  const reactor = new FakeReactor();
  const copy = ProcessMonitor.fromJSON(JSON.parse(json) as MonitorState, {
    spawner: reactor,
    sink: new RecordingSink(),
    clock: reactor.monitorClock,
  });
  assert.deepEqual(copy.toJSON(), pm.toJSON());
  assert.equal(copy.killTime, 7);
  assert.equal(copy.running, false);
  copy.startService();
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.request.argv), [
    ["python3", "-m", "http.server"],
    ["/bin/sh", "-c", "date"],
  ]);
  assert.equal(reactor.spawnedProcesses[0]!.request.cwd, "/srv");
  assert.equal(reactor.spawnedProcesses[0]!.request.clearEnv, true);
  const stopped = copy.stopService();
  await reactor.advance(1);
  await stopped;
});

Deno.test("stopping a process in back-off does nothing: its restart stays due", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  pm.stopProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "BACKOFF");
  await reactor.advance(2);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
});

Deno.test("removing a stopping process forgets it once it exits, without a restart", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.stopProcess("foo");
  pm.removeProcess("foo");
  assert.deepEqual(pm.processes, {});
  assert.throws(() => pm.stopProcess("foo"), UnknownProcessError);
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.deepEqual(pm.status(), []);
  // The name is free again.
  pm.addProcess("foo", spec("foo2"));
  assert.deepEqual(reactor.last.request.argv, ["foo2"]);
});

Deno.test("re-adding a name while its old child is still stopping starts it once that exits", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("old"));
  pm.startService();
  pm.removeProcess("foo");
  pm.addProcess("foo", spec("new"));
  assert.equal(reactor.spawnedProcesses.length, 1);
  await reactor.advance(1);
  assert.deepEqual(reactor.last.request.argv, ["new"]);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
});

Deno.test("removing a process in back-off cancels its restart", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  pm.removeProcess("foo");
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.deepEqual(pm.status(), []);
});

Deno.test("stopService with nothing running resolves at once", async () => {
  const { pm } = setUp();
  pm.addProcess("foo", spec("foo"));
  await pm.stopService();
  const empty = setUp().pm;
  empty.startService();
  await empty.stopService();
});

Deno.test("stopService resolves only once every child has exited", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  reactor.last.terminationDelay = 3;
  let done = false;
  const stopped = pm.stopService().then(() => done = true);
  await reactor.advance(2.9);
  assert.equal(done, false);
  await reactor.advance(0.1);
  await stopped;
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("killAll sends SIGKILL to every live group at once", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  pm.startService();
  for (const p of reactor.spawnedProcesses) p.ignoreTerm = true;
  const stopped = pm.stopService();
  pm.killAll();
  for (const p of reactor.spawnedProcesses) {
    assert.deepEqual(p.signals, ["SIGTERM", "SIGKILL"]);
  }
  await reactor.advance(0);
  await stopped;
  assert.deepEqual(protocols(pm), []);
});

Deno.test("restartAll bounces every running process", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.restartAll();
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 4);
  assert.deepEqual(protocols(pm), ["foo", "bar"]);
});

Deno.test("updateProcess stops the old child and starts the new spec at once, even young", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("old"));
  pm.startService();
  await reactor.advance(1);
  pm.updateProcess("foo", spec("new"));
  await reactor.advance(1);
  assert.deepEqual(reactor.last.request.argv, ["new"]);
  assert.equal(timeStarted(pm, "foo"), 2);
});

Deno.test("a leader's exit with group members alive stops them before the restart", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.members = 2;
  proc.membersIgnoreTerm = true;
  await reactor.advance(pm.threshold);
  proc.processEnded({ code: 0, signal: null });
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  assert.deepEqual(proc.signals, ["SIGTERM"]);
  await reactor.advance(pm.killTime - 0.001);
  assert.equal(reactor.spawnedProcesses.length, 1);
  await reactor.advance(0.001);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  // The leader ran 10 s: healthy, so the restart follows the group's end at once.
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.equal(timeStarted(pm, "foo"), 15);
  assert.deepEqual(sink.types("foo").slice(1, 5), [
    "exited",
    "leftovers",
    "sigkill",
    "restart-scheduled",
  ]);
});

Deno.test("a stopped leader whose group ignores the stop signal: the group is SIGKILLed at killTime", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.members = 1;
  proc.membersIgnoreTerm = true;
  const stopped = pm.stopService();
  await reactor.advance(proc.terminationDelay);
  assert.ok(proc.ended);
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  await reactor.advance(pm.killTime - proc.terminationDelay);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  await stopped;
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("members that outlive SIGKILL are abandoned after another killTime", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.members = 1;
  proc.membersIgnoreTerm = true;
  proc.unkillable = true; // a group nothing can kill
  const stopped = pm.stopService();
  proc.processEnded({ code: 0, signal: null });
  await reactor.advance(pm.killTime);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  await reactor.advance(pm.killTime);
  await stopped;
  assert.equal(sink.types("foo").at(-1), "abandoned");
});

Deno.test("a leader whose exit never comes after SIGKILL is abandoned after another killTime", async () => {
  // Regression: the abandon timer was armed only once the leader's exit was
  // known, so a leader stuck in the kernel hung stopService for ever.
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.ignoreTerm = true; // neither signal ends it, and no exit comes
  proc.unkillable = true;
  let done = false;
  const stopped = pm.stopService().then(() => done = true);
  await reactor.advance(pm.killTime);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  await reactor.advance(pm.killTime - 0.001);
  assert.equal(done, false);
  await reactor.advance(0.001);
  await stopped;
  assert.equal(sink.types("foo").at(-1), "abandoned");
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
  assert.deepEqual(statusOf(pm, "foo").lastExit, null, "no exit was seen");
  // A late exit of the abandoned child changes nothing.
  proc.processEnded({ code: null, signal: "SIGKILL" });
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("a SIGKILL due while a reaped leader's exit is on its way waits for that exit", async () => {
  // The spawner reports an exit only after the leader's last output is read;
  // meanwhile nothing may be left to kill, and the group id may be reused.
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.ignoreTerm = true;
  const stopped = pm.stopService();
  proc.reaped = true; // dead, its exit not reported yet
  await reactor.advance(pm.killTime * 3);
  assert.deepEqual(proc.signals, ["SIGTERM"], "no SIGKILL, and not abandoned");
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  proc.events.exit({ code: 0, signal: null }, false);
  await stopped;
  assert.deepEqual(sink.types("foo"), ["started", "stop-signal", "exited"]);
});

Deno.test("a SIGKILL put off for a pending exit is sent when the exit shows members alive", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.ignoreTerm = true;
  const stopped = pm.stopService();
  proc.reaped = true;
  await reactor.advance(pm.killTime);
  assert.deepEqual(proc.signals, ["SIGTERM"]);
  proc.members = 1;
  proc.membersIgnoreTerm = true;
  proc.ended = true;
  proc.events.exit({ code: 0, signal: null }, true);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  await stopped;
  assert.deepEqual(sink.types("foo"), ["started", "stop-signal", "exited", "sigkill"]);
});

Deno.test("the wait after SIGKILL does not abandon a leader whose exit is on its way", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.ignoreTerm = true;
  proc.slowExitOnKill = true; // the SIGKILL lands, but the exit is slow to come
  const stopped = pm.stopService();
  await reactor.advance(pm.killTime * 3);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  // The exit comes, with a member that survives SIGKILL: one more wait.
  proc.events.exit({ code: null, signal: "SIGKILL" }, true);
  await reactor.advance(pm.killTime);
  await stopped;
  assert.equal(sink.types("foo").at(-1), "abandoned");
});

Deno.test("with killTime 0 the wait after SIGKILL is still a second", async () => {
  const { pm, reactor, sink } = setUp();
  pm.killTime = 0;
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.ignoreTerm = true;
  proc.unkillable = true;
  let done = false;
  const stopped = pm.stopService().then(() => done = true);
  await reactor.advance(0);
  assert.deepEqual(proc.signals, ["SIGTERM", "SIGKILL"]);
  await reactor.advance(0.999);
  assert.equal(done, false);
  await reactor.advance(0.001);
  await stopped;
  assert.equal(sink.types("foo").at(-1), "abandoned");
});

Deno.test("a signal the OS refuses is logged, not thrown, and the stop goes on", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.refuseSignals = new Error("Operation not permitted (os error 1)");
  const stopped = pm.stopService();
  await reactor.advance(pm.killTime * 2);
  await stopped;
  assert.deepEqual(sink.types("foo"), [
    "started",
    "stop-signal",
    "signal-failed",
    "sigkill",
    "signal-failed",
    "abandoned",
  ]);
  const failed = sink.events.find((e) => e.type === "signal-failed");
  assert.ok(failed && "error" in failed && /not permitted/.test(failed.error));
});

Deno.test("status() shows the back-off delay within the current bounds", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  for (const delay of [2, 4, 8]) {
    reactor.last.processEnded({ code: 1, signal: null });
    await reactor.advance(delay);
  }
  assert.equal(statusOf(pm, "foo").delay, 10);
  pm.maxRestartDelay = 3;
  assert.equal(statusOf(pm, "foo").delay, 3);
});

Deno.test("stopService resolves when startService runs again before the children are gone", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  let done = false;
  const stopped = pm.stopService().then(() => done = true);
  pm.startService();
  await reactor.advance(0);
  assert.equal(done, false, "the old child is still stopping");
  await reactor.advance(reactor.last.terminationDelay);
  await stopped;
  // The monitor runs again, so the stopped child (which died young) is
  // restarted after its back-off.
  assert.equal(statusOf(pm, "foo").state, "BACKOFF");
  await reactor.advance(pm.minRestartDelay);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
});

Deno.test("a lowered maxRestartDelay bounds the very next back-off", async () => {
  // Regression: the delay in hand was used as it was, so after a reload
  // lowered the maximum, one more long wait came first.
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  for (const delay of [2, 4, 8]) {
    reactor.last.processEnded({ code: 1, signal: null });
    assert.equal(statusOf(pm, "foo").nextStartAt, (reactor.seconds() + delay) * 1000);
    await reactor.advance(delay);
  }
  assert.equal(statusOf(pm, "foo").delay, 10);
  pm.maxRestartDelay = 3;
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "foo").nextStartAt, (reactor.seconds() + 3) * 1000);
  assert.equal(statusOf(pm, "foo").delay, 3);
  // And a raised minimum lifts it.
  await reactor.advance(3);
  pm.minRestartDelay = 5;
  pm.maxRestartDelay = 100;
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "foo").nextStartAt, (reactor.seconds() + 5) * 1000);
  assert.equal(statusOf(pm, "foo").delay, 10);
});

Deno.test("a process added again while its removal is pending counts its restarts afresh", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("old"));
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(2);
  assert.equal(statusOf(pm, "foo").restarts, 1);
  pm.removeProcess("foo");
  pm.addProcess("foo", spec("new"));
  await reactor.advance(1);
  const status = statusOf(pm, "foo");
  assert.deepEqual(reactor.last.request.argv, ["new"]);
  assert.equal(status.restarts, 0);
});

Deno.test("output of both streams is framed per stream and tagged with the pid", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const proc = reactor.last;
  proc.outReceived("a");
  proc.errReceived("err 1\nerr");
  proc.outReceived("b\n");
  proc.processEnded();
  assert.deepEqual(sink.lines.map((l) => [l.stream, l.pid, l.message]), [
    ["stderr", proc.pid, "err 1"],
    ["stdout", proc.pid, "ab"],
    ["stderr", proc.pid, "err"],
  ]);
  await reactor.advance(2);
});

Deno.test("child output returns the sink's back-pressure to the reader", () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  assert.equal(reactor.last.outReceived("x\n"), undefined);
  const wait = Promise.resolve();
  sink.pressure = wait;
  assert.equal(reactor.last.outReceived("y\n"), wait);
});

Deno.test("events arriving for a replaced child are ignored", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const first = reactor.last;
  await reactor.advance(pm.threshold);
  first.processEnded();
  await reactor.advance(0);
  const second = reactor.last;
  assert.notEqual(first, second);
  first.events.exit({ code: 1, signal: null }, false);
  assert.equal(statusOf(pm, "foo").pid, second.pid);
});

Deno.test("restart: on-failure retries a start that failed, with back-off", async () => {
  const { pm, reactor } = setUp();
  reactor.failWith = "Failed to spawn 'job': No such file or directory (os error 2)";
  pm.addProcess("job", { argv: ["job"], restart: "on-failure" });
  pm.startService();
  assert.equal(statusOf(pm, "job").state, "BACKOFF");
  reactor.failWith = null;
  await reactor.advance(2);
  assert.equal(statusOf(pm, "job").state, "RUNNING");
});

Deno.test("stopService waits for a child started by hand while it was stopping", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  pm.startProcess("foo");
  let done = false;
  const stopped = pm.stopService().then(() => done = true);
  pm.startProcess("bar");
  await reactor.advance(reactor.spawnedProcesses[0]!.terminationDelay);
  assert.equal(done, false, "bar still runs");
  reactor.last.processEnded({ code: 0, signal: null });
  await stopped;
});

Deno.test("updateProcess starts the new spec's back-off afresh", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  for (const delay of [2, 4]) {
    reactor.last.processEnded({ code: 1, signal: null });
    await reactor.advance(delay);
  }
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "foo").state, "BACKOFF");
  assert.equal(statusOf(pm, "foo").delay, 10);
  // A process waiting in back-off starts its new spec at once...
  pm.updateProcess("foo", spec("foo2"));
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  // ...and an early death of the new spec waits the minimum again.
  assert.equal(statusOf(pm, "foo").delay, 2);
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "foo").nextStartAt, (reactor.seconds() + 2) * 1000);
});

Deno.test("killAll while the monitor runs kills every group and restarts none", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", spec("bar"));
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.killAll();
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.deepEqual(pm.status().map((s) => s.state), ["STOPPED", "STOPPED"]);
});

Deno.test("startService starts many processes in batches, letting the event loop turn between", async () => {
  // Regression: 5,000 processes were all spawned before a signal could be
  // handled; now at most 32 start per turn.
  const { pm, reactor } = setUp();
  for (let i = 0; i < 100; i++) pm.addProcess(`p${i}`, spec("p"));
  pm.startService();
  const counts = [reactor.spawnedProcesses.length];
  // Each batch waits for a 0 ms timer; the fake clock makes one set inside
  // a tick due 1 ms later.
  for (const step of [0, 0.001, 0.001]) {
    await reactor.advance(step);
    counts.push(reactor.spawnedProcesses.length);
  }
  assert.deepEqual(counts, [32, 64, 96, 100]);
  assert.ok(pm.status().every((s) => s.state === "RUNNING"));
});

Deno.test("stopService between batches starts none of the processes still waiting", async () => {
  const { pm, reactor } = setUp();
  for (let i = 0; i < 100; i++) pm.addProcess(`p${i}`, spec("p"));
  pm.startService();
  const stopped = pm.stopService();
  assert.equal(reactor.clock.countTimers() >= 32, true);
  await reactor.advance(pm.killTime);
  await stopped;
  assert.equal(reactor.spawnedProcesses.length, 32);
  assert.ok(pm.status().every((s) => s.state === "STOPPED"));
});

Deno.test("processes added in bulk to a running monitor start in batches too, in order", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  for (let i = 0; i < 40; i++) pm.addProcess(`p${i}`, spec(`p${i}`));
  assert.equal(reactor.spawnedProcesses.length, 32);
  pm.removeProcess("p35");
  await reactor.advance(0);
  assert.deepEqual(
    reactor.spawnedProcesses.slice(32).map((p) => p.request.argv[0]),
    ["p32", "p33", "p34", "p36", "p37", "p38", "p39"],
  );
});

Deno.test("stopping a process asks its group to stop and then sends SIGCONT", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  pm.stopProcess("foo");
  assert.deepEqual(reactor.last.signals, ["SIGTERM"]);
  assert.equal(reactor.last.continued, 1);
});

// ---------------------------------------------------------------------------
// Held processes, autostart and giving up (the control plane's states).

Deno.test("holdProcess stops a process and keeps it stopped, whatever its restart policy", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.holdProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  assert.equal(statusOf(pm, "foo").held, true);
  await reactor.advance(1);
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
  await reactor.advance(3600);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("startProcess releases a hold and starts a new child", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  const first = reactor.last.pid;
  pm.holdProcess("foo");
  await reactor.advance(1);
  pm.startProcess("foo");
  const status = statusOf(pm, "foo");
  assert.equal(status.state, "RUNNING");
  assert.equal(status.held, false);
  assert.notEqual(status.pid, first);
});

Deno.test("startProcess while a held process is still stopping starts it once it is gone", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  pm.holdProcess("foo");
  pm.startProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "STOPPING");
  await reactor.advance(1);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  assert.equal(reactor.spawnedProcesses.length, 2);
});

Deno.test("holdProcess cancels a pending restart, and its timer", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "foo").state, "BACKOFF");
  pm.holdProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
  assert.equal(reactor.clock.countTimers(), 0);
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 1);
});

Deno.test("holdProcess turns a bounce under way into a hold", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.stopProcess("foo");
  pm.holdProcess("foo");
  await reactor.advance(100);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
});

Deno.test("restartProcess bounces at once, however young, and releases a hold", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  await reactor.advance(1);
  pm.restartProcess("foo");
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  assert.equal(timeStarted(pm, "foo"), 2, "no back-off for a restart asked for");
  pm.holdProcess("foo");
  await reactor.advance(1);
  pm.restartProcess("foo");
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  assert.equal(statusOf(pm, "foo").held, false);
});

Deno.test("autostart: false leaves a process STOPPED and held until started by name", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("lazy", { argv: ["lazy"], autostart: false });
  pm.addProcess("eager", spec("eager"));
  pm.startService();
  await reactor.advance(10);
  assert.deepEqual(pm.status().map((s) => [s.name, s.state, s.held]), [
    ["lazy", "STOPPED", true],
    ["eager", "RUNNING", false],
  ]);
  assert.equal(reactor.spawnedProcesses.length, 1);
  pm.startProcess("lazy");
  assert.equal(statusOf(pm, "lazy").state, "RUNNING");
  // Once started, it restarts by the normal rules.
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(2);
  assert.equal(statusOf(pm, "lazy").state, "RUNNING");
});

Deno.test("an autostart: false process added to a running monitor stays stopped", () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("lazy", { argv: ["lazy"], autostart: false });
  assert.equal(reactor.spawnedProcesses.length, 0);
  assert.equal(statusOf(pm, "lazy").held, true);
});

Deno.test("maxRestarts: 2 gives three starts, then FATAL, while others run on", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("crash", { argv: ["crash"], maxRestarts: 2 });
  pm.addProcess("ok", spec("ok"));
  pm.startService();
  const crashes = () =>
    reactor.spawnedProcesses.filter((p) => p.request.argv[0] === "crash");
  for (const wait of [2, 4]) {
    crashes().at(-1)!.processEnded({ code: 1, signal: null });
    await reactor.advance(wait);
  }
  assert.equal(crashes().length, 3);
  crashes().at(-1)!.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "crash").state, "FATAL");
  await reactor.advance(100);
  assert.equal(crashes().length, 3);
  assert.equal(statusOf(pm, "ok").state, "RUNNING");
  const gaveUp = sink.events.filter((e) => e.type === "not-restarting");
  assert.deepEqual(gaveUp, [{
    type: "not-restarting",
    name: "crash",
    reason: "maxRestarts: 2; it died young 3 times in a row",
  }]);
});

Deno.test("startProcess revives a FATAL process and forgets its early deaths", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("crash", { argv: ["crash"], maxRestarts: 0 });
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "crash").state, "FATAL");
  pm.startProcess("crash");
  assert.equal(statusOf(pm, "crash").state, "RUNNING");
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(
    statusOf(pm, "crash").state,
    "FATAL",
    "maxRestarts 0: the first early death",
  );
});

Deno.test("a healthy run resets the count of early deaths towards maxRestarts", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("flaky", { argv: ["flaky"], maxRestarts: 1 });
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(2);
  await reactor.advance(pm.threshold);
  reactor.last.processEnded({ code: 1, signal: null }); // healthy: restarted at once
  await reactor.advance(0);
  reactor.last.processEnded({ code: 1, signal: null }); // one early death
  assert.equal(statusOf(pm, "flaky").state, "BACKOFF");
  await reactor.advance(2);
  reactor.last.processEnded({ code: 1, signal: null }); // two in a row
  assert.equal(statusOf(pm, "flaky").state, "FATAL");
});

Deno.test("failed starts count towards maxRestarts", async () => {
  const { pm, reactor } = setUp();
  reactor.failWith = "Failed to spawn 'x': No such file or directory (os error 2)";
  pm.addProcess("x", { argv: ["x"], maxRestarts: 1 });
  pm.startService();
  assert.equal(statusOf(pm, "x").state, "BACKOFF");
  await reactor.advance(2);
  assert.equal(statusOf(pm, "x").state, "FATAL");
});

Deno.test("a bounce asked for does not count as an early death", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", { argv: ["foo"], maxRestarts: 1 });
  pm.startService();
  pm.stopProcess("foo"); // a young bounce: restarted after back-off, not counted
  await reactor.advance(1);
  await reactor.advance(2);
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  reactor.last.processEnded({ code: 1, signal: null }); // the first early death
  assert.equal(statusOf(pm, "foo").state, "BACKOFF");
});

Deno.test("updateProcess revives a FATAL process with the new spec", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("crash", { argv: ["crash"], maxRestarts: 0 });
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "crash").state, "FATAL");
  pm.updateProcess("crash", { argv: ["fixed"], maxRestarts: 0 });
  assert.equal(statusOf(pm, "crash").state, "RUNNING");
  assert.deepEqual(reactor.last.request.argv, ["fixed"]);
});

Deno.test("a held process stays held when nothing changes it, and a changed spec drops the hold", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  pm.holdProcess("foo");
  await reactor.advance(1);
  pm.setTiming({ killTime: 3 });
  assert.equal(statusOf(pm, "foo").held, true);
  pm.updateProcess("foo", spec("foo2"));
  assert.equal(statusOf(pm, "foo").state, "RUNNING");
  assert.equal(statusOf(pm, "foo").held, false);
  pm.updateProcess("foo", { argv: ["foo3"], autostart: false });
  await reactor.advance(1);
  assert.equal(statusOf(pm, "foo").state, "STOPPED");
  assert.equal(statusOf(pm, "foo").held, true);
});

Deno.test("signalProcess reaches a running child's group and refuses one with no child", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.addProcess("bar", { argv: ["bar"], autostart: false });
  pm.startService();
  pm.signalProcess("foo", "SIGUSR1");
  assert.deepEqual(reactor.last.signals, ["SIGUSR1"]);
  assert.throws(() => pm.signalProcess("bar", "SIGUSR1"), NotRunningError);
  assert.throws(() => pm.signalProcess("baz", "SIGUSR1"), UnknownProcessError);
});

Deno.test("state events follow what users see: each state change and each hold", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("foo", spec("foo"));
  pm.startService();
  pm.holdProcess("foo");
  await reactor.advance(1);
  pm.startProcess("foo");
  assert.deepEqual(sink.states.map((e) => [e.state, e.held]), [
    ["STOPPED", false], // added
    ["RUNNING", false],
    ["STOPPING", true], // held
    ["STOPPED", true],
    ["RUNNING", false],
  ]);
});

// ---------------------------------------------------------------------------
// Readiness, liveness and dependencies.

const TCP_READY = { check: { kind: "tcp" as const, host: "127.0.0.1", port: 5432 } };

Deno.test("a process with a readiness probe is STARTING until it passes, then RUNNING and ready", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.startService();
  assert.equal(statusOf(pm, "db").state, "STARTING");
  assert.equal(statusOf(pm, "db").ready, false);
  pm.setReady("db", reactor.last.pid, true, "127.0.0.1:5432 accepted");
  assert.equal(statusOf(pm, "db").state, "RUNNING");
  assert.equal(statusOf(pm, "db").ready, true);
  assert.equal(statusOf(pm, "db").probe, "127.0.0.1:5432 accepted");
  assert.deepEqual(sink.events.at(-1), {
    type: "ready",
    name: "db",
    pid: reactor.last.pid,
    ready: true,
    detail: "127.0.0.1:5432 accepted",
  });
  await reactor.advance(0);
});

Deno.test("a later readiness failure marks it not ready and changes nothing else", () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.startService();
  const pid = reactor.last.pid;
  pm.setReady("db", pid, true, "ok");
  pm.setReady("db", pid, false, "connection refused");
  const status = statusOf(pm, "db");
  assert.deepEqual([status.state, status.ready, status.pid], ["RUNNING", false, pid]);
  assert.deepEqual(reactor.last.signals, []);
});

Deno.test("a process without a readiness probe is ready once started", () => {
  const { pm } = setUp();
  pm.addProcess("web", spec("web"));
  pm.startService();
  assert.deepEqual([statusOf(pm, "web").state, statusOf(pm, "web").ready], [
    "RUNNING",
    true,
  ]);
});

Deno.test("a probe result for a child that is gone is ignored", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.startService();
  const old = reactor.last.pid;
  await reactor.advance(pm.threshold);
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(0);
  pm.setReady("db", old, true, "late");
  pm.liveFailed("db", old, "late");
  assert.equal(statusOf(pm, "db").state, "STARTING");
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.deepEqual(reactor.last.signals, []);
});

Deno.test("a liveness failure restarts the process through the normal rules, with the reason logged", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("api", { argv: ["api"] });
  pm.startService();
  await reactor.advance(pm.threshold);
  pm.liveFailed("api", reactor.last.pid, "GET /health: 500");
  assert.deepEqual(reactor.last.signals, ["SIGTERM"]);
  assert.deepEqual(sink.events.filter((e) => e.type === "unhealthy"), [
    {
      type: "unhealthy",
      name: "api",
      pid: reactor.last.pid,
      reason: "GET /health: 500",
    },
  ]);
  await reactor.advance(1);
  assert.equal(reactor.spawnedProcesses.length, 2);
  assert.equal(statusOf(pm, "api").state, "RUNNING");
});

Deno.test("a dependent waits, STOPPED with its reason, until its dependency is ready", async () => {
  const { pm, reactor, sink } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.addProcess("api", { argv: ["api"], dependsOn: { db: "ready" } });
  pm.startService();
  await reactor.advance(0);
  assert.equal(reactor.spawnedProcesses.length, 1);
  assert.deepEqual(
    [
      statusOf(pm, "api").state,
      statusOf(pm, "api").waiting,
      statusOf(pm, "api").blocked,
    ],
    ["STOPPED", "waiting for db: ready", false],
  );
  assert.ok(
    sink.events.some((e) =>
      e.type === "waiting" && e.reason === "waiting for db: ready"
    ),
  );
  pm.setReady("db", reactor.last.pid, true, "ok");
  await reactor.advance(0);
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.request.argv[0]), [
    "db",
    "api",
  ]);
  assert.equal(statusOf(pm, "api").state, "RUNNING");
  assert.equal(statusOf(pm, "api").waiting, null);
});

Deno.test("started is met once the dependency runs, ready or not", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.addProcess("tail", { argv: ["tail"], dependsOn: { db: "started" } });
  pm.startService();
  await reactor.advance(0);
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.request.argv[0]), [
    "db",
    "tail",
  ]);
});

Deno.test("done gates a worker on a migration that exits 0", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("migrate", { argv: ["migrate"], restart: "on-failure" });
  pm.addProcess("worker", { argv: ["worker"], dependsOn: { migrate: "done" } });
  pm.startService();
  await reactor.advance(0);
  assert.equal(statusOf(pm, "worker").waiting, "waiting for migrate: done");
  reactor.last.processEnded({ code: 0, signal: null });
  await reactor.advance(0);
  assert.equal(statusOf(pm, "worker").state, "RUNNING");
});

Deno.test("a failing done dependency leaves its dependent unstarted, saying why", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("migrate", { argv: ["migrate"], restart: "never" });
  pm.addProcess("worker", { argv: ["worker"], dependsOn: { migrate: "done" } });
  pm.startService();
  reactor.last.processEnded({ code: 1, signal: null });
  await reactor.advance(10);
  const worker = statusOf(pm, "worker");
  assert.deepEqual([worker.state, worker.blocked], ["STOPPED", true]);
  assert.equal(
    worker.waiting,
    "cannot start: migrate exited with code 1",
  );
  assert.equal(reactor.spawnedProcesses.length, 1);
});

Deno.test("a FATAL dependency blocks its dependents, and reviving it lets them start", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", { argv: ["db"], maxRestarts: 0 });
  pm.addProcess("api", { argv: ["api"], dependsOn: { db: "started" } });
  pm.startService();
  await reactor.advance(0);
  assert.equal(statusOf(pm, "api").state, "RUNNING");
  // api runs; db gives up; a later api restart waits on db.
  reactor.spawnedProcesses[0]!.processEnded({ code: 1, signal: null });
  assert.equal(statusOf(pm, "db").state, "FATAL");
  reactor.spawnedProcesses[1]!.processEnded({ code: 1, signal: null });
  await reactor.advance(2);
  assert.equal(statusOf(pm, "api").blocked, true);
  assert.match(statusOf(pm, "api").waiting!, /^cannot start: db is FATAL$/);
  pm.startProcess("db");
  await reactor.advance(0);
  assert.equal(statusOf(pm, "api").state, "RUNNING");
});

Deno.test("a dependency that restarts later does not restart its dependents", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", spec("db"));
  pm.addProcess("api", { argv: ["api"], dependsOn: { db: "started" } });
  pm.startService();
  await reactor.advance(pm.threshold);
  const apiPid = statusOf(pm, "api").pid;
  reactor.spawnedProcesses[0]!.processEnded({ code: 1, signal: null });
  await reactor.advance(1);
  assert.equal(statusOf(pm, "db").state, "RUNNING");
  assert.equal(statusOf(pm, "api").pid, apiPid);
});

Deno.test("stopService stops dependents first, and each dependency once its dependents are gone", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", spec("db"));
  pm.addProcess("api", { argv: ["api"], dependsOn: { db: "started" } });
  pm.addProcess("worker", { argv: ["worker"], dependsOn: { api: "started" } });
  pm.startService();
  await reactor.advance(1);
  const [db, api, worker] = reactor.spawnedProcesses;
  worker!.terminationDelay = 2;
  const stopped = pm.stopService();
  assert.deepEqual([db!.signals, api!.signals, worker!.signals], [[], [], ["SIGTERM"]]);
  await reactor.advance(2);
  assert.deepEqual([db!.signals, api!.signals], [[], ["SIGTERM"]]);
  await reactor.advance(1);
  assert.deepEqual(db!.signals, ["SIGTERM"]);
  await reactor.advance(1);
  await stopped;
  assert.ok(pm.status().every((s) => s.state === "STOPPED"));
});

Deno.test("stopService with a dependency cycle still stops everything", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("a", { argv: ["a"] });
  pm.addProcess("b", { argv: ["b"], dependsOn: { a: "started" } });
  pm.startService();
  await reactor.advance(0);
  // A cycle only a bug could make (the config refuses them).
  pm.updateProcess("a", { argv: ["a"], dependsOn: { b: "started" } });
  await reactor.advance(1);
  const stopped = pm.stopService();
  await reactor.advance(pm.killTime * 2);
  await stopped;
  assert.ok(pm.status().every((s) => s.state === "STOPPED"));
});

Deno.test("a process added with dependencies to a running monitor waits for them in order", async () => {
  const { pm, reactor } = setUp();
  pm.startService();
  pm.addProcess("worker", { argv: ["worker"], dependsOn: { db: "ready" } });
  assert.match(statusOf(pm, "worker").waiting!, /^cannot start: db is not defined$/);
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  await reactor.advance(0);
  assert.equal(statusOf(pm, "worker").waiting, "waiting for db: ready");
  pm.setReady("db", reactor.last.pid, true, "ok");
  await reactor.advance(0);
  assert.equal(statusOf(pm, "worker").state, "RUNNING");
});

Deno.test("stopping or holding a waiting process keeps it from starting later", async () => {
  const { pm, reactor } = setUp();
  pm.addProcess("db", { argv: ["db"], ready: TCP_READY });
  pm.addProcess("api", { argv: ["api"], dependsOn: { db: "ready" } });
  pm.startService();
  pm.holdProcess("api");
  pm.setReady("db", reactor.last.pid, true, "ok");
  await reactor.advance(0);
  assert.deepEqual([statusOf(pm, "api").state, statusOf(pm, "api").held], [
    "STOPPED",
    true,
  ]);
  assert.equal(reactor.spawnedProcesses.length, 1);
});
