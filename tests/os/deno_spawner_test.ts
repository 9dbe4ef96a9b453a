/**
 * The real spawner against real processes (`sh`, `sleep`, `id`): exit
 * statuses, output, process groups, the kill escalation, spawn failures.
 *
 * These wait for events with generous timeouts; no assertion depends on
 * how fast anything happens.
 */

import assert from "node:assert/strict";
import { ProcessMonitor } from "../../lib/core/monitor.ts";
import type { ChildEvents } from "../../lib/core/ports.ts";
import { SpawnError } from "../../lib/core/ports.ts";
import type { ExitStatus } from "../../lib/core/spec.ts";
import type { SpawnRequest } from "../../lib/core/ports.ts";
import { systemClock } from "../../lib/os/clock.ts";
import { DenoSpawner, type DenoSpawnerOptions } from "../../lib/os/deno_spawner.ts";
import { libcUnavailable } from "../../lib/os/libc.ts";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";
import { RecordingSink } from "../_fakes/fakes.ts";

const decoder = new TextDecoder();

/** Runs argv to its end with the real spawner; returns its output and status. */
function run(argv: string[], extra: { cwd?: string; uid?: number; gid?: number } = {}) {
  const out = { stdout: "", stderr: "", order: [] as string[] };
  return new Promise<
    { status: ExitStatus; stdout: string; stderr: string; order: string[] }
  >(
    (resolve, reject) => {
      const events: ChildEvents = {
        stdout: {
          write: (chunk) => void (out.stdout += decoder.decode(chunk)),
          end: () => void out.order.push("stdout-end"),
        },
        stderr: {
          write: (chunk) => void (out.stderr += decoder.decode(chunk)),
          end: () => void out.order.push("stderr-end"),
        },
        exit: (status) => {
          out.order.push("exit");
          resolve({ status, ...out });
        },
      };
      try {
        new DenoSpawner().spawn(req({ argv, ...extra }), events);
      } catch (error) {
        reject(error);
      }
    },
  );
}

/** A spawn request with the defaults a resolved spec has. */
function req(
  request: Partial<SpawnRequest> & Pick<SpawnRequest, "argv">,
): SpawnRequest {
  return {
    cwd: undefined,
    env: {},
    clearEnv: false,
    uid: undefined,
    gid: undefined,
    ...request,
  };
}

/**
 * A monitor over the real spawner. Disposing it (`await using`) kills
 * whatever is left, so a failing test leaves no process behind.
 */
function monitor(
  timing: Partial<{ killTime: number; minRestartDelay: number; threshold: number }>,
  options: DenoSpawnerOptions = {},
) {
  const sink = new RecordingSink();
  const pm = new ProcessMonitor({
    spawner: new DenoSpawner(options),
    sink,
    clock: systemClock,
    timing,
  });
  return {
    pm,
    sink,
    async [Symbol.asyncDispose]() {
      const stopped = pm.stopService();
      pm.killAll();
      await stopped;
    },
  };
}

Deno.test("an exit code is reported as a code", async () => {
  const result = await run(["sh", "-c", "exit 3"]);
  assert.deepEqual(result.status, { code: 3, signal: null });
});

Deno.test("death by a signal is reported as the signal", async () => {
  const result = await run(["sh", "-c", "kill -KILL $$"]);
  assert.deepEqual(result.status, { code: null, signal: "SIGKILL" });
});

Deno.test("death by a signal Deno cannot name (a real-time one) is reported as 128+N", async () => {
  const result = await run(["sh", "-c", "kill -40 $$"]);
  assert.deepEqual(result.status, { code: 168, signal: null });
});

Deno.test("both streams are read to the end before the exit is reported", async () => {
  const result = await run(["sh", "-c", "echo out; echo err >&2; printf tail"]);
  assert.equal(result.stdout, "out\ntail");
  assert.equal(result.stderr, "err\n");
  assert.equal(result.order.at(-1), "exit");
  assert.deepEqual(result.order.slice(0, 2).sort(), ["stderr-end", "stdout-end"]);
});

Deno.test("a log that holds output back delays the exit report, not the output", async () => {
  // Regression: the drain grace also ran while the reader waited on the
  // log, so a slow log saw the exit before the last lines of output.
  const spawner = new DenoSpawner({ drainGrace: 20 });
  const order: string[] = [];
  let bytes = 0;
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const exited = new Promise<void>((resolve) => {
    spawner.spawn(req({ argv: ["sh", "-c", "head -c 30000 /dev/zero"] }), {
      stdout: {
        // The first chunk (4 KiB, the first read) waits until the test lets
        // it go; the rest fits in the pipe, so the child exits meanwhile.
        write: (chunk) => {
          bytes += chunk.length;
          return bytes === chunk.length ? held : undefined;
        },
        end: () => void order.push("stdout-end"),
      },
      stderr: { write: () => {}, end: () => void order.push("stderr-end") },
      exit: () => {
        order.push("exit");
        resolve();
      },
    });
  });
  // Hold the first chunk well past the grace (and past the child's exit).
  await new Promise((resolve) => setTimeout(resolve, 300));
  release();
  await exited;
  assert.equal(bytes, 30000);
  assert.equal(order.at(-1), "exit");
});

/**
 * Runs a shell command whose stdout "log" holds every write until
 * `release()`; `calls` records the chunks written, each "end" and the
 * "exit"; `exited` resolves at the exit report.
 */
function heldOutput(command: string, options: DenoSpawnerOptions = {}) {
  const spawner = new DenoSpawner(options);
  let release!: () => void;
  const held = new Promise<void>((resolve) => release = resolve);
  const calls: string[] = [];
  let exit!: () => void;
  const exited = new Promise<void>((resolve) => exit = resolve);
  spawner.spawn(req({ argv: ["sh", "-c", command] }), {
    stdout: {
      write: (chunk) => {
        calls.push(decoder.decode(chunk));
        return held;
      },
      end: () => void calls.push("end"),
    },
    stderr: { write: () => {}, end: () => {} },
    exit: () => {
      calls.push("exit");
      exit();
    },
  });
  return { spawner, calls, release, exited };
}

Deno.test("idle() waits for output still being read", async () => {
  const { spawner, calls, release, exited } = heldOutput("echo last words");
  let idle = false;
  const waiting = spawner.idle(60_000).then(() => idle = true);
  // The "log" holds the output back for a while; idle() has to wait.
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(idle, false);
  release();
  await waiting;
  await exited;
  assert.deepEqual(calls, ["last words\n", "end", "exit"]);
});

Deno.test("idle() gives up at its limit and hands on partial lines", async () => {
  const { spawner, calls, release, exited } = heldOutput(
    "printf first; sleep 0.2; printf ' second'",
  );
  await eventually("the first write", () => calls.length > 0);
  await spawner.idle(50);
  assert.deepEqual(calls, ["first", "end"]);
  // Reading goes on, and the stream's own end still comes.
  release();
  await exited;
  assert.deepEqual(calls, ["first", "end", " second", "end", "exit"]);
});

Deno.test("at the drain limit, a stream the log holds back is neither cut nor left behind", async () => {
  // Regression: giving up at the limit ended the held stream (cutting its
  // line in two) and dropped it from idle(), losing its rest at tend's exit.
  const { spawner, calls, release, exited } = heldOutput(
    "printf AAA; sleep 0.1; printf 'BBB\\n'",
    { drainGrace: 20, drainLimit: 300 },
  );
  await exited; // reported at the limit, the first chunk still held
  assert.deepEqual(calls, ["AAA", "exit"]);
  const waiting = spawner.idle(60_000);
  release();
  await waiting;
  assert.deepEqual(calls, ["AAA", "exit", "BBB\n", "end"]);
});

Deno.test("once tend is leaving, a dead child's output the log holds back is read at once, and its exit comes after it", async () => {
  // Regression: at tend's exit, a log that took nothing (stdout not read)
  // held every exit report until the drain limit (10 s), and then the
  // exit came before the child's last output.
  for (const leaveFirst of [true, false]) {
    const { spawner, calls, release, exited } = heldOutput(
      "printf AAA; sleep 0.1; printf 'BBB\\n'",
      { drainGrace: 20, drainLimit: 60_000 },
    );
    if (leaveFirst) spawner.leaving();
    else {
      // The child has exited meanwhile, its exit waiting on the held log.
      await eventually("the first write", () => calls.length > 0);
      await new Promise((resolve) => setTimeout(resolve, 300));
      spawner.leaving();
    }
    await exited; // the log still holds "AAA"
    assert.deepEqual(
      calls,
      ["AAA", "BBB\n", "end", "exit"],
      `leaving first: ${leaveFirst}`,
    );
    await spawner.idle(60_000);
    release();
  }
});

Deno.test("once tend is leaving, what is read without waiting for the log is bounded", async () => {
  // 60 KB: the pipe takes it all, so the child exits with the log still
  // holding its first chunk back. Reads of 4 KiB: the bound is leaveBytes
  // and one read.
  const { spawner, calls, release, exited } = heldOutput(
    "head -c 60000 /dev/zero",
    { drainGrace: 20, drainLimit: 300, leaveBytes: 10_000, readSize: 4096 },
  );
  spawner.leaving();
  await exited; // at the drain limit: the rest is held back again
  const bytes = () => calls.filter((c) => c !== "end" && c !== "exit").join("").length;
  assert.ok(
    bytes() >= 10_000 && bytes() < 60_000,
    `read ${bytes()} bytes past the log`,
  );
  assert.ok(!calls.includes("end"));
  const idle = spawner.idle(60_000);
  release();
  await idle;
  assert.equal(bytes(), 60_000);
});

Deno.test({
  ...only(
    "a pipe held open by a process outside the group: the exit comes after the grace, with the partial line before it",
    NO_PS,
  ),
}, async () => {
  // Regression: once the monitor no longer ended the streams at an exit,
  // such a last line was never handed on.
  const dir = await Deno.makeTempDir();
  const pidFile = `${dir}/outsider.pid`;
  const order: string[] = [];
  let out = "";
  const spawner = new DenoSpawner({ drainGrace: 50 });
  let exitStatus: ExitStatus | null = null;
  spawner.spawn(
    req({
      argv: [
        "sh",
        "-c",
        // The leader waits until the outsider has left its group.
        `printf 'no newline'; setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & ` +
        `while [ ! -s ${pidFile} ]; do sleep 0.01; done; exit 3`,
      ],
    }),
    {
      stdout: {
        write: (chunk) => void (out += decoder.decode(chunk)),
        end: () => void order.push("stdout-end"),
      },
      stderr: { write: () => {}, end: () => void order.push("stderr-end") },
      exit: (status) => {
        exitStatus = status;
        order.push("exit");
      },
    },
  );
  try {
    await eventually("the exit", () => exitStatus !== null);
    assert.deepEqual(exitStatus, { code: 3, signal: null });
    assert.equal(out, "no newline");
    assert.deepEqual(order.slice(0, 2).sort(), ["stderr-end", "stdout-end"]);
    assert.equal(order[2], "exit");
    // On its way out, tend does not wait again for a stream it gave up on.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const first = await Promise.race([
      spawner.idle(60_000).then(() => "idle returned"),
      new Promise((resolve) =>
        timer = setTimeout(() => resolve("still waiting"), 5000)
      ),
    ]);
    clearTimeout(timer);
    assert.equal(first, "idle returned");
  } finally {
    const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
    if (pid > 0) Deno.kill(pid, "SIGKILL");
    await spawner.idle(10_000);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a child's stdin is /dev/null", async () => {
  const result = await run([
    "sh",
    "-c",
    "cat; readlink /proc/self/fd/0 || echo no-proc",
  ]);
  assert.match(result.stdout, /^\/dev\/null\n$|^no-proc\n$/);
  assert.deepEqual(result.status, { code: 0, signal: null });
});

Deno.test({ ...only("each child leads its own process group", NO_PS) }, async () => {
  const result = await run(["sh", "-c", "cut -d' ' -f5 /proc/$$/stat; echo $$"]);
  const [pgid, pid] = result.stdout.trim().split("\n");
  assert.equal(pgid, pid);
});

Deno.test("a missing executable is a SpawnError with the OS's reason", () => {
  assert.throws(
    () =>
      new DenoSpawner().spawn(req({ argv: ["/nonexistent/tend-test"] }), nullEvents()),
    (e: unknown) =>
      e instanceof SpawnError && /nonexistent\/tend-test/.test(e.message) &&
      /No such file or directory/.test(e.message),
  );
});

Deno.test("a file that is not executable is a SpawnError with the OS's reason", async () => {
  const file = await Deno.makeTempFile();
  try {
    assert.throws(
      () => new DenoSpawner().spawn(req({ argv: [file] }), nullEvents()),
      (e: unknown) => e instanceof SpawnError && /Permission denied/.test(e.message),
    );
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("a missing working directory is a SpawnError naming it", () => {
  assert.throws(
    () =>
      new DenoSpawner().spawn(
        req({ argv: ["sh"], cwd: "/nonexistent/dir" }),
        nullEvents(),
      ),
    (e: unknown) => e instanceof SpawnError && /\/nonexistent\/dir/.test(e.message),
  );
});

Deno.test("an empty argv is a SpawnError", () => {
  assert.throws(
    () => new DenoSpawner().spawn(req({ argv: [] }), nullEvents()),
    SpawnError,
  );
});

Deno.test(
  only(
    "uid and gid are applied when running as root",
    Deno.uid() === 0 ? null : "only root may switch users",
  ),
  async () => {
    const result = await run(["sh", "-c", "id -u; id -g"], { uid: 65534, gid: 65534 });
    assert.equal(result.stdout, "65534\n65534\n");
  },
);

/** Why supplementary groups cannot be tested here, or null. */
const NO_SETPRIV: string | null = Deno.uid() !== 0
  ? "only root may switch users"
  : await new Deno.Command("setpriv", {
    args: ["--version"],
    stdout: "null",
    stderr: "null",
  })
    .output().then((out) => out.success ? null : "needs util-linux setpriv")
    .catch(() => "needs util-linux setpriv");

Deno.test(
  only(
    "a child started with a uid (and a gid) as root keeps none of tend's supplementary groups",
    NO_SETPRIV,
  ),
  async () => {
    // tend itself gets supplementary groups (4, 27), which a child that
    // runs as another user must not keep: Rust's std calls setgroups(0)
    // when it switches users as root. (Deno's spawn calls it too, after
    // setsid, even without a uid: as root every child loses them, which
    // root does not need; as anyone else the call fails and changes nothing.)
    const spawner = new URL("../../lib/os/deno_spawner.ts", import.meta.url).href;
    const script = `import { DenoSpawner } from ${JSON.stringify(spawner)};
const spawner = new DenoSpawner();
const groups = (ids) => new Promise((resolve) => {
  let text = "";
  const out = { write: (c) => void (text += new TextDecoder().decode(c)), end() {} };
  spawner.spawn({
    argv: ["sh", "-c", "grep -E '^Groups:' /proc/self/status"],
    cwd: undefined, env: {}, clearEnv: false, uid: undefined, gid: undefined, ...ids,
  }, { stdout: out, stderr: out, exit: () => resolve(text.replace(/^Groups:/, "").trim()) });
});
console.log(JSON.stringify({
  tend: Deno.readTextFileSync("/proc/self/status").match(/^Groups:(.*)$/m)[1].trim(),
  both: await groups({ uid: 65534, gid: 65534 }),
  uid: await groups({ uid: 65534 }),
  gid: await groups({ gid: 65534 }),
}));`;
    const file = await Deno.makeTempFile({ prefix: "tend-groups-", suffix: ".ts" });
    await Deno.writeTextFile(file, script);
    const out = await new Deno.Command("setpriv", {
      args: ["--groups", "4,27", "--", Deno.execPath(), "run", "-A", file],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output().finally(() => Deno.remove(file));
    const text = decoder.decode(out.stdout);
    assert.equal(out.code, 0, text + decoder.decode(out.stderr));
    assert.deepEqual(JSON.parse(text), { tend: "4 27", both: "", uid: "", gid: "" });
  },
);

Deno.test(
  only(
    "a uid that is not permitted is a spawn failure the monitor backs off from",
    Deno.uid() !== 0 ? null : "root may switch to any uid, so nothing is refused",
  ),
  async () => {
    // Only root may switch users; as anyone else the OS refuses.
    await using m = monitor({ minRestartDelay: 0.05 });
    const { pm, sink } = m;
    pm.addProcess("as-root", { argv: ["true"], uid: 0 });
    pm.startService();
    const failed = await sink.next("spawn-failed");
    assert.match(failed.error, /not permitted|denied/i);
    assert.equal(pm.status()[0]!.state, "BACKOFF");
    await pm.stopService();
  },
);

Deno.test({
  ...only(
    "stopping a child that started grandchildren leaves no process behind",
    NO_PS,
  ),
}, async () => {
  await using m = monitor({ killTime: 10 });
  const { pm, sink } = m;
  pm.addProcess("tree", {
    argv: ["sh", "-c", "sh -c 'sleep 1000 & sleep 1000' & sleep 1000 & echo up; wait"],
  });
  const starting = sink.next("started");
  pm.startService();
  const started = await starting;
  await eventually(
    "the tree to grow",
    async () => (await groupMembers(started.pid)).length >= 4,
  );
  await pm.stopService();
  assert.deepEqual(await groupMembers(started.pid), []);
  assert.ok(!sink.types().includes("sigkill"), "SIGTERM alone was enough");
});

Deno.test(
  { ...only("a child that ignores SIGTERM is gone after SIGKILL", NO_PS) },
  async () => {
    await using m = monitor({ killTime: 0.3 });
    const { pm, sink } = m;
    pm.addProcess("stubborn", {
      argv: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
    });
    const starting = sink.next("started");
    pm.startService();
    const started = await starting;
    await eventually(
      "it to trap TERM",
      () => sink.messages.includes("ready"),
    );
    await pm.stopService();
    assert.deepEqual(sink.types("stubborn").slice(-3), [
      "stop-signal",
      "sigkill",
      "exited",
    ]);
    const exited = sink.events.find((e) => e.type === "exited");
    assert.deepEqual(exited && "status" in exited && exited.status, {
      code: null,
      signal: "SIGKILL",
    });
    assert.deepEqual(await groupMembers(started.pid), []);
  },
);

Deno.test({
  ...only(
    "a leader that dies on SIGTERM leaves a member that ignores it: the member is SIGKILLed at killTime",
    NO_PS,
  ),
}, async () => {
  await using m = monitor({ killTime: 0.5 });
  const { pm, sink } = m;
  pm.addProcess("split", {
    // The member says so once it ignores SIGTERM: counted before its trap
    // ran, it could still die of the stop signal.
    argv: [
      "sh",
      "-c",
      "(trap '' TERM; echo deaf; exec sleep 1000) & exec sleep 1000",
    ],
  });
  const starting = sink.next("started");
  pm.startService();
  const started = await starting;
  await eventually(
    "the member to ignore SIGTERM",
    () => sink.messages.includes("deaf"),
  );
  await eventually(
    "the member to start",
    async () => (await groupMembers(started.pid)).length === 2,
  );
  const stopped = pm.stopService();
  const exited = await sink.next("exited");
  assert.deepEqual(exited.status, { code: null, signal: "SIGTERM" });
  // The leader is gone, the member lives on until killTime.
  assert.equal((await groupMembers(started.pid)).length, 1);
  assert.equal(pm.status()[0]!.state, "STOPPING");
  await sink.next("sigkill");
  await stopped;
  assert.deepEqual(await groupMembers(started.pid), []);
});

Deno.test({
  ...only(
    "a child that exits leaving a member behind does not pile members up across restarts",
    NO_PS,
  ),
}, async () => {
  await using m = monitor({ killTime: 5, minRestartDelay: 0.01, threshold: 60 });
  const { pm, sink } = m;
  // At every start, count the live members of every earlier group.
  const pids: number[] = [];
  const checks: Promise<number[]>[] = [];
  const record = sink.event.bind(sink);
  sink.event = (event) => {
    if (event.type === "started") {
      // Members the monitor had not stopped would live on for killTime
      // (5 s), so a look a few milliseconds later still sees them.
      for (const pid of pids) checks.push(groupMembers(pid));
      pids.push(event.pid);
    }
    record(event);
  };
  pm.addProcess("leaky", { argv: ["sh", "-c", "sleep 1000 & exit 1"] });
  pm.startService();
  await eventually("four starts", () => pids.length >= 4);
  await pm.stopService();
  assert.deepEqual((await Promise.all(checks)).flat(), []);
  assert.ok(sink.types("leaky").filter((t) => t === "leftovers").length >= 3);
  for (const pid of pids) assert.deepEqual(await groupMembers(pid), []);
});

function nullEvents(): ChildEvents {
  const ignore = { write() {}, end() {} };
  return { stdout: ignore, stderr: ignore, exit() {} };
}

/** The `ps` state letter of each of `pids` that still exists, asked synchronously. */
function statesSync(pids: number[]): string[] {
  const out = new Deno.Command("ps", {
    args: ["-o", "stat=", "-p", pids.join(",")],
    stdout: "piped",
    stderr: "null",
  }).outputSync();
  return decoder.decode(out.stdout).split("\n").filter((l) => l.trim() !== "")
    .map((l) => l.trim()[0]!);
}

Deno.test({
  ...only(
    "200 children that exit at once on SIGTERM get no SIGKILL, however late Deno reports their exits",
    libcUnavailable() ?? NO_PS,
  ),
}, async () => {
  const count = 200;
  await using m = monitor({ killTime: 0.05 });
  const { pm, sink } = m;
  for (let i = 0; i < count; i++) pm.addProcess(`s${i}`, { argv: ["sleep", "1000"] });
  pm.startService();
  await eventually(
    "every child to start",
    () => sink.types().filter((t) => t === "started").length === count,
  );
  const pids = sink.events.flatMap((e) => e.type === "started" ? [e.pid] : []);
  const stopping = pm.stopService();
  const stoppedAt = performance.now();
  // Keep the event loop busy, as thousands of exits do, until every leader
  // is a zombie and every kill timer is due: Deno reports none of the exits
  // meanwhile (tokio reaps on this thread), so each timer fires first.
  const deadline = stoppedAt + 20_000;
  while (
    performance.now() < stoppedAt + 100 ||
    !statesSync(pids).every((state) => state === "Z")
  ) {
    assert.ok(performance.now() < deadline, "the children did not all exit");
  }
  await stopping;
  assert.deepEqual(sink.types().filter((t) => t === "sigkill"), []);
  assert.equal(sink.types().filter((t) => t === "exited").length, count);
});

Deno.test({
  ...only(
    "a kill of every group (a second Ctrl-C) after 200 children died unreported sends no SIGKILL",
    libcUnavailable() ?? NO_PS,
  ),
}, async () => {
  const count = 200;
  await using m = monitor({ killTime: 60 });
  const { pm, sink } = m;
  for (let i = 0; i < count; i++) {
    // Deaf to the stop signal, so that they die when the test says.
    pm.addProcess(`s${i}`, { argv: ["sh", "-c", "trap '' TERM; exec sleep 1000"] });
  }
  pm.startService();
  await eventually(
    "every child to start",
    () => sink.types().filter((t) => t === "started").length === count,
  );
  const pids = sink.events.flatMap((e) => e.type === "started" ? [e.pid] : []);
  const stopping = pm.stopService();
  // Without a turn of the event loop (so Deno reports no exit), every child
  // dies, and then every group is killed, as a second Ctrl-C does.
  for (const pid of pids) Deno.kill(-pid, "SIGKILL");
  const deadline = performance.now() + 20_000;
  while (!statesSync(pids).every((state) => state === "Z")) {
    assert.ok(performance.now() < deadline, "the children did not all die");
  }
  pm.killAll();
  assert.deepEqual(sink.types().filter((t) => t === "sigkill"), []);
  await stopping;
  assert.deepEqual(sink.types().filter((t) => t === "sigkill"), []);
  assert.equal(sink.types().filter((t) => t === "exited").length, count);
});

Deno.test({
  ...only(
    "without FFI, an exit Deno reports after the kill timer fired is met with a SIGKILL, and the stop still ends",
    NO_PS,
  ),
}, async () => {
  await using m = monitor({ killTime: 0.05 }, { peekExits: false });
  const { pm, sink } = m;
  pm.addProcess("s", { argv: ["sleep", "1000"] });
  const starting = sink.next("started");
  pm.startService();
  const started = await starting;
  const stopping = pm.stopService();
  const stoppedAt = performance.now();
  const deadline = stoppedAt + 20_000;
  while (performance.now() < stoppedAt + 100 || statesSync([started.pid])[0] !== "Z") {
    assert.ok(performance.now() < deadline, "the child did not exit");
  }
  await stopping;
  // The timer fired before the report: tend could not know, and sent
  // SIGKILL to a group that was gone (harmless, and logged).
  assert.deepEqual(sink.types("s"), ["started", "stop-signal", "sigkill", "exited"]);
});

Deno.test("without /proc, FFI or ps, the spawner warns once that it cannot tell members from zombies", async () => {
  const spawner = new URL("../../lib/os/deno_spawner.ts", import.meta.url).href;
  const script = `import { DenoSpawner } from ${JSON.stringify(spawner)};
const warnings = [];
const spawner = new DenoSpawner({ onWarning: (m) => warnings.push(m) });
const ignore = { write() {}, end() {} };
let exited;
const done = new Promise((resolve) => exited = resolve);
// The leader exits and leaves a member: tend must look at the group.
const child = spawner.spawn({
  argv: ["/bin/sh", "-c", "/bin/sleep 1000 & exit 0"],
  cwd: undefined, env: {}, clearEnv: false, uid: undefined, gid: undefined,
}, { stdout: ignore, stderr: ignore, exit: (status, alive) => exited(alive) });
const alive = await done;
child.signal("SIGKILL");
console.log(JSON.stringify({ alive, warnings }));`;
  const file = await Deno.makeTempFile({ prefix: "tend-noproc-", suffix: ".ts" });
  await Deno.writeTextFile(file, script);
  // No --allow-ffi, no --allow-all, and no ps on PATH.
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "--allow-run", file],
    env: { PATH: "/nonexistent" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output().finally(() => Deno.remove(file));
  const text = decoder.decode(out.stdout);
  assert.equal(out.code, 0, text + decoder.decode(out.stderr));
  const { alive, warnings } = JSON.parse(text);
  assert.equal(alive, true, "the member counts as alive");
  assert.equal(warnings.length, 1);
  assert.match(warnings[0], /cannot tell live process-group members from zombies/);
});
