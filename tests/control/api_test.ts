/**
 * The control API's routes against a Supervisor on the fake reactor: what
 * each endpoint answers, how it waits (on the fake clock), its streams,
 * and every kind of bad request getting a clear 4xx and changing nothing.
 */

import assert from "node:assert/strict";
import { type ApiOptions, ControlApi, type StatusJson } from "../../lib/control/api.ts";
import type { Config } from "../../lib/config/load.ts";
import { DEFAULT_TIMING, type ProcessSpec } from "../../lib/core/spec.ts";
import { type LogDestination, Logger } from "../../lib/output/log.ts";
import { type LoadResult, Supervisor } from "../../lib/supervisor.ts";
import { FakeProber, FakeReactor } from "../_fakes/fakes.ts";

// The wall clock reads WALL when the fake monitor clock reads 0.
const WALL = Date.UTC(2026, 0, 2, 3, 4, 5);

class Sink implements LogDestination {
  text = "";
  write(p: Uint8Array): Promise<number> {
    this.text += new TextDecoder().decode(p);
    return Promise.resolve(p.length);
  }
}

function config(processes: Record<string, ProcessSpec>): Config {
  return { file: "procs.yaml", timing: { ...DEFAULT_TIMING }, processes };
}

function setUp(
  processes: Record<string, ProcessSpec> = {
    web: { argv: ["web"] },
    worker: { argv: ["worker"], killTime: 2 },
  },
  load: (() => Promise<LoadResult>) | null = null,
  options: Partial<ApiOptions> = {},
) {
  const reactor = new FakeReactor();
  const log = new Logger({ out: new Sink(), now: () => WALL });
  const prober = new FakeProber(reactor.clock);
  const supervisor = new Supervisor({
    prober,
    config: config(processes),
    load,
    spawner: reactor,
    clock: reactor.monitorClock,
    log,
    signalNumber: () => 0,
  });
  const api = new ControlApi({
    supervisor,
    pid: 4242,
    version: "9.9.9",
    socket: "/run/tend.sock",
    now: () => WALL + reactor.clock.now,
    startedAt: WALL,
    ...options,
  });
  supervisor.start();
  const call = async (method: string, path: string, body?: string) => {
    const response = await api.handle(
      new Request(`http://tend${path}`, { method, body }),
    );
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      text,
      body: parse(text),
    };
  };
  const byName = (name: string) =>
    reactor.spawnedProcesses.filter((p) => p.request.argv[0] === name);
  return { reactor, supervisor, api, call, byName, prober };
}

function parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

// deno-lint-ignore no-explicit-any
type Json = any;

/** Reads NDJSON records from a streaming body, as they come. */
function records(response: Response) {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
  let rest = "";
  const queue: Json[] = [];
  return {
    async next(): Promise<Json | null> {
      while (queue.length === 0) {
        const { done, value } = await reader.read();
        if (done) return null;
        const parts = (rest + value).split("\n");
        rest = parts.pop()!;
        for (const part of parts) if (part !== "") queue.push(JSON.parse(part));
      }
      return queue.shift();
    },
    cancel: () => reader.cancel(),
  };
}

/** Lets microtasks and 0 ms fake timers run. */
async function turn(reactor: FakeReactor): Promise<void> {
  await reactor.advance(0);
}

Deno.test("GET /v1/status: tend's own facts and every process, times as ISO 8601 UTC", async () => {
  const { reactor, call } = setUp({
    web: { argv: ["web"] },
    job: { argv: ["/bin/sh", "-c", "echo hi"] },
  }, () => Promise.resolve({ problems: [] }));
  await reactor.advance(3);
  const { status, body } = await call("GET", "/v1/status");
  assert.equal(status, 200);
  const s = body as StatusJson;
  assert.deepEqual(s.tend, {
    pid: 4242,
    version: "9.9.9",
    config: "procs.yaml",
    socket: "/run/tend.sock",
    startedAt: "2026-01-02T03:04:05.000Z",
    uptime: 3,
  });
  assert.deepEqual(s.processes.map((p) => [p.name, p.state, p.pid]), [
    ["web", "RUNNING", 100],
    ["job", "RUNNING", 101],
  ]);
  const web = s.processes[0]!;
  assert.equal(web.startedAt, "2026-01-02T03:04:05.000Z");
  assert.equal(web.uptime, 3);
  assert.deepEqual(web.argv, ["web"]);
  assert.equal(web.killTime, 5);
  assert.equal(s.processes[1]!.shell, "echo hi");
  assert.equal(s.processes[1]!.argv, undefined);
});

Deno.test("a process's status says whether it is ready, its last probe result, and what it waits for", async () => {
  const { reactor, call, prober } = setUp({
    db: {
      argv: ["db"],
      ready: { check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 },
    },
    api: { argv: ["api"], dependsOn: { db: "ready" } },
    migrate: { argv: ["migrate"], restart: "never" },
    worker: { argv: ["worker"], dependsOn: { migrate: "done" } },
  });
  prober.fallback = { ok: false, message: "Connection refused" };
  await reactor.advance(0);
  const fields = async () => {
    const body = (await call("GET", "/v1/status")).body as StatusJson;
    return body.processes.map((p) => [p.name, p.state, p.ready, p.probe, p.waiting]);
  };
  assert.deepEqual(await fields(), [
    ["db", "STARTING", false, "tcp 127.0.0.1:5432: Connection refused", null],
    ["api", "STOPPED", false, null, "waiting for db: ready"],
    ["migrate", "RUNNING", true, null, null],
    ["worker", "STOPPED", false, null, "waiting for migrate: done"],
  ]);
  reactor.spawnedProcesses.find((p) => p.request.argv[0] === "migrate")!
    .processEnded({ code: 1, signal: null });
  await reactor.advance(0);
  const worker = (await call("GET", "/v1/processes/worker")).body as Json;
  assert.deepEqual(
    [worker.state, worker.ready, worker.blocked, worker.waiting],
    ["STOPPED", false, true, "cannot start: migrate exited with code 1"],
  );
  prober.fallback = { ok: true, message: "connected" };
  await reactor.advance(1000);
  assert.deepEqual((await fields()).slice(0, 2), [
    ["db", "RUNNING", true, "tcp 127.0.0.1:5432: connected", null],
    ["api", "RUNNING", true, null, null],
  ]);
  const db = (await call("GET", "/v1/processes/db")).body as Json;
  assert.deepEqual([db.ready, db.blocked, db.waiting], [true, false, null]);
});

Deno.test("GET /v1/status?process= picks processes; an unknown one is a 404", async () => {
  const { call } = setUp();
  const picked = await call("GET", "/v1/status?process=worker");
  assert.deepEqual((picked.body as StatusJson).processes.map((p) => p.name), [
    "worker",
  ]);
  const unknown = await call("GET", "/v1/status?process=worker,nope");
  assert.equal(unknown.status, 404);
  assert.deepEqual(unknown.body, { error: 'no process named "nope"' });
});

Deno.test("GET /v1/processes/NAME: one status; unknown 404, malformed 400, and lastExit with its time", async () => {
  const { reactor, call, byName } = setUp();
  await reactor.advance(2);
  byName("web")[0]!.processEnded({ code: 3, signal: null });
  await turn(reactor);
  const { status, body } = await call("GET", "/v1/processes/web");
  assert.equal(status, 200);
  assert.equal((body as Json).state, "RUNNING"); // restarted at once after 2 s
  assert.deepEqual((body as Json).lastExit, {
    code: 3,
    signal: null,
    at: "2026-01-02T03:04:07.000Z",
  });
  assert.equal((await call("GET", "/v1/processes/nope")).status, 404);
  const bad = await call("GET", "/v1/processes/a%20b");
  assert.equal(bad.status, 400);
  assert.match((bad.body as Json).error, /is not a process name/);
  assert.equal((await call("GET", "/v1/processes/%E0%A4%A")).status, 400);
});

Deno.test("wrong methods get 405 with Allow, unknown paths 404, unknown parameters 400", async () => {
  const { call } = setUp();
  const post = await call("POST", "/v1/status");
  assert.equal(post.status, 405);
  assert.equal(post.headers.get("allow"), "GET");
  assert.match(
    (post.body as Json).error,
    /POST is not allowed on \/v1\/status; use GET/,
  );
  assert.equal((await call("GET", "/v1/processes/web/start")).status, 405);
  assert.equal((await call("DELETE", "/v1/reload")).status, 405);
  assert.equal((await call("GET", "/v1/nothing")).status, 404);
  assert.equal((await call("GET", "/")).status, 404);
  assert.equal((await call("POST", "/v1/processes/web/explode")).status, 404);
  const param = await call("POST", "/v1/processes/web/stop?wiat=1");
  assert.equal(param.status, 400);
  assert.match((param.body as Json).error, /unknown parameter "wiat"/);
  assert.equal((await call("POST", "/v1/processes/web/stop?wait=maybe")).status, 400);
  assert.equal((await call("POST", "/v1/processes/web/stop?timeout=-1")).status, 400);
  assert.equal((await call("POST", "/v1/processes/web/stop?timeout=soon")).status, 400);
});

Deno.test("a bad request changes nothing: the processes keep their pids and get no signal", async () => {
  const { reactor, call } = setUp();
  const before = reactor.spawnedProcesses.map((p) => p.pid);
  for (
    const [method, path, body] of [
      ["POST", "/v1/processes/nope/stop"],
      ["POST", "/v1/processes/web/stop?wait=2"],
      ["POST", "/v1/processes/web/signal", '{"signal": "SIGFOO"}'],
      ["POST", "/v1/processes/web/signal", "{signal: USR1}"],
      ["POST", "/v1/processes/web/signal", '["SIGUSR1"]'],
      ["POST", "/v1/processes/web/signal", '{"signal": "SIGUSR1", "pid": 1}'],
      ["POST", "/v1/processes/web/signal", ""],
      ["POST", "/v1/processes/web/signal", '{"signal": 10}'],
      ["GET", "/v1/processes/web/restart"],
    ] as const
  ) {
    const res = await call(method, path, body);
    assert.ok(
      res.status >= 400 && res.status < 500,
      `${method} ${path}: ${res.status}`,
    );
    assert.equal(typeof (res.body as Json).error, "string");
  }
  await reactor.advance(10);
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.pid), before);
  for (const p of reactor.spawnedProcesses) assert.deepEqual(p.signals, []);
});

Deno.test("POST stop?wait=1 answers once the process is STOPPED and held; it stays stopped; start releases it", async () => {
  const { reactor, call, byName } = setUp();
  const stopping = call("POST", "/v1/processes/web/stop?wait=1");
  await reactor.advance(1); // the fake exits 1 s after SIGTERM
  const stopped = await stopping;
  assert.equal(stopped.status, 200);
  assert.equal((stopped.body as Json).state, "STOPPED");
  assert.equal((stopped.body as Json).held, true);
  await reactor.advance(60);
  assert.equal(byName("web").length, 1, "not restarted while held");
  const started = await call("POST", "/v1/processes/web/start?wait=1");
  assert.equal(started.status, 200);
  assert.equal((started.body as Json).state, "RUNNING");
  assert.equal((started.body as Json).held, false);
  assert.equal((started.body as Json).pid, byName("web")[1]!.pid);
});

Deno.test("POST restart?wait=1 answers with the new child's pid", async () => {
  const { reactor, call, byName } = setUp();
  const old = byName("worker")[0]!.pid;
  const restarting = call("POST", "/v1/processes/worker/restart?wait=1");
  await reactor.advance(1);
  const res = await restarting;
  assert.equal(res.status, 200);
  assert.equal((res.body as Json).state, "RUNNING");
  assert.notEqual((res.body as Json).pid, old);
  assert.equal((res.body as Json).pid, byName("worker")[1]!.pid);
});

Deno.test("without wait the answer comes at once; a wait that times out answers 202 with the state reached", async () => {
  const { reactor, call, byName } = setUp();
  byName("worker")[0]!.ignoreTerm = true;
  const now = await call("POST", "/v1/processes/worker/stop");
  assert.equal(now.status, 200);
  assert.equal((now.body as Json).state, "STOPPING");
  assert.match((now.body as Json).killAt, /^2026-01-02T03:04:07\.000Z$/);
  const waiting = call("POST", "/v1/processes/worker/stop?wait=1&timeout=500ms");
  await reactor.advance(0.5);
  const late = await waiting;
  assert.equal(late.status, 202);
  assert.equal((late.body as Json).state, "STOPPING");
  // The default wait is killTime (2 s here) + 5 s: SIGKILL ends it first.
  const again = call("POST", "/v1/processes/worker/stop?wait=1");
  await reactor.advance(2);
  assert.equal((await again).status, 200);
});

Deno.test("a start that cannot spawn answers 202 with the reason, without waiting out the timeout", async () => {
  const { reactor, call } = setUp();
  const stop = call("POST", "/v1/processes/web/stop?wait=1");
  await reactor.advance(1);
  await stop;
  reactor.failWith = "No such file or directory (os error 2)";
  const res = await call("POST", "/v1/processes/web/start?wait=1&timeout=3600");
  assert.equal(res.status, 202);
  assert.equal((res.body as Json).state, "BACKOFF");
  assert.equal((res.body as Json).spawnError, "No such file or directory (os error 2)");
});

Deno.test("POST signal sends the signal to the process's group; a held process gets 409", async () => {
  const { reactor, call, byName } = setUp();
  const res = await call("POST", "/v1/processes/web/signal", '{"signal": "usr1"}');
  assert.equal(res.status, 200);
  assert.deepEqual(byName("web")[0]!.signals, ["SIGUSR1"]);
  const stop = call("POST", "/v1/processes/web/stop?wait=1");
  await reactor.advance(1);
  await stop;
  const held = await call("POST", "/v1/processes/web/signal", '{"signal": "SIGHUP"}');
  assert.equal(held.status, 409);
  assert.match((held.body as Json).error, /it is STOPPED, with no process to signal/);
  const big = await call(
    "POST",
    "/v1/processes/worker/signal",
    JSON.stringify({ signal: "SIGUSR1", pad: "x".repeat(70_000) }),
  );
  assert.equal(big.status, 413);
  assert.deepEqual(byName("worker")[0]!.signals, []);
});

Deno.test("GET /v1/logs: the last N lines of a process as NDJSON records in the JSON log format", async () => {
  const { reactor, call, byName } = setUp();
  const web = byName("web")[0]!;
  await reactor.advance(1);
  web.outReceived("one\ntwo\nthree\n");
  byName("worker")[0]!.errReceived("oops\n");
  const res = await call("GET", "/v1/logs?process=web&lines=2");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type")!, /application\/x-ndjson/);
  const lines = res.text.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0], {
    time: lines[0].time,
    level: "info",
    process: "web",
    stream: "stdout",
    pid: web.pid,
    message: "[web] two",
  });
  assert.match(lines[0].time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const all = await call("GET", "/v1/logs");
  assert.deepEqual(
    all.text.trimEnd().split("\n").map((l) => JSON.parse(l).message),
    ["[web] one", "[web] two", "[web] three", "[worker] oops"],
  );
  assert.equal((await call("GET", "/v1/logs?process=ghost")).status, 404);
  assert.equal((await call("GET", "/v1/logs?lines=-3")).status, 400);
  assert.equal((await call("GET", "/v1/logs?lines=ten")).status, 400);
  assert.equal((await call("GET", "/v1/logs?follow=perhaps")).status, 400);
});

Deno.test("GET /v1/logs?follow=1 sends new lines, those of processes added by a reload too, until close()", async () => {
  const next = config({ web: { argv: ["web"] }, added: { argv: ["added"] } });
  const { reactor, api, supervisor, byName } = setUp(
    { web: { argv: ["web"] } },
    () => Promise.resolve({ config: next }),
  );
  byName("web")[0]!.outReceived("before\n");
  const res = await api.handle(new Request("http://tend/v1/logs?follow=1&lines=5"));
  const stream = records(res);
  assert.equal((await stream.next()).message, "[web] before");
  byName("web")[0]!.outReceived("while following\n");
  assert.equal((await stream.next()).message, "[web] while following");
  await supervisor.reload("test");
  await turn(reactor);
  byName("added")[0]!.outReceived("hello from added\n");
  assert.equal((await stream.next()).message, "[added] hello from added");
  assert.equal(api.streams, 1);
  api.close();
  assert.equal(await stream.next(), null, "the stream ends normally");
  assert.equal(api.streams, 0);
  assert.equal(supervisor.ring.followers, 0);
});

Deno.test("a log follower that does not read loses lines and is told how many; every line is sent or counted", async () => {
  const { api, supervisor, byName } = setUp({ flood: { argv: ["flood"] } });
  const res = await api.handle(new Request("http://tend/v1/logs?follow=1&lines=0"));
  const stream = records(res);
  const flood = byName("flood")[0]!;
  const total = 5000;
  // 200-byte lines, written while nobody reads the stream.
  for (let i = 0; i < total; i += 100) {
    let chunk = "";
    for (let j = i; j < i + 100; j++) chunk += `${j}`.padEnd(199, ".") + "\n";
    flood.outReceived(chunk);
    await Promise.resolve();
  }
  let seen = 0;
  let lost = 0;
  let last = -1;
  while (seen + lost < total) {
    const r = await stream.next();
    assert.ok(r !== null);
    if (r.event === "lost") {
      assert.equal(r.level, "warn");
      assert.match(
        r.message,
        /^\[flood\] tend: \d+ lines lost \(this reader fell behind\)$/,
      );
      lost += r.lost;
      last += r.lost;
      continue;
    }
    const n = Number(r.message.slice("[flood] ".length).replace(/\.+$/, ""));
    assert.equal(n, last + 1, "lines come in order, with no unannounced gap");
    last = n;
    seen++;
  }
  assert.ok(lost > 0, "some lines were lost");
  assert.ok(seen >= 1000, `at least a ring's worth arrived (${seen})`);
  assert.ok(supervisor.ring.ring("flood").bytes <= 1024 * 1024);
  await stream.cancel();
});

Deno.test("GET /v1/events: every process's status first, then each change", async () => {
  const { reactor, api, call } = setUp();
  const res = await api.handle(new Request("http://tend/v1/events"));
  const stream = records(res);
  assert.deepEqual([(await stream.next()).name, (await stream.next()).name], [
    "web",
    "worker",
  ]);
  const stop = call("POST", "/v1/processes/web/stop?wait=1");
  const stopping = await stream.next();
  assert.deepEqual([stopping.name, stopping.state, stopping.held], [
    "web",
    "STOPPING",
    true,
  ]);
  await reactor.advance(1);
  await stop;
  const stopped = await stream.next();
  assert.deepEqual([stopped.name, stopped.state, stopped.pid], [
    "web",
    "STOPPED",
    null,
  ]);
  api.close();
  assert.equal(await stream.next(), null);
  const after = await api.handle(new Request("http://tend/v1/events"));
  assert.equal(after.status, 503);
});

Deno.test("GET /v1/events says when a reload removed a process", async () => {
  const { reactor, api, supervisor } = setUp(
    { a: { argv: ["a"] }, b: { argv: ["b"] } },
    () => Promise.resolve({ config: config({ a: { argv: ["a"] } }) }),
  );
  const stream = records(await api.handle(new Request("http://tend/v1/events")));
  await stream.next();
  await stream.next();
  await supervisor.reload("test");
  await reactor.advance(1);
  let r: Json;
  do r = await stream.next(); while (
    r.name !== "b" || r.state !== undefined && !r.removed
  );
  assert.deepEqual(r, { name: "b", removed: true });
  await stream.cancel();
});

Deno.test("streams are capped: one too many gets a 503", async () => {
  const { api } = setUp(undefined, null, { maxStreams: 2 });
  const a = await api.handle(new Request("http://tend/v1/events"));
  const b = await api.handle(new Request("http://tend/v1/logs?follow=1"));
  const c = await api.handle(new Request("http://tend/v1/events"));
  assert.equal(c.status, 503);
  assert.match((await c.json()).error, /too many open streams/);
  await a.body!.cancel();
  await b.body!.cancel();
  assert.equal(api.streams, 0);
});

Deno.test("POST /v1/reload reports what changed, or 422 with every problem and nothing changed", async () => {
  let result: LoadResult = {
    config: config({
      web: { argv: ["web"] },
      worker: { argv: ["worker"], killTime: 2 },
      extra: { argv: ["extra"] },
    }),
  };
  const { reactor, call } = setUp(undefined, () => Promise.resolve(result));
  const ok = await call("POST", "/v1/reload");
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.body, {
    added: ["extra"],
    removed: [],
    changed: [],
    unchanged: ["web", "worker"],
  });
  const pids = reactor.spawnedProcesses.map((p) => p.pid);
  result = { problems: ["procs.yaml:3:5: processes.web.cmd: must not be empty"] };
  const bad = await call("POST", "/v1/reload");
  assert.equal(bad.status, 422);
  assert.deepEqual(bad.body, {
    error: "the config has 1 problem; the running config is kept",
    problems: ["procs.yaml:3:5: processes.web.cmd: must not be empty"],
  });
  await reactor.advance(5);
  assert.deepEqual(reactor.spawnedProcesses.map((p) => p.pid), pids);
});

Deno.test("POST /v1/reload with no file to reload (run -- CMD) is a 409", async () => {
  const { call } = setUp(undefined, null);
  const res = await call("POST", "/v1/reload");
  assert.equal(res.status, 409);
  assert.match((res.body as Json).error, /nothing to reload/);
});

Deno.test("POST /v1/shutdown answers 202 and tend stops; then actions get 409", async () => {
  const { reactor, supervisor, call } = setUp();
  const res = await call("POST", "/v1/shutdown");
  assert.equal(res.status, 202);
  assert.deepEqual(res.body, { stopping: true, pid: 4242 });
  assert.equal(supervisor.stopping, true);
  const start = await call("POST", "/v1/processes/web/start");
  assert.equal(start.status, 409);
  assert.equal(
    (await call("POST", "/v1/shutdown")).status,
    202,
    "asking twice is fine",
  );
  let code: number | null = null;
  void supervisor.exit.then((c) => code = c);
  await reactor.advance(2);
  assert.equal(code, 0);
  for (const p of reactor.spawnedProcesses) assert.deepEqual(p.signals, ["SIGTERM"]);
});

Deno.test("GET /v1/logs without follow streams every line of many processes, and ends", async () => {
  const processes: Record<string, ProcessSpec> = {};
  for (let i = 0; i < 5; i++) processes[`p${i}`] = { argv: [`p${i}`] };
  const { api, reactor } = setUp(processes);
  for (const p of reactor.spawnedProcesses) {
    let text = "";
    for (let i = 0; i < 1000; i++) {
      text += `${p.request.argv[0]} ${i}`.padEnd(150, ".") + "\n";
    }
    p.outReceived(text);
  }
  const res = await api.handle(new Request("http://tend/v1/logs?lines=1000"));
  const lines = (await res.text()).trimEnd().split("\n");
  assert.equal(lines.length, 5000);
  assert.equal(JSON.parse(lines[0]!).message.slice(0, 10), "[p0] p0 0.");
  assert.equal(api.streams, 0, "the answer is over");
});

Deno.test("GET /v1/events sends its first picture whole, however many processes", async () => {
  const processes: Record<string, ProcessSpec> = {};
  for (let i = 0; i < 400; i++) processes[`process-number-${i}`] = { argv: ["x"] };
  const { api } = setUp(processes);
  const stream = records(await api.handle(new Request("http://tend/v1/events")));
  for (let i = 0; i < 400; i++) {
    const r = await stream.next();
    assert.equal(r.name, `process-number-${i}`);
  }
  await stream.cancel();
});

Deno.test("a held process stays held across a reload that leaves it unchanged", async () => {
  const same = () =>
    Promise.resolve({
      config: config({ web: { argv: ["web"] }, other: { argv: ["other"] } }),
    });
  const { reactor, call, byName } = setUp({
    web: { argv: ["web"] },
    other: { argv: ["other"] },
  }, same);
  const stop = call("POST", "/v1/processes/web/stop?wait=1");
  await reactor.advance(1);
  assert.equal((await stop).status, 200);
  const reload = await call("POST", "/v1/reload");
  assert.deepEqual((reload.body as Json).unchanged, ["web", "other"]);
  await reactor.advance(30);
  const web = (await call("GET", "/v1/processes/web")).body as Json;
  assert.deepEqual([web.state, web.held], ["STOPPED", true]);
  assert.equal(byName("web").length, 1);
});

Deno.test("stopping the last running process does not end tend; finishing under the policy would", async () => {
  const { reactor, supervisor, call, byName } = setUp({
    job: { argv: ["job"], restart: "never" },
    web: { argv: ["web"] },
  });
  let code: number | null = null;
  void supervisor.exit.then((c) => code = c);
  byName("job")[0]!.processEnded({ code: 0, signal: null });
  await reactor.advance(1);
  assert.equal(((await call("GET", "/v1/processes/job")).body as Json).state, "EXITED");
  const stop = call("POST", "/v1/processes/web/stop?wait=1");
  await reactor.advance(1);
  assert.equal((await stop).status, 200);
  await reactor.advance(60);
  assert.equal(code, null, "tend runs on with web held");
  assert.equal(supervisor.stopping, false);
});
