/**
 * Probes and dependencies end to end: a real tend, real servers that open
 * their ports late, real probes. Every wait is for a log record.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { NO_PS, only } from "../_fakes/proc.ts";
import { assertNothingLeft, MAIN, tempDir, tend, yaml } from "../_fakes/tend.ts";

const SERVER = fileURLToPath(
  new URL("../../examples/health/server.py", import.meta.url),
);

/** A free TCP port on 127.0.0.1 (free when asked; tests use it at once). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** The index of the first record of `name` with event `type`, or -1. */
function indexOf(t: ReturnType<typeof tend>, name: string, type: string): number {
  return t.records.findIndex((r) => r.process === name && r.event === type);
}

Deno.test("a dependent starts only once a server that opens its port after 1.5 s is ready by tcp", async () => {
  await using dir = await tempDir();
  const port = freePort();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        db: {
          cmd: ["python3", SERVER, "db", String(port), "1.5"],
          ready: { tcp: `127.0.0.1:${port}`, period: "200ms" },
        },
        api: {
          cmd: ["sh", "-c", "echo up; exec sleep 1000"],
          dependsOn: { db: "ready" },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("api", "up");
  const accepting = t.records.findIndex((r) =>
    r.process === "db" && r.message.includes("accepting connections")
  );
  const ready = indexOf(t, "db", "ready");
  const started = indexOf(t, "api", "started");
  assert.ok(accepting !== -1 && accepting < ready && ready < started, t.transcript());
  assert.ok(indexOf(t, "api", "waiting") < ready, "api said it was waiting");
  assert.equal(
    t.recordsOf("api", "waiting")[0]?.message,
    "[api] waiting for db: ready",
  );
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
  if (NO_PS === null) await assertNothingLeft(t);
});

Deno.test("ready by http, and by a line of the process's own output", async () => {
  await using dir = await tempDir();
  const [db, api] = [freePort(), freePort()];
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        db: {
          cmd: ["python3", SERVER, "db", String(db), "0.5"],
          ready: { log: "accepting connections" },
        },
        api: {
          cmd: ["python3", SERVER, "api", String(api), String(db)],
          ready: { http: `http://127.0.0.1:${api}/health`, period: "200ms" },
          dependsOn: { db: "ready" },
        },
        client: {
          cmd: ["sh", "-c", "echo go; exec sleep 1000"],
          dependsOn: { api: "ready" },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("client", "go");
  assert.match(t.recordsOf("db", "ready")[0]!.message, /log .*matched/);
  assert.match(
    t.recordsOf("api", "ready")[0]!.message,
    /http:\/\/127\.0\.0\.1:\d+\/health/,
  );
  assert.ok(indexOf(t, "api", "ready") < indexOf(t, "client", "started"));
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("a done dependency gates a worker, and a failing one leaves it unstarted, saying why", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        migrate: { shell: "echo migrating; sleep 0.3", restart: "on-failure" },
        worker: {
          cmd: ["sh", "-c", "echo working; exec sleep 1000"],
          dependsOn: { migrate: "done" },
        },
        broken: { shell: "echo failing; exit 3", restart: "never" },
        stuck: { cmd: ["sleep", "1000"], dependsOn: { broken: "done" } },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("worker", "working");
  assert.ok(indexOf(t, "migrate", "exited") < indexOf(t, "worker", "started"));
  const blocked = await t.record(
    "stuck to say it cannot start",
    (r) =>
      r.process === "stuck" && r.event === "waiting" &&
      r.message.includes("cannot start"),
  );
  assert.equal(
    blocked.record.message,
    "[stuck] cannot start: broken exited with code 3",
  );
  assert.deepEqual(t.recordsOf("stuck", "started"), []);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("a failing liveness probe restarts the process, logging the probe's reason", async () => {
  await using dir = await tempDir();
  const closed = freePort();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        api: {
          cmd: ["sleep", "1000"],
          alive: { tcp: `127.0.0.1:${closed}`, period: "200ms", failures: 2 },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  const failed = await t.event("api", "unhealthy");
  assert.match(
    failed.record.message,
    /liveness probe failed: tcp 127\.0\.0\.1:\d+: 2 failures/,
  );
  await t.event("api", "started", failed.index);
  assert.equal(t.started.length >= 2, true);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("a readiness failure after being ready marks it not ready and leaves it running", async () => {
  await using dir = await tempDir();
  const flag = `${dir.path}/up`;
  await Deno.writeTextFile(flag, "");
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        svc: {
          cmd: ["sh", "-c", "echo running; exec sleep 1000"],
          ready: { shell: `test -e ${flag}`, period: "200ms", failures: 1 },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  const ready = await t.event("svc", "ready");
  assert.equal(ready.record.ready, true);
  const pid = t.started[0];
  await Deno.remove(flag);
  const notReady = await t.record(
    "svc to be not ready",
    (r) => r.process === "svc" && r.event === "ready" && r.ready === false,
  );
  assert.match(notReady.record.message, /not ready: /);
  t.signal("SIGUSR2");
  const status = await t.event("svc", "status", notReady.index);
  assert.equal(status.record.state, "RUNNING");
  assert.equal(status.record.ready, false);
  assert.equal(status.record.pid, pid, "not restarted");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test(
  only(
    "an exec probe that hangs is killed at its timeout, leaving no process",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const marker = `tend-probe-hang-${crypto.randomUUID()}`;
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          svc: {
            cmd: ["sleep", "1000"],
            alive: {
              shell: `exec -a ${marker} sleep 1000`,
              timeout: "300ms",
              period: "500ms",
              failures: 2,
            },
          },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    // Each check hangs and is killed at its timeout; two in a row fail it.
    await t.event("svc", "unhealthy");
    const ps = await new Deno.Command("ps", { args: ["-eo", "args="], stdout: "piped" })
      .output();
    const left = new TextDecoder().decode(ps.stdout).split("\n").filter((l) =>
      l.includes(marker)
    );
    assert.ok(left.length <= 1, `at most the check in flight runs: ${left.join("; ")}`);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0);
    const after = await new Deno.Command("ps", {
      args: ["-eo", "args="],
      stdout: "piped",
    })
      .output();
    assert.deepEqual(
      new TextDecoder().decode(after.stdout).split("\n").filter((l) =>
        l.includes(marker)
      ),
      [],
    );
  },
);

Deno.test("the README's worked example runs as written: db, migration, api, worker", async () => {
  const example = fileURLToPath(
    new URL("../../examples/health/procs.yaml", import.meta.url),
  );
  await using t = tend(["run", "--log-format", "json", example]);
  await t.said("worker", "working");
  const order = ["db", "migrate", "api", "worker"].map((name) =>
    indexOf(t, name, "started")
  );
  assert.ok(
    order[0]! < order[1]! && order[0]! < order[2]! && order[2]! < order[3]!,
    t.transcript(),
  );
  assert.ok(indexOf(t, "migrate", "exited") < order[3]!);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
  // Dependents stopped first.
  const stops = ["worker", "api", "db"].map((name) => indexOf(t, name, "stop-signal"));
  assert.ok(stops[0]! < stops[1]! && stops[1]! < stops[2]!, t.transcript());
});

Deno.test("ready by notify: a child that sends READY=1 to its NOTIFY_SOCKET gates its dependent", async () => {
  await using dir = await tempDir();
  const sender = await dir.write(
    "notify.py",
    [
      "import os, socket, time",
      "time.sleep(1.5)",
      "s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)",
      "s.sendto(b'STATUS=warmed up\\nREADY=1', os.environ['NOTIFY_SOCKET'])",
      "print('sent', flush=True)",
      "time.sleep(1000)",
    ].join("\n") + "\n",
  );
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        db: { cmd: ["python3", sender], ready: { notify: true } },
        api: {
          cmd: ["sh", "-c", "echo up; exec sleep 1000"],
          dependsOn: { db: "ready" },
        },
        plain: {
          cmd: ["sh", "-c", 'echo "socket=${NOTIFY_SOCKET:-none}"; exec sleep 1000'],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("api", "up");
  assert.ok(indexOf(t, "db", "ready") < indexOf(t, "api", "started"), t.transcript());
  assert.match(t.recordsOf("db", "ready")[0]!.message, /notify/);
  await t.said("plain", "socket=none");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("a line built to make a log pattern backtrack for ever is matched in linear time", async () => {
  // Regression: patterns ran on V8's backtracking engine, so a child printing
  // 30,000 a's and a "!" against ^(a+)+$ froze tend (2^30000 steps): no
  // record, no signal answered, no other child supervised.
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        evil: {
          cmd: [
            "sh",
            "-c",
            `printf '%30000s!\\n' '' | tr ' ' a; echo done; exec sleep 1000`,
          ],
          ready: { log: "^(a+)+$|^done$" },
        },
        after: {
          cmd: ["sh", "-c", "echo up; exec sleep 1000"],
          dependsOn: { evil: "ready" },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("after", "up");
  assert.ok(indexOf(t, "evil", "ready") !== -1, t.transcript());
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("without the linear regular-expression engine, a log probe is a config error that says how to run", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { a: { cmd: ["true"], ready: { log: "up" } } } }),
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "check", file],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr) +
    new TextDecoder().decode(out.stdout);
  assert.notEqual(out.code, 0, text);
  assert.match(
    text,
    /procs\.yaml:\d+:\d+: processes\.a\.ready\.log: .*--v8-flags=--enable-experimental-regexp-engine/,
  );
});
