/**
 * One reaping scenario in a process of its own, for reaper_test.ts: run as
 * PID 1 of a new PID namespace (`unshare --fork --pid --mount-proc`, as
 * root) or with `--subreaper`. Prints one JSON line ({@linkcode Summary}).
 *
 *   deno run --allow-ffi --allow-run --allow-read --allow-write reaper_harness.ts [--subreaper]
 *     [--scenario=churn|block|stop] [--interval=MS]
 *
 * - churn: 40 children of tend's own with exit codes of their own, spread
 *   over 0.2 s, while one child orphans 100 `sleep 0.1`;
 * - block: one of tend's own zombies is first in the kernel's list and
 *   Deno cannot reap it (the event loop is kept busy) while 100 orphans
 *   queue behind it: only the /proc scan finds them;
 * - stop: two orphans stay alive, one of them ignoring SIGTERM, and
 *   `stopOrphans` stops them;
 * - ffi: churn, with the 40 children (and the orphaner) started by the
 *   FFI spawner, which reaps its own children, while 20 more run through
 *   `Deno.Command`: the reaper and the FFI spawner share one registry, and
 *   neither takes the other's children.
 *
 * @module
 */

import { FfiSpawner } from "../../lib/os/ffi_spawner.ts";
import { ownPids, spawnOwn } from "../../lib/os/pids.ts";
import {
  listChildren,
  processStat,
  Reaper,
  setChildSubreaper,
} from "../../lib/os/reaper.ts";

/** What one run found. */
export interface Summary {
  pid: number;
  subreaper: boolean | null;
  statuses: number;
  right: number;
  rejected: string[];
  reaped: number;
  hidden: number;
  scans: number;
  zombiesLeft: number;
  childrenLeft: number;
  stopped?: number;
  killed?: number;
  left?: number;
}

const flags = new Map(
  Deno.args.map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=", 2);
    return [key!, value ?? "true"] as const;
  }),
);
const scenario = flags.get("scenario") ?? "churn";
const interval = Number(flags.get("interval") ?? "1000");

const subreaper = flags.has("subreaper") ? setChildSubreaper() : null;
const reaper = Reaper.start((pid) => ownPids.has(pid), { interval });
if (reaper === null) throw new Error("no libc: run with --allow-ffi");

function sh(script: string): Deno.ChildProcess {
  return spawnOwn("sh", {
    args: ["-c", script],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  });
}

const jobs: { child: { status: Promise<{ code: number | null }> }; code: number }[] =
  [];

// A child started by the FFI spawner, shaped like a Deno.ChildProcess's status.
const ffi = scenario === "ffi" ? new FfiSpawner() : null;
function ffiSh(script: string): { status: Promise<{ code: number | null }> } {
  const ignore = { write() {}, end() {} };
  return {
    status: new Promise((resolve) => {
      ffi!.spawn({
        argv: ["sh", "-c", script],
        cwd: undefined,
        env: {},
        clearEnv: false,
        uid: undefined,
        gid: undefined,
      }, { stdout: ignore, stderr: ignore, exit: (status) => resolve(status) });
    }),
  };
}
// The orphaner outlives its orphans (sleep never reaps), so they are
// handed over at once when each subshell exits.
const orphans100 = "for i in $(seq 100); do (sleep 0.1 &); done";

if (scenario === "block") {
  // D is first among the children and exits at 0.3 s; the orphaner's 100
  // children are dead by then and handed over when it exits at 0.25 s.
  jobs.push({ child: sh("sleep 0.3; exit 3"), code: 3 });
  jobs.push({
    child: sh("for i in $(seq 100); do sleep 0.05 & done; exec sleep 0.25"),
    code: 0,
  });
  const until = performance.now() + 500;
  while (performance.now() < until) {
    // Keep the event loop busy: Deno cannot reap D before the pass below.
  }
  reaper.reapNow();
} else if (scenario === "churn" || scenario === "ffi") {
  const start = scenario === "ffi" ? ffiSh : sh;
  jobs.push({ child: start(`${orphans100}; sleep 0.3`), code: 0 });
  for (let i = 0; i < 40; i++) {
    const code = (i * 37 + 1) % 256;
    jobs.push({ child: start(`sleep 0.${(i % 8) * 3}; exit ${code}`), code });
  }
  if (scenario === "ffi") {
    for (let i = 0; i < 20; i++) {
      const code = (i * 11 + 3) % 256;
      jobs.push({ child: sh(`sleep 0.${(i % 5) * 4}; exit ${code}`), code });
    }
  }
}

const results = await Promise.allSettled(jobs.map((j) => j.child.status));
let right = 0;
const rejected: string[] = [];
results.forEach((result, i) => {
  if (result.status === "rejected") rejected.push(String(result.reason));
  else if (result.value.code === jobs[i]!.code) right++;
});

const summary: Summary = {
  pid: Deno.pid,
  subreaper,
  statuses: jobs.length,
  right,
  rejected,
  reaped: 0,
  hidden: 0,
  scans: 0,
  zombiesLeft: -1,
  childrenLeft: -1,
};

if (scenario === "stop") {
  // Two session leaders whose parent exits at once: orphans that live on.
  // Each makes a file once its trap is set, so neither gets SIGTERM before.
  const dir = Deno.makeTempDirSync({ prefix: "tend-reaper-" });
  const graceful =
    `trap 'exit 0' TERM; : >${dir}/graceful; while :; do sleep 0.05; done`;
  const stubborn = `trap '' TERM; : >${dir}/stubborn; while :; do sleep 0.05; done`;
  await sh(`setsid sh -c "${graceful}" & setsid sh -c "${stubborn}" & exit 0`).status;
  // Both handed over and their traps set (bounded: 10 s).
  const ready = () =>
    ["graceful", "stubborn"].every((name) => {
      try {
        return Deno.statSync(`${dir}/${name}`).isFile;
      } catch {
        return false;
      }
    });
  for (let i = 0; i < 1000 && (liveChildren() < 2 || !ready()); i++) await sleep(10);
  Deno.removeSync(dir, { recursive: true });
  const report = await reaper.stopOrphans("SIGTERM", 1000);
  summary.stopped = report.stopped.length;
  summary.killed = report.killed.length;
  summary.left = report.left.length;
}

function liveChildren(): number {
  return listChildren().filter((pid) => {
    const state = processStat(pid)?.state;
    return state !== undefined && state !== "Z";
  }).length;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// Wait (5 s at most) until no child is left, zombie or alive.
for (let i = 0; i < 250; i++) {
  const children = listChildren().filter((pid) => !ownPids.has(pid));
  summary.childrenLeft = children.length;
  summary.zombiesLeft = children.filter((pid) =>
    processStat(pid)?.state === "Z"
  ).length;
  if (children.length === 0) break;
  await sleep(20);
}
summary.reaped = reaper.reaped;
summary.hidden = reaper.hidden;
summary.scans = reaper.scans;
reaper.stop();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(summary) + "\n"));
