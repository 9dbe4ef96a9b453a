/**
 * The scenarios. Each runs one system once and returns its figures; the
 * runner in `run.ts` repeats them and reports medians.
 *
 * The same children run under every system: a flood is
 * `sh -c 'yes PAYLOAD | head -n N'` (99 payload bytes and a newline: 100
 * bytes a line), an idle child is `sleep 1000`, a restarting child is a
 * bash script that stamps the moments it starts and ends.
 *
 * @module
 */

import {
  childPids,
  CLOCK_TICKS,
  descendants,
  killPid,
  now,
  ours,
  procMemory,
  procPrivate,
  procStat,
  readOr,
  sleep,
  type Spawned,
  spawnSession,
  terminate,
  wakeups,
} from "./proc.ts";
import { floodOver, Sampler } from "./sampler.ts";
import {
  type Launched,
  type LaunchSpec,
  MAIN_TS,
  type ProcSpec,
  type System,
  type SystemId,
  TEND_IDS,
  tendPermissions,
} from "./systems.ts";
import { countByte, scanLines } from "./verify.ts";

/** Sizes and repetitions. */
export interface Sizes {
  runs: number;
  /** Lines in the throughput floods. */
  floodLines: number;
  /** Lines per child in the fairness flood (four children). */
  fairLines: number;
  /** Bytes the no-newline child writes. */
  blobBytes: number;
  /** Children in the scale scenario. */
  scaleChildren: number;
  /** Wait after the idle children are up before measuring. */
  idleSettleMs: number;
  /** How long idle CPU and wake-ups are counted. */
  idleWindowMs: number;
  /** How long the restart scenario lets a child bounce. */
  restartRunMs: number;
  /** Longest a flood may take before it is given up on. */
  timeoutMs: number;
}

/** The full-size run. */
export const FULL: Sizes = {
  runs: 5,
  floodLines: 1_000_000,
  fairLines: 250_000,
  blobBytes: 1024 ** 3,
  scaleChildren: 500,
  idleSettleMs: 2000,
  idleWindowMs: 3000,
  restartRunMs: 3000,
  timeoutMs: 120_000,
};

/** `--quick`: one run, smaller floods. */
export const QUICK: Sizes = {
  runs: 1,
  floodLines: 200_000,
  fairLines: 50_000,
  blobBytes: 256 * 1024 ** 2,
  scaleChildren: 500,
  idleSettleMs: 1000,
  idleWindowMs: 2000,
  restartRunMs: 1500,
  timeoutMs: 60_000,
};

/** What a scenario may use of the runner. */
export interface Ctx {
  sizes: Sizes;
  /** A fresh temp dir for this run, removed afterwards. */
  dir: string;
  /** Starts a system; the runner stops it (and all it started) afterwards. */
  launch(system: System, spec: LaunchSpec): Launched;
  /** Stops a system started by {@linkcode launch} now. */
  stop(launched: Launched): Promise<void>;
  /** Notes a fact about this run, shown under the table. */
  note(text: string): void;
}

/**
 * One run's value of a figure: a number; `{ over: n }` when the run gave up
 * waiting after n (shown as "> n"); null when it could not be measured.
 */
export type Value = number | null | { over: number };

/** One run's figures, by figure id. */
export type Figures = Record<string, Value>;

/** A scenario: an id, the systems it applies to, and one run. */
export interface Scenario {
  id: string;
  title: string;
  /** Which systems it runs (others are n/a, with the reason). */
  applies(system: System): true | string;
  run(system: System, ctx: Ctx): Promise<Figures>;
}

// Each child's payload is one letter, 99 times: a line of 100 bytes.
const LETTERS = ["Q", "J", "X", "V"];
const payloadOf = (i: number) => LETTERS[i]!.repeat(99);
const floodArgv = (payload: string, lines: number) => [
  "sh",
  "-c",
  `yes ${payload} 2>/dev/null | head -n ${lines}`,
];

const MB = (kb: number) => kb * 1024 / 1e6;

/** The median of some numbers, or null when there are none. */
export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

// Waits until `pid` has at least `n` children; resolves with the ms since
// it was started, or null after `timeoutMs`.
async function childrenUp(proc: Spawned, n: number, timeoutMs: number) {
  while (true) {
    const t = now() - proc.t0;
    if (childPids(proc.pid).length >= n) return t;
    if (t > timeoutMs || proc.exited()) return null;
    await sleep(1);
  }
}

const supervisorsOnly = (s: System) =>
  s.id === "raw" ? "no supervisor: nothing to measure" : true as const;

const isTend = (s: System) => TEND_IDS.includes(s.id);

// tend with its Deno.Command spawner runs only where the spawner makes a
// difference: starting children, reading their output, idle memory.
const notTendCmd = (s: System) =>
  s.id === "tend-cmd" ? "run with the FFI spawner only" : true as const;

// --- startup ----------------------------------------------------------------

const startup: Scenario = {
  id: "startup",
  title: "Startup",
  applies: () => true,
  async run(system, ctx) {
    const figures: Figures = {};
    // Start → its one child has become `sleep`.
    const a = ctx.launch(system, {
      procs: [{ name: "idle", argv: ["sleep", "1000"] }],
      restart: true,
    });
    let first: number | null = null;
    while (now() - a.proc.t0 < ctx.sizes.timeoutMs && !a.proc.exited()) {
      if (descendants(a.proc.pid).some((pid) => procStat(pid)?.comm === "sleep")) {
        first = now() - a.proc.t0;
        break;
      }
      await sleep(0.5);
    }
    figures["startup.first"] = first;
    await ctx.stop(a);
    // Start, run `true`, exit: only systems that exit once their processes
    // have (tend with restart: never; the raw shell).
    if (isTend(system) || system.id === "raw") {
      const b = ctx.launch(system, {
        procs: [{ name: "once", argv: ["true"] }],
        restart: false,
      });
      const status = await Promise.race([b.proc.status, sleep(10_000)]);
      figures["startup.once"] = status ? status.at - b.proc.t0 : null;
      if (status && status.code !== 0) ctx.note(`exited with status ${status.code}`);
      // `tend --version`: loading tend's modules and no more; the raw
      // column has Deno's own floor, `deno run` of an empty file.
      const empty = `${ctx.dir}/empty.ts`;
      Deno.writeTextFileSync(empty, "");
      const t0 = now();
      const version = await new Deno.Command("deno", {
        args: isTend(system)
          ? ["run", ...tendPermissions(), MAIN_TS, "--version"]
          : ["run", empty],
        stdin: "null",
        stdout: "null",
        stderr: "null",
      }).output();
      figures["startup.version"] = version.success ? now() - t0 : null;
    }
    return figures;
  },
};

// --- throughput -------------------------------------------------------------

function throughput(json: boolean): Scenario {
  const key = json ? "json" : "text";
  return {
    id: `throughput-${key}`,
    title: `Throughput, ${key} output`,
    applies: (s) =>
      !json
        ? true
        : s.id === "tend-cmd"
        ? notTendCmd(s)
        : s.json || "has no JSON log format",
    async run(system, ctx) {
      const lines = ctx.sizes.floodLines;
      const payload = payloadOf(0);
      const launched = ctx.launch(system, {
        procs: [{ name: "flood", argv: floodArgv(payload, lines) }],
        restart: false,
        json,
      });
      const s = new Sampler(launched.proc, launched.files);
      if (await s.until(floodOver(64 * 1024), ctx.sizes.timeoutMs)) {
        ctx.note(`gave up after ${ctx.sizes.timeoutMs / 1000} s`);
      }
      const file = launched.outputs["flood"]!;
      const scan = scanLines(file, [launched.shape("flood", payload)], [0x51]);
      const first = s.timeAt(file, scan.firstPayloadEnd);
      const last = s.timeAt(file, scan.lastPayloadEnd);
      return {
        [`${key}.e2e`]: last ? lines / (last / 1000) : null,
        [`${key}.flood`]: first !== null && last !== null && last > first
          ? (lines - 1) / ((last - first) / 1000)
          : null,
        [`${key}.lost`]: lines - scan.intact[0]!,
        [`${key}.fragments`]: scan.fragments,
        ...(system.id === "raw" ? {} : {
          [`${key}.rss`]: MB(s.hwmKb),
          [`${key}.cpu`]: s.cpuTicks / CLOCK_TICKS,
          [`${key}.cpuLine`]: s.cpuTicks / CLOCK_TICKS / lines * 1e6,
          // From the first line out to the last: the flood's own cost, with
          // startup left out as in the rate above (10 ms clock ticks).
          [`${key}.cpuFlood`]: first !== null && last !== null && last > first
            ? (s.cpuAt(last) - s.cpuAt(first)) / CLOCK_TICKS / (lines - 1) * 1e6
            : null,
        }),
      };
    },
  };
}

// --- a child writing without newlines -----------------------------------------

const noNewline: Scenario = {
  id: "no-newline",
  title: "A child writing without newlines",
  applies: notTendCmd,
  async run(system, ctx) {
    const bytes = ctx.sizes.blobBytes;
    const launched = ctx.launch(system, {
      procs: [{
        name: "blob",
        argv: ["sh", "-c", `head -c ${bytes} /dev/zero | tr '\\0' Q`],
      }],
      restart: false,
    });
    const s = new Sampler(launched.proc, launched.files);
    if (await s.until(floodOver(64 * 1024), ctx.sizes.timeoutMs)) {
      ctx.note(`gave up after ${ctx.sizes.timeoutMs / 1000} s`);
    }
    const file = launched.outputs["blob"]!;
    const count = countByte(file, 0x51);
    const last = s.timeAt(file, count.lastEnd);
    if (count.count < bytes) {
      ctx.note(`delivered ${count.count} of ${bytes} bytes`);
    }
    return {
      ...(system.id === "raw"
        ? {}
        : { "blob.rss": MB(s.hwmKb), "blob.cpu": s.cpuTicks / CLOCK_TICKS }),
      "blob.delivered": 100 * count.count / bytes,
      "blob.time": last === null ? null : last / 1000,
      "blob.pieces": count.lines,
    };
  },
};

// --- fairness -----------------------------------------------------------------

const fairness: Scenario = {
  id: "fairness",
  title: "Four floods at once",
  applies: notTendCmd,
  async run(system, ctx) {
    const lines = ctx.sizes.fairLines;
    const procs: ProcSpec[] = LETTERS.map((_, i) => ({
      name: `flood${i + 1}`,
      argv: floodArgv(payloadOf(i), lines),
    }));
    const launched = ctx.launch(system, { procs, restart: false });
    const s = new Sampler(launched.proc, launched.files);
    if (await s.until(floodOver(64 * 1024), ctx.sizes.timeoutMs)) {
      ctx.note(`gave up after ${ctx.sizes.timeoutMs / 1000} s`);
    }
    // Scan each output file once, for the children that write to it.
    const firsts: (number | null)[] = [];
    const lasts: (number | null)[] = [];
    let intact = 0;
    let fragments = 0;
    const detail: string[] = [];
    for (const file of launched.files) {
      const idx = procs.map((p, i) => launched.outputs[p.name] === file ? i : -1)
        .filter((i) => i >= 0);
      const scan = scanLines(
        file,
        idx.map((i) => launched.shape(procs[i]!.name, payloadOf(i))),
        LETTERS.map((l) => l.charCodeAt(0)),
      );
      fragments += scan.fragments;
      idx.forEach((i, k) => {
        intact += scan.intact[k]!;
        firsts[i] = s.timeAt(file, scan.firstEnd[k]!);
        lasts[i] = s.timeAt(file, scan.lastEnd[k]!);
        detail.push(
          `${procs[i]!.name}: ${scan.intact[k]} lines, ${
            firsts[i]?.toFixed(0) ?? "-"
          }–${lasts[i]?.toFixed(0) ?? "-"} ms`,
        );
      });
    }
    ctx.note(detail.join("; "));
    const known = (a: (number | null)[]): a is number[] =>
      a.length === procs.length && a.every((v) => typeof v === "number");
    const figures: Figures = {
      "fair.lost": procs.length * lines - intact,
      "fair.fragments": fragments,
    };
    if (!known(firsts) || !known(lasts)) return figures;
    // Measured from the first line out, so that startup does not count.
    const start = Math.min(...firsts);
    const lag = Math.max(...firsts) - start;
    const firstDone = Math.min(...lasts) - start;
    figures["fair.lag"] = lag;
    figures["fair.done"] = firstDone;
    figures["fair.ok"] = lag <= firstDone / 2 ? 1 : 0;
    return figures;
  },
};

// --- idle footprint -------------------------------------------------------------

async function idleRun(system: System, ctx: Ctx, n: number): Promise<Figures> {
  if (system.id === "raw") return await floorRun(ctx, n);
  const procs = Array.from({ length: n }, (_, i) => ({
    name: `idle${i + 1}`,
    argv: ["sleep", "1000"],
  }));
  const launched = ctx.launch(system, { procs, restart: true });
  const pid = launched.proc.pid;
  const up = await childrenUp(launched.proc, n, 60_000);
  if (up === null) {
    ctx.note(`${n} children did not come up within 60 s`);
    return {};
  }
  await sleep(ctx.sizes.idleSettleMs);
  const mem = procMemory(pid);
  const own = procPrivate(pid);
  const cpu0 = procStat(pid)?.cpuTicks;
  const wake0 = wakeups(pid);
  await sleep(ctx.sizes.idleWindowMs);
  const cpu1 = procStat(pid)?.cpuTicks;
  const wake1 = wakeups(pid);
  await ctx.stop(launched);
  return {
    [`idle${n}.rss`]: mem ? MB(mem.rssKb) : null,
    [`idle${n}.private`]: own ? MB(own.privateKb) : null,
    [`idle${n}.pss`]: own ? MB(own.pssKb) : null,
    [`idle${n}.cpu`]: cpu0 !== undefined && cpu1 !== undefined
      ? (cpu1 - cpu0) * 1000 / CLOCK_TICKS
      : null,
    [`idle${n}.wake`]: wake0 !== null && wake1 !== null ? wake1 - wake0 : null,
  };
}

/**
 * Deno's floor, in the raw column: `deno run` of a script that only waits
 * (an empty script would exit), measured as tend is, after the same
 * settling time. The benchmark is itself a Deno process, so the deno
 * binary's pages count as shared for both.
 */
async function floorRun(ctx: Ctx, n: number): Promise<Figures> {
  const script = `${ctx.dir}/floor.ts`;
  Deno.writeTextFileSync(script, "setTimeout(() => {}, 1e9);\n");
  const proc = spawnSession(["deno", "run", script], { cwd: ctx.dir });
  try {
    // Up once its main thread has started the runtime's worker threads.
    const deadline = now() + 10_000;
    while (now() < deadline && (procStat(proc.pid)?.comm ?? "") !== "deno") {
      await sleep(5);
    }
    await sleep(ctx.sizes.idleSettleMs);
    const mem = procMemory(proc.pid);
    const own = procPrivate(proc.pid);
    return {
      [`idle${n}.rss`]: mem ? MB(mem.rssKb) : null,
      [`idle${n}.private`]: own ? MB(own.privateKb) : null,
      [`idle${n}.pss`]: own ? MB(own.pssKb) : null,
    };
  } finally {
    await terminate(proc);
  }
}

const idle: Scenario = {
  id: "idle",
  title: "Idle footprint",
  applies: () => true,
  async run(system, ctx) {
    return {
      ...await idleRun(system, ctx, 3),
      ...await idleRun(system, ctx, 100),
    };
  },
};

// --- scale ------------------------------------------------------------------------

const scale: Scenario = {
  id: "scale",
  title: "Many children",
  applies: supervisorsOnly,
  async run(system, ctx): Promise<Figures> {
    const n = ctx.sizes.scaleChildren;
    const procs = Array.from({ length: n }, (_, i) => ({
      name: `idle${i + 1}`,
      argv: ["sleep", "1000"],
    }));
    const launched = ctx.launch(system, { procs, restart: true });
    const proc = launched.proc;
    const up = await childrenUp(proc, n, 60_000);
    if (up === null) {
      ctx.note(`only ${childPids(proc.pid).length} of ${n} children after 60 s`);
      return { "scale.start": { over: 60 } };
    }
    await sleep(500);
    const t0 = now();
    killPid(proc.pid, "SIGTERM");
    const status = await Promise.race([proc.status, sleep(30_000)]);
    if (!status) {
      ctx.note(
        `still running 30 s after SIGTERM, with ${childPids(proc.pid).length} children`,
      );
      return { "scale.start": up / 1000, "scale.stop": { over: 30 } };
    }
    const left = ours().length;
    if (status.code !== 0) ctx.note(`exit status ${status.code} after SIGTERM`);
    return {
      "scale.start": up / 1000,
      "scale.stop": (status.at - t0) / 1000,
      "scale.left": left,
    };
  },
};

// --- restart latency --------------------------------------------------------------

// bash stamps (in microseconds, with $EPOCHREALTIME, no fork) the moment
// it starts and the moment its 150 ms of work ends, just before it exits.
function bounceScript(file: string): string {
  return `printf 'S %s\\n' "$EPOCHREALTIME" >>${file}; sleep 0.15; ` +
    `printf 'E %s\\n' "$EPOCHREALTIME" >>${file}`;
}

/** From E/S stamps: each end followed by a start, in ms. */
export function restartGaps(text: string): number[] {
  const gaps: number[] = [];
  let end: number | null = null;
  for (const line of text.split("\n")) {
    const [kind, stamp] = line.split(" ");
    if (!stamp) continue;
    const t = Number(stamp.replace(",", ".")) * 1000;
    if (kind === "E") end = t;
    else if (kind === "S" && end !== null) {
      gaps.push(t - end);
      end = null;
    }
  }
  return gaps;
}

/** From tend's JSON log: each "exited" followed by "started", in ms. */
export function tendLogGaps(text: string): number[] {
  const gaps: number[] = [];
  let exited: number | null = null;
  for (const line of text.split("\n")) {
    if (!line.includes('"event":"exited"') && !line.includes('"event":"started"')) {
      continue;
    }
    const record = JSON.parse(line) as { time: string; event: string };
    const t = Date.parse(record.time);
    if (record.event === "exited") exited = t;
    else if (exited !== null) {
      gaps.push(t - exited);
      exited = null;
    }
  }
  return gaps;
}

const restart: Scenario = {
  id: "restart",
  title: "Restart latency",
  applies: () => true,
  async run(system, ctx) {
    const stamps = `${ctx.dir}/stamps`;
    const launched = ctx.launch(system, {
      procs: [{ name: "bounce", argv: ["bash", "-c", bounceScript(stamps)] }],
      restart: true,
      threshold: 0.1,
      json: isTend(system),
    });
    await sleep(ctx.sizes.restartRunMs);
    await ctx.stop(launched);
    const gaps = restartGaps(readOr(stamps));
    const figures: Figures = {
      "restart.child": median(gaps),
      "restart.count": gaps.length,
    };
    if (gaps.length < 3) ctx.note(`only ${gaps.length} restarts`);
    if (isTend(system)) {
      figures["restart.log"] = median(tendLogGaps(readOr(launched.files[0]!)));
    }
    return figures;
  },
};

/** Every scenario, in the order they run. */
export const SCENARIOS: Scenario[] = [
  startup,
  throughput(false),
  throughput(true),
  noNewline,
  fairness,
  idle,
  scale,
  restart,
];

/** How a figure is shown and judged. */
export interface Figure {
  id: string;
  label: string;
  unit: "lines/s" | "ms" | "µs" | "s" | "MB" | "count" | "%" | "yes/no" | "×";
  /** Which way is better, for tend's ratio to the others; null: no ratio. */
  better: "higher" | "lower" | null;
  /** The target, as text, and its check on each tend's median. */
  target?: string;
  check?: (tend: number, row: Partial<Record<SystemId, number | null>>) => boolean;
  /**
   * A ratio measured within each run: each tend system's `of` divided by
   * `over`'s in the same run (systems take turns within a run), then the
   * median over the runs. Absolute figures differ 3× between machines;
   * such ratios hold.
   */
  ratio?: { of: string; over: SystemId };
}

/** Every figure, in table order. */
export const FIGURES: Figure[] = [
  {
    id: "startup.first",
    label: "startup: start → first child running",
    unit: "ms",
    better: "lower",
  },
  {
    id: "startup.once",
    label: "startup: start, run `true`, exit",
    unit: "ms",
    better: "lower",
  },
  {
    id: "startup.version",
    label: "startup: `tend --version` (raw: `deno run` of an empty file)",
    unit: "ms",
    better: "lower",
  },
  {
    id: "startup.version÷raw",
    label: "startup: `tend --version` ÷ `deno run` of an empty file, same run",
    unit: "×",
    better: null,
    ratio: { of: "startup.version", over: "raw" },
  },
  {
    id: "text.e2e",
    label: "text flood: rate, start → last line out",
    unit: "lines/s",
    better: "higher",
    target: "≥ 2M",
    check: (v) => v >= 2e6,
  },
  {
    id: "text.flood",
    label: "text flood: rate, first → last line out (startup not counted)",
    unit: "lines/s",
    better: "higher",
    target: "≥ 2M",
    check: (v) => v >= 2e6,
  },
  {
    id: "text.flood÷supervisord",
    label: "text flood: rate (first → last) ÷ supervisord's, same run",
    unit: "×",
    better: null,
    target: "≥ 1",
    check: (v) => v >= 1,
    ratio: { of: "text.flood", over: "supervisord" },
  },
  {
    id: "text.lost",
    label: "text flood: lines not delivered intact (lost or split)",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "text.fragments",
    label: "text flood: fragment lines (pieces of split lines)",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "text.rss",
    label: "text flood: peak RSS of the supervisor",
    unit: "MB",
    better: "lower",
    target: "< 100",
    check: (v) => v < 100,
  },
  {
    id: "text.cpu",
    label: "text flood: CPU time of the supervisor (user + system)",
    unit: "s",
    better: "lower",
  },
  {
    id: "text.cpuLine",
    label: "text flood: CPU time per line, startup included",
    unit: "µs",
    better: "lower",
  },
  {
    id: "text.cpuFlood",
    label: "text flood: CPU time per line, first → last line out",
    unit: "µs",
    better: "lower",
  },
  {
    id: "text.cpuFlood÷supervisord",
    label: "text flood: CPU per line (first → last) ÷ supervisord's, same run",
    unit: "×",
    better: null,
    target: "≤ 1",
    check: (v) => v <= 1,
    ratio: { of: "text.cpuFlood", over: "supervisord" },
  },
  {
    id: "json.e2e",
    label: "JSON flood: rate, start → last line out",
    unit: "lines/s",
    better: "higher",
    target: "≥ 1M",
    check: (v) => v >= 1e6,
  },
  {
    id: "json.flood",
    label: "JSON flood: rate, first → last line out (startup not counted)",
    unit: "lines/s",
    better: "higher",
    target: "≥ 1M",
    check: (v) => v >= 1e6,
  },
  {
    id: "json.lost",
    label: "JSON flood: lines not delivered intact",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "json.fragments",
    label: "JSON flood: fragment lines (records holding part of a line, or several)",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "json.rss",
    label: "JSON flood: peak RSS of the supervisor",
    unit: "MB",
    better: "lower",
    target: "< 100",
    check: (v) => v < 100,
  },
  {
    id: "json.cpu",
    label: "JSON flood: CPU time of the supervisor",
    unit: "s",
    better: "lower",
  },
  {
    id: "blob.rss",
    label: "no newline (1 GiB): peak RSS of the supervisor",
    unit: "MB",
    better: "lower",
    target: "< 100",
    check: (v) => v < 100,
  },
  {
    id: "blob.delivered",
    label: "no newline: bytes delivered",
    unit: "%",
    better: null,
    target: "100",
    check: (v) => v === 100,
  },
  {
    id: "blob.time",
    label: "no newline: start → last byte out",
    unit: "s",
    better: "lower",
  },
  {
    id: "blob.cpu",
    label: "no newline: CPU time of the supervisor",
    unit: "s",
    better: "lower",
  },
  {
    id: "blob.pieces",
    label: "no newline: output lines holding the bytes",
    unit: "count",
    better: null,
  },
  {
    id: "fair.lag",
    label: "4 floods: last child's first line, after the first child's",
    unit: "ms",
    better: "lower",
  },
  {
    id: "fair.done",
    label: "4 floods: first child's last line, after the first line",
    unit: "ms",
    better: "lower",
  },
  {
    id: "fair.ok",
    label:
      "4 floods: fair (every child's first line before the first finisher is half done)",
    unit: "yes/no",
    better: null,
    target: "yes",
    check: (v) => v === 1,
  },
  {
    id: "fair.lost",
    label: "4 floods: lines not delivered intact",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "fair.fragments",
    label: "4 floods: fragment lines",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "idle3.rss",
    label: "3 idle children: VmRSS of the supervisor (raw: Deno's floor)",
    unit: "MB",
    better: "lower",
  },
  {
    id: "idle3.rss÷raw",
    label: "3 idle children: VmRSS ÷ Deno's floor, same run",
    unit: "×",
    better: null,
    target: "≤ 1.3",
    check: (v) => v <= 1.3,
    ratio: { of: "idle3.rss", over: "raw" },
  },
  {
    id: "idle3.private",
    label: "3 idle children: private memory (Private_Clean + Private_Dirty)",
    unit: "MB",
    better: "lower",
    target: "≤ 15",
    check: (v) => v <= 15,
  },
  {
    id: "idle3.private÷raw",
    label: "3 idle children: private memory ÷ Deno's floor's, same run",
    unit: "×",
    better: null,
    ratio: { of: "idle3.private", over: "raw" },
  },
  {
    id: "idle3.pss",
    label: "3 idle children: proportional set size (Pss)",
    unit: "MB",
    better: "lower",
  },
  {
    id: "idle3.cpu",
    label: "3 idle children: CPU time over the idle window",
    unit: "ms",
    better: null,
    target: "0 (≤ 1 tick)",
    check: (v) => v <= 10,
  },
  {
    id: "idle3.wake",
    label: "3 idle children: wake-ups (context switches) over the window",
    unit: "count",
    better: "lower",
  },
  {
    id: "idle100.rss",
    label: "100 idle children: VmRSS of the supervisor (raw: Deno's floor)",
    unit: "MB",
    better: "lower",
  },
  {
    id: "idle100.rss÷raw",
    label: "100 idle children: VmRSS ÷ Deno's floor, same run",
    unit: "×",
    better: null,
    target: "≤ 1.6",
    check: (v) => v <= 1.6,
    ratio: { of: "idle100.rss", over: "raw" },
  },
  {
    id: "idle100.private",
    label: "100 idle children: private memory",
    unit: "MB",
    better: "lower",
  },
  {
    id: "idle100.private÷raw",
    label: "100 idle children: private memory ÷ Deno's floor's, same run",
    unit: "×",
    better: null,
    ratio: { of: "idle100.private", over: "raw" },
  },
  {
    id: "idle100.pss",
    label: "100 idle children: proportional set size (Pss)",
    unit: "MB",
    better: "lower",
  },
  {
    id: "idle100.cpu",
    label: "100 idle children: CPU time over the idle window",
    unit: "ms",
    better: null,
    target: "0 (≤ 1 tick)",
    check: (v) => v <= 10,
  },
  {
    id: "idle100.wake",
    label: "100 idle children: wake-ups over the window",
    unit: "count",
    better: "lower",
  },
  {
    id: "scale.start",
    label: "500 children: start → all running",
    unit: "s",
    better: "lower",
    target: "< 1",
    check: (v) => v < 1,
  },
  {
    id: "scale.stop",
    label: "500 children: SIGTERM → supervisor exited",
    unit: "s",
    better: "lower",
    target: "< 1",
    check: (v) => v < 1,
  },
  {
    id: "scale.left",
    label: "500 children: processes left when it exited",
    unit: "count",
    better: null,
    target: "0",
    check: (v) => v === 0,
  },
  {
    id: "restart.child",
    label: "restart: child's last instant → next child's first (median)",
    unit: "ms",
    better: "lower",
  },
  {
    id: "restart.child÷raw",
    label: "restart: latency ÷ the shell floor's, same run",
    unit: "×",
    better: null,
    target: "≤ 1.5",
    check: (v) => v <= 1.5,
    ratio: { of: "restart.child", over: "raw" },
  },
  {
    id: "restart.log",
    label: "restart: tend's own log, exited → started (1 ms resolution, median)",
    unit: "ms",
    better: null,
  },
  {
    id: "restart.count",
    label: "restart: restarts seen per run",
    unit: "count",
    better: null,
  },
];
