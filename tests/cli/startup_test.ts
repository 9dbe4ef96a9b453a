/**
 * Signals during a long startup: tend starts processes in batches, so a
 * SIGTERM that comes while hundreds are still to start is answered at
 * once, and the rest are never started.
 */

import assert from "node:assert/strict";
import { NO_PS, only } from "../_fakes/proc.ts";
import { assertNothingLeft, tempDir, tend, yaml } from "../_fakes/tend.ts";

const COUNT = 400;

Deno.test(
  only(
    "a SIGTERM during the start of 400 processes is answered before they have all started",
    NO_PS,
  ),
  async () => {
    // Regression: every spawn ran before the event loop turned, so with
    // 5,000 processes SIGTERM and SIGHUP waited 51 s for the last start.
    await using dir = await tempDir();
    const processes: Record<string, unknown> = {};
    for (let i = 0; i < COUNT; i++) processes[`p${i}`] = { cmd: ["sleep", "1000"] };
    const file = await dir.write("procs.yaml", yaml({ killTime: 2, processes }));
    await using t = tend(["run", "--log-format", "json", file]);
    await t.event("p0", "started");
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    const started = t.records.filter((r) => r.event === "started").length;
    const stopping = t.records.findIndex((r) =>
      r.process === null && r.message.startsWith("SIGTERM: stopping")
    );
    assert.ok(stopping !== -1, t.transcript());
    assert.ok(started < COUNT, `${started} of ${COUNT} started before the stop`);
    // Nothing started after the stop request, and nothing is left behind.
    assert.equal(
      t.records.slice(stopping).filter((r) => r.event === "started").length,
      0,
    );
    await assertNothingLeft(t);
  },
);
