/**
 * tend's metrics against the real Prometheus tools from Debian's
 * `prometheus` package: `promtool check metrics` on a real scrape, and a
 * real Prometheus server on 127.0.0.1 that scrapes a real tend and answers
 * a query for `tend_process_up`.
 *
 * Prometheus reloads new targets on a timer of its own: its first scrape
 * comes about 6 s after it starts, whatever the scrape interval (1 s
 * here). The waits below poll, with room to spare.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { listening, until } from "../_fakes/http.ts";
import { parseExposition } from "../_fakes/prometheus.ts";
import { SLEEPER, tempDir, tend, yaml } from "../_fakes/tend.ts";
import { assertTool, freePort, needs, which } from "../_fakes/tools.ts";

const PROMTOOL = await which("promtool");
const PROMETHEUS = await which("prometheus");
const NO_PROMTOOL = PROMTOOL === null ? "promtool (apt-get install prometheus)" : null;
const NO_PROMETHEUS = PROMETHEUS === null
  ? "the prometheus server (apt-get install prometheus)"
  : null;

// How long to wait for Prometheus to scrape and answer: it needs ~6 s.
const PROMETHEUS_WAIT = 60_000;

const decoder = new TextDecoder();

async function promtool(args: string[], stdin?: string) {
  const child = new Deno.Command(PROMTOOL!, {
    args,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

Deno.test(
  needs("promtool check metrics finds nothing wrong with a real scrape", NO_PROMTOOL),
  async () => {
    assertTool(NO_PROMTOOL);
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        minRestartDelay: 0.2,
        maxRestartDelay: 0.4,
        processes: {
          web: { cmd: ["sh", "-c", "echo ready; echo warn >&2; exec sleep 1000"] },
          crash: { cmd: ["sh", "-c", "echo bye; exit 2"] },
          "odd.name-1": { cmd: SLEEPER, autostart: false },
        },
      }),
    );
    await using t = tend([
      "run",
      "--log-format",
      "json",
      "--http",
      "127.0.0.1:0",
      file,
    ]);
    const at = await listening(t);
    await t.said("web", "ready");
    await t.event("crash", "exited");
    const res = await fetch(`${at.base}/metrics`);
    const text = await res.text();
    const checked = await promtool(["check", "metrics"], text);
    assert.equal(checked.code, 0, `${checked.stderr}\n${text}`);
    assert.equal(checked.stderr, "");
    // What promtool does not check: no series twice, each family in one block.
    const { series } = parseExposition(text);
    assert.equal(series.get('tend_process_up{process="odd.name-1"}'), 0);
    assert.ok(series.get('tend_process_exits_total{process="crash"}')! >= 1);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);

Deno.test(
  needs(
    "a real Prometheus on 127.0.0.1 scrapes tend and answers a query for tend_process_up",
    NO_PROMETHEUS ?? NO_PROMTOOL,
  ),
  async () => {
    assertTool(NO_PROMETHEUS ?? NO_PROMTOOL);
    await using dir = await tempDir();
    const file = await dir.write(
      "procs.yaml",
      yaml({
        processes: {
          web: { cmd: SLEEPER },
          held: { cmd: SLEEPER, autostart: false },
        },
      }),
    );
    await using t = tend([
      "run",
      "--log-format",
      "json",
      "--http",
      "127.0.0.1:0",
      file,
    ]);
    const at = await listening(t);
    await t.said("web", "ready");

    const config = await dir.write(
      "prometheus.yml",
      [
        "global:",
        "  scrape_interval: 1s",
        "  scrape_timeout: 1s",
        "  evaluation_interval: 1s",
        "scrape_configs:",
        "  - job_name: tend",
        "    static_configs:",
        `      - targets: ["127.0.0.1:${at.port}"]`,
        "",
      ].join("\n"),
    );
    const valid = await promtool(["check", "config", config]);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);

    const port = freePort();
    const server = new Deno.Command(PROMETHEUS!, {
      args: [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dir.path, "data")}`,
        `--web.listen-address=127.0.0.1:${port}`,
        "--log.level=warn",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const logs = Promise.all([
      new Response(server.stdout).text(),
      new Response(server.stderr).text(),
    ]);
    const base = `http://127.0.0.1:${port}`;
    try {
      await until("Prometheus to be ready", async () => {
        const r = await fetch(`${base}/-/ready`).catch(() => null);
        await r?.body?.cancel();
        return r?.status === 200 ? true : undefined;
      }, PROMETHEUS_WAIT);
      // deno-lint-ignore no-explicit-any
      const query = async (q: string): Promise<any[]> => {
        const r = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(q)}`);
        const body = await r.json();
        assert.equal(body.status, "success", JSON.stringify(body));
        return body.data.result;
      };
      const up = await until("Prometheus to have scraped tend_process_up", async () => {
        const result = await query("tend_process_up");
        return result.length >= 2 ? result : undefined;
      }, PROMETHEUS_WAIT);
      const byName = new Map(
        up.map((r) => [r.metric.process as string, r.value[1] as string]),
      );
      assert.equal(byName.get("web"), "1");
      assert.equal(byName.get("held"), "0");
      assert.equal(up[0].metric.job, "tend");
      assert.equal(up[0].metric.instance, `127.0.0.1:${at.port}`);
      const target = await query('up{job="tend"}');
      assert.equal(target[0].value[1], "1");
      const targets = await (await fetch(`${base}/api/v1/targets`)).json();
      const active = targets.data.activeTargets[0];
      assert.equal(active.health, "up", JSON.stringify(active));
      assert.equal(active.lastError, "");
    } catch (error) {
      server.kill("SIGTERM");
      await server.status;
      const [out, err] = await logs;
      throw new Error(`${(error as Error).message}\n--- prometheus said\n${out}${err}`);
    }
    server.kill("SIGTERM");
    assert.equal((await server.status).code, 0, "Prometheus stops cleanly on SIGTERM");
    await logs;
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
  },
);
