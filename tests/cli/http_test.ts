/**
 * End-to-end tests of the HTTP listener: a real `tend run --http` (main.ts
 * as a child, with the start task's permissions) on 127.0.0.1, reached
 * with fetch and raw sockets: the token tend prints, the Host check, the
 * refusals at start, /readyz and /metrics following real processes, and
 * garbage that must not block the socket API or the children.
 *
 * Every wait is for a log record, an answer or an exit, with a generous
 * timeout; nothing asserts how fast anything happens.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { listening, RawConnection, until, within } from "../_fakes/http.ts";
import { parseExposition } from "../_fakes/prometheus.ts";
import {
  type LogRecord,
  MAIN,
  PERMISSIONS,
  SLEEPER,
  tempDir,
  tend,
  tendOnce,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";

const decoder = new TextDecoder();

/** Runs a client command (`tend status ...`) and waits for it. */
const ctl = tendOnce;

/** Runs `tend run ARGS` to its end, for runs that must refuse to start. */
async function runToEnd(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "run", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT),
  }).output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

async function get(url: string, token?: string | null, init: RequestInit = {}) {
  const res = await fetch(url, {
    ...init,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(init.headers as Record<string, string> | undefined),
    },
  });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

async function scrape(base: string): Promise<Map<string, number>> {
  const r = await get(`${base}/metrics`);
  assert.equal(r.status, 200, r.text);
  return parseExposition(r.text).series;
}

Deno.test("over TCP, /v1 needs the token tend printed: 401 without or with a wrong one, 200 with it; a foreign Host is refused; no CORS", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file]);
  const at = await listening(t);
  assert.ok(at.token !== null, at.message);
  assert.match(at.token, /^[A-Za-z0-9_-]{43}$/);
  await t.said("web", "ready");
  // Printed once: in the dashboard's address, nowhere else.
  assert.equal(t.lines.filter((l) => l.includes(at.token!)).length, 1);

  const none = await get(`${at.base}/v1/status`);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="tend"');
  const wrong = await get(`${at.base}/v1/status`, "x".repeat(43));
  assert.equal(wrong.status, 401);
  const ok = await get(`${at.base}/v1/status`, at.token);
  assert.equal(ok.status, 200);
  assert.deepEqual(
    JSON.parse(ok.text).processes.map((p: { name: string; state: string }) => [
      p.name,
      p.state,
    ]),
    [["web", "RUNNING"]],
  );
  for (const r of [none, wrong, ok]) {
    assert.deepEqual(
      [...r.headers.keys()].filter((k) => k.startsWith("access-control")),
      [],
    );
  }
  using c = await RawConnection.open(at.port);
  await c.send(
    `GET /v1/status HTTP/1.1\r\nHost: attacker.example:${at.port}\r\n` +
      `Authorization: Bearer ${at.token}\r\n\r\n`,
  );
  await within(c.closed, TIMEOUT);
  assert.equal(c.status, 403, c.received);
  assert.doesNotMatch(c.received, /"processes"/);
  // The unix socket is as it was: no token there.
  const status = await ctl(["status", "-c", file]);
  assert.equal(status.code, 0, status.stderr);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("a non-loopback address without a token given is refused at start: 64 for --http, 78 for the file; nothing starts", async () => {
  await using dir = await tempDir();
  const marker = join(dir.path, "started");
  const processes = { web: { cmd: ["sh", "-c", `touch ${marker}; exec sleep 1000`] } };
  const plain = await dir.write("procs.yaml", yaml({ processes }));
  const flag = await runToEnd(["--http", "0.0.0.0:9100", plain]);
  assert.equal(flag.code, 64, flag.stderr);
  assert.match(
    flag.stderr,
    /^tend: --http 0\.0\.0\.0:9100 is not a loopback address, .* give one with TEND_TOKEN or http\.tokenFile .*; nothing was started\n$/,
  );
  const every = await runToEnd(["--http", ":9100", plain]);
  assert.equal(every.code, 64, every.stderr);
  const inFile = await dir.write(
    "web.yaml",
    yaml({ http: { listen: "[::]:9100" }, processes }),
  );
  const fromFile = await runToEnd([inFile]);
  assert.equal(fromFile.code, 78, fromFile.stderr);
  assert.match(
    fromFile.stderr,
    /^tend: http\.listen in .*web\.yaml \[::\]:9100 is not a loopback/,
  );
  // A token that would be too easy to guess is refused too.
  const weak = await runToEnd(["--http", "127.0.0.1:0", plain], {
    TEND_TOKEN: "hunter2",
  });
  assert.equal(weak.code, 64, weak.stderr);
  assert.match(
    weak.stderr,
    /^tend: TEND_TOKEN is 7 characters long; a token needs at least 16/,
  );
  // A token file others can read.
  const token = join(dir.path, "token");
  await Deno.writeTextFile(token, "a-private-token-0123456789\n");
  await Deno.chmod(token, 0o644);
  const open = await dir.write(
    "token.yaml",
    yaml({ http: { listen: "127.0.0.1:0", tokenFile: "token" }, processes }),
  );
  const readable = await runToEnd([open]);
  assert.equal(readable.code, 78, readable.stderr);
  assert.match(
    readable.stderr,
    /the token file .*token has mode 0644, so anyone on this machine can read it; make it private \(chmod 600 /,
  );
  await assert.rejects(Deno.lstat(marker), Deno.errors.NotFound, "no child started");
  // Made private, it is used, and tend does not print it.
  await Deno.chmod(token, 0o600);
  await using t = tend(["run", "--log-format", "json", open]);
  const at = await listening(t);
  assert.equal(at.token, null);
  assert.match(at.message, /the token is from http\.tokenFile .*token\)/);
  assert.equal(
    (await get(`${at.base}/v1/status`, "a-private-token-0123456789")).status,
    200,
  );
  assert.equal(t.lines.some((l) => l.includes("a-private-token")), false);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("TEND_TOKEN is the token, is never printed, and the children do not inherit it", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        // shell, which tend does not expand (the child's shell does).
        web: { shell: 'echo "token=[${TEND_TOKEN:-none}]"; exec sleep 1000' },
      },
    }),
  );
  const secret = "from-the-environment-0123456789";
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file], {
    env: { TEND_TOKEN: secret },
  });
  const at = await listening(t);
  assert.equal(at.token, null);
  await t.said("web", "token=[none]");
  assert.equal((await get(`${at.base}/v1/status`, secret)).status, 200);
  assert.equal(t.lines.some((l) => l.includes(secret)), false);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("/readyz is 503 naming a crashing process, and 200 once every process runs", async () => {
  await using dir = await tempDir();
  const fixed = join(dir.path, "fixed");
  const file = await dir.write(
    "procs.yaml",
    yaml({
      minRestartDelay: 0.2,
      maxRestartDelay: 0.5,
      processes: {
        web: { cmd: SLEEPER },
        crash: {
          cmd: [
            "sh",
            "-c",
            `if [ -e ${fixed} ]; then echo ready; exec sleep 1000; fi; exit 3`,
          ],
        },
        setup: { cmd: ["true"], restart: "never" },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file]);
  const at = await listening(t);
  await t.event("crash", "exited");
  const failing = await until("a 503 naming crash", async () => {
    const r = await get(`${at.base}/readyz`);
    return r.status === 503 && r.text.includes("process/crash") ? r : undefined;
  });
  assert.match(
    failing.text,
    /^\[-\]process\/crash failed: (BACKOFF|STOPPING|STOPPED)/m,
  );
  assert.doesNotMatch(failing.text, /process\/web|process\/setup/);
  assert.match(failing.text, /readyz check failed\n$/);
  assert.equal((await get(`${at.base}/livez`)).status, 200);
  const verbose = await get(`${at.base}/readyz?verbose`);
  assert.match(verbose.text, /^\[\+\]shutdown ok$/m);
  assert.match(verbose.text, /^\[\+\]process\/web ok$/m);
  assert.match(verbose.text, /^\[\+\]process\/setup ok \(finished\)$/m);
  assert.equal((await get(`${at.base}/readyz/process/web`)).status, 200);
  assert.equal((await get(`${at.base}/readyz/process/crash`)).status, 503);

  await Deno.writeTextFile(fixed, "");
  await t.said("crash", "ready");
  const ready = await until("/readyz to pass", async () => {
    const r = await get(`${at.base}/readyz`);
    return r.status === 200 ? r : undefined;
  });
  assert.equal(ready.text, "ok\n");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("metrics follow state: restarts_total and exits_total count a restart, up goes 0 after tend stop, output is counted", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        web: { cmd: ["sh", "-c", "echo ready; echo oops >&2; exec sleep 1000"] },
        other: { cmd: SLEEPER },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file]);
  const at = await listening(t);
  await t.said("web", "ready");
  await t.said("other", "ready");
  const first = await until("the stderr line counted", async () => {
    const m = await scrape(at.base);
    return m.get('tend_process_output_lines_total{process="web",stream="stderr"}') === 1
      ? m
      : undefined;
  });
  assert.equal(first.get('tend_process_up{process="web"}'), 1);
  assert.equal(first.get('tend_process_state{process="web",state="RUNNING"}'), 1);
  assert.equal(first.get('tend_process_restarts_total{process="web"}'), 0);
  assert.equal(first.get('tend_process_exits_total{process="web"}'), 0);
  assert.equal(
    first.get('tend_process_output_bytes_total{process="web",stream="stdout"}'),
    6,
  );
  assert.equal(first.get('tend_process_ready{process="web"}'), 1);
  assert.ok(first.get('tend_process_start_time_seconds{process="web"}')! > 1e9);

  const restart = await ctl(["restart", "web", "-c", file]);
  assert.equal(restart.code, 0, restart.stderr);
  const bounced = await scrape(at.base);
  assert.equal(bounced.get('tend_process_restarts_total{process="web"}'), 1);
  assert.equal(bounced.get('tend_process_exits_total{process="web"}'), 1);
  assert.equal(bounced.get('tend_process_up{process="web"}'), 1);

  const stop = await ctl(["stop", "web", "-c", file]);
  assert.equal(stop.code, 0, stop.stderr);
  const stopped = await scrape(at.base);
  assert.equal(stopped.get('tend_process_up{process="web"}'), 0);
  assert.equal(stopped.get('tend_process_state{process="web",state="STOPPED"}'), 1);
  assert.equal(stopped.get('tend_process_state{process="web",state="RUNNING"}'), 0);
  assert.equal(stopped.get('tend_process_held{process="web"}'), 1);
  assert.equal(stopped.get('tend_process_ready{process="web"}'), 0);
  assert.equal(stopped.has('tend_process_start_time_seconds{process="web"}'), false);
  assert.equal(stopped.get('tend_process_exits_total{process="web"}'), 2);
  assert.equal(stopped.get('tend_process_up{process="other"}'), 1);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("the listener survives garbage (half requests past the cap, a 10 MB body, invalid JSON, binary noise) without blocking the socket API or the children", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        ticker: {
          cmd: [
            "sh",
            "-c",
            "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done",
          ],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file]);
  const at = await listening(t);
  await t.said("ticker", "tick 1");
  const before = (await scrape(at.base)).get("process_resident_memory_bytes")!;

  // 200 connections (the cap is 128) that send half a request and wait.
  const held: RawConnection[] = [];
  try {
    for (let i = 0; i < 200; i++) {
      const c = await RawConnection.open(at.port);
      held.push(c);
      await c.send(
        i % 2 === 0 ? "GET /metr" : `GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-A: `,
      );
    }
    // Meanwhile the unix socket answers and the children run on.
    const from = t.lines.length;
    const status = await ctl(["status", "-c", file, "--json"]);
    assert.equal(status.code, 0, status.stderr);
    assert.equal(JSON.parse(status.stdout).processes[0].state, "RUNNING");
    const n = Number(
      /tick (\d+)/.exec(t.lines.findLast((l) => l.includes("tick")) ?? "")?.[1] ?? 0,
    );
    await t.said("ticker", `tick ${n + 5}`, from);
  } finally {
    for (const c of held) c[Symbol.dispose]();
  }

  // 20 connections pipelining 2 MB of requests each, reading nothing:
  // each is closed after a handful, and tend's memory stays bounded (the
  // RSS check below; one such connection took it to 1 GB before).
  {
    const request = new TextEncoder().encode(
      "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".repeat(50_000),
    );
    await Promise.all(Array.from({ length: 20 }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: at.port });
      try {
        let sent = 0;
        while (sent < request.length) sent += await conn.write(request.subarray(sent));
      } catch {
        // closed by tend
      }
      conn.close();
    }));
  }

  // A 10 MB body is refused without being read; tend does not keep it.
  const big = "x".repeat(10 * 1024 * 1024);
  const huge = await get(`${at.base}/v1/processes/ticker/signal`, at.token, {
    method: "POST",
    body: big,
  }).catch((error) => ({ status: 0, text: String(error), headers: new Headers() }));
  assert.ok(huge.status === 413 || huge.status === 0, `${huge.status} ${huge.text}`);
  const invalid = await get(`${at.base}/v1/processes/ticker/signal`, at.token, {
    method: "POST",
    body: '{"signal": SIGTERM',
  });
  assert.equal(invalid.status, 400);
  assert.match(JSON.parse(invalid.text).error, /invalid JSON/);
  {
    using noise = await RawConnection.open(at.port);
    await noise.send(new Uint8Array(4096).map((_, i) => (i * 131 + 7) % 256));
    await within(noise.closed, TIMEOUT);
  }

  // The listener is back for everyone, the child unharmed, memory bounded.
  const after = await until("the listener to answer again", async () => {
    const r = await get(`${at.base}/v1/status`, at.token).catch(() => null);
    return r?.status === 200 ? r : undefined;
  });
  assert.equal(JSON.parse(after.text).processes[0].restarts, 0);
  const rss = (await scrape(at.base)).get("process_resident_memory_bytes")!;
  assert.ok(rss < before + 64 * 1024 * 1024, `RSS ${before} -> ${rss}`);
  assert.equal(t.recordsOf("ticker", "exited").length, 0);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("when every descriptor is taken the HTTP listener says it stopped accepting, and never lets go of its port", async () => {
  // Regression: an accept that failed with EMFILE ended node:http's accept
  // loop under Deno for good, and said nothing: the kernel queued every
  // connection after, and /livez timed out for the rest of the run. tend
  // now says so; it does not close its port to listen again, since another
  // local user could bind it in between (and read the tokens sent to it).
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { s: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file], {
    maxFiles: 60,
  });
  const at = await listening(t);
  await t.said("s", "ready");
  // Each on a new connection: one kept alive from before would be answered
  // by a server that accepts nothing.
  const livez = async () => {
    using c = await RawConnection.open(at.port);
    await c.send("GET /livez HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    await within(c.closed, 2000);
    return c.status;
  };
  assert.equal(await livez(), 200);
  // More half requests than tend has descriptors left (bounded: 130).
  const held: RawConnection[] = [];
  try {
    for (let i = 0; i < 130; i++) {
      const c = await RawConnection.open(at.port);
      held.push(c);
      await c.send("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    }
    await new Promise((r) => setTimeout(r, 2000));
  } finally {
    for (const c of held) c[Symbol.dispose]();
  }
  const failure = (r: LogRecord) =>
    /the HTTP listener on 127\.0\.0\.1:\d+ stopped accepting connections \(.*\)/
      .test(r.message);
  // Two checks in a row missed, 5 s apart, each waiting 3 s: well within 60.
  await until(
    "the failure logged",
    () => Promise.resolve(t.records.some(failure) ? true : undefined),
    60_000,
  );
  assert.equal(t.records.find(failure)?.level, "error");
  // The port is still tend's: nobody else can listen on it.
  assert.throws(
    () => Deno.listen({ hostname: "127.0.0.1", port: at.port }),
    Deno.errors.AddrInUse,
  );
  // The unix socket and the children were not harmed.
  const status = await ctl(["status", "-c", file]);
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^s\s+RUNNING/m);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("the open routes show no probe command, probe output or spawn error, with or without ?verbose, and no control character; /v1 has the detail", async () => {
  // Regression: /readyz, which needs no token, said
  // "STARTING: not ready yet (exec sh -c '... --password=...': ...)".
  const secret = "Hunter2-SECRET";
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      minRestartDelay: 0.2,
      maxRestartDelay: 0.5,
      processes: {
        db: {
          cmd: SLEEPER,
          ready: {
            shell:
              `echo denied --password=${secret}; printf '\\033[2J\\v\\f\\r\\342\\200\\250'; ` +
              `test -n "${secret}" && exit 1`,
            period: "200ms",
          },
        },
        bad: { cmd: [join(dir.path, `no-${secret}`, "bin")] },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", "--http", "127.0.0.1:0", file]);
  const at = await listening(t);
  // The detail is there behind the token: the probe ran, the start failed.
  await until("the probe's result and the spawn error in /v1/status", async () => {
    const r = await get(`${at.base}/v1/status`, at.token);
    const processes = JSON.parse(r.text).processes as {
      name: string;
      probe: string | null;
      spawnError: string | null;
    }[];
    const db = processes.find((p) => p.name === "db");
    const bad = processes.find((p) => p.name === "bad");
    return db?.probe?.includes(secret) && bad?.spawnError?.includes(secret)
      ? true
      : undefined;
  });
  const open = [
    "/readyz",
    "/readyz?verbose",
    "/readyz?verbose&exclude=shutdown",
    "/readyz/process/db",
    "/readyz/process/db?verbose",
    "/readyz/process/bad",
    "/readyz/process/bad?verbose",
    "/livez",
    "/livez?verbose",
    "/livez/ping",
    "/metrics",
    "/",
    // A name of the client's, percent-decoded, in the 404.
    "/readyz/process%2F%1B%5B2J%0B%0C%0D%E2%80%A8%C2%85x",
  ];
  for (const path of open) {
    const r = await get(at.base + path);
    assert.ok(r.status !== 401, path);
    assert.ok(!r.text.includes(secret), `${path}: ${r.text}`);
    assert.doesNotMatch(r.text, /mysqladmin|denied|--password|No such file/, path);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(r.text, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/, path);
  }
  const db = await get(`${at.base}/readyz/process/db`);
  assert.equal(db.status, 503);
  assert.equal(
    db.text,
    "[-]process/db failed: STARTING: not ready yet\nreadyz check failed\n",
  );
  const bad = await get(`${at.base}/readyz/process/bad`);
  assert.match(
    bad.text,
    /^\[-\]process\/bad failed: (BACKOFF after a failed start|FATAL: gave up after a failed start)/,
  );
  const odd = await get(`${at.base}/readyz/process%2F%1B%5B2J%0B%0C%0D%E2%80%A8x`);
  assert.equal(odd.status, 404);
  assert.equal(odd.text, "no check named process/\\x1b[2J\\x0b\\x0c\\r\\u2028x\n");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});
