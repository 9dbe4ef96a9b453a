/**
 * The cost of a log file on a real flood: tend's Supervisor with the real
 * spawner, the real text log (to /dev/null, or with `--to file` to a
 * file: "stdout only") and the real log files (`os/log_files.ts`),
 * supervising `yes | head -n N` (lines of 100 bytes), once with a log
 * file for the flooding process (`maxBytes` 10MB, `backups` 5: the
 * defaults, so rotations are part of it) and once without, each run in a
 * fresh process, in turns. Left out is only what does not change with
 * the file: the command line, loading the config and the control socket.
 *
 * Each run reports the flood's rate (lines over the time from the start
 * to the child's exit having been logged and the file closed), the
 * process's CPU time over that stretch, its peak RSS (`VmHWM`), and
 * how many records the file dropped because it could not keep up (the
 * files say so in a record of their own). Other load on the machine only slows runs down, so the
 * best run is the closest to the code's own cost, the median the typical
 * one.
 *
 * Usage: deno run -A bench/file_flood.ts [--lines N] [--runs N] [--to null|file]
 *   [--max-bytes N] (the file's maxBytes; default 10MB)
 *   [--dir DIR] (where the log files go; default a temp dir under /tmp)
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { write } from "../lib/cli/console.ts";
import { DEFAULT_LOG_ROTATION, DEFAULT_TIMING } from "../lib/core/spec.ts";
import { systemClock } from "../lib/os/clock.ts";
import { DenoSpawner } from "../lib/os/deno_spawner.ts";
import { denoLogFiles } from "../lib/os/log_files.ts";
import { DenoProber } from "../lib/os/probes.ts";
import { signalNumber } from "../lib/os/signals.ts";
import { Logger } from "../lib/output/log.ts";
import { Supervisor } from "../lib/supervisor.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "2000000" },
    runs: { type: "string", default: "5" },
    child: { type: "string" },
    to: { type: "string", default: "null" },
    dir: { type: "string" },
    "max-bytes": { type: "string" },
  },
});
const LINES = Number(values.lines);

/** One run's figures. */
interface Run {
  rate: number;
  cpu: number;
  /** The kernel's share of `cpu` (writing pages, renames, freeing old copies). */
  sys: number;
  /** Peak resident set, bytes. */
  rss: number;
  /** Lines of the flood the log files hold (current file and backups). */
  kept: number;
  /** Records the file dropped, as its own records about lost ones say. */
  lost: number;
  /** Bytes in the log files. */
  bytes: number;
}

async function peakRss(): Promise<number> {
  const status = await Deno.readTextFile("/proc/self/status");
  const kb = Number(status.match(/^VmHWM:\s+(\d+) kB$/m)?.[1] ?? NaN);
  return kb * 1024;
}

// In the child: one flood, its figures as JSON on stderr.
async function child(withFile: boolean): Promise<void> {
  const stdoutFile = values.to === "file"
    ? await Deno.makeTempFile({ prefix: "tend-flood-" })
    : null;
  const out = await Deno.open(stdoutFile ?? "/dev/null", { write: true });
  const dir = await Deno.makeTempDir({ prefix: "tend-files-", dir: values.dir });
  const logFile = join(dir, "flood.log");
  const log = new Logger({ out });
  const supervisor = new Supervisor({
    prober: new DenoProber(),
    config: {
      file: "bench",
      timing: { ...DEFAULT_TIMING },
      processes: {
        flood: {
          argv: ["sh", "-c", `yes ${"Q".repeat(99)} | head -n ${LINES}`],
          restart: "never",
          ...(withFile
            ? {
              log: {
                file: logFile,
                ...DEFAULT_LOG_ROTATION,
                ...(values["max-bytes"]
                  ? { maxBytes: Number(values["max-bytes"]) }
                  : {}),
              },
            }
            : {}),
        },
      },
    },
    load: null,
    spawner: new DenoSpawner(),
    clock: systemClock,
    log,
    signalNumber,
    logFiles: denoLogFiles,
  });
  const c0 = cpuUsage();
  const t0 = performance.now();
  supervisor.start();
  await supervisor.exit;
  await Promise.all([log.flush(), supervisor.closeLogFiles()]);
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(c0);
  // Before the files are read back below, which costs memory of its own.
  const rss = await peakRss();
  let kept = 0;
  let bytes = 0;
  let lost = 0;
  for await (const entry of Deno.readDir(dir)) {
    const data = await Deno.readFile(join(dir, entry.name));
    bytes += data.length;
    const text = new TextDecoder().decode(data);
    for (const match of text.matchAll(/ (\d+) log records? w(?:as|ere) lost/g)) {
      lost += Number(match[1]);
    }
    // Flood lines only: "HH:MM:SS.mmm [flood] QQQ...\n".
    for (let i = data.indexOf(0x0a); i !== -1; i = data.indexOf(0x0a, i + 1)) {
      if (data[i - 1] === 0x51) kept++;
    }
  }
  const run: Run = {
    rate: LINES / seconds,
    cpu: (cpu.user + cpu.system) / 1e6,
    sys: cpu.system / 1e6,
    rss,
    kept,
    bytes,
    lost,
  };
  write(Deno.stderr, JSON.stringify(run) + "\n");
  out.close();
  await Deno.remove(dir, { recursive: true });
  if (stdoutFile !== null) await Deno.remove(stdoutFile);
}

async function once(withFile: boolean): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--child",
      withFile ? "file" : "none",
      "--lines",
      String(LINES),
      "--to",
      values.to!,
      ...(values.dir ? ["--dir", values.dir] : []),
      ...(values["max-bytes"] ? ["--max-bytes", values["max-bytes"]] : []),
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stderr).trim();
  if (!out.success) throw new Error(`a run failed: ${text}`);
  return JSON.parse(text.split("\n").at(-1)!);
}

if (values.child !== undefined) {
  await child(values.child === "file");
} else {
  const runs = Number(values.runs);
  const on: Run[] = [];
  const off: Run[] = [];
  for (let i = 0; i < runs; i++) {
    // Alternate the order, so a drift of the machine touches both alike.
    if (i % 2 === 0) {
      on.push(await once(true));
      off.push(await once(false));
    } else {
      off.push(await once(false));
      on.push(await once(true));
    }
  }
  const median = (xs: number[]) =>
    [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
  const show = (label: string, rs: Run[]) =>
    `  ${label} rate median ${(median(rs.map((r) => r.rate)) / 1e6).toFixed(3)}M, ` +
    `best ${(Math.max(...rs.map((r) => r.rate)) / 1e6).toFixed(3)}M lines/s; ` +
    `CPU median ${median(rs.map((r) => r.cpu)).toFixed(2)} s ` +
    `(system ${median(rs.map((r) => r.sys)).toFixed(2)} s); ` +
    `peak RSS median ${mb(median(rs.map((r) => r.rss)))}, ` +
    `max ${mb(Math.max(...rs.map((r) => r.rss)))}\n`;
  const pct = (a: number, b: number) => `${(100 * a / b).toFixed(1)}%`;
  // What the file must hold: the newest lines that fit its 6 files.
  const kept = on.map((r) => r.kept);
  write(
    Deno.stdout,
    `text flood of ${LINES} lines of 100 bytes, stdout to ${
      values.to === "file" ? "a file" : "/dev/null"
    }, ${runs} runs each\n` + show("log file: ", on) + show("stdout only:", off) +
      `  log file / stdout only, rate: median ${
        pct(median(on.map((r) => r.rate)), median(off.map((r) => r.rate)))
      }, best ${
        pct(Math.max(...on.map((r) => r.rate)), Math.max(...off.map((r) => r.rate)))
      }; CPU time: median ${
        pct(median(on.map((r) => r.cpu)), median(off.map((r) => r.cpu)))
      }\n` +
      `  the log files held ${Math.min(...kept)}–${Math.max(...kept)} flood lines ` +
      `(${mb(Math.min(...on.map((r) => r.bytes)))}–${
        mb(Math.max(...on.map((r) => r.bytes)))
      } in 6 files of at most 10 MB); records dropped for a file that could not ` +
      `keep up: ${on.map((r) => r.lost).join(", ")}\n`,
  );
}
