/**
 * The control plane's round trip: `tend status` against a running tend,
 * as a user runs it (a new `deno run` of main.ts each time, with the start
 * task's permissions: Deno's startup, loading tend's modules, finding the
 * socket, one request, printing), and the API call alone (`GET
 * /v1/status` through the client in this process: the first request on a
 * new connection, then requests on a kept-alive one).
 *
 * Usage: deno run -A bench/control.ts [--processes N] [--runs N] [--calls N]
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { write } from "../lib/cli/console.ts";
import { ControlClient } from "../lib/control/client.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    processes: { type: "string", default: "3" },
    runs: { type: "string", default: "20" },
    calls: { type: "string", default: "500" },
  },
});
const PROCESSES = Number(values.processes);
const RUNS = Number(values.runs);
const CALLS = Number(values.calls);

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PERMISSIONS = denoJson.tasks.start.split(/\s+/).filter((a) =>
  a.startsWith("--allow-")
);
const print = (text: string) => write(Deno.stdout, text + "\n");

const dir = await Deno.makeTempDir({ prefix: "tend-bench-control-" });
const file = join(dir, "procs.yaml");
const processes = Object.fromEntries(
  Array.from({ length: PROCESSES }, (_, i) => [`p${i}`, { cmd: ["sleep", "1000"] }]),
);
await Deno.writeTextFile(file, JSON.stringify({ processes }));

const tend = new Deno.Command(Deno.execPath(), {
  args: ["run", ...PERMISSIONS, MAIN, "run", file],
  stdin: "null",
  stdout: "null",
  stderr: "null",
}).spawn();

function status(): Promise<Deno.CommandOutput> {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "status", "-c", file, "--json"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
}

const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms, ` +
    `min ${sorted[0]!.toFixed(2)} ms (${ms.length} runs)`;
};

try {
  // Wait (bounded) until tend answers with every process running.
  let socket = "";
  for (let i = 0; i < 600 && socket === ""; i++) {
    const out = await status();
    if (out.success) {
      const body = JSON.parse(new TextDecoder().decode(out.stdout));
      if (body.processes.every((p: { state: string }) => p.state === "RUNNING")) {
        socket = body.tend.socket;
      }
    }
    if (socket === "") await new Promise((r) => setTimeout(r, 50));
  }
  if (socket === "") throw new Error("tend did not come up");

  const whole: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    const out = await status();
    whole.push(performance.now() - t0);
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  }

  const choice = { path: socket, how: "bench", derived: false };
  const first: number[] = [];
  for (let i = 0; i < 10; i++) {
    const client = new ControlClient(choice);
    const t0 = performance.now();
    await client.get("/v1/status");
    first.push(performance.now() - t0);
    client.close();
  }
  const client = new ControlClient(choice);
  await client.get("/v1/status");
  const warm: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const t0 = performance.now();
    await client.get("/v1/status");
    warm.push(performance.now() - t0);
  }
  client.close();

  print(`tend status against a tend running ${PROCESSES} processes:`);
  print(`  the command (deno run main.ts status, start to exit): ${stats(whole)}`);
  print(`  GET /v1/status, first request on a new client:     ${stats(first)}`);
  print(`  GET /v1/status, kept-alive connection:             ${stats(warm)}`);
} finally {
  tend.kill("SIGTERM");
  await tend.status;
  await Deno.remove(dir, { recursive: true });
}
