/**
 * The output path's own cost, with and without the WebAssembly framer:
 * 64 KiB chunks of a flood through the composition the Supervisor builds
 * (framer, then the output ring, then the log), the log written to
 * /dev/null, one turn of the event loop per chunk as reads give. JS and
 * WebAssembly take turns, run after run; the figure is the median.
 *
 * Both wall-clock rates and CPU-time rates (lines per second of this
 * process's user + system time) are reported: on a shared machine the
 * CPU figure is the steadier of the two.
 *
 * Usage: deno run -A bench/framer.ts [--lines N] [--runs N]
 *
 * @module
 */

import { cpuUsage } from "node:process";
import { parseArgs } from "node:util";
import { write } from "../lib/cli/console.ts";
import { LineFramer, teeLines } from "../lib/output/framer.ts";
import { type LogFormat, Logger } from "../lib/output/log.ts";
import { OutputRing } from "../lib/output/ring.ts";
import { SIMD } from "../lib/output/wasm.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    lines: { type: "string", default: "2000000" },
    runs: { type: "string", default: "7" },
  },
});
const LINES = Number(values.lines);
const RUNS = Number(values.runs);

/** The inputs: 64 KiB chunks of lines, as `yes | head` or a logger writes them. */
const INPUTS: { name: string; line: string }[] = [
  { name: "100-byte lines", line: "Q".repeat(99) + "\n" },
  { name: "30-byte lines", line: "Q".repeat(29) + "\n" },
  { name: "1 KB lines", line: "Q".repeat(999) + "\n" },
  {
    name: "100-byte UTF-8 lines (— é €)",
    line: 'level=info msg="réponse envoyée — 200 €" ' + "x".repeat(55) + "\n",
  },
];

function chunksOf(line: string): Uint8Array[] {
  const bytes = new TextEncoder().encode(
    line.repeat(Math.ceil(4 * 65536 / line.length)),
  );
  const chunks: Uint8Array[] = [];
  for (let at = 0; at + 65536 <= bytes.length; at += 65536) {
    chunks.push(bytes.slice(at, at + 65536));
  }
  return chunks;
}

const devNull = await Deno.open("/dev/null", { write: true });

/** One run: wall milliseconds and CPU milliseconds for LINES lines. */
async function run(
  format: LogFormat,
  wasm: boolean,
  chunks: Uint8Array[],
  lineLength: number,
): Promise<{ wall: number; cpu: number }> {
  const log = new Logger({ out: devNull, format });
  const ring = new OutputRing();
  const framer = new LineFramer(
    teeLines(ring.lines("flood", 1, "stdout"), log.lines("flood", 1, "stdout")),
    undefined,
    { wasm },
  );
  const total = LINES * lineLength;
  const cpu0 = cpuUsage();
  const t0 = performance.now();
  // Bounded: each round feeds a chunk.
  for (let fed = 0, i = 0; fed < total; i++) {
    const chunk = chunks[i % chunks.length]!;
    framer.push(chunk);
    fed += chunk.length;
    // A read's turn: the log's write starts, and waits when congested.
    await (log.backpressure() ?? Promise.resolve());
  }
  await log.flush();
  const wall = performance.now() - t0;
  const { user, system } = cpuUsage(cpu0);
  return { wall, cpu: (user + system) / 1000 };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const rate = (ms: number) => `${(LINES / ms / 1000).toFixed(1)}M`;

if (SIMD === null) write(Deno.stderr, "WebAssembly SIMD is not available here\n");
const rows: string[] = [];
for (const format of ["text", "json"] as const) {
  for (const input of INPUTS) {
    const chunks = chunksOf(input.line);
    const got: Record<"js" | "wasm", { wall: number[]; cpu: number[] }> = {
      js: { wall: [], cpu: [] },
      wasm: { wall: [], cpu: [] },
    };
    // One warm-up of each, then turns.
    for (let r = -1; r < RUNS; r++) {
      for (const wasm of [false, true]) {
        const { wall, cpu } = await run(format, wasm, chunks, input.line.length);
        if (r >= 0) {
          got[wasm ? "wasm" : "js"].wall.push(wall);
          got[wasm ? "wasm" : "js"].cpu.push(cpu);
        }
      }
    }
    const js = got.js, w = got.wasm;
    rows.push(
      `| ${format}, ${input.name} | ${rate(median(js.wall))} | ${
        rate(median(w.wall))
      } | ` +
        `${rate(median(js.cpu))} | ${rate(median(w.cpu))} | ` +
        `${(median(js.cpu) / median(w.cpu)).toFixed(1)}× |`,
    );
    write(Deno.stderr, `${rows.at(-1)}\n`);
  }
}
write(
  Deno.stdout,
  [
    `${LINES} lines a run, ${RUNS} runs, medians; framer, ring and log, to /dev/null`,
    "",
    "| input | JS lines/s | wasm lines/s | JS lines/CPU-s | wasm lines/CPU-s | CPU JS ÷ wasm |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    ...rows,
    "",
  ].join("\n"),
);
