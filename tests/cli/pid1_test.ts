/**
 * End to end: tend as a container's PID 1 (`unshare --fork --pid
 * --mount-proc`, as root) and as a child subreaper (`--subreaper`). The
 * first is tini's reaping test: orphans come and go, none is left a
 * zombie, and the exit statuses of tend's own children stay right.
 *
 * Processes in the namespace are looked at from outside it, with `ps`, as
 * the descendants of tend's pid on the host; pids tend prints are the
 * namespace's and are never signalled from here.
 */

import assert from "node:assert/strict";
import { eventually, NO_PS, only } from "../_fakes/proc.ts";
import {
  type LogRecord,
  MAIN,
  PERMISSIONS,
  SLEEPER,
  tempDir,
  Tend,
  tend,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";

/** Why the PID-1 tests cannot run here, or null when they can. */
const NO_PID1: string | null = await (async () => {
  if (NO_PS !== null) return NO_PS;
  if (Deno.uid() !== 0) return "needs root for unshare --pid (CI runs it as root)";
  try {
    const out = await new Deno.Command("unshare", {
      args: ["--fork", "--pid", "--mount-proc", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "unshare --fork --pid --mount-proc fails here";
  } catch {
    return "needs util-linux unshare";
  }
})();

/**
 * A tend that is PID 1 of a new PID namespace. `pid` is tend's pid on the
 * host once found (unshare's until then), so `signal()` reaches tend
 * itself; `started` is empty, because the pids tend reports are the
 * namespace's and mean other processes out here.
 */
class Pid1Tend extends Tend {
  #unshare: number;
  hostPid = 0;

  constructor(command: Deno.Command) {
    super(command);
    // Before tend's first line, the base class answers the spawned pid.
    this.#unshare = super.pid;
  }

  override get pid(): number {
    return this.hostPid > 0 ? this.hostPid : this.#unshare;
  }

  override get started(): number[] {
    return [];
  }

  /** Waits for unshare's child, tend, to be there; returns its host pid. */
  async find(): Promise<number> {
    await eventually("tend to start in its namespace", async () => {
      const rows = await ps();
      this.hostPid = rows.find((r) => r.ppid === this.#unshare)?.pid ?? 0;
      return this.hostPid > 0;
    }, TIMEOUT);
    return this.hostPid;
  }
}

/** Runs tend as PID 1 with `args`, with the start task's permissions but `drop`. */
async function pid1Tend(args: string[], drop: string[] = []): Promise<Pid1Tend> {
  const permissions = PERMISSIONS.filter((p) => !drop.includes(p));
  const t = new Pid1Tend(
    new Deno.Command("unshare", {
      // --kill-child: if unshare is killed (a failed test), tend is too,
      // and with PID 1 the whole namespace.
      args: [
        "--fork",
        "--pid",
        "--mount-proc",
        "--kill-child",
        Deno.execPath(),
        "run",
        ...permissions,
        MAIN,
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  await t.find();
  return t;
}

interface Row {
  pid: number;
  ppid: number;
  stat: string;
  args: string;
}

async function ps(): Promise<Row[]> {
  const out = await new Deno.Command("ps", {
    args: ["-A", "-o", "pid=,ppid=,stat=,args="],
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(out.stdout).split("\n").flatMap((line) => {
    const m = line.trim().match(/^(\d+)\s+(\d+)\s+(\S+)\s*(.*)$/);
    return m
      ? [{ pid: Number(m[1]), ppid: Number(m[2]), stat: m[3]!, args: m[4]! }]
      : [];
  });
}

/** Every descendant of `root` (not `root`), from one `ps`. */
async function descendants(root: number): Promise<Row[]> {
  const rows = await ps();
  const found: Row[] = [];
  const parents = new Set([root]);
  // Bounded: each round adds a generation, and rows are finite.
  for (let round = 0; round < 100; round++) {
    const next = rows.filter((r) => parents.has(r.ppid) && !found.includes(r));
    if (next.length === 0) break;
    for (const r of next) {
      found.push(r);
      parents.add(r.pid);
    }
  }
  return found;
}

/** The zombies among tend's descendants (re-parented orphans end up there). */
async function zombies(hostPid: number): Promise<Row[]> {
  return (await descendants(hostPid)).filter((r) => r.stat.startsWith("Z"));
}

// 20 jobs with exit codes of their own, spread over 0.4 s, while orphans
// come and go.
const JOBS = Object.fromEntries(
  Array.from({ length: 20 }, (_, i) => [
    `job${i}`,
    { shell: `sleep 0.${i % 5}; exit ${(i * 37 + 1) % 256}`, restart: "never" },
  ]),
);

// 100 `sleep 0.1` orphaned at once (each subshell exits at once, so its
// sleep is handed to tend), then 5 rounds of 20 more while the jobs end.
const ORPHANER = {
  shell: "for i in $(seq 100); do (sleep 0.1 &); done; " +
    "for r in 1 2 3 4 5; do for i in $(seq 20); do (sleep 0.0$r &); done; sleep 0.1; done; " +
    "echo orphaned; exec sleep 1000",
};

function assertJobs(t: Tend): void {
  for (let i = 0; i < 20; i++) {
    const exits = t.recordsOf(`job${i}`, "exited");
    assert.equal(exits.length, 1, `job${i} exited once\n${t.transcript()}`);
    assert.equal(exits[0]!.code, (i * 37 + 1) % 256, `job${i}'s exit code`);
  }
  const errors = t.records.filter((r: LogRecord) => r.level === "error");
  assert.deepEqual(errors, [], "no internal failure (an ECHILD would be one)");
}

Deno.test(
  only(
    "PID 1: a child orphans 100 sleeps and more; none is left a zombie, and every exit status of tend's own children is right",
    NO_PID1,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { orphaner: ORPHANER, ...JOBS } }),
    );
    await using t = await pid1Tend(["run", "--log-format", "json", file]);
    await t.line(/"PID 1: tend reaps orphaned processes"/);
    await t.said("orphaner", "orphaned");
    for (let i = 0; i < 20; i++) await t.event(`job${i}`, "exited");
    // Every orphan has ended by now or soon; none may stay a zombie.
    await eventually(
      "no zombie under tend",
      async () =>
        (await zombies(t.hostPid)).length === 0 &&
        (await descendants(t.hostPid)).length === 1, // the orphaner's sleep 1000
      TIMEOUT,
    );
    assertJobs(t);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    assert.ok(t.records.some((r) => r.message === "reaped 200 orphaned processes"));
  },
);

Deno.test(
  only(
    "PID 1: SIGTERM stops every process, then the orphans (SIGTERM, SIGKILL after killTime), and tend exits 0",
    NO_PID1,
  ),
  async () => {
    await using dir = await tempDir();
    // Two daemons that left their parent's session; they become orphans
    // when the service that started them stops.
    const graceful = `trap 'echo term >${dir.path}/graceful; exit 0' TERM; ` +
      `: >${dir.path}/graceful.ready; while :; do sleep 0.05; done`;
    const stubborn = `trap '' TERM; : >${dir.path}/stubborn.ready; ` +
      `while :; do sleep 0.05; done`;
    const file = await dir.write(
      "procs.yaml",
      yaml({
        killTime: 1,
        processes: {
          web: { cmd: SLEEPER },
          daemons: {
            shell: `setsid sh -c "${graceful}" & setsid sh -c "${stubborn}" & ` +
              `exec sleep 1000`,
          },
        },
      }),
    );
    await using t = await pid1Tend(["run", "--log-format", "json", file]);
    await t.said("web", "ready");
    await eventually("the daemons to set their traps", async () => {
      for (const name of ["graceful.ready", "stubborn.ready"]) {
        try {
          await Deno.stat(`${dir.path}/${name}`);
        } catch {
          return false;
        }
      }
      return true;
    }, TIMEOUT);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    const messages = t.records.map((r) => r.message);
    assert.ok(
      messages.some((m) =>
        /^sent SIGTERM to 2 orphaned processes \(pid \d+, \d+\)$/.test(m)
      ),
      t.transcript(),
    );
    assert.ok(
      messages.some((m) =>
        /^sent SIGKILL to 1 orphaned process \(pid \d+\) after 1s$/.test(m)
      ),
      t.transcript(),
    );
    // The stop signal came from tend, not the kernel's SIGKILL as PID 1 exits.
    assert.equal(await Deno.readTextFile(`${dir.path}/graceful`), "term\n");
    // The orphans were stopped after tend's own processes had stopped.
    const stopped = messages.indexOf("every process has stopped");
    assert.ok(
      stopped !== -1 &&
        stopped < messages.findIndex((m) => m.startsWith("sent SIGTERM")),
    );
    const left = (await ps()).filter((r) => r.args.includes(dir.path));
    assert.deepEqual(left, [], "nothing of the namespace is left");
  },
);

Deno.test(
  only(
    "PID 1 without --allow-ffi: tend warns as tini does, and runs on; a zombie in a group is not taken for a live member",
    NO_PID1,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          orphaner: {
            shell: "for i in $(seq 20); do (sleep 0.1 &); done; exec sleep 1000",
          },
          // Its sleep outlives it in its group, then stays a zombie: nobody
          // reaps it. tend must still see the group empty and report the exit.
          job: { shell: "sleep 0.3 & exit 3", restart: "never" },
        },
      }),
    );
    await using t = await pid1Tend(["run", "--log-format", "json", file], [
      "--allow-ffi",
    ]);
    const { record } = await t.record(
      "the warning",
      (r) => r.level === "warn" && /cannot reap zombies/.test(r.message),
    );
    assert.match(
      record.message,
      /^tend is PID 1 but cannot reap zombies \(needs --allow-ffi\)/,
    );
    assert.match(record.message, /Run it with --allow-ffi/);
    const exited = (await t.event("job", "exited")).record;
    assert.equal(exited.code, 3);
    // The check above sees zombies when there are some: 20 orphans and the
    // job's sleep stay zombies.
    await eventually(
      "the orphans to be zombies",
      async () => (await zombies(t.hostPid)).length >= 21,
      TIMEOUT,
    );
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test(
  only(
    "--subreaper: orphans of tend's children are handed to tend and reaped, and exit statuses stay right",
    NO_PS,
  ),
  async () => {
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { orphaner: ORPHANER, ...JOBS } }),
    );
    await using t = tend(["run", "--subreaper", "--log-format", "json", file]);
    await t.line(/"child subreaper: tend reaps orphaned processes"/);
    await t.said("orphaner", "orphaned");
    for (let i = 0; i < 20; i++) await t.event(`job${i}`, "exited");
    await eventually(
      "no zombie under tend",
      async () =>
        (await zombies(t.pid)).length === 0 &&
        (await descendants(t.pid)).length === 1,
      TIMEOUT,
    );
    assertJobs(t);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    // Without --subreaper they would have gone to PID 1, and tend reaped none.
    assert.ok(t.records.some((r) => r.message === "reaped 200 orphaned processes"));
  },
);

Deno.test("--subreaper without --allow-ffi: tend warns and runs on", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { web: { cmd: SLEEPER } } }),
  );
  await using t = new Tend(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSIONS.filter((p) => p !== "--allow-ffi"),
        MAIN,
        "run",
        "--subreaper",
        "--log-format",
        "json",
        file,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  const { record } = await t.record(
    "the warning",
    (r) => r.level === "warn" && r.message.startsWith("--subreaper"),
  );
  assert.match(
    record.message,
    /^--subreaper but cannot reap zombies \(needs --allow-ffi\): orphaned processes will stay zombies/,
  );
  await t.said("web", "ready");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});
