/**
 * End-to-end tests: `main.ts` runs as a child process with the permissions
 * of the `start` task, supervising real children, driven by real OS
 * signals sent to its pid, and judged by what it prints.
 *
 * Every wait is for a log line or an exit, with a generous timeout; no
 * assertion depends on how fast anything happens. They need `sh`, `ps`
 * (tests that inspect process groups skip without it) and, for the
 * terminal checks, util-linux `script`.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";
import {
  assertNothingLeft,
  eventsOf,
  EXAMPLE,
  type LogRecord,
  MAIN,
  NO_SCRIPT,
  PERMISSIONS,
  pidOf,
  shellQuote,
  SLEEPER,
  tempDir,
  Tend,
  tend,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";

Deno.test(
  only(
    "SIGTERM stops everything and tend exits 0 with no process left behind, grandchildren included",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          // The inner shell has work left after sleep, so it cannot exec it:
          // that sleep is tend's grandchild.
          tree: { cmd: ["sh", "-c", `sh -c "sleep 1000; true" & sleep 1000 & wait`] },
          plain: { cmd: SLEEPER },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    const tree = (await t.event("tree", "started")).record.pid!;
    await t.said("plain", "ready");
    // The outer shell, the inner shell, its sleep and the other sleep.
    await eventually(
      "the tree to grow",
      async () => (await groupMembers(tree)).length >= 4,
      TIMEOUT,
    );
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    for (const name of ["tree", "plain"]) {
      assert.deepEqual(eventsOf(t, name), ["started", "stop-signal", "exited"]);
    }
    assert.equal(t.started.length, 2);
    await assertNothingLeft(t);
  },
);

Deno.test(
  only(
    "a child ignoring SIGTERM is killed after killTime and tend exits 0 with nothing left",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        killTime: 1,
        processes: {
          stubborn: {
            cmd: ["sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"],
          },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("stubborn", "ready");
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(eventsOf(t, "stubborn"), [
      "started",
      "stop-signal",
      "sigkill",
      "exited",
    ]);
    assert.equal(t.recordsOf("stubborn", "exited")[0]!.signal, "SIGKILL");
    await assertNothingLeft(t);
  },
);

Deno.test(
  only("a second SIGINT ends everything at once", NO_PS),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        // Far longer than any wait here: only the second SIGINT can end it in time.
        killTime: 60,
        processes: {
          stubborn: {
            cmd: [
              "sh",
              "-c",
              "trap '' TERM INT; echo ready; while :; do sleep 1; done",
            ],
          },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.said("stubborn", "ready");
    t.signal("SIGINT");
    const stopping = await t.event("stubborn", "stop-signal");
    // tend takes a repeat that follows within a few milliseconds for the
    // same Ctrl-C (`deno task` delivers one twice), so send SIGINT again
    // until tend takes one for the second.
    await t.signalUntil(
      "SIGINT",
      "a SIGINT taken for the second",
      (r) => r.process === null && r.message.startsWith("SIGINT again"),
      stopping.index,
    );
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(eventsOf(t, "stubborn"), [
      "started",
      "stop-signal",
      "sigkill",
      "exited",
    ]);
    assert.equal(t.recordsOf("stubborn", "exited")[0]!.signal, "SIGKILL");
    await assertNothingLeft(t);
  },
);

Deno.test(
  only(
    "SIGHUP reload keeps an unchanged process's pid, restarts a changed one, starts an added one and stops a removed one",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          keep: { cmd: SLEEPER },
          change: { cmd: SLEEPER },
          gone: { cmd: SLEEPER },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    for (const name of ["keep", "change", "gone"]) await t.said(name, "ready");
    const keep = pidOf(t, "keep");
    const change = pidOf(t, "change");
    await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          keep: { cmd: SLEEPER },
          change: { cmd: ["sh", "-c", "echo changed; exec sleep 1000"] },
          added: { cmd: SLEEPER },
        },
      }),
    );
    t.signal("SIGHUP");
    const reloaded = await t.record(
      "the reload",
      (r) => r.process === null && r.message.startsWith("reloaded "),
    );
    assert.match(
      reloaded.record.message,
      /: 1 added, 1 removed, 1 changed, 1 unchanged$/,
    );
    const from = reloaded.index;
    const restarted = await t.event("change", "started", from);
    await t.said("change", "changed", from);
    await t.said("added", "ready", from);
    await t.event("gone", "exited", from);
    assert.notEqual(restarted.record.pid, change);
    // The new child starts only once the old one's group is gone.
    assert.deepEqual(await groupMembers(change), []);
    assert.deepEqual(await groupMembers(keep), [keep], "keep still runs, same pid");
    assert.deepEqual(eventsOf(t, "keep"), ["started"], "keep was not touched");

    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(eventsOf(t, "keep"), ["started", "stop-signal", "exited"]);
    assert.deepEqual(eventsOf(t, "gone"), ["started", "stop-signal", "exited"]);
    const starts = (name: string) => t.recordsOf(name, "started").length;
    assert.deepEqual(
      ["keep", "change", "gone", "added"].map(starts),
      [1, 2, 1, 1],
      "the removed process was not restarted",
    );
    await assertNothingLeft(t);
  },
);

Deno.test(
  only("an invalid reload keeps everything running", NO_PS),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { a: { cmd: SLEEPER }, b: { cmd: SLEEPER } } }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    for (const name of ["a", "b"]) await t.said(name, "ready");
    const pids = [pidOf(t, "a"), pidOf(t, "b")];
    await dir.write(
      "procs.yaml",
      [
        "processes:",
        "  a:",
        "    cmd: [sh, -c, 'echo ready; exec sleep 1000'", // no closing ]
        "  b:",
        '    shell: "unterminated',
        "",
      ].join("\n"),
    );
    t.signal("SIGHUP");
    const failed = await t.record(
      "the reload to fail",
      (r) => r.process === null && r.message.startsWith("reload failed"),
    );
    assert.equal(
      failed.record.message,
      "reload failed, keeping the running config: 2 problems",
    );
    assert.equal(failed.record.level, "error");
    for (const where of ["4:3", "6:1"]) {
      await t.record(
        `a problem at ${where}`,
        (r) => r.level === "error" && r.message.startsWith(`${file}:${where}: `),
        failed.index,
      );
    }
    assert.deepEqual(t.started, pids, "nothing was restarted");
    for (const pid of pids) assert.deepEqual(await groupMembers(pid), [pid]);

    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(t.started, pids);
    await assertNothingLeft(t);
  },
);

Deno.test(
  only(
    "a reload that removes the last process that could still run lets tend finish",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          once: { shell: "echo done", restart: "never" },
          b: { cmd: SLEEPER },
        },
      }),
    );
    await using t = tend(["run", "--log-format", "json", file]);
    await t.event("once", "not-restarting");
    await t.said("b", "ready");
    await dir.write(
      "procs.yaml",
      yaml({ processes: { once: { shell: "echo done", restart: "never" } } }),
    );
    t.signal("SIGHUP");
    // b is stopped and forgotten; once has finished for good: nothing is left.
    assert.equal(await t.exit(), 0, t.transcript());
    await t.record(
      "the finish",
      (r) => r.process === null && r.message === "every process has finished; exiting",
    );
    await assertNothingLeft(t);
  },
);

Deno.test("processes named like Object.prototype members reload like any other", async () => {
  // Regression: reload looked names up with `in` and indexing, so removing
  // "constructor" kept it running and adding "toString" crashed tend.
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: { ["__proto__"]: { cmd: SLEEPER }, constructor: { cmd: SLEEPER } },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  for (const name of ["__proto__", "constructor"]) await t.said(name, "ready");
  await dir.write(
    "procs.yaml",
    yaml({
      processes: { ["__proto__"]: { cmd: SLEEPER }, toString: { cmd: SLEEPER } },
    }),
  );
  t.signal("SIGHUP");
  const reloaded = await t.record(
    "the reload",
    (r) => r.process === null && r.message.startsWith("reloaded "),
  );
  assert.match(
    reloaded.record.message,
    /: 1 added, 1 removed, 0 changed, 1 unchanged$/,
  );
  await t.said("toString", "ready", reloaded.index);
  await t.event("constructor", "exited", reloaded.index);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.deepEqual(eventsOf(t, "__proto__"), ["started", "stop-signal", "exited"]);
});

Deno.test("SIGUSR2 logs every process's state without touching any", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      minRestartDelay: 60,
      processes: {
        up: { cmd: SLEEPER },
        down: { shell: "exit 4", threshold: 60 },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("up", "ready");
  await t.event("down", "restart-scheduled");
  const from = t.lines.length;
  t.signal("SIGUSR2");
  const up = await t.record(
    "the status of up",
    (r) => r.event === "status" && r.process === "up",
    from,
  );
  const down = await t.record(
    "the status of down",
    (r) => r.event === "status" && r.process === "down",
    from,
  );
  assert.equal(up.record.state, "RUNNING");
  assert.equal(up.record.pid, pidOf(t, "up"));
  assert.equal(down.record.state, "BACKOFF");
  assert.equal(down.record.code, 4);
  assert.match(
    down.record.message,
    /^\[down\] BACKOFF, starting in [\dms.]+, 0 restarts, last exit code 4$/,
  );
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.deepEqual(t.recordsOf("up", "started").length, 1);
});

/** Whether something accepts TCP connections on 127.0.0.1:`port` (asked of bash). */
async function listening(port: number): Promise<boolean> {
  const out = await new Deno.Command("bash", {
    args: ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

Deno.test("SIGUSR1 opens no debugger port and stops nothing", async () => {
  // Deno answers SIGUSR1 by opening a V8 inspector on 127.0.0.1:9229, as
  // Node does; tend makes the signal a no-op (tests/cli/os_hardening_test.ts
  // races for the port while it is stormed with SIGUSR1).
  if (await listening(9229)) {
    throw new Error("something already listens on 127.0.0.1:9229; cannot test");
  }
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { up: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("up", "ready");
  // Deno arms its SIGUSR1 handler 500 ms after start; wait past that.
  await new Promise((resolve) => setTimeout(resolve, 700));
  t.signal("SIGUSR1");
  // tend still answers, and nothing listens.
  const from = t.lines.length;
  t.signal("SIGUSR2");
  await t.record("a status report", (r) => r.event === "status", from);
  assert.equal(await listening(9229), false, "nothing listens on 9229");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.doesNotMatch(t.stderr, /Debugger listening/, t.transcript());
  assert.deepEqual(t.recordsOf(null).filter((r) => r.level === "warn"), []);
  assert.deepEqual(eventsOf(t, "up"), ["started", "status", "stop-signal", "exited"]);
});

Deno.test("tend check and tend run name every problem of a broken file with its line and column, and exit 78", async () => {
  await using dir = await tempDir();
  await dir.write(
    "bad.yaml",
    `threshold: -1
minRestartDelay: 10s
maxRestartDelay: 5s
processes:
  marker:
    cmd: [touch, started-marker]
  web:
    cmd: [sh, -c, "exec sleep 1000"]
    restrat: always
  api:
    cmd: []
  both:
    cmd: [sh]
    shell: exit 0
  sig:
    cmd: [sh]
    stopSignal: SIGFOO
    killTime: soon
  dup:
    shell: exit 0
    shell: exit 1
  "bad name":
    shell: exit 0
`,
  );
  const expected = [
    "bad.yaml:1:12: threshold: must not be negative",
    "bad.yaml:2:18: minRestartDelay: must not be above maxRestartDelay (5s)",
    'bad.yaml:9:5: processes.web.restrat: unknown key "restrat" (did you mean "restart"?)',
    "bad.yaml:11:10: processes.api.cmd: must not be empty",
    "bad.yaml:12:3: processes.both: has both cmd and shell; use one",
    'bad.yaml:17:17: processes.sig.stopSignal: unknown signal "SIGFOO"; use a name like SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGKILL',
    "bad.yaml:18:15: processes.sig.killTime: must be a number of seconds or a string like 500ms, 5s, 2m, 1h",
    'bad.yaml:21:5: processes.dup: duplicate key "shell"',
    'bad.yaml:22:3: processes["bad name"]: process name must use only letters, digits, ".", "_" and "-"',
  ];
  for (const command of ["check", "run"]) {
    await using t = tend([command, "bad.yaml"], { cwd: dir.path });
    assert.equal(await t.exit(), 78, t.transcript());
    const problems = t.stderr.split("\n").filter((line) =>
      line.startsWith("bad.yaml:")
    );
    for (const line of expected) {
      assert.ok(problems.includes(line), `${line}\n${t.transcript()}`);
    }
    assert.equal(problems.length, expected.length, t.transcript());
    assert.deepEqual(t.lines, [], `${command} printed nothing on stdout`);
  }
  await assert.rejects(
    Deno.stat(join(dir.path, "started-marker")),
    Deno.errors.NotFound,
    "run started nothing",
  );

  await using t = tend(["check", EXAMPLE]);
  assert.equal(await t.exit(), 0, t.transcript());
  assert.match(t.lines[0]!, /: valid, \d+ processes$/);
});

Deno.test("a missing executable is logged by name with the OS's reason while the other processes run on", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      minRestartDelay: 0.05,
      processes: {
        ghost: { cmd: ["/nonexistent/tend-ghost"] },
        talker: {
          cmd: [
            "sh",
            "-c",
            'i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.1; done',
          ],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  const first = await t.event("ghost", "spawn-failed");
  assert.equal(first.record.level, "error");
  for (const text of [first.record.message, first.record.error!]) {
    assert.match(text, /\/nonexistent\/tend-ghost/);
    assert.match(text, /No such file or directory/);
  }
  // It backs off and tries again; tend does not crash on it.
  const retry = await t.event("ghost", "restart-scheduled", first.index);
  assert.ok((retry.record.delay as number) > 0);
  const second = await t.event("ghost", "spawn-failed", retry.index);
  await t.record(
    "talker to print after the second failure",
    (r) => r.process === "talker" && r.stream === "stdout",
    second.index,
  );
  assert.deepEqual(eventsOf(t, "talker"), ["started"], "talker ran on untouched");

  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assertNothingLeft(t);
});

Deno.test("tend run -- CMD ARGS runs one command named after CMD's basename", async () => {
  {
    await using t = tend([
      "run",
      "--color",
      "never",
      "--",
      "/bin/sh",
      "-c",
      "echo hello from sh; exec sleep 1000",
    ]);
    await t.line(/ \[sh\] hello from sh$/);
    assert.ok(t.lines.some((line) => / \[sh\] tend: started, pid \d+$/.test(line)));
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    await assertNothingLeft(t);
  }
  {
    await using t = tend(["run", "--restart", "never", "--", "sh", "-c", "exit 3"]);
    assert.equal(await t.exit(), 3, t.transcript());
  }
  {
    await using t = tend(["run", "--restart", "never", "--", "sh", "-c", "exit 0"]);
    assert.equal(await t.exit(), 0, t.transcript());
  }
});

Deno.test("JSON output parses line by line with the required fields, for child output and tend's events", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        talk: {
          cmd: [
            "sh",
            "-c",
            `echo out line; echo err line >&2; printf '\\377abc\\n'; ` +
            `printf '%s\\n' 'say "hi" \\ bye'; exec sleep 1000`,
          ],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("talk", 'say "hi" \\ bye');
  await t.record("the stderr line", (r) => r.stream === "stderr");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());

  const records = t.lines.map((line, i) => {
    try {
      return JSON.parse(line) as LogRecord;
    } catch {
      throw new Error(`line ${i + 1} is not JSON: ${line}`);
    }
  });
  for (const r of records) {
    assert.ok(!Number.isNaN(Date.parse(r.time)), `time: ${r.time}`);
    assert.ok(["info", "warn", "error"].includes(r.level), `level: ${r.level}`);
    assert.ok(r.process === null || typeof r.process === "string");
    assert.ok(["stdout", "stderr", "tend"].includes(r.stream), `stream: ${r.stream}`);
    assert.ok(r.pid === null || Number.isInteger(r.pid), `pid: ${r.pid}`);
    assert.equal(typeof r.message, "string");
  }
  const pid = pidOf(t, "talk");
  const line = (stream: string, text: string) => {
    const found = records.find((r) => r.message === `[talk] ${text}`);
    assert.ok(found, `no record "[talk] ${text}"\n${t.transcript()}`);
    assert.deepEqual(
      [found.process, found.stream, found.pid, found.level],
      ["talk", stream, pid, "info"],
    );
  };
  line("stdout", "out line");
  line("stderr", "err line");
  line("stdout", "\\xffabc");
  line("stdout", 'say "hi" \\ bye');

  const started = records.find((r) => r.event === "started")!;
  assert.deepEqual(
    [started.process, started.stream, started.pid, started.message],
    ["talk", "tend", pid, `[talk] started, pid ${pid}`],
  );
  const own = records[0]!;
  assert.deepEqual([own.process, own.stream, own.pid], [null, "tend", null]);
  assert.match(own.message, /^tend .*: starting 1 process/);
  await assertNothingLeft(t);
});

Deno.test("cwd, env and clearEnv reach the child", async () => {
  await using dir = await tempDir();
  await Deno.mkdir(join(dir.path, "sub"));
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        where: {
          cmd: [
            "sh",
            "-c",
            'echo "pwd=$(pwd -P)"; echo "foo=$FOO"; echo "path=$PATH"; exec sleep 1000',
          ],
          cwd: "sub", // relative to the file's folder, not to tend's
          env: { FOO: "bar" },
        },
        bare: {
          cmd: ["/usr/bin/env"],
          clearEnv: true,
          env: { ONLY: "x" },
          restart: "never",
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file], { cwd: "/" });
  await t.record("where's PATH", (r) => r.message.startsWith("[where] path="));
  await t.said("bare", "ONLY=x");
  await t.event("bare", "exited");
  const out = (name: string) =>
    t.recordsOf(name).filter((r) => r.stream === "stdout").map((r) =>
      r.message.slice(name.length + 3)
    );
  const [pwd, foo, path] = out("where");
  assert.equal(pwd, `pwd=${await Deno.realPath(join(dir.path, "sub"))}`);
  assert.equal(foo, "foo=bar");
  assert.notEqual(path, "path=", "env adds to tend's environment");

  const vars = out("bare");
  assert.ok(vars.includes("ONLY=x"), vars.join("\n"));
  assert.ok(vars.includes("TEND_PROCESS=bare"), vars.join("\n"));
  for (const v of vars) {
    assert.ok(
      ["ONLY", "TEND_PROCESS", "PWD", "SHLVL", "_"].includes(v.split("=")[0]!),
      v,
    );
  }
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assertNothingLeft(t);
});

Deno.test("text output holds [name] line verbatim, coloured only when asked or on a terminal without NO_COLOR", async (ctx) => {
  const args = ["--", "sh", "-c", "echo plain line; exec sleep 1000"];
  // deno-lint-ignore no-control-regex
  const tagged = /\x1b\[\d+m\[sh\]\x1b\[0m plain line\r?$/;
  const withoutNoColor = Deno.env.toObject();
  delete withoutNoColor.NO_COLOR;

  /** Waits for the child's line, stops tend, and returns all tend printed. */
  const output = async (t: Tend) => {
    await t.line(/plain line\r?$/);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    await assertNothingLeft(t);
    return t.lines;
  };

  await ctx.step("--color never", async () => {
    await using t = tend(["run", "--color", "never", ...args]);
    const lines = await output(t);
    assert.ok(lines.some((l) => l.endsWith(" [sh] plain line")), t.transcript());
    assert.ok(!lines.join("\n").includes("\x1b"), t.transcript());
  });
  await ctx.step("--color always, even with NO_COLOR", async () => {
    await using t = tend(["run", "--color", "always", ...args], {
      env: { NO_COLOR: "1" },
    });
    assert.ok((await output(t)).some((l) => tagged.test(l)), t.transcript());
  });
  await ctx.step("--color auto, not on a terminal", async () => {
    await using t = tend(["run", "--color", "auto", ...args], {
      env: withoutNoColor,
      clearEnv: true,
    });
    const lines = await output(t);
    assert.ok(lines.some((l) => l.endsWith(" [sh] plain line")), t.transcript());
    assert.ok(!lines.join("\n").includes("\x1b"), t.transcript());
  });

  /** Runs tend on a terminal (through `script`) with `env`. */
  const onTerminal = (env: Record<string, string>) => {
    const line = [
      Deno.execPath(),
      "run",
      ...PERMISSIONS,
      MAIN,
      "run",
      "--color",
      "auto",
      ...args,
    ]
      .map(shellQuote).join(" ");
    return new Tend(
      new Deno.Command("script", {
        args: ["-qec", line, "/dev/null"],
        env,
        clearEnv: true,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }),
    );
  };
  await ctx.step({
    ...only("--color auto on a terminal", NO_SCRIPT),
    fn: async () => {
      await using t = onTerminal(withoutNoColor);
      assert.ok((await output(t)).some((l) => tagged.test(l)), t.transcript());
    },
  });
  await ctx.step({
    ...only("--color auto on a terminal with NO_COLOR=1", NO_SCRIPT),
    fn: async () => {
      await using t = onTerminal({ ...withoutNoColor, NO_COLOR: "1" });
      const lines = await output(t);
      assert.ok(lines.some((l) => / \[sh\] plain line\r?$/.test(l)), t.transcript());
      assert.ok(!lines.join("\n").includes("\x1b"), t.transcript());
    },
  });
});

Deno.test("text output marks lines from stderr, so that a reader tells them from stdout without colour", async () => {
  await using t = tend([
    "run",
    "--color",
    "never",
    "--",
    "sh",
    "-c",
    "echo same words; echo same words >&2; exec sleep 1000",
  ]);
  await t.line(/ 2> \[sh\] same words$/);
  await t.line(/\d \[sh\] same words$/);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assertNothingLeft(t);
  const records = t.lines.filter((l) => l.endsWith("[sh] same words"));
  assert.deepEqual(
    records.map((l) => l.replace(/^\d\d:\d\d:\d\d\.\d\d\d /, "")).sort(),
    ["2> [sh] same words", "[sh] same words"],
    t.transcript(),
  );
});

Deno.test("bad usage exits 64", async () => {
  await using dir = await tempDir();
  // A valid file: a run that wrongly went ahead would exit 0, not 64.
  await dir.write(
    "procs.yaml",
    yaml({
      processes: { ok: { cmd: ["true"], restart: "never", minRestartDelay: 5 } },
    }),
  );
  const cases: [string[], RegExp][] = [
    [
      ["run", "--max-restart-delay", "2s", "procs.yaml"],
      /minRestartDelay \(5s\) is above maxRestartDelay \(2s\) for process "ok"/,
    ],
    [["run", "--bogus"], /--bogus/],
    [["frobnicate"], /unknown command "frobnicate"/],
    [
      ["run", "--restart", "never", "procs.yaml", "--", "sh"],
      /either a config file or -- CMD/,
    ],
    [[], /no command/],
    [["run", "--log-format", "xml"], /--log-format/],
  ];
  for (const [args, message] of cases) {
    await using t = tend(args, { cwd: dir.path });
    assert.equal(await t.exit(), 64, `${args.join(" ")}\n${t.transcript()}`);
    assert.match(t.stderr, message);
    assert.match(t.stderr, /^tend: .+\nRun 'tend --help' for usage\.\n$/);
    assert.deepEqual(t.started, []);
  }
});
