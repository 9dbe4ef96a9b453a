/**
 * tend as one service: when it counts as ready, and its one-line count.
 */

import assert from "node:assert/strict";
import type { ProcessStatus } from "../../lib/core/monitor.ts";
import { allSettled, countStates, isSettled } from "../../lib/core/service_state.ts";

function status(state: string, extra: Partial<ProcessStatus> = {}): ProcessStatus {
  return { state, held: false, ...extra } as ProcessStatus;
}

Deno.test("settled: running, held, exited or fatal; not backing off, stopping or not yet started", () => {
  assert.equal(isSettled(status("RUNNING")), true);
  assert.equal(isSettled(status("STOPPED", { held: true })), true);
  assert.equal(isSettled(status("EXITED")), true);
  assert.equal(isSettled(status("FATAL")), true);
  assert.equal(isSettled(status("STOPPED")), false);
  assert.equal(isSettled(status("BACKOFF")), false);
  assert.equal(isSettled(status("STOPPING")), false);
  assert.equal(
    isSettled(status("STARTING")),
    false,
    "a state added later is not settled",
  );
});

Deno.test("a running process whose status says ready: false is not settled (readiness probes)", () => {
  const notReady = { ...status("RUNNING"), ready: false } as ProcessStatus;
  assert.equal(isSettled(notReady), false);
  assert.equal(isSettled({ ...status("RUNNING"), ready: true } as ProcessStatus), true);
});

Deno.test("allSettled: every one, and true for none", () => {
  assert.equal(allSettled([]), true);
  assert.equal(allSettled([status("RUNNING"), status("EXITED")]), true);
  assert.equal(allSettled([status("RUNNING"), status("BACKOFF")]), false);
});

Deno.test("countStates: what is up first, states it does not know last, in name order", () => {
  assert.equal(countStates([]), "no processes");
  assert.equal(
    countStates([
      status("FATAL"),
      status("BACKOFF"),
      status("RUNNING"),
      status("STARTING"),
      status("RUNNING"),
      status("STOPPED"),
    ]),
    "2 running, 1 backoff, 1 stopped, 1 fatal, 1 starting",
  );
});
