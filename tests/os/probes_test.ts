/**
 * The real prober against real sockets and processes: `tcp` against a
 * listening and a closed port, `http` against `Deno.serve` on 127.0.0.1
 * (200, 302, 500, slow, silent, not HTTP, huge), and `exec` commands
 * that pass, fail, hang, leave children behind or hold their pipes. Every
 * server listens on 127.0.0.1 and is shut down by its test; no process is
 * left (checked with `ps`).
 *
 * These wait for real events with generous timeouts; no assertion depends
 * on how fast the machine is, except that a hanging check ends near its
 * timeout rather than never.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { ProbeResult, ProbeTarget } from "../../lib/core/ports.ts";
import type { ProbeCheck } from "../../lib/core/spec.ts";
import { DenoProber } from "../../lib/os/probes.ts";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";

const TARGET: ProbeTarget = { name: "web", pid: 1 };
const prober = new DenoProber();

function check(
  probe: ProbeCheck,
  timeoutMs = 5000,
  target = TARGET,
  signal?: AbortSignal,
) {
  return prober.check(probe, target, timeoutMs, signal);
}

/** A Deno.serve on 127.0.0.1 with a free port, shut down on dispose. */
function serve(handler: (request: Request) => Response | Promise<Response>) {
  // What each request was, read while it is open (a Request is not
  // readable once its connection is closed).
  const requests: { method: string; path: string; headers: Headers }[] = [];
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (request) => {
      const url = new URL(request.url);
      requests.push({
        method: request.method,
        path: url.pathname + url.search,
        headers: new Headers(request.headers),
      });
      return handler(request);
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    async [Symbol.asyncDispose]() {
      await server.shutdown();
    },
  };
}

/** A raw TCP listener on 127.0.0.1 whose connections `onConn` handles. */
function listen(onConn: (conn: Deno.Conn) => void | Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const accepting = (async () => {
    try {
      for await (const conn of listener) {
        conns.push(conn);
        void onConn(conn);
      }
    } catch {
      // closed
    }
  })();
  return {
    port: listener.addr.port,
    async [Symbol.asyncDispose]() {
      listener.close();
      for (const conn of conns) {
        try {
          conn.close();
        } catch {
          // closed already
        }
      }
      await accepting;
    },
  };
}

/** A port nothing listens on (one just closed). */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return port;
}

async function tempDir() {
  const path = await Deno.makeTempDir({ prefix: "tend-probes-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      await Deno.remove(path, { recursive: true });
    },
  };
}

/** Reads a pid a probe command wrote to `file`, waiting for it to appear. */
async function pidIn(file: string): Promise<number> {
  let pid = NaN;
  await eventually(`a pid in ${file}`, async () => {
    try {
      pid = Number((await Deno.readTextFile(file)).trim());
    } catch {
      return false;
    }
    return pid > 0;
  });
  return pid;
}

async function timed(run: () => Promise<ProbeResult>) {
  const from = performance.now();
  const result = await run();
  return { result, ms: performance.now() - from };
}

// --- tcp ---------------------------------------------------------------------------

Deno.test("tcp passes against a listening port", async () => {
  await using server = listen((conn) => conn.close());
  assert.deepEqual(await check({ kind: "tcp", host: "127.0.0.1", port: server.port }), {
    ok: true,
    message: "connected",
  });
});

Deno.test("a timeout of weeks is waited, not taken as an overflowed timer that fires at once", async () => {
  // Regression: setTimeout takes at most 2^31-1 ms; beyond, it fires almost
  // at once, so every check with timeout: 30d timed out at its start.
  await using server = serve(async () => {
    await new Promise((r) => setTimeout(r, 50));
    return new Response("ok");
  });
  const thirtyDays = 30 * 86400 * 1000;
  const result = await check({ kind: "http", url: `${server.url}/` }, thirtyDays);
  assert.equal(result.ok, true, result.message);
});

Deno.test("tcp fails against a closed port, with the OS's reason", async () => {
  const result = await check({ kind: "tcp", host: "127.0.0.1", port: closedPort() });
  assert.deepEqual(result, { ok: false, message: "Connection refused" });
});

Deno.test("tcp to a name that does not resolve fails without throwing", async () => {
  const result = await check(
    { kind: "tcp", host: "no-such-host.invalid", port: 80 },
    3000,
  );
  assert.equal(result.ok, false);
  assert.ok(result.message.length > 0);
});

// --- http --------------------------------------------------------------------------

Deno.test("http passes on 200, sending a plain GET for the path and query", async () => {
  await using server = serve(() => new Response("fine"));
  const result = await check({ kind: "http", url: `${server.url}/health?deep=1` });
  assert.deepEqual(result, { ok: true, message: "HTTP 200 OK" });
  const [request] = server.requests;
  assert.equal(request?.method, "GET");
  assert.equal(request?.path, "/health?deep=1");
  assert.equal(request?.headers.get("host"), `127.0.0.1:${server.port}`);
  assert.equal(request?.headers.get("user-agent"), "tend-probe");
});

Deno.test("http passes on 302 and does not follow the redirect", async () => {
  await using server = serve((request) =>
    new URL(request.url).pathname === "/login"
      ? new Response("login page")
      : new Response(null, { status: 302, headers: { location: "/login" } })
  );
  const result = await check({ kind: "http", url: `${server.url}/` });
  assert.deepEqual(result, {
    ok: true,
    message: "HTTP 302 Found (to /login, not followed)",
  });
  assert.deepEqual(server.requests.map((r) => r.path), ["/"]);
});

Deno.test("http fails on 500, quoting the start of the body", async () => {
  await using server = serve(() => new Response("database is down\n", { status: 500 }));
  assert.deepEqual(await check({ kind: "http", url: server.url }), {
    ok: false,
    message: "HTTP 500 Internal Server Error: database is down",
  });
});

Deno.test("http quotes a chunked body too", async () => {
  await using server = serve(() =>
    new Response(
      new ReadableStream({
        start(controller) {
          controller.enqueue(new TextEncoder().encode("not yet"));
          controller.close();
        },
      }),
      { status: 503 },
    )
  );
  assert.deepEqual(await check({ kind: "http", url: server.url }), {
    ok: false,
    message: "HTTP 503 Service Unavailable: not yet",
  });
});

Deno.test("http fails when the answer is slower than the timeout, and returns at the timeout", async () => {
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  await using server = serve(async () => {
    await held;
    return new Response("late");
  });
  const { result, ms } = await timed(() =>
    check({ kind: "http", url: server.url }, 300)
  );
  release();
  assert.deepEqual(result, { ok: false, message: "timed out after 300ms" });
  assert.ok(ms >= 290 && ms < 3000, `returned after ${ms} ms`);
});

Deno.test("http fails at the timeout against a server that accepts and never answers", async () => {
  await using server = listen(() => {});
  const result = await check(
    { kind: "http", url: `http://127.0.0.1:${server.port}/` },
    300,
  );
  assert.deepEqual(result, { ok: false, message: "timed out after 300ms" });
});

Deno.test("http fails against something that does not speak HTTP", async () => {
  await using server = listen(async (conn) => {
    await conn.write(new TextEncoder().encode("SSH-2.0-OpenSSH_9.2\r\n"));
    conn.close();
  });
  assert.deepEqual(
    await check({ kind: "http", url: `http://127.0.0.1:${server.port}/` }),
    { ok: false, message: "not an HTTP answer" },
  );
});

Deno.test("http fails against a closed port", async () => {
  assert.deepEqual(
    await check({ kind: "http", url: `http://127.0.0.1:${closedPort()}/` }),
    { ok: false, message: "Connection refused" },
  );
});

Deno.test("http reads a bounded part of a huge failing answer and quotes at most 300 characters", async () => {
  const chunk = new TextEncoder().encode("x".repeat(65536));
  const total = 1600; // 100 MiB
  let pulled = 0;
  await using server = serve(() =>
    new Response(
      new ReadableStream({
        pull(controller) {
          if (pulled++ === total) controller.close();
          else controller.enqueue(chunk);
        },
      }),
      { status: 500 },
    )
  );
  const result = await check({ kind: "http", url: server.url });
  assert.equal(result.ok, false);
  assert.ok(result.message.startsWith("…") || result.message.startsWith("HTTP 500"));
  assert.ok(result.message.length <= 300, `${result.message.length} characters`);
  // Give the server a moment to notice the closed connection, then check
  // that it was never asked for the whole body.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.ok(pulled < total / 4, `the server produced ${pulled} of ${total} chunks`);
});

Deno.test("http sends the URL's user and password as basic authorization", async () => {
  await using server = serve((request) =>
    request.headers.get("authorization") === `Basic ${btoa("probe:s3cret")}`
      ? new Response("ok")
      : new Response("who are you", { status: 401 })
  );
  const url = server.url.replace("http://", "http://probe:s3cret@");
  assert.deepEqual(await check({ kind: "http", url }), {
    ok: true,
    message: "HTTP 200 OK",
  });
});

Deno.test("https against a plain HTTP server fails (TLS), without hanging", async () => {
  await using server = serve(() => new Response("plain"));
  const result = await check(
    { kind: "http", url: `https://127.0.0.1:${server.port}/` },
    3000,
  );
  assert.equal(result.ok, false);
  assert.notEqual(result.message, "timed out after 3s");
});

Deno.test("a check aborted by its caller ends at once as cancelled", async () => {
  await using server = listen(() => {});
  const controller = new AbortController();
  const pending = timed(() =>
    check(
      { kind: "http", url: `http://127.0.0.1:${server.port}/` },
      10_000,
      TARGET,
      controller.signal,
    )
  );
  setTimeout(() => controller.abort(), 100);
  const { result, ms } = await pending;
  assert.deepEqual(result, { ok: false, message: "cancelled" });
  assert.ok(ms < 5000, `returned after ${ms} ms`);
});

// --- exec --------------------------------------------------------------------------

Deno.test("exec passes on exit 0 and fails on any other status, quoting its output", async () => {
  assert.deepEqual(await check({ kind: "exec", argv: ["true"] }), {
    ok: true,
    message: "exit code 0",
  });
  assert.deepEqual(
    await check({
      kind: "exec",
      argv: ["sh", "-c", "echo checking; echo 'no pong' >&2; exit 3"],
    }),
    { ok: false, message: "exit code 3: checking | no pong" },
  );
  assert.deepEqual(await check({ kind: "exec", argv: ["sh", "-c", "kill -TERM $$"] }), {
    ok: false,
    message: "signal SIGTERM",
  });
});

Deno.test("exec runs with the process's cwd and environment, and stdin from /dev/null", async () => {
  await using dir = await tempDir();
  const target: ProbeTarget = {
    ...TARGET,
    cwd: dir.path,
    env: { PROBE_VAR: "from-spec" },
  };
  const result = await check(
    { kind: "exec", argv: ["sh", "-c", 'cat; echo "$(pwd) $PROBE_VAR"'] },
    5000,
    target,
  );
  assert.deepEqual(result, {
    ok: true,
    message: `exit code 0: ${await Deno.realPath(dir.path)} from-spec`,
  });
});

Deno.test("exec with clearEnv sees only the process's variables", async () => {
  const result = await check(
    { kind: "exec", argv: ["/usr/bin/env"] },
    5000,
    { ...TARGET, env: { ONLY: "this" }, clearEnv: true },
  );
  assert.deepEqual(result, { ok: true, message: "exit code 0: ONLY=this" });
});

Deno.test("exec keeps only the end of a flood of output, and the message stays short", async () => {
  const result = await check({
    kind: "exec",
    argv: [
      "sh",
      "-c",
      "head -c 2000000 /dev/zero | tr '\\0' a; echo; echo the end; exit 1",
    ],
  });
  assert.equal(result.ok, false);
  assert.ok(result.message.endsWith("a | the end"), result.message.slice(-40));
  assert.ok(result.message.length <= 300);
});

Deno.test("exec that cannot start fails with the OS's reason", async () => {
  const result = await check({ kind: "exec", argv: ["/nonexistent/tend-probe"] });
  assert.equal(result.ok, false);
  assert.match(result.message, /^cannot start: .*\/nonexistent\/tend-probe/);
  assert.match(result.message, /No such file or directory/);
});

Deno.test(
  {
    ...only(
      "a hanging exec check is killed at its timeout with its whole group: no process is left",
      NO_PS,
    ),
  },
  async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "pid");
    const { result, ms } = await timed(() =>
      check(
        {
          kind: "exec",
          argv: [
            "sh",
            "-c",
            `echo $$ > ${file}; echo waiting; sleep 1000 & sleep 1000`,
          ],
        },
        500,
      )
    );
    assert.deepEqual(result, {
      ok: false,
      message: "timed out after 500ms, killed: waiting",
    });
    assert.ok(ms >= 490 && ms < 5000, `returned after ${ms} ms`);
    const pgid = await pidIn(file);
    await eventually(
      "the group to be empty",
      async () => (await groupMembers(pgid)).length === 0,
    );
  },
);

Deno.test(
  {
    ...only(
      "an exec check that passes but leaves a child behind has that child killed",
      NO_PS,
    ),
  },
  async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "pid");
    const result = await check({
      kind: "exec",
      argv: ["sh", "-c", `echo $$ > ${file}; sleep 1000 >/dev/null 2>&1 & exit 0`],
    });
    assert.deepEqual(result, { ok: true, message: "exit code 0" });
    const pgid = await pidIn(file);
    await eventually(
      "the group to be empty",
      async () => (await groupMembers(pgid)).length === 0,
    );
  },
);

Deno.test(
  {
    ...only(
      "an exec check aborted by its caller is killed with its group at once",
      NO_PS,
    ),
  },
  async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "pid");
    const controller = new AbortController();
    const pending = timed(() =>
      check(
        { kind: "exec", argv: ["sh", "-c", `echo $$ > ${file}; sleep 1000`] },
        60_000,
        TARGET,
        controller.signal,
      )
    );
    const pgid = await pidIn(file);
    controller.abort();
    const { result, ms } = await pending;
    assert.deepEqual(result, { ok: false, message: "cancelled, killed" });
    assert.ok(ms < 30_000);
    await eventually(
      "the group to be empty",
      async () => (await groupMembers(pgid)).length === 0,
    );
  },
);

Deno.test(
  {
    ...only(
      "an exec check whose pipes a process outside its group holds open still ends",
      NO_PS,
    ),
  },
  async () => {
    await using dir = await tempDir();
    const file = join(dir.path, "escaped");
    // setsid puts the sleeper in a session (and group) of its own, out of
    // reach of the group kill; it keeps the check's stdout open.
    const { result, ms } = await timed(() =>
      check({
        kind: "exec",
        argv: [
          "sh",
          "-c",
          `setsid sh -c 'echo $$ > ${file}; exec sleep 30' & sleep 0.2; echo ok`,
        ],
      })
    );
    const escaped = await pidIn(file);
    try {
      assert.deepEqual(result, { ok: true, message: "exit code 0: ok" });
      assert.ok(ms < 10_000, `returned after ${ms} ms`);
    } finally {
      Deno.kill(escaped, "SIGKILL");
    }
    await eventually(
      "the escaped sleeper to be gone",
      async () => (await groupMembers(escaped)).length === 0,
    );
  },
);

Deno.test("log and notify checks are not run by the prober", async () => {
  assert.deepEqual(await check({ kind: "log", pattern: "x" }), {
    ok: false,
    message: "a log probe is fed by tend, not run",
  });
  assert.deepEqual(await check({ kind: "notify" }), {
    ok: false,
    message: "a notify probe is fed by tend, not run",
  });
});
