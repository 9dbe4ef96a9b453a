/**
 * End-to-end tests of the control plane: a real `tend run` (main.ts as a
 * child, with the start task's permissions) supervising real processes,
 * driven by the real client commands (`tend status`, `stop`, ...) and by
 * `curl --unix-socket` where curl is installed.
 *
 * Every wait is for a log record, a client's answer or an exit, with a
 * generous timeout; where a test shows that something does not happen (a
 * held process is not restarted), it looks again after a pause, but no
 * assertion depends on how fast anything happens.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";
import {
  assertNothingLeft,
  eventsOf,
  MAIN,
  PERMISSIONS,
  pidOf,
  type Ran,
  readLines,
  SLEEPER,
  tempDir,
  type Tend,
  tend,
  tendOnce,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";

const decoder = new TextDecoder();

/** Runs a client command (`tend status ...`) as users do, and waits for it. */
const ctl = tendOnce;

function show(ran: Ran): string {
  return `exit ${ran.code}\n--- stdout\n${ran.stdout}--- stderr\n${ran.stderr}`;
}

/** Why the curl checks cannot run here, or null when they can. */
const NO_CURL: string | null = await (async () => {
  try {
    const out = await new Deno.Command("curl", { args: ["--version"], stdout: "null" })
      .output();
    if (out.success) return null;
  } catch {
    // not installed
  }
  return "needs curl for the curl --unix-socket checks (apt-get install curl)";
})();

/** `curl --unix-socket SOCK` against the API: its status and body. */
async function curl(
  socket: string,
  path: string,
  extra: string[] = [],
): Promise<{ status: number; body: string }> {
  const out = await new Deno.Command("curl", {
    args: [
      "-s",
      "-w",
      "\n%{http_code}",
      "--unix-socket",
      socket,
      ...extra,
      `http://tend${path}`,
    ],
    stdout: "piped",
    signal: AbortSignal.timeout(TIMEOUT),
  }).output();
  const text = decoder.decode(out.stdout);
  const at = text.lastIndexOf("\n");
  return { status: Number(text.slice(at + 1)), body: text.slice(0, at) };
}

/** The socket of a running tend, as its status says. */
async function socketOf(file: string): Promise<string> {
  const ran = await ctl(["status", "-c", file, "--json"]);
  assert.equal(ran.code, 0, show(ran));
  return JSON.parse(ran.stdout).tend.socket;
}

// deno-lint-ignore no-explicit-any
type Json = any;

async function statusJson(file: string): Promise<Json> {
  const ran = await ctl(["status", "-c", file, "--json"]);
  assert.equal(ran.code, 0, show(ran));
  return JSON.parse(ran.stdout);
}

async function stateOf(file: string, name: string): Promise<Json> {
  return (await statusJson(file)).processes.find((p: Json) => p.name === name);
}

/** Waits until `name` is RUNNING and has said `ready`, for tests that start it by hand. */
async function readyAgain(t: Tend, name: string, from: number): Promise<number> {
  await t.said(name, "ready", from);
  return t.recordsOf(name, "started").at(-1)!.pid!;
}

/** A process that prints `ready`, then `got USR1` on each SIGUSR1, and runs on. */
const TRAPPER = [
  "sh",
  "-c",
  "trap 'echo got USR1' USR1; echo ready; while :; do sleep 0.2; done",
];

Deno.test("tend status shows a table and JSON of a running config", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        web: { cmd: SLEEPER },
        flaky: { shell: "echo failing; exit 3", minRestartDelay: 30 },
        lazy: { cmd: SLEEPER, autostart: false },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("web", "ready");
  await t.event("flaky", "restart-scheduled");
  const web = pidOf(t, "web");

  // In the config's folder, with no -c, as users do.
  const table = await ctl(["status"], { cwd: dir.path });
  assert.equal(table.code, 0, show(table));
  const rows = table.stdout.trimEnd().split("\n").map((line) => line.split(/\s{2,}/));
  assert.deepEqual(rows[0], [
    "NAME",
    "STATE",
    "READY",
    "PID",
    "UPTIME",
    "RESTARTS",
    "LAST EXIT",
  ]);
  const row = (name: string) => rows.find((r) => r[0] === name)!;
  assert.deepEqual(row("web").slice(0, 4), ["web", "RUNNING", "yes", String(web)]);
  assert.match(row("web")[4]!, /^\d+(\.\d)?m?s$|^\d+m\d+s$/, "uptime like 3m12s");
  assert.deepEqual(row("web").slice(5), ["0", "-"]);
  assert.deepEqual(row("flaky").slice(0, 7), [
    "flaky",
    "BACKOFF",
    "-",
    "-",
    "-",
    "0",
    "exit 3",
  ]);
  assert.match(row("flaky")[7]!, /^next start in \d+(\.\d)?s$/);
  assert.deepEqual(row("lazy"), [
    "lazy",
    "STOPPED",
    "-",
    "-",
    "-",
    "0",
    "-",
    "held: tend start lazy to start it",
  ]);

  const json = await statusJson(file);
  assert.equal(json.tend.pid, t.pid);
  assert.equal(json.tend.config, file);
  assert.match(json.tend.startedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  const webJson = json.processes.find((p: Json) => p.name === "web");
  assert.equal(webJson.state, "RUNNING");
  assert.equal(webJson.pid, web);
  assert.deepEqual(webJson.argv, SLEEPER);
  assert.equal(webJson.held, false);
  assert.match(webJson.startedAt, /Z$/);
  const flaky = json.processes.find((p: Json) => p.name === "flaky");
  assert.deepEqual([flaky.lastExit.code, flaky.lastExit.signal], [3, null]);
  assert.equal(flaky.shell, "echo failing; exit 3");
  assert.match(flaky.nextStartAt, /Z$/);

  const one = await ctl(["status", "-c", file, "web"]);
  assert.equal(one.code, 0, show(one));
  assert.equal(one.stdout.trimEnd().split("\n").length, 2, "the header and web");

  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("tend status shows READY, a failing probe's last result and what a dependent waits for", async () => {
  await using dir = await tempDir();
  // A port nobody listens on: the probe is refused every time.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        db: { cmd: SLEEPER, ready: { tcp: `127.0.0.1:${port}`, period: "200ms" } },
        api: { cmd: SLEEPER, dependsOn: { db: "ready" } },
        web: { cmd: SLEEPER },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("db", "ready");
  await t.said("web", "ready");
  let db: Json;
  const deadline = performance.now() + TIMEOUT;
  while ((db = await stateOf(file, "db")).probe === null) {
    assert.ok(performance.now() < deadline, "no probe result");
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.deepEqual([db.state, db.ready, db.waiting, db.blocked], [
    "STARTING",
    false,
    null,
    false,
  ]);
  assert.match(db.probe, new RegExp(`^tcp 127\\.0\\.0\\.1:${port}: `));
  const api = await stateOf(file, "api");
  assert.deepEqual([api.state, api.ready, api.waiting], [
    "STOPPED",
    false,
    "waiting for db: ready",
  ]);
  const table = await ctl(["status", "-c", file]);
  assert.equal(table.code, 0, show(table));
  const rows = table.stdout.trimEnd().split("\n").map((line) => line.split(/\s{2,}/));
  assert.deepEqual(rows[0]!.slice(0, 3), ["NAME", "STATE", "READY"]);
  const row = (name: string) => rows.find((r) => r[0] === name)!;
  assert.deepEqual(row("db").slice(0, 3), ["db", "STARTING", "no"]);
  assert.match(row("db").at(-1)!, new RegExp(`^probe: tcp 127\\.0\\.0\\.1:${port}: `));
  assert.deepEqual(row("api").slice(0, 3), ["api", "STOPPED", "-"]);
  assert.equal(row("api").at(-1), "waiting for db: ready");
  assert.deepEqual(row("web").slice(0, 3), ["web", "RUNNING", "yes"]);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test(
  only(
    "tend stop holds a process for several seconds; tend start releases it with a new pid",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { web: { cmd: SLEEPER }, other: { cmd: SLEEPER } } }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("web", "ready");
    await t.said("other", "ready");
    const old = pidOf(t, "web");
    const stopped = await ctl(["stop", "-c", file, "web"]);
    assert.equal(stopped.code, 0, show(stopped));
    assert.equal(stopped.stdout, "web: stopped\n");
    assert.deepEqual(await groupMembers(old), [], "its group is gone");
    // Held: the restart policy (always) does not bring it back.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const held = await stateOf(file, "web");
    assert.deepEqual([held.state, held.held, held.pid], ["STOPPED", true, null]);
    assert.equal(t.recordsOf("web", "started").length, 1, "not restarted while held");
    assert.equal(t.recordsOf("other", "started").length, 1, "the other ran on");

    const from = t.lines.length;
    const started = await ctl(["start", "-c", file, "web"]);
    assert.equal(started.code, 0, show(started));
    const pid = await readyAgain(t, "web", from);
    assert.notEqual(pid, old);
    assert.equal(started.stdout, `web: started (pid ${pid})\n`);
    assert.equal((await stateOf(file, "web")).held, false);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    await assertNothingLeft(t);
  },
);

Deno.test("tend restart gives a process a new pid, and --no-wait returns at once", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("web", "ready");
  const old = pidOf(t, "web");
  const from = t.lines.length;
  const restarted = await ctl(["restart", "-c", file, "web"]);
  assert.equal(restarted.code, 0, show(restarted));
  const pid = await readyAgain(t, "web", from);
  assert.notEqual(pid, old);
  assert.equal(restarted.stdout, `web: restarted (pid ${pid})\n`);
  const next = t.lines.length;
  const quick = await ctl(["restart", "-c", file, "--no-wait", "all"]);
  assert.equal(quick.code, 0, show(quick));
  assert.match(quick.stdout, /^web: restarting \((STOPPING|RUNNING)\)\n$/);
  await t.event("web", "started", next);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("tend signal reaches the child", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { trap: { cmd: TRAPPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("trap", "ready");
  const pid = pidOf(t, "trap");
  const from = t.lines.length;
  const sent = await ctl(["signal", "-c", file, "USR1", "trap"]);
  assert.equal(sent.code, 0, show(sent));
  assert.equal(sent.stdout, `trap: sent SIGUSR1 (pid ${pid})\n`);
  await t.said("trap", "got USR1", from);
  assert.equal(
    t.recordsOf("trap", "started").length,
    1,
    "the signal did not restart it",
  );
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("an unknown name exits 1 and nothing is done for any name", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("web", "ready");
  for (
    const args of [
      ["stop", "web", "nope"],
      ["restart", "nope", "web"],
      ["start", "nope"],
      ["signal", "TERM", "web", "nope"],
      ["status", "nope"],
    ]
  ) {
    const ran = await ctl([...args, "-c", file]);
    assert.equal(ran.code, 1, `${args.join(" ")}\n${show(ran)}`);
    assert.match(
      ran.stderr,
      /^tend: no process named "nope" \(processes: web\); nothing was done\n$/,
    );
    assert.equal(ran.stdout, "");
  }
  const bad = await ctl(["signal", "-c", file, "SIGNOPE", "web"]);
  assert.equal(bad.code, 64, show(bad));
  assert.deepEqual(eventsOf(t, "web"), ["started"], "web was not touched");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("with no tend running, a client exits 69 naming the socket and how it was chosen", async () => {
  await using dir = await tempDir();
  const file = join(dir.path, "procs.yaml");
  const ran = await ctl(["status", "-c", file]);
  assert.equal(ran.code, 69, show(ran));
  assert.match(
    ran.stderr,
    new RegExp(
      `^tend: no tend is running at /\\S+/tend-\\d+/[0-9a-f]{12}\\.sock \\(derived from ${file}\\): there is no socket there\\n$`,
    ),
  );
  const flag = await ctl(["stop", "--socket", join(dir.path, "x.sock"), "web"]);
  assert.equal(flag.code, 69, show(flag));
  assert.match(flag.stderr, /x\.sock \(from --socket\): there is no socket there/);
  const env = await ctl(["reload"], {
    cwd: dir.path,
    env: { TEND_SOCKET: join(dir.path, "env.sock") },
  });
  assert.equal(env.code, 69, show(env));
  assert.match(env.stderr, /env\.sock \(from TEND_SOCKET\)/);
});

Deno.test(
  only(
    "a second tend run of the same config exits 75 at once, starting nothing, the first undisturbed",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { web: { cmd: SLEEPER } } }),
    );
    await using first = tend(["run", "--log-format", "json", file]);
    await first.said("web", "ready");
    const web = pidOf(first, "web");
    const socket = await socketOf(file);
    await using second = tend(["run", "--log-format", "json", file]);
    assert.equal(await second.exit(), 75, second.transcript());
    assert.equal(
      second.stderr,
      `tend: already running (pid ${first.pid}, socket ${socket})\n`,
    );
    assert.deepEqual(
      second.lines,
      [],
      "the second printed nothing: it started nothing",
    );
    // The same config through another path to it is the same instance.
    await using third = tend(["run", "--log-format", "json", "procs.yaml"], {
      cwd: dir.path,
    });
    assert.equal(await third.exit(), 75, third.transcript());
    const now = await stateOf(file, "web");
    assert.deepEqual([now.state, now.pid], ["RUNNING", web]);
    assert.deepEqual(eventsOf(first, "web"), ["started"]);
    assert.deepEqual(await groupMembers(web), [web]);

    // run -- CMD: the cron lock. The same command in the same folder is the
    // same instance.
    const job = ["--restart", "never", "--", "sh", "-c", "echo ready; exec sleep 1000"];
    await using cron = tend(["run", "--log-format", "json", ...job], { cwd: dir.path });
    await cron.said("sh", "ready");
    await using overlap = tend(["run", "--log-format", "json", ...job], {
      cwd: dir.path,
    });
    assert.equal(await overlap.exit(), 75, overlap.transcript());
    assert.match(
      overlap.stderr,
      /^tend: already running \(pid \d+, socket \S+\.sock\)\n$/,
    );
    const cronStatus = await ctl([
      "status",
      "--",
      "sh",
      "-c",
      "echo ready; exec sleep 1000",
    ], {
      cwd: dir.path,
    });
    assert.equal(cronStatus.code, 0, show(cronStatus));
    assert.match(cronStatus.stdout, /\nsh\s+RUNNING/);
    for (const t of [cron, first]) {
      t.signal("SIGTERM");
      assert.equal(await t.exit(), 0, t.transcript());
    }
  },
);

Deno.test("a SIGKILLed tend's stale socket is replaced by the next tend", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  await using killed = tend(["run", "--log-format", "json", file]);
  await killed.said("web", "ready");
  const socket = await socketOf(file);
  killed.signal("SIGKILL");
  await killed.exit();
  assert.ok((await Deno.lstat(socket)).isSocket, "the dead tend left its socket");
  const dead = await ctl(["status", "-c", file]);
  assert.equal(dead.code, 69, show(dead));
  assert.match(
    dead.stderr,
    /nothing listens on it \(a tend that was killed left it behind\)/,
  );

  await using next = tend(["run", "--log-format", "json", file]);
  await next.said("web", "ready");
  const json = await statusJson(file);
  assert.equal(json.tend.pid, next.pid);
  assert.equal(json.tend.socket, socket, "the same socket, replaced");
  next.signal("SIGTERM");
  assert.equal(await next.exit(), 0, next.transcript());
});

Deno.test("the socket is 0600 and its directory 0700, under XDG_RUNTIME_DIR", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  const runtime = join(dir.path, "runtime");
  await Deno.mkdir(runtime, { mode: 0o700 });
  const env = { ...Deno.env.toObject(), XDG_RUNTIME_DIR: runtime };
  await using t = tend(["run", "--log-format", "json", file], { env });
  await t.said("web", "ready");
  const ran = await ctl(["status", "-c", file, "--json"], { env });
  assert.equal(ran.code, 0, show(ran));
  const socket: string = JSON.parse(ran.stdout).tend.socket;
  const uid = Deno.uid();
  assert.match(socket, new RegExp(`^${runtime}/tend-${uid}/[0-9a-f]{12}\\.sock$`));
  const sock = await Deno.stat(socket);
  assert.ok(sock.isSocket);
  assert.equal(sock.mode! & 0o777, 0o600);
  const folder = await Deno.stat(join(runtime, `tend-${uid}`));
  assert.ok(folder.isDirectory);
  assert.equal(folder.mode! & 0o777, 0o700);
  assert.equal(folder.uid, uid);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assert.rejects(
    Deno.lstat(socket),
    Deno.errors.NotFound,
    "removed on the way out",
  );
  await assert.rejects(
    Deno.lstat(`${socket}.lock`),
    Deno.errors.NotFound,
    "and its lock",
  );
});

Deno.test("tend logs -n N prints exactly the last N lines of one process", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        count: {
          cmd: [
            "sh",
            "-c",
            "i=0; while [ $i -lt 50 ]; do echo line $i; i=$((i+1)); done; exec sleep 1000",
          ],
        },
        noise: { cmd: ["sh", "-c", "echo noise 1; echo noise 2 >&2; exec sleep 1000"] },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("count", "line 49");
  await t.record(
    "noise's stderr",
    (r) => r.process === "noise" && r.stream === "stderr",
  );
  const ran = await ctl(["logs", "-c", file, "-n", "7", "count"]);
  assert.equal(ran.code, 0, show(ran));
  const lines = ran.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 7, show(ran));
  lines.forEach((line, i) => {
    assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} \[count\] line \d+$/);
    assert.ok(line.endsWith(`[count] line ${43 + i}`), line);
  });
  const json = await ctl(["logs", "-c", file, "-n", "2", "--json", "noise"]);
  assert.equal(json.code, 0, show(json));
  const records = json.stdout.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => [r.process, r.stream, r.message]), [
    ["noise", "stdout", "[noise] noise 1"],
    ["noise", "stderr", "[noise] noise 2"],
  ]);
  assert.equal(records[0].pid, pidOf(t, "noise"));
  const both = await ctl(["logs", "-c", file, "-n", "1"]);
  assert.equal(both.stdout.trimEnd().split("\n").length, 2, show(both));
  const unknown = await ctl(["logs", "-c", file, "ghost"]);
  assert.equal(unknown.code, 1, show(unknown));
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("tend logs -f shows a line printed while following, and a process added by a reload", async () => {
  await using dir = await tempDir();
  const config = { processes: { trap: { cmd: TRAPPER } } };
  const file = await dir.write("procs.yaml", yaml(config));
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("trap", "ready");
  const follower = new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "logs", "-c", file, "-f", "-n", "1"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const seen: string[] = [];
  const reading = readLines(follower.stdout, (line) => seen.push(line));
  const errors = new Response(follower.stderr).text();
  try {
    const until = (what: RegExp) =>
      eventually(
        `logs -f to show ${what}\n${seen.join("\n")}`,
        () => seen.some((l) => what.test(l)),
        TIMEOUT,
      );
    await until(/ \[trap\] ready$/);
    const sent = await ctl(["signal", "-c", file, "USR1", "trap"]);
    assert.equal(sent.code, 0, show(sent));
    await until(/ \[trap\] got USR1$/);
    await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          ...config.processes,
          late: { cmd: ["sh", "-c", "echo hello from late; exec sleep 1000"] },
        },
      }),
    );
    const reloaded = await ctl(["reload", "-c", file]);
    assert.equal(reloaded.code, 0, show(reloaded));
    await until(/ \[late\] hello from late$/);
  } finally {
    follower.kill("SIGTERM");
    await follower.status;
    await reading;
    await errors;
  }
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test(
  only(
    "tend reload reports 1 added; a broken file exits 78 with the problem's place while the old set runs on",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { a: { cmd: SLEEPER } } }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("a", "ready");
    await dir.write(
      "procs.yaml",
      yaml({ processes: { a: { cmd: SLEEPER }, b: { cmd: SLEEPER } } }),
    );
    const ran = await ctl(["reload"], { cwd: dir.path });
    assert.equal(ran.code, 0, show(ran));
    assert.equal(ran.stdout, "1 added, 0 removed, 0 changed, 1 unchanged\nadded: b\n");
    await t.said("b", "ready");
    const pids = [pidOf(t, "a"), pidOf(t, "b")];

    await dir.write(
      "procs.yaml",
      [
        "processes:",
        "  a:",
        "    cmd: [sh, -c, 'exec sleep 1000'",
        "  c:",
        "    cmd: []",
        "",
      ]
        .join("\n"),
    );
    const broken = await ctl(["reload", "-c", file]);
    assert.equal(broken.code, 78, show(broken));
    assert.match(
      broken.stderr,
      /^tend: reload failed; tend keeps running its config as it was:\n/,
    );
    assert.match(broken.stderr, new RegExp(`\\n${file}:\\d+:\\d+: `));
    assert.equal(broken.stdout, "");
    const json = await ctl(["reload", "-c", file, "--json"]);
    assert.equal(json.code, 78);
    assert.ok(JSON.parse(json.stdout).problems.length >= 1);
    const status = await statusJson(file);
    assert.deepEqual(
      status.processes.map((p: Json) => [p.name, p.state, p.pid]),
      [["a", "RUNNING", pids[0]], ["b", "RUNNING", pids[1]]],
    );
    for (const pid of pids) assert.deepEqual(await groupMembers(pid), [pid]);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test(
  only("tend shutdown exits 0 once tend has exited, with no child left", NO_PS),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          tree: { cmd: ["sh", "-c", "sleep 1000 & echo ready; wait"] },
          plain: { cmd: SLEEPER },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("tree", "ready");
    await t.said("plain", "ready");
    const socket = await socketOf(file);
    const ran = await ctl(["shutdown", "-c", file]);
    assert.equal(ran.code, 0, show(ran));
    assert.equal(ran.stdout, `tend (pid ${t.pid}) has stopped\n`);
    assert.equal(await t.exit(), 0, t.transcript());
    await t.record(
      "the request in the log",
      (r) =>
        r.process === null && r.message === "tend shutdown: stopping every process",
    );
    await assertNothingLeft(t);
    await assert.rejects(Deno.lstat(socket), Deno.errors.NotFound);
    const again = await ctl(["shutdown", "-c", file]);
    assert.equal(again.code, 69, show(again));
  },
);

Deno.test("maxRestarts: 2 gives 3 starts then FATAL while the others run; tend start revives it", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      minRestartDelay: 0.05,
      processes: {
        crash: { shell: "echo crashing; exit 3", maxRestarts: 2 },
        web: { cmd: SLEEPER },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("web", "ready");
  const gaveUp = await t.event("crash", "not-restarting");
  assert.equal(t.recordsOf("crash", "started").length, 3);
  const status = await stateOf(file, "crash");
  assert.deepEqual([status.state, status.restarts, status.lastExit.code], [
    "FATAL",
    2,
    3,
  ]);
  assert.equal((await stateOf(file, "web")).state, "RUNNING");
  const table = await ctl(["status", "-c", file, "crash"]);
  assert.match(
    table.stdout,
    /crash\s+FATAL\s+-\s+-\s+-\s+2\s+exit 3\s+gave up: tend start crash/,
  );

  const revived = await ctl(["start", "-c", file, "crash"]);
  assert.equal(revived.code, 0, show(revived));
  assert.match(revived.stdout, /^crash: started \(pid \d+\)\n$/);
  // Its early deaths were forgotten: three more starts before it gives up again.
  await t.event("crash", "not-restarting", gaveUp.index + 1);
  assert.equal(t.recordsOf("crash", "started").length, 6);
  assert.deepEqual(eventsOf(t, "web"), ["started"], "web ran on throughout");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("autostart: false stays STOPPED until tend start", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: { lazy: { cmd: SLEEPER, autostart: false }, web: { cmd: SLEEPER } },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("web", "ready");
  await new Promise((resolve) => setTimeout(resolve, 2000));
  const before = await stateOf(file, "lazy");
  assert.deepEqual([before.state, before.held, before.pid], ["STOPPED", true, null]);
  assert.deepEqual(t.recordsOf("lazy", "started"), []);
  const started = await ctl(["start", "-c", file, "lazy"]);
  assert.equal(started.code, 0, show(started));
  await t.said("lazy", "ready");
  assert.equal((await stateOf(file, "lazy")).state, "RUNNING");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("every client command has its own --help", async () => {
  for (
    const command of [
      "status",
      "start",
      "stop",
      "restart",
      "signal",
      "logs",
      "reload",
      "shutdown",
    ]
  ) {
    const ran = await ctl([command, "--help"]);
    assert.equal(ran.code, 0, show(ran));
    assert.match(ran.stdout, new RegExp(`^Usage: tend ${command} `));
    assert.match(ran.stdout, /--socket PATH/);
  }
  const usage = await ctl(["stop"]);
  assert.equal(usage.code, 64, show(usage));
  assert.match(usage.stderr, /stop needs at least one process name/);
});

Deno.test(
  only(
    "curl --unix-socket works on every endpoint, and bad requests change nothing",
    NO_CURL,
  ),
  async () => {
    await using dir = await tempDir();
    const config = { processes: { trap: { cmd: TRAPPER }, web: { cmd: SLEEPER } } };
    const file = await dir.write("procs.yaml", yaml(config));
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("trap", "ready");
    await t.said("web", "ready");
    const socket = await socketOf(file);
    const json = async (path: string, extra: string[] = []) => {
      const got = await curl(socket, path, extra);
      return { status: got.status, body: JSON.parse(got.body) };
    };
    const post = ["-X", "POST"];

    const status = await json("/v1/status");
    assert.equal(status.status, 200);
    assert.deepEqual(status.body.processes.map((p: Json) => p.name), ["trap", "web"]);
    assert.equal(status.body.tend.socket, socket);
    const web = await json("/v1/processes/web");
    assert.deepEqual([web.status, web.body.pid], [200, pidOf(t, "web")]);

    const stopped = await json("/v1/processes/web/stop?wait=1", post);
    assert.deepEqual([stopped.status, stopped.body.state, stopped.body.held], [
      200,
      "STOPPED",
      true,
    ]);
    const started = await json("/v1/processes/web/start?wait=1", post);
    assert.deepEqual([started.status, started.body.state], [200, "RUNNING"]);
    const restarted = await json("/v1/processes/web/restart?wait=1", post);
    assert.equal(restarted.status, 200);
    assert.notEqual(restarted.body.pid, started.body.pid);

    const from = t.lines.length;
    const signalled = await json("/v1/processes/trap/signal", [
      "-d",
      '{"signal": "USR1"}',
    ]);
    assert.equal(signalled.status, 200);
    await t.said("trap", "got USR1", from);

    const logs = await curl(socket, "/v1/logs?process=trap&lines=1");
    assert.equal(logs.status, 200);
    assert.equal(JSON.parse(logs.body.trimEnd()).message, "[trap] got USR1");
    // Streams: curl -N prints each line as it comes; --max-time ends it.
    const follow = await curl(socket, "/v1/logs?process=trap&lines=1&follow=1", [
      "-N",
      "--max-time",
      "1",
    ]);
    assert.equal(
      JSON.parse(follow.body.trimEnd().split("\n")[0]!).message,
      "[trap] got USR1",
    );
    const events = await curl(socket, "/v1/events", ["-N", "--max-time", "1"]);
    assert.deepEqual(
      events.body.trimEnd().split("\n").map((l) => JSON.parse(l).name),
      ["trap", "web"],
    );

    const pids = [pidOf(t, "trap"), t.recordsOf("web", "started").at(-1)!.pid];
    for (
      const [path, extra, code] of [
        ["/v1/processes/nope", [], 404],
        ["/v1/processes/nope/stop", post, 404],
        ["/v1/nothing", [], 404],
        ["/v1/status", ["-X", "DELETE"], 405],
        ["/v1/processes/web/stop?wiat=1", post, 400],
        ["/v1/processes/trap/signal", ["-d", '{"signal": "SIGNOPE"}'], 400],
        ["/v1/processes/trap/signal", ["-d", "{signal"], 400],
      ] as const
    ) {
      const bad = await json(path, [...extra]);
      assert.equal(bad.status, code, `${path}: ${JSON.stringify(bad.body)}`);
      assert.equal(typeof bad.body.error, "string");
    }
    const after = await json("/v1/status");
    assert.deepEqual(after.body.processes.map((p: Json) => [p.state, p.pid]), [
      ["RUNNING", pids[0]],
      ["RUNNING", pids[1]],
    ]);

    await dir.write(
      "procs.yaml",
      yaml({ processes: { ...config.processes, more: { cmd: SLEEPER } } }),
    );
    const reloaded = await json("/v1/reload", post);
    assert.deepEqual([reloaded.status, reloaded.body.added], [200, ["more"]]);
    await dir.write("procs.yaml", "processes:\n  web: {cmd: []}\n");
    const broken = await json("/v1/reload", post);
    assert.equal(broken.status, 422);
    assert.match(broken.body.problems[0], new RegExp(`^${file}:2:`));

    const shutdown = await json("/v1/shutdown", post);
    assert.deepEqual([shutdown.status, shutdown.body.stopping], [202, true]);
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test("when every descriptor is taken the control socket stops, and it listens again once they are free", async () => {
  // Regression: an accept that failed with EMFILE ended Deno's server and
  // took the socket file with it, so the control plane was gone for the
  // rest of the run while supervision went on.
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { a: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file], { maxFiles: 80 });
  await t.said("a", "ready");
  const path = await socketOf(file);
  const held: Deno.UnixConn[] = [];
  try {
    // Take every descriptor tend has left (bounded: the limit is 80).
    for (
      let i = 0;
      i < 200 && !t.records.some((r) => /stopped working/.test(r.message));
      i++
    ) {
      try {
        held.push(await Deno.connect({ transport: "unix", path }));
      } catch {
        break; // the socket file is gone: the server died
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    await eventually(
      "the failure is logged",
      () => t.records.some((r) => /stopped working/.test(r.message)),
    );
  } finally {
    for (const conn of held) conn.close();
  }
  await eventually(
    "it listens again",
    () => t.records.some((r) => /works again/.test(r.message)),
  );
  const status = await ctl(["status", "-c", file]);
  assert.equal(status.code, 0, show(status));
  assert.match(status.stdout, /^a\s+RUNNING/m);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("tend stop waits for a process whose killTime is weeks; a --timeout over a day is bad usage", async () => {
  // Regression: the default wait (killTime + 5 s) went over the API's one-day
  // limit, so tend stop failed with a 400 for such a process.
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { a: { cmd: SLEEPER, killTime: 30 * 86400 } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("a", "ready");
  const tooLong = await ctl(["stop", "a", "--timeout", "25h", "-c", file]);
  assert.equal(tooLong.code, 64, show(tooLong));
  assert.match(tooLong.stderr, /at most a day/);
  const stop = await ctl(["stop", "a", "-c", file]);
  assert.equal(stop.code, 0, show(stop));
  assert.match(stop.stdout, /a: stopped/);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});
