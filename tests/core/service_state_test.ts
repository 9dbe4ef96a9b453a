/**
 * tend as one service: when it counts as ready, and its one-line count.
 */

import assert from "node:assert/strict";
import type { ProcessStatus } from "../../lib/core/monitor.ts";
import { allSettled, countStates, isSettled } from "../../lib/core/service_state.ts";

function status(state: string, extra: Partial<ProcessStatus> = {}): ProcessStatus {
  return {
    state,
    held: false,
    ready: state === "RUNNING",
    blocked: false,
    ...extra,
  } as ProcessStatus;
}

Deno.test("settled: running and ready, held, exited, fatal or blocked; not starting, backing off, stopping or waiting", () => {
  assert.equal(isSettled(status("RUNNING")), true);
  assert.equal(isSettled(status("STOPPED", { held: true })), true);
  assert.equal(isSettled(status("EXITED")), true);
  assert.equal(isSettled(status("FATAL")), true);
  assert.equal(isSettled(status("STOPPED")), false);
  assert.equal(isSettled(status("BACKOFF")), false);
  assert.equal(isSettled(status("STOPPING")), false);
  assert.equal(isSettled(status("STARTING")), false);
  assert.equal(
    isSettled(status("STOPPED", { waiting: "waiting for db: ready" })),
    false,
  );
  assert.equal(isSettled(status("STOPPED", { blocked: true })), true);
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

Deno.test("countStates: what is up first, then what is on its way", () => {
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
    "2 running, 1 starting, 1 backoff, 1 stopped, 1 fatal",
  );
});
