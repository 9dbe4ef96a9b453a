/**
 * The real spawners against real processes (`sh`, `sleep`, `id`): exit
 * statuses, output, process groups, the kill escalation, spawn failures.
 *
 * Every test here runs against each spawner, DenoSpawner (`Deno.Command`)
 * and FfiSpawner (`posix_spawn` over FFI), under the spawner's name; the
 * FFI runs are skipped, with the reason, where that spawner cannot run.
 * Tests of what only one of them does say so in their names.
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
import { FfiSpawner, ffiSpawnerUnavailable } from "../../lib/os/ffi_spawner.ts";
import { libcUnavailable } from "../../lib/os/libc.ts";
import type { SpawnerBase } from "../../lib/os/spawner_base.ts";
import { eventually, groupMembers, NO_PS, only } from "../_fakes/proc.ts";
import { RecordingSink } from "../_fakes/fakes.ts";

const decoder = new TextDecoder();

/** One of the real spawners, as the tests make it. */
interface Kind {
  name: "DenoSpawner" | "FfiSpawner";
  /** The module that exports it, for tests that run it in a process of its own. */
  module: string;
  /** Why it cannot run here, or null. */
  unavailable: string | null;
  make(options?: DenoSpawnerOptions): SpawnerBase;
}

const DENO: Kind = {
  name: "DenoSpawner",
  module: new URL("../../lib/os/deno_spawner.ts", import.meta.url).href,
  unavailable: null,
  make: (options) => new DenoSpawner(options),
};

const FFI: Kind = {
  name: "FfiSpawner",
  module: new URL("../../lib/os/ffi_spawner.ts", import.meta.url).href,
  unavailable: ffiSpawnerUnavailable(),
  make: (options) => new FfiSpawner(options),
};

/** Both spawners. */
const KINDS: readonly Kind[] = [DENO, FFI];

/**
 * Registers `fn` as one test per spawner in `kinds`, named after it; a
 * spawner that cannot run here, or a `reason` not null, skips its test.
 */
function spawnerTest(
  name: string,
  fn: (kind: Kind) => void | Promise<void>,
  options: { reason?: string | null; kinds?: readonly Kind[] } = {},
): void {
  for (const kind of options.kinds ?? KINDS) {
    Deno.test({
      ...only(`${kind.name}: ${name}`, kind.unavailable ?? options.reason ?? null),
      fn: () => fn(kind),
    });
  }
}

/** What {@linkcode run} saw of a child. */
interface Ran {
  status: ExitStatus;
  stdout: string;
  stderr: string;
  order: string[];
  chunks: number[];
}

/** Runs a request to its end with a real spawner; returns its output and status. */
function run(
  kind: Kind,
  argv: string[],
  extra: Partial<SpawnRequest> = {},
  spawner: SpawnerBase = kind.make(),
): Promise<Ran> {
  const out = { stdout: "", stderr: "", order: [] as string[], chunks: [] as number[] };
  return new Promise<Ran>((resolve, reject) => {
    const events: ChildEvents = {
      stdout: {
        write: (chunk) => {
          out.chunks.push(chunk.length);
          out.stdout += decoder.decode(chunk);
        },
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
      spawner.spawn(req({ argv, ...extra }), events);
    } catch (error) {
      reject(error);
    }
  });
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
 * A monitor over a real spawner. Disposing it (`await using`) kills
 * whatever is left, so a failing test leaves no process behind.
 */
function monitor(
  kind: Kind,
  timing: Partial<{ killTime: number; minRestartDelay: number; threshold: number }>,
  options: DenoSpawnerOptions = {},
) {
  const sink = new RecordingSink();
  const pm = new ProcessMonitor({
    spawner: kind.make(options),
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

spawnerTest("an exit code is reported as a code", async (kind) => {
  const result = await run(kind, ["sh", "-c", "exit 3"]);
  assert.deepEqual(result.status, { code: 3, signal: null });
});

spawnerTest("death by a signal is reported as the signal", async (kind) => {
  const result = await run(kind, ["sh", "-c", "kill -KILL $$"]);
  assert.deepEqual(result.status, { code: null, signal: "SIGKILL" });
});

spawnerTest(
  "death by a signal Deno cannot name (a real-time one) is reported as 128+N",
  async (kind) => {
    const result = await run(kind, ["sh", "-c", "kill -40 $$"]);
    assert.deepEqual(result.status, { code: 168, signal: null });
  },
);

spawnerTest(
  "both streams are read to the end before the exit is reported",
  async (kind) => {
    const result = await run(kind, ["sh", "-c", "echo out; echo err >&2; printf tail"]);
    assert.equal(result.stdout, "out\ntail");
    assert.equal(result.stderr, "err\n");
    assert.equal(result.order.at(-1), "exit");
    assert.deepEqual(result.order.slice(0, 2).sort(), ["stderr-end", "stdout-end"]);
  },
);

spawnerTest(
  "8 MiB of output arrives whole, in reads of at most 64 KiB",
  async (kind) => {
    const size = 8 * 1024 * 1024;
    const result = await run(kind, [
      "sh",
      "-c",
      `head -c ${size} /dev/zero | tr '\\0' Q`,
    ]);
    assert.equal(result.stdout.length, size);
    assert.ok(/^Q*$/.test(result.stdout));
    assert.ok(
      Math.max(...result.chunks) <= 65536,
      `largest read ${Math.max(...result.chunks)}`,
    );
    assert.deepEqual(result.status, { code: 0, signal: null });
  },
);

spawnerTest(
  "a child that closes its output and runs on is still reported when it exits",
  async (kind) => {
    const result = await run(kind, [
      "sh",
      "-c",
      "echo bye; exec >&- 2>&-; sleep 0.2; exit 4",
    ]);
    assert.equal(result.stdout, "bye\n");
    assert.deepEqual(result.status, { code: 4, signal: null });
    assert.equal(result.order.at(-1), "exit");
  },
);

spawnerTest("40 quiet children do not hold up another child's output", async (kind) => {
  const spawner = kind.make();
  const quiet: { signal(s: "SIGKILL"): void }[] = [];
  const exits: Promise<void>[] = [];
  const ignore = { write() {}, end() {} };
  for (let i = 0; i < 40; i++) {
    let exited!: () => void;
    exits.push(new Promise((resolve) => exited = resolve));
    quiet.push(
      spawner.spawn(req({ argv: ["sleep", "1000"] }), {
        stdout: ignore,
        stderr: ignore,
        exit: () => exited(),
      }),
    );
  }
  try {
    const result = await run(kind, ["sh", "-c", "echo through"], {}, spawner);
    assert.equal(result.stdout, "through\n");
  } finally {
    for (const child of quiet) child.signal("SIGKILL");
    await Promise.all(exits);
  }
});

spawnerTest(
  "a log that holds output back delays the exit report, not the output",
  async (kind) => {
    // Regression: the drain grace also ran while the reader waited on the
    // log, so a slow log saw the exit before the last lines of output.
    const spawner = kind.make({ drainGrace: 20 });
    const order: string[] = [];
    let bytes = 0;
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    const exited = new Promise<void>((resolve) => {
      spawner.spawn(req({ argv: ["sh", "-c", "head -c 30000 /dev/zero"] }), {
        stdout: {
          // The first chunk (the first read) waits until the test lets it go;
          // the rest fits in the pipe, so the child exits meanwhile.
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
  },
);

/**
 * Runs a shell command whose stdout "log" holds every write until
 * `release()`; `calls` records the chunks written, each "end" and the
 * "exit"; `exited` resolves at the exit report.
 */
function heldOutput(kind: Kind, command: string, options: DenoSpawnerOptions = {}) {
  const spawner = kind.make(options);
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

spawnerTest("idle() waits for output still being read", async (kind) => {
  const { spawner, calls, release, exited } = heldOutput(kind, "echo last words");
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

spawnerTest("idle() gives up at its limit and hands on partial lines", async (kind) => {
  const { spawner, calls, release, exited } = heldOutput(
    kind,
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

spawnerTest(
  "at the drain limit, a stream the log holds back is neither cut nor left behind",
  async (kind) => {
    // Regression: giving up at the limit ended the held stream (cutting its
    // line in two) and dropped it from idle(), losing its rest at tend's exit.
    const { spawner, calls, release, exited } = heldOutput(
      kind,
      "printf AAA; sleep 0.1; printf 'BBB\\n'",
      { drainGrace: 20, drainLimit: 300 },
    );
    await exited; // reported at the limit, the first chunk still held
    assert.deepEqual(calls, ["AAA", "exit"]);
    const waiting = spawner.idle(60_000);
    release();
    await waiting;
    assert.deepEqual(calls, ["AAA", "exit", "BBB\n", "end"]);
  },
);

spawnerTest(
  "once tend is leaving, a dead child's output the log holds back is read at once, and its exit comes after it",
  async (kind) => {
    // Regression: at tend's exit, a log that took nothing (stdout not read)
    // held every exit report until the drain limit (10 s), and then the
    // exit came before the child's last output.
    for (const leaveFirst of [true, false]) {
      const { spawner, calls, release, exited } = heldOutput(
        kind,
        "printf AAA; sleep 0.1; printf 'BBB\\n'",
        // A grace long enough that a loaded machine's slow read cannot end
        // the drain before the stream's end.
        { drainGrace: 1000, drainLimit: 60_000 },
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
  },
);

spawnerTest(
  "once tend is leaving, what is read without waiting for the log is bounded",
  async (kind) => {
    // 60 KB: the pipe takes it all, so the child exits with the log still
    // holding its first chunk back. Reads of 4 KiB: the bound is leaveBytes
    // and one read. The grace outlasts the limit, so that the exit comes at
    // the limit however slowly a loaded machine reads (with a grace of
    // 20 ms, a pause between two reads ended the drain early).
    const { spawner, calls, release, exited } = heldOutput(
      kind,
      "head -c 60000 /dev/zero",
      { drainGrace: 5000, drainLimit: 1000, leaveBytes: 10_000, readSize: 4096 },
    );
    spawner.leaving();
    await exited; // at the drain limit: the rest is held back again
    const bytes = () =>
      calls.filter((c) => c !== "end" && c !== "exit").join("").length;
    assert.ok(
      bytes() >= 10_000 && bytes() < 60_000,
      `read ${bytes()} bytes past the log`,
    );
    assert.ok(!calls.includes("end"));
    const idle = spawner.idle(60_000);
    release();
    await idle;
    assert.equal(bytes(), 60_000);
  },
);

spawnerTest(
  "a pipe held open by a process outside the group: the exit comes after the grace, with the partial line before it",
  async (kind) => {
    // Regression: once the monitor no longer ended the streams at an exit,
    // such a last line was never handed on.
    const dir = await Deno.makeTempDir();
    const pidFile = `${dir}/outsider.pid`;
    const order: string[] = [];
    let out = "";
    const spawner = kind.make({ drainGrace: 50 });
    let exitStatus: ExitStatus | null = null;
    let ended!: () => void;
    const stdoutEnded = new Promise<void>((resolve) => ended = resolve);
    let ends = 0;
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
          end: () => {
            order.push("stdout-end");
            // The second end is the stream's own, once the outsider is gone.
            if (++ends === 2) ended();
          },
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
      // Reading went on: the stream still reaches its own end.
      await stdoutEnded;
      await Deno.remove(dir, { recursive: true });
    }
  },
  { reason: NO_PS },
);

/**
 * How many file descriptors this process has open, counted from a child
 * (Deno reads /proc itself only with --allow-all).
 */
async function openFds(): Promise<number> {
  const ran = await run(DENO, ["sh", "-c", `ls /proc/${Deno.pid}/fd | wc -l`]);
  return Number(ran.stdout);
}

spawnerTest(
  "pipes held open by writers outside the group are closed at the drain limit: 50 such children leave no file descriptor behind",
  async (kind) => {
    // Regression (review finding 14): after the grace, reading went on for
    // as long as the escaped writer lived, each such child holding two
    // file descriptors of tend's (and a pending read) for ever.
    const dir = await Deno.makeTempDir();
    const spawner = kind.make({ drainGrace: 20, drainLimit: 300 });
    const count = 50;
    let exits = 0;
    let ends = 0;
    let late = "";
    const before = await openFds();
    try {
      for (let i = 0; i < count; i++) {
        const pidFile = `${dir}/${i}.pid`;
        const events: ChildEvents = {
          stdout: {
            write: (chunk) => void (late += decoder.decode(chunk)),
            end: () => void ends++,
          },
          stderr: { write: () => {}, end: () => void ends++ },
          exit: () => void exits++,
        };
        spawner.spawn(
          req({
            argv: [
              "sh",
              "-c",
              // The escapee keeps the leader's stdout and stderr; the leader
              // exits once it has left the group.
              `setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & ` +
              `while [ ! -s ${pidFile} ]; do sleep 0.01; done; echo gone`,
            ],
          }),
          events,
        );
      }
      await eventually("every exit", () => exits === count);
      // The escapees live on (sleep 60); their pipes must not. Without the
      // fix, 100 more stay open here (two a child) for as long as they live.
      let extra = Infinity;
      await eventually(
        "tend's file descriptors back to their number before the children",
        async () => (extra = await openFds() - before) < 10,
        10_000,
      ).catch(() => {
        throw new Error(`${extra} more file descriptors open than before`);
      });
      // Each stream is ended once at the grace and once more when its pipe
      // was closed (the stream's own end).
      await eventually("every stream's own end", () => ends === 4 * count);
      assert.equal(late, "gone\n".repeat(count));
      await spawner.idle(1000);
    } finally {
      for (let i = 0; i < count; i++) {
        const pid = Number(
          await Deno.readTextFile(`${dir}/${i}.pid`).catch(() => "0"),
        );
        if (pid > 0) {
          try {
            Deno.kill(pid, "SIGKILL");
          } catch {
            // gone already
          }
        }
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
  { reason: NO_PS },
);

spawnerTest(
  "a pipe held open by a writer outside the group is closed too when the group outlived its leader",
  async (kind) => {
    // The exit is reported at once (members live on); once the last member
    // is gone, the escapee's pipe gets the same drain limit.
    const dir = await Deno.makeTempDir();
    const pidFile = `${dir}/outsider.pid`;
    const spawner = kind.make({ drainGrace: 20, drainLimit: 300 });
    let groupAlive: boolean | null = null;
    const ended: string[] = [];
    try {
      spawner.spawn(
        req({
          argv: [
            "sh",
            "-c",
            `sleep 0.3 & setsid sh -c 'echo $$ > ${pidFile}; exec sleep 60' & ` +
            `while [ ! -s ${pidFile} ]; do sleep 0.01; done`,
          ],
        }),
        {
          stdout: { write: () => {}, end: () => void ended.push("stdout") },
          stderr: { write: () => {}, end: () => void ended.push("stderr") },
          exit: (_status, alive) => void (groupAlive = alive),
        },
      );
      await eventually("the exit", () => groupAlive !== null);
      assert.equal(groupAlive, true);
      assert.deepEqual(ended, []);
      await eventually("both pipes closed", () => ended.length === 2);
      await spawner.idle(1000);
    } finally {
      const pid = Number(await Deno.readTextFile(pidFile).catch(() => "0"));
      if (pid > 0) Deno.kill(pid, "SIGKILL");
      await Deno.remove(dir, { recursive: true });
    }
  },
  { reason: NO_PS },
);

spawnerTest("a child's stdin is /dev/null", async (kind) => {
  const result = await run(kind, [
    "sh",
    "-c",
    "cat; readlink /proc/self/fd/0 || echo no-proc",
  ]);
  assert.match(result.stdout, /^\/dev\/null\n$|^no-proc\n$/);
  assert.deepEqual(result.status, { code: 0, signal: null });
});

spawnerTest("each child leads its own session and process group", async (kind) => {
  const result = await run(kind, [
    "sh",
    "-c",
    "cut -d' ' -f5,6 /proc/$$/stat; echo $$",
  ]);
  const [ids, pid] = result.stdout.trim().split("\n");
  assert.equal(ids, `${pid} ${pid}`, "pgid and sid are the child's pid");
}, { reason: NO_PS });

spawnerTest(
  "a child does not inherit SIGPIPE ignored from Deno: `yes | head -1` ends",
  async (kind) => {
    // Deno ignores SIGPIPE; an ignored signal stays ignored across exec.
    const mask = await run(kind, ["grep", "-E", "^SigIgn", "/proc/self/status"]);
    const ignored = BigInt(`0x${mask.stdout.trim().split(/\s+/)[1]}`);
    assert.equal(ignored & (1n << 12n), 0n, `SIGPIPE ignored: ${mask.stdout}`);
    const result = await run(kind, ["sh", "-c", "yes | head -n 1"]);
    assert.equal(result.stdout, "y\n");
    assert.deepEqual(result.status, { code: 0, signal: null });
  },
);

spawnerTest("a child starts with no signal blocked", async (kind) => {
  const result = await run(kind, ["grep", "-E", "^SigBlk", "/proc/self/status"]);
  assert.match(result.stdout, /^SigBlk:\s+0+\n$/);
});

spawnerTest(
  "a child keeps none of tend's own file descriptors (epoll, pidfds, pipes)",
  async (kind) => {
    // At least one other child, so that its pipes and pidfd exist meanwhile.
    const spawner = kind.make();
    let exited!: () => void;
    const done = new Promise<void>((resolve) => exited = resolve);
    const ignore = { write() {}, end() {} };
    const other = spawner.spawn(req({ argv: ["sleep", "1000"] }), {
      stdout: ignore,
      stderr: ignore,
      exit: () => exited(),
    });
    try {
      const result = await run(
        kind,
        ["sh", "-c", "for fd in /proc/self/fd/*; do readlink $fd; done"],
        {},
        spawner,
      );
      assert.ok(!/anon_inode/.test(result.stdout), result.stdout);
    } finally {
      other.signal("SIGKILL");
      await done;
    }
  },
);

spawnerTest(
  "the program is looked up in the child's PATH, and gets the resolved path as argv[0]",
  async (kind) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.mkdir(`${dir}/bin`);
      await Deno.writeTextFile(`${dir}/bin/tend-hello`, '#!/bin/sh\necho "$0 $1"\n');
      await Deno.chmod(`${dir}/bin/tend-hello`, 0o755);
      // A file that is not executable earlier on PATH is passed over.
      await Deno.mkdir(`${dir}/noexec`);
      await Deno.writeTextFile(`${dir}/noexec/tend-hello`, "not a program\n");
      const result = await run(kind, ["tend-hello", "there"], {
        env: { PATH: `${dir}/noexec:${dir}/bin:/usr/bin:/bin` },
      });
      assert.equal(result.stdout, `${dir}/bin/tend-hello there\n`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

spawnerTest(
  "with clearEnv and no PATH of its own, the program is looked up in tend's PATH",
  async (kind) => {
    const result = await run(kind, ["sh", "-c", 'echo "[$A][$HOME]"'], {
      clearEnv: true,
      env: { A: "1" },
    });
    assert.equal(result.stdout, "[1][]\n");
  },
);

spawnerTest(
  "env is added to tend's environment; clearEnv starts from nothing",
  async (kind) => {
    Deno.env.set("TEND_SPAWNER_TEST_SEEN", "yes");
    try {
      const added = await run(kind, ["sh", "-c", 'echo "$TEND_SPAWNER_TEST_SEEN $B"'], {
        env: { B: "two words" },
      });
      assert.equal(added.stdout, "yes two words\n");
      const cleared = await run(kind, ["/usr/bin/env"], {
        clearEnv: true,
        env: { ONLY: "this", ALSO: "é" },
      });
      assert.deepEqual(cleared.stdout.trim().split("\n").sort(), [
        "ALSO=é",
        "ONLY=this",
      ]);
    } finally {
      Deno.env.delete("TEND_SPAWNER_TEST_SEEN");
    }
  },
);

spawnerTest(
  "a program named relative to the working directory runs from there",
  async (kind) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/here.sh`, "#!/bin/sh\npwd\n");
      await Deno.chmod(`${dir}/here.sh`, 0o755);
      const result = await run(kind, ["./here.sh"], { cwd: dir });
      assert.equal(result.stdout, `${await Deno.realPath(dir)}\n`);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

spawnerTest(
  "a script without #! runs with /bin/sh, as execvp runs it",
  async (kind) => {
    const dir = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(`${dir}/plain`, 'echo "plain $1"\n');
      await Deno.chmod(`${dir}/plain`, 0o755);
      const result = await run(kind, [`${dir}/plain`, "script"]);
      assert.equal(result.stdout, "plain script\n");
      assert.deepEqual(result.status, { code: 0, signal: null });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

spawnerTest("a missing program is a SpawnError with the OS's reason", (kind) => {
  assert.throws(
    () => kind.make().spawn(req({ argv: ["/nonexistent/tend-test"] }), nullEvents()),
    (e: unknown) =>
      e instanceof SpawnError &&
      e.message ===
        "Failed to spawn '/nonexistent/tend-test': No such file or directory (os error 2)",
  );
  // Found nowhere on PATH: Deno says "entity not found", the FFI spawner
  // gives the OS's reason.
  assert.throws(
    () => kind.make().spawn(req({ argv: ["tend-no-such-program"] }), nullEvents()),
    (e: unknown) =>
      e instanceof SpawnError &&
      e.message ===
        `Failed to spawn 'tend-no-such-program': ${
          kind === FFI ? "No such file or directory (os error 2)" : "entity not found"
        }`,
  );
});

spawnerTest(
  "a file that is not executable is a SpawnError with the OS's reason",
  async (kind) => {
    const file = await Deno.makeTempFile();
    try {
      assert.throws(
        () => kind.make().spawn(req({ argv: [file] }), nullEvents()),
        (e: unknown) =>
          e instanceof SpawnError &&
          e.message === `Failed to spawn '${file}': Permission denied (os error 13)`,
      );
    } finally {
      await Deno.remove(file);
    }
  },
);

spawnerTest(
  "a missing working directory, or one that is a file, is a SpawnError naming it",
  (kind) => {
    const sh = new TextDecoder().decode(
      new Deno.Command("sh", { args: ["-c", "command -v sh"], stdout: "piped" })
        .outputSync().stdout,
    ).trim();
    assert.throws(
      () =>
        kind.make().spawn(req({ argv: ["sh"], cwd: "/nonexistent/dir" }), nullEvents()),
      (e: unknown) =>
        e instanceof SpawnError &&
        e.message.startsWith("Failed to spawn '") &&
        e.message.endsWith("': No such cwd '/nonexistent/dir'"),
    );
    assert.throws(
      () => kind.make().spawn(req({ argv: [sh], cwd: "/etc/passwd" }), nullEvents()),
      (e: unknown) =>
        e instanceof SpawnError &&
        e.message === `Failed to spawn '${sh}': cwd is not a directory '/etc/passwd'`,
    );
  },
);

spawnerTest("an empty argv, or a NUL byte in an argument, is a SpawnError", (kind) => {
  assert.throws(() => kind.make().spawn(req({ argv: [] }), nullEvents()), SpawnError);
  assert.throws(
    () => kind.make().spawn(req({ argv: ["/bin/true", "a\0b"] }), nullEvents()),
    (e: unknown) =>
      e instanceof SpawnError &&
      /^Failed to spawn '\/bin\/true': nul byte/.test(e.message),
  );
});

spawnerTest("failed spawns leave no file descriptor open in tend", async (kind) => {
  // Counted from a child: Deno reads /proc only with --allow-all.
  const count = async () =>
    Number((await run(DENO, ["sh", "-c", `ls /proc/${Deno.pid}/fd | wc -l`])).stdout);
  const before = await count();
  const spawner = kind.make();
  for (let i = 0; i < 20; i++) {
    for (
      const request of [{ argv: ["/nonexistent"] }, {
        argv: ["true"],
        cwd: "/nonexistent",
      }]
    ) {
      assert.throws(() => spawner.spawn(req(request), nullEvents()), SpawnError);
    }
  }
  assert.equal(await count(), before);
});

spawnerTest(
  "uid and gid are applied when running as root",
  async (kind) => {
    const result = await run(kind, ["sh", "-c", "id -u; id -g"], {
      uid: 65534,
      gid: 65534,
    });
    assert.equal(result.stdout, "65534\n65534\n");
  },
  { reason: Deno.uid() === 0 ? null : "only root may switch users" },
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

spawnerTest(
  "a child started with a uid (and a gid) as root keeps none of tend's supplementary groups",
  async (kind) => {
    // tend itself gets supplementary groups (4, 27), which a child that
    // runs as another user must not keep: Rust's std calls setgroups(0)
    // when it switches users as root. (Deno's spawn calls it too, after
    // setsid, even without a uid: as root every child loses them, which
    // root does not need; as anyone else the call fails and changes nothing.)
    const script = `import { ${kind.name} } from ${JSON.stringify(kind.module)};
const spawner = new ${kind.name}();
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
  { reason: NO_SETPRIV },
);

spawnerTest(
  "a uid that is not permitted is a spawn failure the monitor backs off from",
  async (kind) => {
    // Only root may switch users; as anyone else the OS refuses.
    await using m = monitor(kind, { minRestartDelay: 0.05 });
    const { pm, sink } = m;
    pm.addProcess("as-root", { argv: ["true"], uid: 0 });
    pm.startService();
    const failed = await sink.next("spawn-failed");
    assert.match(failed.error, /not permitted|denied/i);
    assert.equal(pm.status()[0]!.state, "BACKOFF");
    await pm.stopService();
  },
  {
    reason: Deno.uid() !== 0
      ? null
      : "root may switch to any uid, so nothing is refused",
  },
);

spawnerTest(
  "stopping a child that started grandchildren leaves no process behind",
  async (kind) => {
    await using m = monitor(kind, { killTime: 10 });
    const { pm, sink } = m;
    pm.addProcess("tree", {
      argv: [
        "sh",
        "-c",
        "sh -c 'sleep 1000 & sleep 1000' & sleep 1000 & echo up; wait",
      ],
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
  },
  { reason: NO_PS },
);

spawnerTest("a child that ignores SIGTERM is gone after SIGKILL", async (kind) => {
  await using m = monitor(kind, { killTime: 0.3 });
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
}, { reason: NO_PS });

spawnerTest(
  "a leader that dies on SIGTERM leaves a member that ignores it: the member is SIGKILLed at killTime",
  async (kind) => {
    await using m = monitor(kind, { killTime: 0.5 });
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
  },
  { reason: NO_PS },
);

spawnerTest(
  "a child that exits leaving a member behind does not pile members up across restarts",
  async (kind) => {
    await using m = monitor(kind, {
      killTime: 5,
      minRestartDelay: 0.01,
      threshold: 60,
    });
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
  },
  { reason: NO_PS },
);

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

spawnerTest(
  "200 children that exit at once on SIGTERM get no SIGKILL, however late their exits are reported",
  async (kind) => {
    const count = 200;
    await using m = monitor(kind, { killTime: 0.05 });
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
    // is a zombie and every kill timer is due: no exit is reported meanwhile
    // (Deno's and the FFI spawner's reaping both wait for this thread), so
    // each timer fires first.
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
  },
  { reason: libcUnavailable() ?? NO_PS },
);

spawnerTest(
  "a kill of every group (a second Ctrl-C) after 200 children died unreported sends no SIGKILL",
  async (kind) => {
    const count = 200;
    await using m = monitor(kind, { killTime: 60 });
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
    // Without a turn of the event loop (so no exit is reported), every child
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
  },
  { reason: libcUnavailable() ?? NO_PS },
);

spawnerTest(
  "without FFI, an exit Deno reports after the kill timer fired is met with a SIGKILL, and the stop still ends",
  async (kind) => {
    await using m = monitor(kind, { killTime: 0.05 }, { peekExits: false });
    const { pm, sink } = m;
    pm.addProcess("s", { argv: ["sleep", "1000"] });
    const starting = sink.next("started");
    pm.startService();
    const started = await starting;
    const stopping = pm.stopService();
    const stoppedAt = performance.now();
    const deadline = stoppedAt + 20_000;
    while (
      performance.now() < stoppedAt + 100 || statesSync([started.pid])[0] !== "Z"
    ) {
      assert.ok(performance.now() < deadline, "the child did not exit");
    }
    await stopping;
    // The timer fired before the report: tend could not know, and sent
    // SIGKILL to a group that was gone (harmless, and logged).
    assert.deepEqual(sink.types("s"), ["started", "stop-signal", "sigkill", "exited"]);
  },
  { reason: NO_PS, kinds: [DENO] },
);

spawnerTest(
  "without /proc, FFI or ps, the spawner warns once that it cannot tell members from zombies",
  async (kind) => {
    const script = `import { ${kind.name} } from ${JSON.stringify(kind.module)};
const warnings = [];
const spawner = new ${kind.name}({ onWarning: (m) => warnings.push(m) });
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
  },
  // The FFI spawner needs FFI, which gives it /proc.
  { kinds: [DENO] },
);
