/**
 * Process plumbing for the benchmark: starting a supervisor in its own
 * session with its output in files, reading `/proc`, and making sure that
 * nothing the benchmark started outlives it.
 *
 * Every process the benchmark starts carries {@linkcode MARK_VAR} in its
 * environment, and every supervisor is the leader of a new session, so a
 * sweep finds whatever is left (a supervisor's children, their children,
 * orphans adopted by init) by either sign and kills it.
 *
 * @module
 */

/** The environment variable that tags every process this run starts. */
export const MARK_VAR = "TEND_BENCH_MARK";

/** This run's tag: unique per benchmark process. */
export const MARK = `${Deno.pid}-${Date.now()}`;

const MARK_BYTES = new TextEncoder().encode(`${MARK_VAR}=${MARK}\0`);

/** Resolves after `ms` milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Milliseconds on a monotonic clock. */
export function now(): number {
  return performance.now();
}

/** What to start and where its output goes. */
export interface SpawnOptions {
  /** File for stdout; default /dev/null. */
  stdout?: string;
  /** File for stderr; default /dev/null. */
  stderr?: string;
  /** Working directory. */
  cwd?: string;
  /** Added to the benchmark's environment. */
  env?: Record<string, string>;
}

/** A process started by {@linkcode spawnSession}. */
export interface Spawned {
  /** Its pid, which is also its session and process-group id. */
  pid: number;
  /** {@linkcode now} just before it was started. */
  t0: number;
  /** Resolves when it exits, with {@linkcode now} at that moment. */
  status: Promise<{ code: number; signal: Deno.Signal | null; at: number }>;
  /** Whether it has exited. */
  exited(): boolean;
}

// `exec` keeps the pid: the process we watch is the program itself, with its
// output redirected by the shell as a user's `prog >file 2>err` would do.
const REDIRECT = 'o=$1; e=$2; shift 2; exec "$@" >"$o" 2>"$e"';

/**
 * Starts `argv` as the leader of a new session (so of a new process group),
 * stdin from /dev/null, stdout and stderr into files.
 */
export function spawnSession(argv: string[], options: SpawnOptions = {}): Spawned {
  const t0 = now();
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      REDIRECT,
      "sh",
      options.stdout ?? "/dev/null",
      options.stderr ?? "/dev/null",
      ...argv,
    ],
    cwd: options.cwd,
    env: { ...options.env, [MARK_VAR]: MARK },
    stdin: "null",
    stdout: "null",
    stderr: "null",
    detached: true,
  }).spawn();
  let done = false;
  const status = child.status.then((s) => {
    done = true;
    return { code: s.code, signal: s.signal, at: now() };
  });
  return { pid: child.pid, t0, status, exited: () => done };
}

/** Sends `signal` to a process group; true if it was delivered. */
export function killGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

/** Sends `signal` to one process; true if it was delivered. */
export function killPid(pid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(pid, signal);
    return true;
  } catch {
    return false;
  }
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

/** The fields of `/proc/<pid>/stat` that the benchmark uses. */
export interface ProcStat {
  /** The program's name, as the kernel keeps it (15 characters at most). */
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  session: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
}

/** Reads `/proc/<pid>/stat`, or null when the process is gone. */
export function procStat(pid: number): ProcStat | null {
  const text = readText(`/proc/${pid}/stat`);
  if (text === null) return null;
  // "pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime ...": comm may hold spaces and parentheses.
  const close = text.lastIndexOf(")");
  const f = text.slice(close + 2).split(" ");
  return {
    comm: text.slice(text.indexOf("(") + 1, close),
    state: f[0]!,
    ppid: Number(f[1]),
    pgrp: Number(f[2]),
    session: Number(f[3]),
    cpuTicks: Number(f[11]) + Number(f[12]),
  };
}

/** Clock ticks per second for {@linkcode ProcStat.cpuTicks} (Linux: 100). */
export const CLOCK_TICKS = 100;

/** Memory figures from `/proc/<pid>/status`, in KiB; null when gone. */
export function procMemory(pid: number): { rssKb: number; hwmKb: number } | null {
  const text = readText(`/proc/${pid}/status`);
  if (text === null) return null;
  const rss = /^VmRSS:\s+(\d+) kB/m.exec(text);
  const hwm = /^VmHWM:\s+(\d+) kB/m.exec(text);
  if (!rss || !hwm) return null; // a zombie has no memory lines
  return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
}

/**
 * A process's own memory, from `/proc/<pid>/smaps_rollup`, in KiB; null
 * when gone. `privateKb` (Private_Clean + Private_Dirty) is what no other
 * process shares, `pssKb` its share of everything it maps. VmRSS counts
 * the deno binary's code pages in full although every Deno process shares
 * them (the benchmark itself is one): most of a Deno process's VmRSS.
 */
export function procPrivate(pid: number): { privateKb: number; pssKb: number } | null {
  const text = readText(`/proc/${pid}/smaps_rollup`);
  if (text === null) return null;
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1]);
  const clean = field("Private_Clean");
  const dirty = field("Private_Dirty");
  const pss = field("Pss");
  if (!Number.isFinite(clean) || !Number.isFinite(dirty) || !Number.isFinite(pss)) {
    return null;
  }
  return { privateKb: clean + dirty, pssKb: pss };
}

/** Lists the thread ids of a process. */
function tasks(pid: number): string[] {
  try {
    return [...Deno.readDirSync(`/proc/${pid}/task`)].map((e) => e.name);
  } catch {
    return [];
  }
}

/**
 * Context switches of every thread of a process: how often it woke up.
 * An idle process that polls nothing does not wake at all.
 */
export function wakeups(pid: number): number | null {
  let total = 0;
  let seen = false;
  for (const tid of tasks(pid)) {
    const text = readText(`/proc/${pid}/task/${tid}/status`);
    if (text === null) continue;
    for (const m of text.matchAll(/^(?:non)?voluntary_ctxt_switches:\s+(\d+)/gm)) {
      total += Number(m[1]);
      seen = true;
    }
  }
  return seen ? total : null;
}

/** The direct children of a process (of all its threads). */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const tid of tasks(pid)) {
    const text = readText(`/proc/${pid}/task/${tid}/children`);
    if (text === null) continue;
    for (const p of text.split(" ")) if (p !== "" && p !== "\n") out.push(Number(p));
  }
  return out;
}

/** Children, grandchildren, ... of a process, down to `depth` levels. */
export function descendants(pid: number, depth = 3): number[] {
  const out: number[] = [];
  let level = [pid];
  for (let d = 0; d < depth && level.length > 0; d++) {
    level = level.flatMap(childPids);
    out.push(...level);
  }
  return out;
}

/** Whether a process is running (exists and is not a zombie). */
export function alive(pid: number): boolean {
  const stat = procStat(pid);
  return stat !== null && stat.state !== "Z" && stat.state !== "X";
}

function hasMark(pid: number): boolean {
  let env: Uint8Array;
  try {
    env = Deno.readFileSync(`/proc/${pid}/environ`);
  } catch {
    return false;
  }
  outer: for (let i = 0; i + MARK_BYTES.length <= env.length; i++) {
    if (i > 0 && env[i - 1] !== 0) continue; // only at the start of a variable
    for (let k = 0; k < MARK_BYTES.length; k++) {
      if (env[i + k] !== MARK_BYTES[k]) continue outer;
    }
    return true;
  }
  return false;
}

/**
 * The live processes that belong to this benchmark run: tagged with
 * {@linkcode MARK}, or in one of `sessions`. Never the benchmark itself.
 */
export function ours(sessions: Iterable<number> = []): number[] {
  const wanted = new Set(sessions);
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const c = entry.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const pid = Number(entry.name);
    if (pid === Deno.pid) continue;
    const stat = procStat(pid);
    if (stat === null || stat.state === "Z" || stat.state === "X") continue;
    if (wanted.has(stat.session) || hasMark(pid)) found.push(pid);
  }
  return found;
}

/**
 * Kills (SIGKILL) everything {@linkcode ours} finds, until nothing is left
 * or a second has passed; returns how many processes it killed.
 */
export async function sweep(sessions: Iterable<number> = []): Promise<number> {
  const list = [...sessions];
  const killed = new Set<number>();
  const deadline = now() + 1000;
  while (now() < deadline) {
    const left = ours(list);
    if (left.length === 0) break;
    for (const pid of left) {
      if (killPid(pid, "SIGKILL")) killed.add(pid);
    }
    await sleep(10);
  }
  return killed.size;
}

/**
 * Stops a started supervisor for good: SIGTERM to its group, a short
 * grace, then SIGKILL to the group and a sweep of anything left. Resolves
 * once it has exited.
 */
export async function terminate(proc: Spawned, graceMs = 2000): Promise<void> {
  if (!proc.exited()) {
    killGroup(proc.pid, "SIGTERM");
    await Promise.race([proc.status, sleep(graceMs)]);
  }
  killGroup(proc.pid, "SIGKILL");
  await Promise.race([proc.status, sleep(2000)]);
  await sweep([proc.pid]);
}

/** Reads a whole file as text, or "" when it does not exist. */
export function readOr(path: string): string {
  return readText(path) ?? "";
}

/** Size of a file in bytes, 0 when it does not exist. */
export function fileSize(path: string): number {
  try {
    return Deno.statSync(path).size;
  } catch {
    return 0;
  }
}
