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
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";

/** How long any one wait may take before the test fails. */
const TIMEOUT = 20_000;

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
const EXAMPLE = fileURLToPath(new URL("../../procs.example.yaml", import.meta.url));

/** The permission flags of the `start` task, so tend runs as users run it. */
const PERMISSIONS = denoJson.tasks.start.split(/\s+/).filter((arg) =>
  arg.startsWith("--allow-")
);

/** A child that says it is up, then sleeps until it is stopped. */
const SLEEPER = ["sh", "-c", "echo ready; exec sleep 1000"];

/** Why the pseudo-terminal checks cannot run here, or null when they can. */
const NO_SCRIPT: string | null = await (async () => {
  try {
    const out = await new Deno.Command("script", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (new TextDecoder().decode(out.stdout).includes("util-linux")) return null;
  } catch {
    // not installed
  }
  return "needs util-linux `script` to give tend a terminal";
})();

/** One line of `--log-format json` output. */
interface LogRecord {
  time: string;
  level: string;
  process: string | null;
  stream: string;
  pid: number | null;
  message: string;
  event?: string;
  error?: string;
  [key: string]: unknown;
}

/** A tend started by a test: its output as it arrives, its children, its end. */
class Tend implements AsyncDisposable {
  /** Every complete line tend has written to stdout so far. */
  readonly lines: string[] = [];
  /** All of stderr, once tend has exited. */
  stderr = "";
  #process: Deno.ChildProcess;
  #status: Deno.CommandStatus | null = null;
  #done: Promise<void>;

  /** Spawns `command`, which must pipe stdout and stderr. */
  constructor(command: Deno.Command) {
    this.#process = command.spawn();
    this.#done = Promise.all([
      readLines(this.#process.stdout, (line) => this.lines.push(line)),
      new Response(this.#process.stderr).text().then((text) => this.stderr = text),
      this.#process.status,
    ]).then(([, , status]) => void (this.#status = status));
  }

  /**
   * tend's pid, as its first line reports it: under `script` the spawned
   * process is `script`, not tend. Before that line, the spawned pid.
   */
  get pid(): number {
    const match = this.lines[0]?.match(/ starting \d+ process.* \(pid (\d+)\)/);
    return match ? Number(match[1]) : this.#process.pid;
  }

  /** stdout parsed line by line (tend must run with `--log-format json`). */
  get records(): LogRecord[] {
    return this.lines.map((line) => JSON.parse(line) as LogRecord);
  }

  /** The pid of every child tend reported as started, in order (text or JSON). */
  get started(): number[] {
    return this.lines.flatMap((line) => {
      if (line.startsWith("{")) {
        const record = JSON.parse(line) as LogRecord;
        return record.event === "started" && record.pid !== null ? [record.pid] : [];
      }
      const match = stripAnsi(line).match(/\] tend: started, pid (\d+)/);
      return match ? [Number(match[1])] : [];
    });
  }

  /** The records of process `name` (null: tend itself), or of one event of it. */
  recordsOf(name: string | null, event?: string): LogRecord[] {
    return this.records.filter((r) =>
      r.process === name && (event === undefined || r.event === event)
    );
  }

  /** Sends `signal` to tend. */
  signal(signal: Deno.Signal): void {
    Deno.kill(this.pid, signal);
  }

  /** Waits for a stdout line matching `pattern` at index `from` or later. */
  line(pattern: RegExp, from = 0): Promise<number> {
    return this.#until(`a line matching ${pattern}`, () => {
      const index = this.lines.findIndex((line, i) => i >= from && pattern.test(line));
      return index === -1 ? undefined : index;
    });
  }

  /** Waits for a record matching `test` at line `from` or later (JSON output). */
  record(
    what: string,
    test: (record: LogRecord) => boolean,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    return this.#until(what, () => this.#find(test, from));
  }

  /**
   * Sends `signal` every 100 ms until a record matching `test` shows up at
   * line `from` or later (JSON output); returns that record.
   */
  signalUntil(
    signal: Deno.Signal,
    what: string,
    test: (record: LogRecord) => boolean,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    let sentAt = -Infinity;
    return this.#until(what, () => {
      const found = this.#find(test, from);
      if (found === undefined && performance.now() - sentAt >= 100) {
        sentAt = performance.now();
        try {
          this.signal(signal);
        } catch {
          // tend is gone; #until reports that
        }
      }
      return found;
    });
  }

  /** Waits for event `type` of process `name` at line `from` or later (JSON output). */
  event(
    name: string,
    type: string,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    return this.record(
      `a "${type}" event of ${name}`,
      (r) => r.process === name && r.event === type,
      from,
    );
  }

  /** Waits for process `name` to print `text` on stdout (JSON output). */
  async said(name: string, text: string, from = 0): Promise<number> {
    const found = await this.record(
      `${name} to print "${text}"`,
      (r) =>
        r.process === name && r.stream === "stdout" &&
        r.message === `[${name}] ${text}`,
      from,
    );
    return found.index;
  }

  /** Waits for tend to exit and its output to end; returns its exit code. */
  async exit(): Promise<number> {
    return (await this.#until("tend to exit", () => this.#status ?? undefined)).code;
  }

  /** Everything tend printed, for failure messages. */
  transcript(): string {
    return `--- stdout\n${this.lines.join("\n")}\n--- stderr\n${this.stderr}`;
  }

  /** Kills tend if it still runs, then every group it started that is still alive. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === null) {
      // A test failed midway. What was spawned leads its own group (it was
      // spawned detached): kill that group, and tend itself when it is
      // elsewhere (in `script`'s session).
      for (const pid of new Set([-this.#process.pid, this.pid])) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await this.#done;
    // Each child leads its own session, out of reach of the kill above.
    // Groups `ps` shows empty are left alone: their id may have been reused.
    for (const pid of this.started) {
      if (NO_PS === null && (await groupMembers(pid)).length === 0) continue;
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // gone in the meantime
      }
    }
  }

  /** The first record matching `test` at line `from` or later, if any. */
  #find(
    test: (record: LogRecord) => boolean,
    from: number,
  ): { index: number; record: LogRecord } | undefined {
    for (let i = from; i < this.lines.length; i++) {
      const record = JSON.parse(this.lines[i]!) as LogRecord;
      if (test(record)) return { index: i, record };
    }
    return undefined;
  }

  /** Polls `find` until it finds something; fails once tend exits or at TIMEOUT. */
  async #until<T>(what: string, find: () => T | undefined): Promise<T> {
    const deadline = performance.now() + TIMEOUT;
    while (true) {
      // Read the flag before looking, so a last line is not missed.
      const ended = this.#status !== null;
      const found = find();
      if (found !== undefined) return found;
      if (ended) throw new Error(`tend exited before ${what}\n${this.transcript()}`);
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${what}\n${this.transcript()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Options for {@linkcode tend}. */
interface TendOptions {
  /** tend's working directory. */
  cwd?: string;
  /** Environment variables for tend. */
  env?: Record<string, string>;
  /** Give tend only `env`, not the test's environment. */
  clearEnv?: boolean;
}

/** Starts `main.ts` with `args`, as `deno task start` would run it. */
function tend(args: string[], options: TendOptions = {}): Tend {
  return new Tend(
    new Deno.Command(Deno.execPath(), {
      args: ["run", ...PERMISSIONS, MAIN, ...args],
      ...options,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
}

/** Calls `onLine` with each line of `stream`, a last unterminated one included. */
async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  }
  if (rest !== "") onLine(rest);
}

/** `text` without ANSI colour sequences. */
function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/** A config file's text from an object: JSON is YAML, and needs no quoting care. */
function yaml(config: unknown): string {
  return JSON.stringify(config, null, 2) + "\n";
}

/** A temporary folder for config files, removed on dispose. */
async function tempDir(): Promise<
  { path: string; write(name: string, text: string): Promise<string> } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix: "tend-e2e-" });
  return {
    path,
    async write(name, text) {
      const file = join(path, name);
      await Deno.writeTextFile(file, text);
      return file;
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Asserts that no group tend started has a live member left. */
async function assertNothingLeft(t: Tend): Promise<void> {
  for (const pid of t.started) {
    assert.deepEqual(await groupMembers(pid), [], `group ${pid} outlived tend`);
  }
}

/** The pid of the first "started" event of `name`. */
function pidOf(t: Tend, name: string): number {
  const pid = t.recordsOf(name, "started")[0]?.pid;
  assert.ok(typeof pid === "number", `${name} never started\n${t.transcript()}`);
  return pid;
}

/** The event types of process `name`, in order, leaving out its output lines. */
function eventsOf(t: Tend, name: string): string[] {
  return t.recordsOf(name).flatMap((r) => r.event === undefined ? [] : [r.event]);
}

/** Quotes `arg` for `sh`. */
function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

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

Deno.test("SIGUSR1 leaves no debugger port open and stops nothing", async () => {
  // Deno answers SIGUSR1 by opening a V8 inspector on 127.0.0.1:9229, as
  // Node does; tend closes it.
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
  const from = t.lines.length;
  t.signal("SIGUSR1");
  await t.record(
    "the inspector closed",
    (r) => r.process === null && r.message.startsWith("SIGUSR1: Deno opened"),
    from,
  );
  assert.equal(await listening(9229), false, "port 9229 is closed again");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.deepEqual(eventsOf(t, "up"), ["started", "stop-signal", "exited"]);
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
  for (const v of vars) {
    assert.ok(["ONLY", "PWD", "SHLVL", "_"].includes(v.split("=")[0]!), v);
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
