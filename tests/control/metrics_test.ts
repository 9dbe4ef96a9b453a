/**
 * The Prometheus exposition, as a pure function: every family with HELP
 * and TYPE, contiguous, no series twice, label values escaped, bounded
 * labels, values that follow the status; and what a Supervisor on the
 * fake reactor counts for it (lines and bytes per stream, exits).
 */

import assert from "node:assert/strict";
import {
  type MetricsInput,
  type ProcessMetrics,
  renderMetrics,
  STATES,
} from "../../lib/control/metrics.ts";
import { DEFAULT_TIMING } from "../../lib/core/spec.ts";
import { type LogDestination, Logger } from "../../lib/output/log.ts";
import { Supervisor } from "../../lib/supervisor.ts";
import { FakeProber, FakeReactor } from "../_fakes/fakes.ts";
import { parseExposition } from "../_fakes/prometheus.ts";

function proc(over: Partial<ProcessMetrics> = {}): ProcessMetrics {
  return {
    name: "web",
    state: "RUNNING",
    ready: true,
    held: false,
    restarts: 0,
    startTime: 1_700_000_000.25,
    counts: undefined,
    ...over,
  };
}

function input(processes: ProcessMetrics[]): MetricsInput {
  return {
    processes,
    version: "0.1.0",
    deno: "2.9.6",
    startTime: 1_700_000_000,
    residentMemory: 50_000_000,
    cpuSeconds: 1.5,
  };
}

Deno.test("every family has HELP and TYPE, counters end in _total, times in _seconds, no series twice", () => {
  const text = renderMetrics(input([
    proc(),
    proc({
      name: "worker",
      state: "BACKOFF",
      ready: false,
      restarts: 4,
      startTime: null,
    }),
  ]));
  const { families, series } = parseExposition(text);
  assert.deepEqual(families.map((f) => f.name), [
    "tend_process_up",
    "tend_process_state",
    "tend_process_ready",
    "tend_process_held",
    "tend_process_restarts_total",
    "tend_process_exits_total",
    "tend_process_start_time_seconds",
    "tend_process_output_lines_total",
    "tend_process_output_bytes_total",
    "tend_build_info",
    "process_start_time_seconds",
    "process_resident_memory_bytes",
    "process_cpu_seconds_total",
  ]);
  for (const f of families) {
    assert.equal(f.type === "counter", f.name.endsWith("_total"), f.name);
  }
  assert.equal(series.get('tend_process_up{process="web"}'), 1);
  assert.equal(series.get('tend_process_up{process="worker"}'), 0);
  assert.equal(series.get('tend_process_restarts_total{process="worker"}'), 4);
  assert.equal(
    series.get('tend_process_start_time_seconds{process="web"}'),
    1700000000.25,
  );
  assert.equal(series.has('tend_process_start_time_seconds{process="worker"}'), false);
  assert.equal(series.get('tend_build_info{version="0.1.0",deno="2.9.6"}'), 1);
  assert.equal(series.get("process_resident_memory_bytes"), 50_000_000);
});

Deno.test("tend_process_state is 1 for the current state and 0 for each other", () => {
  for (const state of STATES) {
    const { series } = parseExposition(renderMetrics(input([proc({ state })])));
    for (const other of STATES) {
      assert.equal(
        series.get(`tend_process_state{process="web",state="${other}"}`),
        other === state ? 1 : 0,
        `${state}: ${other}`,
      );
    }
    assert.equal(
      series.get('tend_process_up{process="web"}'),
      state === "RUNNING" || state === "STARTING" ? 1 : 0,
    );
  }
});

Deno.test("labels are bounded (process, state, stream) and their values are escaped", () => {
  const text = renderMetrics({
    ...input([proc({ name: "a.b_c-1" })]),
    version: 'x"y\\z\nw',
  });
  assert.match(text, /tend_build_info\{version="x\\"y\\\\z\\nw",deno="2\.9\.6"\} 1\n/);
  const labels = new Set(
    [...text.matchAll(/[{,]([a-z_]+)="/g)].map((m) => m[1]),
  );
  assert.deepEqual([...labels].sort(), [
    "deno",
    "process",
    "state",
    "stream",
    "version",
  ]);
  assert.doesNotMatch(text, /pid=|code=|time=/);
});

Deno.test("output counts show per stream, zero before any output", () => {
  const text = renderMetrics(input([
    proc({
      counts: {
        stdout: { lines: 3, bytes: 20 },
        stderr: { lines: 1, bytes: 5 },
        exits: 2,
      },
    }),
    proc({ name: "quiet" }),
  ]));
  const { series } = parseExposition(text);
  assert.equal(
    series.get('tend_process_output_lines_total{process="web",stream="stdout"}'),
    3,
  );
  assert.equal(
    series.get('tend_process_output_bytes_total{process="web",stream="stderr"}'),
    5,
  );
  assert.equal(series.get('tend_process_exits_total{process="web"}'), 2);
  assert.equal(
    series.get('tend_process_output_lines_total{process="quiet",stream="stderr"}'),
    0,
  );
  assert.equal(series.get('tend_process_exits_total{process="quiet"}'), 0);
});

class Sink implements LogDestination {
  write(p: Uint8Array): Promise<number> {
    return Promise.resolve(p.length);
  }
}

Deno.test("the supervisor counts lines and bytes per stream (bytes as written), and exits", async () => {
  const reactor = new FakeReactor();
  const supervisor = new Supervisor({
    prober: new FakeProber(reactor.clock),
    config: {
      file: "procs.yaml",
      timing: { ...DEFAULT_TIMING },
      processes: { web: { argv: ["web"] }, gone: { argv: ["gone"] } },
    },
    load: () =>
      Promise.resolve({
        config: {
          file: "procs.yaml",
          timing: { ...DEFAULT_TIMING },
          processes: { web: { argv: ["web"] } },
        },
      }),
    spawner: reactor,
    clock: reactor.monitorClock,
    log: new Logger({ out: new Sink() }),
    signalNumber: () => 15,
  });
  supervisor.start();
  const web = reactor.spawnedProcesses[0]!;
  web.outReceived("one\ntwo\r\nthr");
  web.outReceived("ee\n");
  web.errReceived("oops\n");
  reactor.spawnedProcesses[1]!.outReceived("x\n");
  const counts = supervisor.counters.get("web")!;
  assert.deepEqual(counts.stdout, { lines: 3, bytes: 15 });
  assert.deepEqual(counts.stderr, { lines: 1, bytes: 5 });
  assert.equal(counts.exits, 0);
  await reactor.advance(2);
  web.processEnded({ code: 1, signal: null });
  await reactor.advance(0);
  assert.equal(supervisor.counters.get("web")!.exits, 1);
  // A line over 64 KiB counts once per piece the framer makes of it.
  const long = reactor.spawnedProcesses.at(-1)!;
  long.outReceived("y".repeat(64 * 1024 + 10) + "\n");
  assert.equal(supervisor.counters.get("web")!.stdout.lines, 5);
  // A process removed by a reload takes its counts with it.
  const report = await supervisor.reload("test");
  assert.ok(report.ok);
  assert.equal(supervisor.counters.get("gone"), undefined);
  assert.ok(supervisor.counters.get("web"));
});
