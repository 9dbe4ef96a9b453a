/**
 * `deno task bench`: runs every scenario against tend, the raw baseline and
 * whichever of supervisord, Twisted's procmon and PM2 are installed, and
 * prints one markdown table of medians (also saved, with every run's
 * values, under bench/out/).
 *
 * Usage: deno run -A bench/run.ts [--quick] [--runs N] [--only S,...]
 * [--systems S,...]
 *
 * @module
 */

import { parseArgs } from "node:util";
import { write } from "../lib/cli/console.ts";
import { MARK, sweep, terminate } from "./proc.ts";
import {
  type Ctx,
  type Figures,
  FULL,
  QUICK,
  type Scenario,
  SCENARIOS,
  type Sizes,
} from "./scenarios.ts";
import {
  detect,
  type Launched,
  type Missing,
  type System,
  SYSTEM_IDS,
  type SystemId,
} from "./systems.ts";
import { type Reasons, renderTable, type Results } from "./table.ts";

const print = (text: string) => write(Deno.stdout, text + "\n");
const progress = (text: string) => write(Deno.stderr, text + "\n");

const USAGE =
  `Usage: deno task bench [--quick] [--runs N] [--only SCENARIO,...] [--systems SYSTEM,...]

  --quick        one run of each scenario, smaller floods
  --runs N       runs of each scenario (default 5; the median is reported)
  --only LIST    scenarios: ${SCENARIOS.map((s) => s.id).join(", ")}
  --systems LIST systems: ${SYSTEM_IDS.join(", ")}
  --keep         keep each run's temp dir (configs and outputs) under /tmp
`;

// Every system started and not yet stopped, for cleanup on any exit.
const active = new Set<Launched>();

async function stopAll(): Promise<void> {
  await Promise.all([...active].map((l) => terminate(l.proc)));
  active.clear();
  await sweep();
}

function machine(): string[] {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const cores = cpuinfo.match(/^processor\s*:/gm)?.length ?? 0;
  const memKb = Number(
    /^MemTotal:\s+(\d+)/m.exec(Deno.readTextFileSync("/proc/meminfo"))?.[1],
  );
  return [
    `${cores} CPUs (nproc), ${model}, ${(memKb / 1024 ** 2).toFixed(0)} GiB RAM`,
    `Linux ${Deno.osRelease()}, load average at start ${
      Deno.loadavg().map((l) => l.toFixed(2)).join(" ")
    }`,
  ];
}

let keep = false;

async function runOne(
  scenario: Scenario,
  system: System,
  sizes: Sizes,
  notes: string[],
  label: string,
): Promise<Figures> {
  const dir = Deno.makeTempDirSync({ dir: "/tmp", prefix: "tend-bench-" });
  const mine = new Set<Launched>();
  const ctx: Ctx = {
    sizes,
    dir,
    launch(sys, spec) {
      const launched = sys.launch(dir, spec);
      mine.add(launched);
      active.add(launched);
      return launched;
    },
    async stop(launched) {
      await terminate(launched.proc);
      mine.delete(launched);
      active.delete(launched);
    },
    note(text) {
      notes.push(`${label}: ${text}`);
    },
  };
  try {
    return await scenario.run(system, ctx);
  } catch (error) {
    ctx.note(`failed: ${(error as Error).stack ?? error}`);
    return {};
  } finally {
    for (const launched of mine) {
      await terminate(launched.proc);
      active.delete(launched);
    }
    const stray = await sweep();
    if (stray > 0) ctx.note(`${stray} stray processes killed after the run`);
    if (keep) progress(`kept ${dir}`);
    else Deno.removeSync(dir, { recursive: true });
  }
}

function show(figures: Figures): string {
  return Object.entries(figures)
    .map(([k, v]) =>
      `${k}=${
        v === null
          ? "-"
          : typeof v !== "number"
          ? `>${v.over}`
          : Number.isInteger(v)
          ? v
          : Number(v.toPrecision(4))
      }`
    )
    .join(" ");
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      runs: { type: "string" },
      only: { type: "string" },
      systems: { type: "string" },
      keep: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) {
    print(USAGE);
    return 0;
  }
  keep = values.keep ?? false;
  const sizes: Sizes = { ...(values.quick ? QUICK : FULL) };
  if (values.runs) sizes.runs = Math.max(1, Number(values.runs) | 0);
  const only = values.only?.split(",");
  const scenarios = only ? SCENARIOS.filter((s) => only.includes(s.id)) : SCENARIOS;
  if (only && scenarios.length !== only.length) {
    progress(`unknown scenario in --only ${values.only}\n${USAGE}`);
    return 64;
  }

  const wanted = values.systems?.split(",") as SystemId[] | undefined;
  if (wanted?.some((id) => !SYSTEM_IDS.includes(id))) {
    progress(`unknown system in --systems ${values.systems}\n${USAGE}`);
    return 64;
  }
  const detected = await detect();
  const systems = detected.found.filter((s) => !wanted || wanted.includes(s.id));
  const missing: Missing[] = detected.missing;

  const started = new Date();
  const header = [
    `tend benchmark, ${started.toISOString().slice(0, 16).replace("T", " ")} UTC`,
    ...machine(),
    `systems: ${systems.map((s) => s.version).join("; ")}`,
    ...missing.map((m) => `skipped ${m.id}: not installed (${m.install})`),
    `runs: ${sizes.runs} per scenario, median reported; flood ${sizes.floodLines} lines ` +
    `of 100 bytes, fairness 4 × ${sizes.fairLines}, no-newline ${
      sizes.blobBytes / 1024 ** 2
    } MiB, scale ${sizes.scaleChildren} children`,
  ];
  progress(header.join("\n"));

  const results: Results = {};
  const reasons: Reasons = {};
  const notes: string[] = [];

  // A warm-up launch of each system, so that no first run pays for cold
  // caches.
  for (const system of systems) {
    await runOne(SCENARIOS[0]!, system, sizes, [], "warm-up");
  }

  for (const scenario of scenarios) {
    for (let run = 1; run <= sizes.runs; run++) {
      // Systems take turns within each run, so a slow drift of the machine
      // touches them all alike.
      for (const system of systems) {
        const applies = scenario.applies(system);
        if (applies !== true) {
          if (run === 1) {
            notes.push(`${scenario.id} ${system.id}: n/a, ${applies}`);
            reasons[scenario.id] ??= {};
            reasons[scenario.id]![system.id] = applies;
          }
          continue;
        }
        const label = `${scenario.id} run ${run}/${sizes.runs} ${system.id}`;
        const figures = await runOne(scenario, system, sizes, notes, label);
        progress(`${label}: ${show(figures)}`);
        // At the run's index, so that ratios pair the runs of two systems.
        for (const [id, value] of Object.entries(figures)) {
          results[id] ??= {};
          (results[id]![system.id] ??= [])[run - 1] = value;
        }
      }
    }
    // Figures a scenario does not produce for a system are n/a with its reason.
    const reason = reasons[scenario.id];
    if (reason) {
      for (const id of Object.keys(results)) {
        if (!id.startsWith(scenarioPrefix(scenario.id))) continue;
        reasons[id] = { ...reasons[id], ...reason };
      }
    }
  }

  const table = renderTable(results, reasons, systems.map((s) => s.id));
  const load = Deno.loadavg().map((l) => l.toFixed(2)).join(" ");
  header.push(
    `finished ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ` +
      `load average ${load}`,
  );
  const report = [
    ...header.map((l) => `- ${l}`),
    "",
    table,
    "",
    ...(notes.length ? ["Notes:", "", ...notes.map((n) => `- ${n}`)] : []),
  ].join("\n");
  print("\n" + report);

  const outDir = new URL("./out/", import.meta.url).pathname;
  Deno.mkdirSync(outDir, { recursive: true });
  Deno.writeTextFileSync(`${outDir}latest.md`, report + "\n");
  Deno.writeTextFileSync(
    `${outDir}latest.json`,
    JSON.stringify({ started, header, sizes, results, notes, mark: MARK }, null, 2),
  );
  progress(`\nsaved bench/out/latest.md and bench/out/latest.json`);
  return 0;
}

// The figure ids each scenario produces start with these.
function scenarioPrefix(scenario: string): string {
  return {
    "startup": "startup.",
    "throughput-text": "text.",
    "throughput-json": "json.",
    "no-newline": "blob.",
    "fairness": "fair.",
    "idle": "idle",
    "scale": "scale.",
    "restart": "restart.",
  }[scenario] ?? scenario;
}

if (import.meta.main) {
  const onSignal = async () => {
    progress("\ninterrupted: stopping everything the benchmark started");
    await stopAll();
    Deno.exit(130);
  };
  // Listening also resets these signals to their defaults in every process
  // the benchmark starts (a handled signal is reset by exec; an ignored one
  // stays ignored). Run in the background, the benchmark would otherwise
  // pass on SIGINT and SIGQUIT ignored (nohup: SIGHUP), and the supervisors
  // would not run as they do when started from a terminal: PM2's restarts,
  // for one, then take ~700 ms instead of ~20.
  for (const signal of ["SIGINT", "SIGTERM", "SIGQUIT", "SIGHUP"] as const) {
    Deno.addSignalListener(signal, onSignal);
  }
  let code = 1;
  try {
    code = await main();
  } finally {
    await stopAll();
  }
  Deno.exit(code);
}
