/**
 * Orphan churn: does tend's memory stay flat while it reaps orphans for
 * a long time? One child orphans processes in a fast loop (each
 * `( /bin/true & )` leaves one to tend); tend's RSS and CPU time are read
 * from /proc every 2000 orphans, and at the end no zombie may be left.
 *
 * "An hour" is 36,000 orphans: ten a second, a busy container's worth of
 * health-check scripts and shells that leave their children behind.
 *
 *   deno run -A bench/orphans.ts [--orphans N] [--pid1]
 *
 * `--pid1` runs tend as PID 1 of a new PID namespace (root, `unshare`);
 * without it tend runs with `--subreaper`. Not part of `deno task bench`:
 * it measures tend alone, against nothing.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { write } from "../lib/cli/console.ts";
import { MAIN_TS, tendPermissions } from "./systems.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { orphans: { type: "string" }, pid1: { type: "boolean" } },
});
const total = Number(values.orphans ?? "36000");
const pid1 = values.pid1 === true;
const STEP = 2000;
const print = (text: string) => write(Deno.stdout, text + "\n");

const dir = await Deno.makeTempDir({ prefix: "tend-orphans-" });
const config = `${dir}/procs.yaml`;
// Batches of 100, a progress line every STEP; then it idles.
const churn = `n=0; while [ $n -lt ${total} ]; do ` +
  `for i in $(seq 100); do ( /bin/true & ); done; n=$((n+100)); ` +
  `[ $((n % ${STEP})) -eq 0 ] && echo "orphans $n"; done; echo done; exec sleep 100000`;
await Deno.writeTextFile(
  config,
  JSON.stringify({ processes: { churn: { shell: churn } } }),
);

const tendArgv = [
  Deno.execPath(),
  "run",
  ...tendPermissions(),
  MAIN_TS,
  "run",
  "--log-format",
  "json",
  ...(pid1 ? [] : ["--subreaper"]),
  config,
];
const argv = pid1
  ? ["unshare", "--fork", "--pid", "--mount-proc", "--kill-child", ...tendArgv]
  : tendArgv;
const child = new Deno.Command(argv[0]!, {
  args: argv.slice(1),
  stdin: "null",
  stdout: "piped",
  stderr: "inherit",
  detached: true,
}).spawn();
let exited = false;
void child.status.then(() => exited = true);

// tend's pid on this side: unshare's child, or the process itself.
function tendPid(): number | null {
  if (!pid1) return child.pid;
  try {
    const text = Deno.readTextFileSync(`/proc/${child.pid}/task/${child.pid}/children`);
    const first = text.trim().split(" ")[0];
    return first ? Number(first) : null;
  } catch {
    return null;
  }
}

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/^VmRSS:\s+(\d+) kB$/m.exec(status)?.[1] ?? NaN);
}

function cpuSeconds(pid: number): number {
  const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]); // utime + stime
  return ticks / 100; // USER_HZ is 100 on Linux
}

function zombieChildren(pid: number): number {
  let n = 0;
  for (const task of Deno.readDirSync(`/proc/${pid}/task`)) {
    const text = Deno.readTextFileSync(`/proc/${pid}/task/${task.name}/children`);
    for (const word of text.trim().split(" ")) {
      if (word === "") continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${word}/stat`);
        if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) n++;
      } catch {
        // reaped meanwhile
      }
    }
  }
  return n;
}

interface Sample {
  orphans: number;
  seconds: number;
  rssKiB: number;
  cpu: number;
}
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
}

const samples: Sample[] = [];
const t0 = performance.now();
let pid: number | null = null;
let finished = false;
let reaped: string | null = null;
// The churning child should never exit; if it does (a fork refused when the
// machine runs out of pids), tend restarts it and the run says so.
const churnExits: string[] = [];
let stopping = false;

const reading = readLines(child.stdout, (line) => {
  const record = JSON.parse(line) as { message: string };
  pid ??= tendPid();
  const m = /^\[churn\] orphans (\d+)$/.exec(record.message);
  if (m && pid !== null) {
    samples.push({
      orphans: Number(m[1]),
      seconds: (performance.now() - t0) / 1000,
      rssKiB: rssKiB(pid),
      cpu: cpuSeconds(pid),
    });
    if (samples.length % 5 === 0) {
      write(
        Deno.stderr,
        `${m[1]} orphans, RSS ${(rssKiB(pid) / 1024).toFixed(1)} MiB\n`,
      );
    }
  }
  if (record.message === "[churn] done") finished = true;
  if ((record as { event?: string }).event === "exited" && !stopping) {
    churnExits.push(record.message);
  }
  if (/^reaped \d+ orphaned process/.test(record.message)) reaped = record.message;
});

try {
  // Bounded: an hour at most, however slow the machine.
  const deadline = performance.now() + 3_600_000;
  while (!finished && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Let the last orphans end and be reaped (the safety timer runs each second).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const zombies = pid === null ? -1 : zombieChildren(pid);
  stopping = true;
  if (pid !== null) Deno.kill(pid, "SIGTERM");
  const status = await child.status;
  await reading;

  const first = samples.find((s) => s.orphans >= total / 10) ?? samples[0];
  const last = samples.at(-1);
  const half = samples.slice(Math.floor(samples.length / 2)).map((s) => s.rssKiB);
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  print(
    `# orphan churn: ${total} orphans, tend ${pid1 ? "as PID 1" : "--subreaper"}\n`,
  );
  print("| orphans | seconds | tend RSS (MiB) | tend CPU (s) |");
  print("| ------: | ------: | -------------: | -----------: |");
  const every = Math.max(1, Math.floor(samples.length / 12));
  for (const [i, s] of samples.entries()) {
    if (i % every === 0 || i === samples.length - 1) {
      print(
        `| ${s.orphans} | ${s.seconds.toFixed(1)} | ${mib(s.rssKiB)} | ${
          s.cpu.toFixed(2)
        } |`,
      );
    }
  }
  if (first && last) {
    print(
      `\nRSS at ${first.orphans} orphans: ${
        mib(first.rssKiB)
      } MiB; at ${last.orphans}: ` +
        `${mib(last.rssKiB)} MiB; second half min..max ${mib(Math.min(...half))}..` +
        `${mib(Math.max(...half))} MiB.`,
    );
    print(
      `Rate ${(last.orphans / last.seconds).toFixed(0)} orphans/s; tend CPU ` +
        `${(last.cpu / last.orphans * 1e6).toFixed(0)} µs per orphan (fork and reap).`,
    );
  }
  print(`Zombies left under tend at the end: ${zombies}. tend said: ${reaped}.`);
  if (churnExits.length > 0) {
    print(`The churning child exited and was restarted: ${churnExits.join("; ")}.`);
  }
  print(`tend exited with ${status.code}.`);
} finally {
  // Only while it runs: the group id of a process that is gone may be reused.
  if (!exited) {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  await Deno.remove(dir, { recursive: true });
}
