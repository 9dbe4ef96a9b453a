/**
 * The HTTP listener on a real TCP port, over a Supervisor on the fake
 * reactor: the token and Host gates, no CORS, the open routes, bodies
 * capped, garbage answered, slow clients timed out and capped (with short
 * limits, so that the defaults' seconds need not be waited out), streams
 * that end when their client goes or the listener closes.
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { parseListen } from "../../lib/config/http.ts";
import { ControlApi } from "../../lib/control/api.ts";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "../../lib/control/dashboard.ts";
import { type HttpLimits, httpRoutes, listenHttp } from "../../lib/control/http.ts";
import type { ProcessSpec } from "../../lib/core/spec.ts";
import { DEFAULT_TIMING } from "../../lib/core/spec.ts";
import { type LogDestination, Logger } from "../../lib/output/log.ts";
import { Supervisor } from "../../lib/supervisor.ts";
import { FakeProber, FakeReactor } from "../_fakes/fakes.ts";
import { RawConnection, within } from "../_fakes/http.ts";
import { parseExposition } from "../_fakes/prometheus.ts";

const TOKEN = "test-token-0123456789";

class Sink implements LogDestination {
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
}

async function serve(
  limits: Partial<HttpLimits> = {},
  processes: Record<string, ProcessSpec> = { web: { argv: ["web"] } },
  graceMs?: number,
) {
  const reactor = new FakeReactor();
  const supervisor = new Supervisor({
    prober: new FakeProber(reactor.clock),
    config: { file: "procs.yaml", timing: { ...DEFAULT_TIMING }, processes },
    load: null,
    spawner: reactor,
    clock: reactor.monitorClock,
    log: new Logger({ out: new Sink() }),
    signalNumber: () => 15,
  });
  const api = new ControlApi({
    supervisor,
    pid: 1,
    version: "9.9.9",
    socket: "/run/tend.sock",
    routes: httpRoutes({ supervisor, version: "9.9.9" }),
  });
  supervisor.start();
  const address = parseListen("127.0.0.1:0");
  assert.ok(typeof address !== "string");
  const server = await listenHttp({
    address,
    token: TOKEN,
    handler: (request) => api.handle(request),
    beforeClose: () => api.close(),
    limits,
    ...(graceMs !== undefined ? { graceMs } : {}),
  });
  const base = `http://127.0.0.1:${server.port}`;
  const get = async (path: string, init: RequestInit = {}) => {
    const res = await fetch(base + path, init);
    return { status: res.status, headers: res.headers, text: await res.text() };
  };
  const auth = { authorization: `Bearer ${TOKEN}` };
  return {
    reactor,
    supervisor,
    api,
    server,
    base,
    get,
    auth,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

Deno.test("/v1 needs the token (401 without or wrong, 200 with); the open routes do not", async () => {
  await using s = await serve();
  const none = await s.get("/v1/status");
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="tend"');
  assert.match(JSON.parse(none.text).error, /a token is needed/);
  const wrong = await s.get("/v1/status", {
    headers: { authorization: "Bearer nope" },
  });
  assert.equal(wrong.status, 401);
  assert.match(JSON.parse(wrong.text).error, /the token is wrong/);
  const ok = await s.get("/v1/status", { headers: s.auth });
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.text).processes[0].name, "web");
  // Unknown paths are not open either: a route added later is protected.
  assert.equal((await s.get("/v2/anything")).status, 401);
  assert.equal((await s.get("/v1/../v1/status")).status, 401);
  assert.equal((await s.get("/%761/status")).status, 401);
  for (const path of ["/metrics", "/livez", "/readyz", "/readyz?verbose", "/"]) {
    const r = await s.get(path);
    assert.ok(r.status === 200 || r.status === 503, `${path}: ${r.status}`);
  }
  const post = await s.get("/v1/processes/web/restart", { method: "POST" });
  assert.equal(post.status, 401, "an action without the token does nothing");
  assert.equal(s.reactor.spawnedProcesses.length, 1);
  const posted = await s.get("/v1/processes/web/restart", {
    method: "POST",
    headers: s.auth,
  });
  assert.equal(posted.status, 200);
});

Deno.test("no CORS: no Access-Control header, and a preflight is not allowed", async () => {
  await using s = await serve();
  const origin = { origin: "http://evil.example" };
  for (
    const [path, init] of [
      ["/v1/status", { headers: { ...s.auth, ...origin } }],
      ["/metrics", { headers: origin }],
      ["/v1/status", {
        method: "OPTIONS",
        headers: { ...origin, "access-control-request-method": "GET" },
      }],
    ] as const
  ) {
    const r = await s.get(path, init);
    const cors = [...r.headers.keys()].filter((k) => k.startsWith("access-control-"));
    assert.deepEqual(cors, [], path);
    if (init.method === "OPTIONS") assert.ok(r.status >= 400, `preflight: ${r.status}`);
    assert.equal(r.headers.get("x-content-type-options"), "nosniff");
    assert.equal(r.headers.get("x-frame-options"), "DENY");
    assert.equal(r.headers.get("cache-control"), "no-store");
  }
});

Deno.test("a foreign Host is refused (403), and so is no Host or a request for another host", async () => {
  await using s = await serve();
  for (const host of ["evil.example", `evil.example:${s.server.port}`, "10.0.0.1"]) {
    using c = await RawConnection.open(s.server.port);
    await c.send(`GET /metrics HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
    await within(c.closed, 5000);
    assert.equal(c.status, 403, `${host}: ${c.received}`);
    assert.match(c.received, /DNS rebinding is refused/);
  }
  {
    using c = await RawConnection.open(s.server.port);
    await c.send("GET /metrics HTTP/1.0\r\n\r\n");
    await within(c.closed, 5000);
    assert.equal(c.status, 403, c.received);
  }
  {
    using c = await RawConnection.open(s.server.port);
    await c.send(`GET http://evil.example/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`);
    await within(c.closed, 5000);
    assert.equal(c.status, 400, c.received);
  }
  // An ssh tunnel's own port in Host is fine.
  const tunnel = await s.get("/livez", { headers: { host: "localhost:8000" } });
  assert.equal(tunnel.status, 200);
});

Deno.test("bodies: 10 MB is refused (413) before it is read, whether its length is given or not; invalid JSON is a 400", async () => {
  await using s = await serve();
  const big = new Uint8Array(10 * 1024 * 1024).fill(0x61);
  {
    using c = await RawConnection.open(s.server.port);
    await c.send(
      `POST /v1/processes/web/signal HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${TOKEN}\r\nContent-Length: ${big.length}\r\n\r\n`,
    );
    // The server answers and closes without taking the 10 MB.
    const sent = within(c.send(big), 10_000);
    assert.notEqual(await within(c.closed, 10_000), "timeout");
    assert.equal(c.status, 413, c.received);
    assert.notEqual(await sent, "timeout");
  }
  {
    using c = await RawConnection.open(s.server.port);
    await c.send(
      `POST /v1/processes/web/signal HTTP/1.1\r\nHost: 127.0.0.1\r\n` +
        `Authorization: Bearer ${TOKEN}\r\nTransfer-Encoding: chunked\r\n\r\n`,
    );
    const chunk = new Uint8Array(64 * 1024).fill(0x61);
    let refusedAfter = -1;
    for (let i = 0; i < 160 && refusedAfter < 0; i++) {
      const ok = await c.send(
        new Uint8Array([...new TextEncoder().encode(`10000\r\n`), ...chunk, 13, 10]),
      );
      if (!ok || c.status !== null) refusedAfter = i;
    }
    await within(c.closed, 10_000);
    assert.equal(c.status, 413, c.received);
    assert.ok(
      refusedAfter >= 0 && refusedAfter < 160,
      `refused after ${refusedAfter} chunks`,
    );
  }
  const bad = await s.get("/v1/processes/web/signal", {
    method: "POST",
    headers: s.auth,
    body: "{not json",
  });
  assert.equal(bad.status, 400);
  assert.match(JSON.parse(bad.text).error, /invalid JSON/);
  // None of it reached the child; a good request still does.
  assert.deepEqual(s.reactor.spawnedProcesses[0]!.signals, []);
  const good = await s.get("/v1/processes/web/signal", {
    method: "POST",
    headers: s.auth,
    body: '{"signal": "SIGUSR1"}',
  });
  assert.equal(good.status, 200, good.text);
  assert.deepEqual(s.reactor.spawnedProcesses[0]!.signals, ["SIGUSR1"]);
});

Deno.test("slow clients: half requests get 408 after headersTimeout; past the cap the oldest half-sent head makes room", async () => {
  await using s = await serve({
    headersTimeoutMs: 1500,
    requestTimeoutMs: 2500,
    keepAliveTimeoutMs: 1500,
    checkIntervalMs: 100,
    maxConnections: 6,
  });
  const port = s.server.port;
  const half = [
    "GET /metr",
    "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ",
    "",
    `POST /v1/processes/web/signal HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100\r\n\r\n{"sig`,
  ];
  const conns: RawConnection[] = [];
  for (const text of half) {
    const c = await RawConnection.open(port);
    if (text) await c.send(text);
    conns.push(c);
  }
  try {
    // The POST's head is whole: it is a request in progress.
    await new Promise((r) => setTimeout(r, 200));
    // The cap is 6 with the four above: two more fit; the next two each
    // close the oldest connection without a whole head (the first two).
    const extra: RawConnection[] = [];
    for (let i = 0; i < 4; i++) {
      extra.push(await RawConnection.open(port));
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const c of [...conns, ...extra]) {
      assert.notEqual(
        await within(c.closed, 10_000),
        "timeout",
        "closed by the server",
      );
    }
    assert.equal(conns[0]!.received, "", "the oldest half head made room");
    assert.equal(conns[1]!.received, "", "and the next");
    assert.equal(conns[2]!.status, 408, conns[2]!.received);
    assert.equal(conns[3]!.status, 408, "a body that never ends times out too");
    for (const c of extra) c[Symbol.dispose]();
  } finally {
    for (const c of conns) c[Symbol.dispose]();
  }
  // Once they are gone, the listener answers again.
  assert.equal((await s.get("/livez")).status, 200);
  assert.deepEqual(s.reactor.spawnedProcesses[0]!.signals, []);
});

Deno.test("a stream's client that goes away unsubscribes it; close() ends streams and connections at once", async () => {
  // A grace far longer than the test's wait: close() must not need it.
  await using s = await serve({}, undefined, 600_000);
  const ac = new AbortController();
  const res = await fetch(`${s.base}/v1/events`, {
    headers: s.auth,
    signal: ac.signal,
  });
  const reader = res.body!.getReader();
  assert.match(new TextDecoder().decode((await reader.read()).value), /"name":"web"/);
  assert.equal(s.api.streams, 1);
  ac.abort();
  await reader.cancel().catch(() => {});
  for (let i = 0; i < 500 && s.api.streams > 0; i++) {
    await new Promise((r) => setTimeout(r, 10));
  }
  assert.equal(s.api.streams, 0, "the stream was cancelled when its client left");
  const logs = await fetch(`${s.base}/v1/logs?follow=1`, { headers: s.auth });
  const body = logs.body!.getReader();
  assert.notEqual(
    await within(s.server.close(), 20_000),
    "timeout",
    "close() did not wait for the stream",
  );
  while (!(await body.read()).done) { /* the end of the stream */ }
});

Deno.test("/metrics over HTTP: the text format's content type, and values from the status", async () => {
  await using s = await serve({}, { web: { argv: ["web"] }, job: { argv: ["job"] } });
  s.reactor.spawnedProcesses[0]!.outReceived("hello\n");
  const r = await s.get("/metrics");
  assert.equal(r.status, 200);
  assert.equal(
    r.headers.get("content-type"),
    "text/plain; version=0.0.4; charset=utf-8",
  );
  const { series } = parseExposition(r.text);
  assert.equal(series.get('tend_process_up{process="web"}'), 1);
  assert.equal(
    series.get('tend_process_output_lines_total{process="web",stream="stdout"}'),
    1,
  );
  assert.equal(
    series.get('tend_process_output_bytes_total{process="web",stream="stdout"}'),
    6,
  );
  assert.equal(
    series.get('tend_build_info{version="9.9.9",deno="' + Deno.version.deno + '"}'),
    1,
  );
  assert.ok(series.get("process_resident_memory_bytes")! > 1e6);
  const start = series.get("process_start_time_seconds")!;
  assert.ok(start > Date.now() / 1000 - 3600 && start <= Date.now() / 1000);
  const ready = await s.get("/readyz/process/web");
  assert.equal(ready.status, 200);
  assert.equal((await s.get("/readyz/process/nope")).status, 404);
  assert.equal((await s.get("/metrics?x=1")).status, 400);
  assert.equal((await s.get("/metrics", { method: "POST" })).status, 405);
});

Deno.test("the dashboard's CSP allows exactly its inline script and style, and it loads nothing from elsewhere", async () => {
  await using s = await serve();
  const r = await s.get("/");
  assert.equal(r.status, 200);
  assert.equal(r.text, DASHBOARD_HTML);
  assert.equal(r.headers.get("content-security-policy"), DASHBOARD_CSP);
  const hash = (text: string) =>
    `'sha256-${createHash("sha256").update(text).digest("base64")}'`;
  const script = /<script>([\s\S]*)<\/script>/.exec(r.text)![1]!;
  const style = /<style>([\s\S]*)<\/style>/.exec(r.text)![1]!;
  assert.ok(DASHBOARD_CSP.includes(`script-src ${hash(script)}`));
  assert.ok(DASHBOARD_CSP.includes(`style-src ${hash(style)}`));
  assert.match(DASHBOARD_CSP, /default-src 'none'/);
  assert.match(DASHBOARD_CSP, /frame-ancestors 'none'/);
  assert.equal((r.text.match(/<script/g) ?? []).length, 1);
  assert.doesNotMatch(r.text, /\ssrc=|https?:\/\/(?!www\.w3\.org)/);
  assert.doesNotMatch(
    script,
    /innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(/,
  );
  assert.doesNotMatch(
    script,
    /console\./,
    "the page logs nothing (the token least of all)",
  );
});

// A listener whose handler counts its requests and answers with `answer`.
async function counting(
  limits: Partial<HttpLimits>,
  answer: () => Response = () => new Response("ok\n"),
) {
  const address = parseListen("127.0.0.1:0");
  assert.ok(typeof address !== "string");
  let handled = 0;
  const server = await listenHttp({
    address,
    token: TOKEN,
    handler: () => {
      handled++;
      return Promise.resolve(answer());
    },
    limits,
  });
  return {
    server,
    get handled() {
      return handled;
    },
    [Symbol.asyncDispose]: () => server.close(),
  };
}

const REQUEST =
  `GET /v1/x HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\n\r\n`;

// Reads a connection to its end; how many bytes came.
async function drain(conn: Deno.Conn): Promise<number> {
  const buf = new Uint8Array(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return total;
      total += n;
    }
  } catch {
    return total; // reset by the server
  }
}

Deno.test("pipelining: a few requests at once are answered in order; a client that sends thousands and reads nothing is closed after a handful, not a read's worth", async () => {
  await using s = await counting({ maxPipelined: 4 });
  {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.server.port });
    await conn.write(new TextEncoder().encode(REQUEST.repeat(3)));
    let text = "";
    const buf = new Uint8Array(4096);
    while ((text.match(/HTTP\/1\.1 200/g) ?? []).length < 3) {
      const n = await conn.read(buf);
      assert.ok(n !== null, text);
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close();
  }
  assert.equal(s.handled, 3);
  // 20,000 requests (1.6 MB) on one connection, no answer read.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.server.port });
  const flood = new TextEncoder().encode(REQUEST.repeat(20_000));
  let at = 0;
  try {
    while (at < flood.length) at += await conn.write(flood.subarray(at));
  } catch {
    // closed by the server, as it should be
  }
  await drain(conn);
  conn.close();
  // The parser is fed 1 KiB at a time: at most the cap and what one
  // piece holds (13 of these) get through; node:http alone took each
  // read's worth (64 KiB: 800 of them).
  assert.ok(s.handled - 3 <= 4, `${s.handled - 3} answered`);
  assert.ok(s.server.requests - 3 <= 4 + 14, `${s.server.requests - 3} read`);
});

Deno.test("a client that stops reading is dropped after writeTimeoutMs, whole answers and streams alike; one that reads gets everything", async () => {
  const size = 64 * 1024 * 1024; // more than loopback's buffers hold
  const big = new Uint8Array(size);
  await using s = await counting(
    { writeTimeoutMs: 300 },
    () =>
      new Response(big, { headers: { "content-type": "application/octet-stream" } }),
  );
  const port = s.server.port;
  // One reads everything.
  {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(
      new TextEncoder().encode(
        REQUEST.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
      ),
    );
    assert.ok((await drain(conn)) > size);
    conn.close();
  }
  // One reads nothing: once the server has given up on it, what it can
  // still read is what the buffers held, well short of the answer.
  {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(REQUEST));
    for (let i = 0; i < 400 && s.server.connections > 0; i++) {
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(s.server.connections, 0, "the server closed the connection");
    assert.ok((await drain(conn)) < size);
    conn.close();
  }
});

Deno.test("a stream's client that stops reading is dropped, and its stream cancelled", async () => {
  let cancelled!: () => void;
  const gone = new Promise<void>((resolve) => cancelled = resolve);
  const line = new TextEncoder().encode(JSON.stringify({ x: "y".repeat(1000) }) + "\n");
  await using s = await counting({ writeTimeoutMs: 300 }, () =>
    new Response(
      new ReadableStream({
        pull(controller) {
          controller.enqueue(line);
        },
        cancel() {
          cancelled();
        },
      }),
      { headers: { "content-type": "application/x-ndjson" } },
    ));
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: s.server.port });
  await conn.write(new TextEncoder().encode(REQUEST));
  assert.notEqual(await within(gone, 20_000), "timeout", "the stream was cancelled");
  conn.close();
});

Deno.test("a client holding the cap with half-sent heads keeps nobody out: each newcomer takes the oldest one's place", async () => {
  // Regression: node:http's maxConnections refused every newcomer while a
  // slowloris held the cap, so /livez failed until the client stopped.
  await using s = await serve({ maxConnections: 8 });
  const port = s.server.port;
  const held: RawConnection[] = [];
  try {
    for (let i = 0; i < 8; i++) {
      const c = await RawConnection.open(port);
      await c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
      held.push(c);
    }
    await new Promise((r) => setTimeout(r, 200));
    for (let i = 0; i < 5; i++) assert.equal((await s.get("/livez")).status, 200);
  } finally {
    for (const c of held) c[Symbol.dispose]();
  }
});

Deno.test("the watchdog finds a working listener working, also at its connection cap, and stops with it", async () => {
  const address = parseListen("127.0.0.1:0");
  assert.ok(typeof address !== "string");
  const stopped: Error[] = [];
  let recovered = 0;
  const server = await listenHttp({
    address,
    token: TOKEN,
    handler: () => Promise.resolve(new Response("ok\n")),
    limits: { maxConnections: 2 },
    watchdog: { intervalMs: 10, timeoutMs: 500 },
    onStopped: (error) => stopped.push(error),
    onRecovered: () => recovered++,
  });
  const held: RawConnection[] = [];
  try {
    // Checks run while connections come and go, then while the cap is
    // full (a check's connection is closed at once: that is an accept).
    for (let i = 0; i < 20; i++) {
      using c = await RawConnection.open(server.port);
      await c.send(REQUEST);
      await within(c.closed, 100);
    }
    for (let i = 0; i < 4; i++) {
      const c = await RawConnection.open(server.port);
      held.push(c);
      await c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    await new Promise((r) => setTimeout(r, 1000));
  } finally {
    for (const c of held) c[Symbol.dispose]();
  }
  assert.deepEqual(stopped, []);
  assert.equal(recovered, 0);
  // Closed in the middle of a check: nothing is left running (the test's
  // sanitizers say so).
  await server.close();
});
