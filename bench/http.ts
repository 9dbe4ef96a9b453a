/**
 * The HTTP listener's costs: how long a Prometheus scrape of `/metrics`
 * takes with many processes (on a kept-alive connection, as Prometheus
 * scrapes, and the rendering alone), and tend's resident memory with the
 * listener and an open dashboard against without.
 *
 * Memory is read from /proc/PID/status (VmRSS, and VmHWM, the peak) of a
 * real `tend run` with the start task's permissions, once its processes
 * all run and after it settled: without `--http`; with it and no client;
 * after 30 scrapes at Prometheus' pace (one a second); with the dashboard
 * open in headless chromium for 10 s, following every process's log while
 * one child prints 20 lines a second; and after a burst of 2,000 scrapes
 * back to back.
 *
 * Usage: deno run -A bench/http.ts [--processes N] [--scrapes N] [--no-browser]
 *
 * @module
 */

import { join } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import denoJson from "../deno.json" with { type: "json" };
import { write } from "../lib/cli/console.ts";
import { renderMetrics } from "../lib/control/metrics.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    processes: { type: "string", default: "100" },
    scrapes: { type: "string", default: "500" },
    "no-browser": { type: "boolean", default: false },
  },
});
const PROCESSES = Number(values.processes);
const SCRAPES = Number(values.scrapes);

const MAIN = fileURLToPath(new URL("../main.ts", import.meta.url));
const PERMISSIONS = denoJson.tasks.start.split(/\s+/).filter((a) =>
  a.startsWith("--allow-")
);
const print = (text: string) => write(Deno.stdout, text + "\n");
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const stats = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  const at = (q: number) =>
    sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return `median ${at(0.5).toFixed(2)} ms, p95 ${at(0.95).toFixed(2)} ms, ` +
    `max ${sorted.at(-1)!.toFixed(2)} ms (${ms.length} scrapes)`;
};

function memory(pid: number): { rss: number; hwm: number } {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const kb = (key: string) =>
    Number(new RegExp(`${key}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  return { rss: kb("VmRSS") / 1024, hwm: kb("VmHWM") / 1024 };
}

const dir = await Deno.makeTempDir({ prefix: "tend-bench-http-" });
const processes: Record<string, unknown> = Object.fromEntries(
  Array.from({ length: PROCESSES }, (_, i) => [`p${i}`, { cmd: ["sleep", "1000"] }]),
);
processes["talker"] = {
  cmd: [
    "sh",
    "-c",
    "i=0; while :; do i=$((i+1)); echo line $i of the talker; sleep 0.05; done",
  ],
};
const file = join(dir, "procs.yaml");
await Deno.writeTextFile(file, JSON.stringify({ processes }));

/** A tend run, its pid, and (with --http) where it listens. */
async function start(http: boolean) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...PERMISSIONS,
      MAIN,
      "run",
      "--log-format",
      "json",
      "--socket",
      join(dir, `tend-${http}.sock`),
      ...(http ? ["--http", "127.0.0.1:0"] : []),
      file,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  let base = "";
  let token = "";
  let started = 0;
  const reading = (async () => {
    let rest = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      const parts = (rest + text).split("\n");
      rest = parts.pop()!;
      for (const line of parts) {
        const r = JSON.parse(line);
        if (r.event === "started") started++;
        const m = /dashboard (http:\/\/[^/]+)\/#token=([\w-]+)/.exec(r.message);
        if (m) [base, token] = [m[1]!, m[2]!];
      }
    }
  })();
  for (let i = 0; i < 3000 && started < PROCESSES + 1; i++) await sleep(10);
  if (started < PROCESSES + 1) throw new Error(`only ${started} processes started`);
  await sleep(2000); // let it settle
  return {
    pid: child.pid,
    base,
    token,
    async stop() {
      child.kill("SIGTERM");
      await child.status;
      await reading;
    },
  };
}

// 1. Rendering alone, for PROCESSES processes.
{
  const input = {
    processes: Array.from({ length: PROCESSES }, (_, i) => ({
      name: `p${i}`,
      state: "RUNNING" as const,
      ready: true,
      held: false,
      restarts: i,
      startTime: 1.7e9 + i,
      counts: {
        stdout: { lines: i, bytes: i * 80 },
        stderr: { lines: 0, bytes: 0 },
        exits: i,
      },
    })),
    version: "0.1.0",
    deno: Deno.version.deno,
    startTime: 1.7e9,
    residentMemory: 5e7,
    cpuSeconds: 1,
  };
  for (let i = 0; i < 200; i++) renderMetrics(input);
  const times: number[] = [];
  let size = 0;
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    size = renderMetrics(input).length;
    times.push(performance.now() - t0);
  }
  print(`renderMetrics, ${PROCESSES} processes: ${stats(times)}; ${size} bytes`);
}

// 2. Memory without the listener.
const without = await start(false);
const base0 = memory(without.pid);
await without.stop();
print(
  `tend without --http (${PROCESSES + 1} processes): RSS ${base0.rss.toFixed(1)} MB`,
);

// 3. With it: idle, with the dashboard, after many scrapes.
const tend = await start(true);
try {
  const idle = memory(tend.pid);
  print(
    `tend with --http, no client: RSS ${idle.rss.toFixed(1)} MB (${
      (idle.rss - base0.rss).toFixed(1)
    } MB more)`,
  );

  // Prometheus' pace (one scrape a second, here for 30 s).
  for (let i = 0; i < 30; i++) {
    await (await fetch(`${tend.base}/metrics`)).text();
    await sleep(1000);
  }
  const paced = memory(tend.pid);
  print(
    `tend after 30 scrapes at 1/s: RSS ${paced.rss.toFixed(1)} MB (${
      (paced.rss - base0.rss).toFixed(1)
    } MB more than without --http)`,
  );

  if (!values["no-browser"]) {
    Deno.env.set("__IS_WSL_TEST__", "1");
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    try {
      const page = await browser.newPage();
      await page.goto(`${tend.base}/#token=${tend.token}`);
      await page.locator('tr[data-name="talker"] .state', { hasText: "RUNNING" })
        .waitFor();
      await page.locator("#all-logs").click();
      await page.locator("#log .line", { hasText: "of the talker" }).first().waitFor();
      await sleep(10_000);
      const open = memory(tend.pid);
      print(
        `tend with the dashboard open 10 s, following every log: RSS ${
          open.rss.toFixed(1)
        } MB (${(open.rss - base0.rss).toFixed(1)} MB more than without --http; peak ${
          open.hwm.toFixed(1)
        } MB)`,
      );
    } finally {
      await browser.close();
    }
  }

  // Scrape latency over one kept-alive connection, back to back.
  for (let i = 0; i < 20; i++) await (await fetch(`${tend.base}/metrics`)).text();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < SCRAPES; i++) {
    const t0 = performance.now();
    const text = await (await fetch(`${tend.base}/metrics`)).text();
    times.push(performance.now() - t0);
    bytes = text.length;
  }
  print(`GET /metrics, ${PROCESSES + 1} processes: ${stats(times)}; ${bytes} bytes`);
  for (let i = 0; i < 2000 - SCRAPES; i++) {
    await (await fetch(`${tend.base}/metrics`)).text();
  }
  await sleep(1000);
  const scraped = memory(tend.pid);
  print(
    `tend after a burst of 2000 scrapes back to back: RSS ${
      scraped.rss.toFixed(1)
    } MB (peak ${scraped.hwm.toFixed(1)} MB)`,
  );
} finally {
  await tend.stop();
  await Deno.remove(dir, { recursive: true });
}
