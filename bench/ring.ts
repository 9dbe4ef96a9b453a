/**
 * The cost of the output ring on the flood: the Supervisor's own output
 * path (framer, ring tee, text log) fed the same 100-byte lines, once as
 * tend runs (ring on) and once built with `ring: null` (ring off), in
 * turns, the log written to /dev/null. Only the child is fake: its
 * output arrives in 64 KiB chunks, each read waiting for the log's
 * back-pressure the way the real spawner does.
 *
 * Both wall-clock rates and CPU-time rates (lines per second of this
 * process's user + system time) are reported: on a shared machine the
 * CPU figure is the steadier of the two.
 *
 * Usage: deno run -A bench/ring.ts [--lines N] [--runs N] [--format text|json]
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { write } from "../lib/cli/console.ts";
import type { Child, ChildEvents, Clock, Spawner } from "../lib/core/ports.ts";
import { DEFAULT_TIMING } from "../lib/core/spec.ts";
import { type LogFormat, Logger } from "../lib/output/log.ts";
import { type OutputSpawner, Supervisor } from "../lib/supervisor.ts";
import { DenoProber } from "../lib/os/probes.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "2000000" },
    runs: { type: "string", default: "7" },
    format: { type: "string", default: "text" },
  },
});
const LINES = Number(values.lines);
const RUNS = Number(values.runs);
const FORMAT = values.format as LogFormat;

// 64 KiB of 100-byte lines (99 letters and a newline), as `yes | head` writes.
const LINE = "Q".repeat(99) + "\n";
const PER_CHUNK = Math.floor(65536 / LINE.length);
const CHUNK = new TextEncoder().encode(LINE.repeat(PER_CHUNK));

/** A spawner whose one child is the benchmark's flood. */
class FloodSpawner implements OutputSpawner, Spawner {
  events: ChildEvents | null = null;
  spawn(_request: unknown, events: ChildEvents): Child {
    this.events = events;
    return {
      pid: 4242,
      reaped: false,
      signal() {},
      stop() {},
      watchGroup: () => () => {},
    };
  }
  idle(): Promise<void> {
    return Promise.resolve();
  }
  leaving(): void {}
}

const clock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as number),
  queueMicrotask: (fn) => queueMicrotask(fn),
};

/** One run's rates: lines per wall-clock second and per CPU second. */
interface Rate {
  wall: number;
  cpu: number;
}

async function once(ring: boolean): Promise<Rate> {
  const devNull = await Deno.open("/dev/null", { write: true });
  const log = new Logger({ out: devNull, format: FORMAT });
  const spawner = new FloodSpawner();
  const supervisor = new Supervisor({
    prober: new DenoProber(),
    config: {
      file: "bench",
      timing: { ...DEFAULT_TIMING },
      processes: { flood: { argv: ["flood"] } },
    },
    load: null,
    spawner,
    clock,
    log,
    signalNumber: () => 0,
    ...(ring ? {} : { ring: null }),
  });
  supervisor.start();
  const out = spawner.events!.stdout;
  const chunks = Math.ceil(LINES / PER_CHUNK);
  const t0 = performance.now();
  const c0 = cpuUsage();
  for (let i = 0; i < chunks; i++) {
    // Each read is its own turn, as with a real pipe.
    await out.write(CHUNK);
    await new Promise<void>((resolve) => queueMicrotask(resolve));
  }
  await log.flush();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuUsage(c0);
  devNull.close();
  const lines = chunks * PER_CHUNK;
  return { wall: lines / seconds, cpu: lines / ((cpu.user + cpu.system) / 1e6) };
}

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const on: Rate[] = [];
const off: Rate[] = [];
await once(true); // warm-up, both paths
await once(false);
for (let i = 0; i < RUNS; i++) {
  // Alternate the order, so a drift of the machine touches both alike.
  if (i % 2 === 0) {
    on.push(await once(true));
    off.push(await once(false));
  } else {
    off.push(await once(false));
    on.push(await once(true));
  }
}
const row = (label: string, rates: Rate[], key: keyof Rate) => {
  const xs = rates.map((r) => r[key]);
  return `  ${label} median ${(median(xs) / 1e6).toFixed(3)}, best ${
    (Math.max(...xs) / 1e6).toFixed(3)
  }   (runs: ${xs.map((x) => (x / 1e6).toFixed(2)).join(" ")})\n`;
};
// Other load on the machine only slows a run down: the best run is the
// closest to the cost of the code alone, the median the typical one.
const ratio = (key: keyof Rate) => {
  const of = (rates: Rate[], f: (xs: number[]) => number) =>
    f(rates.map((r) => r[key]));
  const best = (xs: number[]) => Math.max(...xs);
  return `median ${(100 * of(on, median) / of(off, median)).toFixed(1)}%, best ${
    (100 * of(on, best) / of(off, best)).toFixed(1)
  }%`;
};
write(
  Deno.stdout,
  `${FORMAT} flood through the Supervisor's output path, ${LINES} lines of 100 bytes, ` +
    `${RUNS} runs each (million lines/s, median)\n` +
    "per wall-clock second:\n" + row("ring on: ", on, "wall") +
    row("ring off:", off, "wall") +
    `  ring on / off: ${ratio("wall")}\n` +
    "per CPU second (user + system):\n" + row("ring on: ", on, "cpu") +
    row("ring off:", off, "cpu") + `  ring on / off: ${ratio("cpu")}\n`,
);
