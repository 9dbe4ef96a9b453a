/**
 * End-to-end tests of tend against what the OS can do to it: signals
 * whose default action would end it (SIGUSR1 and Deno's debugger port,
 * SIGQUIT and the rest), real stops of many children, leftover groups.
 *
 * `main.ts` runs as a child with the permissions of the `start` task and
 * gets real signals. Tests that make a real inspector listen run tend in a
 * private network namespace (root, `unshare`, `nsenter`, `ip`), so that
 * nothing else on this machine can reach it nor be mistaken for it.
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { IGNORED_SIGNALS, STOP_SIGNALS } from "../../lib/cli/signals.ts";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";
import {
  assertNothingLeft,
  eventsOf,
  MAIN,
  PERMISSIONS,
  readLines,
  shellQuote,
  SLEEPER,
  tempDir,
  Tend,
  tend,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";

const RACER = fileURLToPath(new URL("../_fakes/inspector_racer.ts", import.meta.url));

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Whether `program --version` runs. */
async function has(program: string, arg = "--version"): Promise<boolean> {
  try {
    return (await new Deno.Command(program, {
      args: [arg],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}

/** Why tend cannot run in a private network namespace here, or null. */
const NO_NETNS: string | null = Deno.uid() !== 0
  ? "needs root for a private network namespace"
  : !(await has("unshare")) || !(await has("nsenter")) || !(await has("ip", "-V"))
  ? "needs unshare, nsenter and ip (util-linux, iproute2)"
  : (await new Deno.Command("unshare", {
      args: ["-n", "ip", "link", "set", "lo", "up"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output()).success
  ? null
  : "cannot create a network namespace here";

/**
 * Starts `main.ts` with `args`, as {@linkcode tend} does; with `netns`, in
 * a private network namespace with only its loopback up (tend keeps the
 * pid `unshare` was spawned with: each step execs the next).
 */
function tendIn(
  args: string[],
  { netns, permissions = PERMISSIONS, deno = [] }: {
    netns: boolean;
    permissions?: string[];
    deno?: string[];
  },
): Tend {
  const argv = [Deno.execPath(), "run", ...deno, ...permissions, MAIN, ...args];
  const [program, ...rest] = netns
    ? ["unshare", "-n", "sh", "-c", 'ip link set lo up && exec "$@"', "sh", ...argv]
    : argv;
  return new Tend(
    new Deno.Command(program!, {
      args: rest,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
}

/** The racer's summary line. */
interface RacerSummary {
  attempts: number;
  durationMs: number;
  maxGapMs: number;
  accepted: number;
  answers: string[];
  targets: string[];
}

/**
 * A local user racing for an inspector on 127.0.0.1:9229 (see
 * inspector_racer.ts), in the network namespace of `pid` when given.
 */
class Racer implements AsyncDisposable {
  attempts = 0;
  /** Every `accepted` line, as it came. */
  readonly accepted: string[] = [];
  summary: RacerSummary | null = null;
  #process: Deno.ChildProcess;
  #done: Promise<unknown>;
  #started = false;

  constructor(netnsOf: number | null) {
    const argv = [Deno.execPath(), "run", "--allow-net=127.0.0.1:9229", RACER];
    const [program, ...args] = netnsOf === null
      ? argv
      : ["nsenter", "-t", String(netnsOf), "-n", "--", ...argv];
    this.#process = new Deno.Command(program!, {
      args,
      stdin: "piped",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    this.#done = Promise.all([
      readLines(this.#process.stdout, (line) => {
        if (line === "started") this.#started = true;
        else if (line.startsWith("attempts ")) this.attempts = Number(line.slice(9));
        else if (line.startsWith("accepted ")) this.accepted.push(line);
        else if (line.startsWith("{")) this.summary = JSON.parse(line);
      }),
      this.#process.status,
    ]);
  }

  /** Waits until the racer runs. */
  started(): Promise<void> {
    return until("the racer to start", () => this.#started);
  }

  /** Waits until it has made `n` more attempts than it had made so far. */
  more(n: number): Promise<void> {
    const from = this.attempts;
    return until(`${n} more racer attempts`, () => this.attempts >= from + n);
  }

  /** Stops it and returns its summary. */
  async stop(): Promise<RacerSummary> {
    await this.#process.stdin.close().catch(() => {});
    await this.#done;
    assert.ok(this.summary, "the racer printed no summary");
    return this.summary;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#process.stdin.close().catch(() => {});
    await this.#done;
  }
}

/** Polls `test` every 5 ms; fails after TIMEOUT. */
async function until(what: string, test: () => boolean): Promise<void> {
  const deadline = performance.now() + TIMEOUT;
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/** Whether something accepts TCP connections on 127.0.0.1:9229 here. */
async function port9229Taken(): Promise<boolean> {
  try {
    (await Deno.connect({ hostname: "127.0.0.1", port: 9229 })).close();
    return true;
  } catch {
    return false;
  }
}

const STORM_SIGNALS = 40;
const STORM_GAP_MS = 100;

Deno.test(
  "SIGUSR1 storm: no inspector ever answers a local racer, and tend runs on",
  async () => {
    // Without a private network namespace, the racer shares 127.0.0.1:9229
    // with the whole machine: anything else listening there spoils the run.
    if (NO_NETNS !== null && await port9229Taken()) {
      throw new Error("something already listens on 127.0.0.1:9229; cannot test");
    }
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { up: { cmd: SLEEPER } } }),
    );
    await using t = tendIn(["run", "--log-format", "json", file], {
      netns: NO_NETNS === null,
    });
    await t.line(/ starting 1 process/);
    const startedAt = performance.now();
    await using racer = new Racer(NO_NETNS === null ? t.pid : null);
    await racer.started();
    for (let i = 0; i < STORM_SIGNALS; i++) {
      // Deno subscribes to SIGUSR1 500 ms after it starts: the second half
      // of the storm comes well after that, whatever the gaps were.
      if (i === STORM_SIGNALS / 2) {
        await sleep(Math.max(0, 1000 - (performance.now() - startedAt)));
      }
      await sleep(Math.random() * STORM_GAP_MS);
      t.signal("SIGUSR1");
      // Whatever the gap, the racer tries a few times before the next one.
      await racer.more(10);
      assert.deepEqual(
        racer.accepted,
        [],
        `after SIGUSR1 #${i + 1}\n${t.transcript()}`,
      );
    }
    // An inspector would open within milliseconds of its signal: give the
    // racer a few hundred more tries.
    await racer.more(300);
    const from = t.lines.length;
    t.signal("SIGUSR2");
    const status = await t.record(
      "a status report",
      (r) => r.event === "status" && r.process === "up",
      from,
    );
    assert.equal(status.record.state, "RUNNING");
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    const summary = await racer.stop();
    // deno-lint-ignore no-console -- how hard the racer tried is worth seeing
    console.log(
      `${STORM_SIGNALS} SIGUSR1 ${
        NO_NETNS === null ? "(private netns)" : "(shared netns)"
      }; ` +
        `racer: ${summary.attempts} attempts in ${summary.durationMs} ms ` +
        `(longest gap ${summary.maxGapMs} ms), ${summary.accepted} accepted`,
    );
    assert.equal(
      summary.accepted,
      0,
      `an inspector answered: ${JSON.stringify(summary)}\n${t.transcript()}`,
    );
    assert.doesNotMatch(t.stderr, /Debugger listening|inspector/i, t.transcript());
    assert.ok(
      t.recordsOf(null).every((r) => r.level !== "warn"),
      `tend warned:\n${t.transcript()}`,
    );
    assert.deepEqual(eventsOf(t, "up"), ["started", "status", "stop-signal", "exited"]);
  },
);

Deno.test(
  "SIGUSR1 to a waiting client command (tend logs -f) opens no inspector either",
  async () => {
    // Regression: only tend run guarded SIGUSR1; a root `tend logs -f`,
    // `tend shutdown` or a long `tend stop` got one, and a local user ran
    // code as root through it.
    if (NO_NETNS !== null && await port9229Taken()) {
      throw new Error("something already listens on 127.0.0.1:9229; cannot test");
    }
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          tick: { cmd: ["sh", "-c", "while :; do echo tick; sleep 0.2; done"] },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("tick", "tick");
    await using client = tendIn(["logs", "-f", "-c", file], {
      netns: NO_NETNS === null,
    });
    await client.line(/tick/);
    const startedAt = performance.now();
    await using racer = new Racer(NO_NETNS === null ? client.pid : null);
    await racer.started();
    for (let i = 0; i < 20; i++) {
      // Past Deno's own 500 ms, as in the storm above.
      if (i === 10) await sleep(Math.max(0, 1000 - (performance.now() - startedAt)));
      await sleep(Math.random() * STORM_GAP_MS);
      Deno.kill(client.pid, "SIGUSR1");
      await racer.more(10);
      assert.deepEqual(
        racer.accepted,
        [],
        `after SIGUSR1 #${i + 1}\n${client.transcript()}`,
      );
    }
    await racer.more(300);
    const summary = await racer.stop();
    assert.equal(summary.accepted, 0, JSON.stringify(summary));
    // It still follows: a new line reaches it.
    const seen = client.lines.length;
    await client.line(/tick/, seen);
    Deno.kill(client.pid, "SIGINT");
    await client.exit();
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test(
  only(
    "the racer reaches the inspector of an unguarded Deno that gets SIGUSR1, so its silence means something",
    NO_NETNS,
  ),
  async () => {
    // A Deno program that only listens for SIGUSR1, so that it survives
    // it: what tend was without the guard.
    await using child = new Tend(
      new Deno.Command("unshare", {
        args: [
          "-n",
          "sh",
          "-c",
          'ip link set lo up && exec "$@"',
          "sh",
          Deno.execPath(),
          "eval",
          "Deno.addSignalListener('SIGUSR1', () => {}); " +
          "console.log(` starting 1 process (pid ${Deno.pid})`); setTimeout(() => {}, 60000)",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }),
    );
    await child.line(/ starting 1 process/);
    await using racer = new Racer(child.pid);
    await racer.started();
    // Deno subscribes to SIGUSR1 500 ms after start; until then the
    // signal does nothing but wake the listener. Ask until it answers.
    const deadline = performance.now() + TIMEOUT;
    while (racer.accepted.length === 0) {
      assert.ok(performance.now() < deadline, "the racer never got in");
      child.signal("SIGUSR1");
      await sleep(100);
    }
    const summary = await racer.stop();
    assert.match(summary.answers[0] ?? "", /"Browser":\s*"Deno/);
    child.signal("SIGKILL");
    await child.exit();
  },
);

Deno.test(
  only("an inspector asked for with --inspect still works under the guard", NO_NETNS),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { up: { cmd: SLEEPER } } }),
    );
    await using t = tendIn(["run", "--log-format", "json", file], {
      netns: true,
      deno: ["--inspect=127.0.0.1:9339"],
    });
    await t.said("up", "ready");
    // SIGUSR1 changes nothing: the inspector exists already (Deno would
    // not open another), and the guard made the signal a no-op.
    await sleep(700);
    t.signal("SIGUSR1");
    const from = t.lines.length;
    t.signal("SIGUSR2");
    await t.record("a status report", (r) => r.event === "status", from);
    const curl = (port: number) =>
      new Deno.Command("nsenter", {
        args: [
          "-t",
          String(t.pid),
          "-n",
          "--",
          "curl",
          "-sS",
          "-m",
          "5",
          `http://127.0.0.1:${port}/json/version`,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "null",
      }).output();
    const asked = await curl(9339);
    assert.ok(asked.success, t.transcript());
    assert.match(new TextDecoder().decode(asked.stdout), /"Browser":\s*"Deno/);
    assert.equal((await curl(9229)).success, false, "nothing listens on 9229");
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.ok(t.recordsOf(null).every((r) => r.level !== "warn"), t.transcript());
  },
);

Deno.test(
  only(
    "without --allow-ffi tend says at start that SIGUSR1 is unsafe, and survives it",
    NO_NETNS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { up: { cmd: SLEEPER } } }),
    );
    await using t = tendIn(["run", "--log-format", "json", file], {
      netns: true,
      permissions: PERMISSIONS.filter((flag) => !flag.startsWith("--allow-ffi")),
    });
    const warning = await t.record(
      "the warning",
      (r) => r.level === "warn" && r.message.startsWith("SIGUSR1 is unsafe"),
    );
    assert.match(warning.record.message, /--allow-ffi/);
    await t.said("up", "ready");
    // Deno opens the port only once its SIGUSR1 task runs, 500 ms in.
    await t.signalUntil(
      "SIGUSR1",
      "the inspector closed",
      (r) => r.process === null && r.message.startsWith("SIGUSR1: Deno opened"),
    );
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(eventsOf(t, "up"), ["started", "stop-signal", "exited"]);
  },
);

/** A config with one process whose group has a grandchild. */
const TREE = yaml({
  processes: {
    // The inner shell has work left after sleep, so it cannot exec it:
    // that sleep is tend's grandchild.
    tree: { cmd: ["sh", "-c", `sh -c "sleep 1000; true" & echo ready; wait`] },
  },
});

Deno.test(
  only(
    "SIGQUIT, SIGPWR, SIGXCPU, SIGABRT and SIGBUS stop everything as SIGTERM does: exit 0, no child left",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const signals = STOP_SIGNALS.filter((s) => s !== "SIGTERM" && s !== "SIGINT");
    assert.deepEqual(signals, ["SIGQUIT", "SIGPWR", "SIGXCPU", "SIGABRT", "SIGBUS"]);
    await Promise.all(signals.map(async (signal) => {
      // A file each: one tend per config (the instance lock).
      const file = await dir.write(`${signal}.yaml`, TREE);
      await using t = tend(["run", "--log-format", "json", file]);
      const tree = (await t.event("tree", "started")).record.pid!;
      await t.said("tree", "ready");
      await eventually(
        "the tree to grow",
        async () => (await groupMembers(tree)).length >= 3,
        TIMEOUT,
      );
      t.signal(signal);
      assert.equal(await t.exit(), 0, `${signal}\n${t.transcript()}`);
      assert.ok(
        t.recordsOf(null).some((r) => r.message.startsWith(`${signal}: stopping`)),
        t.transcript(),
      );
      assert.deepEqual(eventsOf(t, "tree"), ["started", "stop-signal", "exited"]);
      await assertNothingLeft(t);
    }));
  },
);

Deno.test(
  only("a second SIGQUIT, or a second SIGBUS, kills every group at once", NO_PS),
  async () => {
    await using dir = await tempDir();
    const config = yaml({
      // Far longer than any wait here: only the second signal can end it in time.
      killTime: 60,
      processes: {
        stubborn: {
          cmd: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
        },
      },
    });
    // Rust's std resets SIGBUS to its default action after one it did not
    // cause: without tend putting its handler back, the second would end
    // tend and leave the child behind.
    await Promise.all((["SIGQUIT", "SIGBUS"] as const).map(async (signal) => {
      // A file each: one tend per config (the instance lock).
      const file = await dir.write(`${signal}.yaml`, config);
      await using t = tend(["run", "--log-format", "json", file]);
      await t.said("stubborn", "ready");
      t.signal(signal);
      const stopping = await t.event("stubborn", "stop-signal");
      await t.signalUntil(
        signal,
        `a ${signal} taken for the second`,
        (r) => r.process === null && r.message.startsWith(`${signal} again`),
        stopping.index,
      );
      assert.equal(await t.exit(), 0, `${signal}\n${t.transcript()}`);
      assert.deepEqual(eventsOf(t, "stubborn"), [
        "started",
        "stop-signal",
        "sigkill",
        "exited",
      ]);
      await assertNothingLeft(t);
    }));
  },
);

Deno.test(
  only(
    "SIGALRM, SIGVTALRM, SIGPROF, SIGSTKFLT, SIGIO, SIGTRAP, SIGSYS, SIGXFSZ and the real-time signals end nothing",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write("procs.yaml", TREE);
    await using t = tend(["run", "--log-format", "json", file]);
    const tree = (await t.event("tree", "started")).record.pid!;
    await t.said("tree", "ready");
    for (const signal of IGNORED_SIGNALS) {
      const from = t.lines.length;
      t.signal(signal);
      await t.record(
        `${signal} logged`,
        (r) =>
          r.process === null &&
          r.message === `${signal}: ignored (it means nothing to tend)`,
        from,
      );
    }
    // SIGPOLL is SIGIO's other name.
    const io = t.lines.length;
    t.signal("SIGPOLL");
    await t.record(
      "SIGPOLL logged as SIGIO",
      (r) => r.message.startsWith("SIGIO: "),
      io,
    );
    // SIGXFSZ is logged once, however many come: a log that fails for
    // being too big would bring more.
    for (let i = 0; i < 3; i++) t.signal("SIGXFSZ");
    await t.record("SIGXFSZ logged", (r) => r.message.startsWith("SIGXFSZ: "));
    // Deno cannot listen for the real-time signals; tend makes them no-ops.
    const rt = await new Deno.Command("sh", {
      args: [
        "-c",
        `kill -s RTMIN ${t.pid} && kill -s RTMAX ${t.pid} && kill -40 ${t.pid}`,
      ],
    }).output();
    assert.ok(rt.success);
    const from = t.lines.length;
    t.signal("SIGUSR2");
    const status = await t.record(
      "the status of tree",
      (r) => r.event === "status" && r.process === "tree",
      from,
    );
    assert.equal(status.record.state, "RUNNING");
    assert.equal(status.record.pid, tree);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.equal(
      t.recordsOf(null).filter((r) => r.message.startsWith("SIGXFSZ: ")).length,
      1,
    );
    assert.equal(
      t.recordsOf(null).filter((r) => r.message.startsWith("SIGIO: ")).length,
      2,
      "SIGPOLL is SIGIO",
    );
    assert.deepEqual(eventsOf(t, "tree"), [
      "started",
      "status",
      "stop-signal",
      "exited",
    ]);
    await assertNothingLeft(t);
  },
);

Deno.test("a child killed by a real-time signal is an exit like any other, not tend's failure", async () => {
  await using t = tend([
    "run",
    "--log-format",
    "json",
    "--restart",
    "never",
    "--",
    "sh",
    "-c",
    "kill -40 $$",
  ]);
  // As a shell reports it: 128 + 40.
  assert.equal(await t.exit(), 168, t.transcript());
  assert.equal(t.recordsOf("sh", "exited")[0]?.code, 168, t.transcript());
  assert.ok(t.records.every((r) => r.level !== "error"), t.transcript());
});

Deno.test("a descriptor tend's parent left open reaches no child, one started as another user neither", async () => {
  // Regression: `tend run ... 7<secret` gave fd 7 to every child, user:
  // children too, and a parent waiting on such a pipe waited for them all.
  await using dir = await tempDir();
  const secret = await dir.write("secret", "TOP-SECRET\n");
  await Deno.chmod(secret, 0o600);
  const probe =
    "if cat <&7 2>/dev/null; then echo LEAKED; else echo closed; fi; exec sleep 1000";
  const processes: Record<string, unknown> = { mine: { shell: probe } };
  if (Deno.uid() === 0) processes.other = { shell: probe, user: "nobody", cwd: "/" };
  const file = await dir.write("procs.yaml", yaml({ processes }));
  const argv = [
    Deno.execPath(),
    "run",
    ...PERMISSIONS,
    MAIN,
    "run",
    "--log-format",
    "json",
    file,
  ]
    .map(shellQuote).join(" ");
  await using t = new Tend(
    new Deno.Command("sh", {
      args: ["-c", `exec 7<${shellQuote(secret)}; exec ${argv}`],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  for (const name of Object.keys(processes)) await t.said(name, "closed");
  assert.ok(!t.lines.some((l) => /LEAKED|TOP-SECRET/.test(l)), t.transcript());
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});
