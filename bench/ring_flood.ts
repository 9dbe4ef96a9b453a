/**
 * The cost of the output ring on a real flood: tend's Supervisor with the
 * real spawner and the real text log (to /dev/null) supervising `yes |
 * head -n N` (lines of 100 bytes), built as tend builds it (ring on) and
 * with `ring: null` (ring off), each run in a fresh process, in turns.
 * What is left out is only what does not change with the ring: the
 * command line, loading the config and the control socket.
 *
 * Each run reports the flood's rate (lines over the time from the start
 * to the child's exit having been logged) and the process's CPU time
 * over that stretch. Other load on the machine only slows runs down, so
 * the best run is the closest to the code's own cost, the median the
 * typical one.
 *
 * The log goes to /dev/null, where the ring's share of the work is the
 * largest, or with `--to file` to a file, as in `deno task bench`.
 *
 * Usage: deno run -A bench/ring_flood.ts [--lines N] [--runs N] [--to null|file]
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { write } from "../lib/cli/console.ts";
import { DEFAULT_TIMING } from "../lib/core/spec.ts";
import { systemClock } from "../lib/os/clock.ts";
import { DenoSpawner } from "../lib/os/deno_spawner.ts";
import { signalNumber } from "../lib/os/signals.ts";
import { Logger } from "../lib/output/log.ts";
import { Supervisor } from "../lib/supervisor.ts";
import { DenoProber } from "../lib/os/probes.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "4000000" },
    runs: { type: "string", default: "9" },
    child: { type: "string" },
    to: { type: "string", default: "null" },
  },
});
const LINES = Number(values.lines);

/** One run's figures. */
interface Run {
  rate: number;
  cpu: number;
}

// In the child: one flood, its figures as JSON on stderr.
async function child(ring: boolean): Promise<void> {
  const file = values.to === "file"
    ? await Deno.makeTempFile({ prefix: "tend-flood-" })
    : null;
  const devNull = await Deno.open(file ?? "/dev/null", { write: true });
  const log = new Logger({ out: devNull });
  const spawner = new DenoSpawner();
  const supervisor = new Supervisor({
    prober: new DenoProber(),
    config: {
      file: "bench",
      timing: { ...DEFAULT_TIMING },
      processes: {
        flood: {
          argv: ["sh", "-c", `yes ${"Q".repeat(99)} | head -n ${LINES}`],
          restart: "never",
        },
      },
    },
    load: null,
    spawner,
    clock: systemClock,
    log,
    signalNumber,
    ...(ring ? {} : { ring: null }),
  });
  const c0 = cpuUsage();
  const t0 = performance.now();
  supervisor.start();
  await supervisor.exit;
  await log.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(c0);
  const run: Run = { rate: LINES / seconds, cpu: (cpu.user + cpu.system) / 1e6 };
  write(Deno.stderr, JSON.stringify(run) + "\n");
  devNull.close();
  if (file !== null) await Deno.remove(file);
}

async function once(ring: boolean): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--child",
      ring ? "on" : "off",
      "--lines",
      String(LINES),
      "--to",
      values.to!,
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
  await child(values.child === "on");
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
  const show = (label: string, rs: Run[]) =>
    `  ${label} rate median ${(median(rs.map((r) => r.rate)) / 1e6).toFixed(3)}M, ` +
    `best ${(Math.max(...rs.map((r) => r.rate)) / 1e6).toFixed(3)}M lines/s; ` +
    `CPU median ${median(rs.map((r) => r.cpu)).toFixed(3)} s, ` +
    `best ${Math.min(...rs.map((r) => r.cpu)).toFixed(3)} s\n`;
  const pct = (a: number, b: number) => `${(100 * a / b).toFixed(1)}%`;
  write(
    Deno.stdout,
    `text flood of ${LINES} lines of 100 bytes through the real spawner and log ` +
      `(to ${values.to === "file" ? "a file" : "/dev/null"}), ` +
      `${runs} runs each\n` + show("ring on: ", on) + show("ring off:", off) +
      `  ring on / off, rate: median ${
        pct(median(on.map((r) => r.rate)), median(off.map((r) => r.rate)))
      }, best ${
        pct(Math.max(...on.map((r) => r.rate)), Math.max(...off.map((r) => r.rate)))
      }\n` +
      `  ring on / off, CPU time: median ${
        pct(median(on.map((r) => r.cpu)), median(off.map((r) => r.cpu)))
      }, best ${
        pct(Math.min(...on.map((r) => r.cpu)), Math.min(...off.map((r) => r.cpu)))
      }\n`,
  );
}
