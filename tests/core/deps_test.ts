/**
 * Dependencies: start and stop order, cycles, and the "may it start?"
 * gate, rule by rule (the table in lib/core/deps.ts's module doc).
 */

import assert from "node:assert/strict";
import {
  type Dependencies,
  DependencyCycleError,
  dependencyGraph,
  type DependencyState,
  dependentsOf,
  findCycles,
  formatCycle,
  mayStart,
  startOrder,
  stopBlockers,
  stopOrder,
} from "../../lib/core/deps.ts";
import type { DependencyCondition } from "../../lib/core/spec.ts";

function graph(specs: Record<string, Dependencies>) {
  return dependencyGraph(
    Object.fromEntries(Object.entries(specs).map(([n, d]) => [n, { dependsOn: d }])),
  );
}

// The spec's example: db <- api, migrate <- worker, api <- worker.
const EXAMPLE = graph({
  db: {},
  api: { db: "ready" },
  migrate: { db: "ready" },
  worker: { migrate: "done", api: "started" },
});

// --- order ------------------------------------------------------------------------

Deno.test("startOrder() puts every process after what it depends on", () => {
  assert.deepEqual(startOrder(EXAMPLE), ["db", "api", "migrate", "worker"]);
});

Deno.test("startOrder() keeps file order where dependencies allow, placing dependencies just before", () => {
  const g = graph({
    worker: { migrate: "done", api: "started" },
    lone: {},
    api: { db: "ready" },
    migrate: { db: "ready" },
    db: {},
  });
  assert.deepEqual(startOrder(g), ["db", "migrate", "api", "worker", "lone"]);
});

Deno.test("stopOrder() is the start order reversed: dependents first", () => {
  assert.deepEqual(stopOrder(EXAMPLE), ["worker", "migrate", "api", "db"]);
});

Deno.test("the order ignores dependencies on names that are not defined", () => {
  assert.deepEqual(startOrder(graph({ a: { ghost: "ready" }, b: {} })), ["a", "b"]);
});

Deno.test("startOrder() handles a chain of 50,000 processes without overflowing the stack", () => {
  const specs: Record<string, Dependencies> = {};
  const n = 50_000;
  for (let i = 0; i < n; i++) {
    specs[`p${i}`] = i + 1 < n ? { [`p${i + 1}`]: "started" } : {};
  }
  const order = startOrder(graph(specs));
  assert.equal(order.length, n);
  assert.equal(order[0], `p${n - 1}`);
  assert.equal(order.at(-1), "p0");
  assert.deepEqual(findCycles(graph(specs)), []);
});

Deno.test("startOrder() throws a DependencyCycleError naming the cycle", () => {
  const g = graph({ a: { b: "ready" }, b: { a: "started" } });
  assert.throws(() => startOrder(g), (error: unknown) => {
    assert.ok(error instanceof DependencyCycleError);
    assert.deepEqual(error.cycle, ["a", "b"]);
    assert.equal(
      error.message,
      "Cannot order the processes: dependency cycle a -> b -> a",
    );
    return true;
  });
  assert.throws(() => stopOrder(g), DependencyCycleError);
});

Deno.test("dependentsOf() maps each process to those that depend on it", () => {
  assert.deepEqual(
    Object.fromEntries(dependentsOf(EXAMPLE)),
    { db: ["api", "migrate"], api: ["worker"], migrate: ["worker"], worker: [] },
  );
});

Deno.test("stopBlockers(): a process stops once every dependent of it is down", () => {
  const up = new Set(["db", "api", "migrate", "worker"]);
  const isDown = (name: string) => !up.has(name);
  assert.deepEqual(stopBlockers(EXAMPLE, "db", isDown), ["api", "migrate"]);
  assert.deepEqual(stopBlockers(EXAMPLE, "worker", isDown), []);
  up.delete("worker");
  assert.deepEqual(stopBlockers(EXAMPLE, "api", isDown), []);
  up.delete("api");
  assert.deepEqual(stopBlockers(EXAMPLE, "db", isDown), ["migrate"]);
  up.delete("migrate");
  assert.deepEqual(stopBlockers(EXAMPLE, "db", isDown), []);
});

Deno.test("stopBlockers() does not wait for a process on itself", () => {
  assert.deepEqual(stopBlockers(graph({ a: { a: "started" } }), "a", () => false), []);
});

// --- cycles -------------------------------------------------------------------------

Deno.test("findCycles() finds none in an acyclic graph", () => {
  assert.deepEqual(findCycles(EXAMPLE), []);
});

Deno.test("findCycles() names the processes of a ring, from the first in file order", () => {
  const g = graph({
    x: {},
    c: { a: "done" },
    a: { b: "ready" },
    b: { c: "started" },
  });
  assert.deepEqual(findCycles(g), [["c", "a", "b"]]);
  assert.equal(formatCycle(["c", "a", "b"]), "c -> a -> b -> c");
});

Deno.test("findCycles() reports a process that depends on itself", () => {
  assert.deepEqual(findCycles(graph({ a: {}, b: { b: "ready" } })), [["b"]]);
});

Deno.test("findCycles() reports each separate ring once, and the shortest ring of a tangle", () => {
  const g = graph({
    a: { b: "started" },
    b: { c: "started", a: "started" },
    c: { a: "started" },
    d: { e: "started" },
    e: { d: "started" },
    f: { a: "started" }, // depends on a ring, is not in one
  });
  assert.deepEqual(findCycles(g), [["a", "b"], ["d", "e"]]);
});

Deno.test("findCycles() ignores dependencies on names that are not defined", () => {
  assert.deepEqual(findCycles(graph({ a: { ghost: "ready" } })), []);
});

// --- the gate -------------------------------------------------------------------------

function dep(state: DependencyState["state"], more: Partial<DependencyState> = {}) {
  return { state, held: false, lastExit: null, restart: "always", ...more } as const;
}
const OK = { code: 0, signal: null } as const;
const FAILED = { code: 1, signal: null } as const;
const KILLED = { code: null, signal: "SIGKILL" } as const;

/** The gate for one dependency `d` with `condition`, in state `state`. */
function gate(condition: DependencyCondition, state: DependencyState | undefined) {
  return mayStart({ d: condition }, (name) => (name === "d" ? state : undefined));
}

Deno.test("no dependencies: start", () => {
  assert.deepEqual(mayStart(undefined, () => undefined), { kind: "start" });
  assert.deepEqual(mayStart({}, () => undefined), { kind: "start" });
});

Deno.test("started: met by a child (STARTING, RUNNING) or a finished run (EXITED, any code)", () => {
  for (
    const state of [
      dep("STARTING"),
      dep("RUNNING", { ready: false }),
      dep("EXITED", { lastExit: OK, restart: "never" }),
      dep("EXITED", { lastExit: FAILED, restart: "never" }),
    ]
  ) {
    assert.deepEqual(gate("started", state), { kind: "start" }, state.state);
  }
});

Deno.test("started: waits while it is STOPPED, BACKOFF or STOPPING", () => {
  for (const state of ["STOPPED", "BACKOFF", "STOPPING"] as const) {
    assert.deepEqual(gate("started", dep(state)), {
      kind: "wait",
      reason: "waiting for d: started",
      waitingFor: ["d"],
    });
  }
});

Deno.test("ready: met only by a RUNNING dependency that is ready (or has no probe)", () => {
  assert.deepEqual(gate("ready", dep("RUNNING", { ready: true })), { kind: "start" });
  assert.deepEqual(gate("ready", dep("RUNNING")), { kind: "start" });
  assert.equal(gate("ready", dep("RUNNING", { ready: false })).kind, "wait");
  assert.deepEqual(gate("ready", dep("STARTING")), {
    kind: "wait",
    reason: "waiting for d: ready",
    waitingFor: ["d"],
  });
  for (const state of ["STOPPED", "BACKOFF", "STOPPING"] as const) {
    assert.equal(gate("ready", dep(state)).kind, "wait", state);
  }
});

Deno.test("ready: never once the dependency exited for good", () => {
  assert.deepEqual(
    gate("ready", dep("EXITED", { lastExit: OK, restart: "on-failure" })),
    {
      kind: "never",
      reason: "d exited with code 0",
      blockedBy: ["d"],
    },
  );
  assert.deepEqual(
    gate("ready", dep("EXITED", { lastExit: KILLED, restart: "never" })),
    {
      kind: "never",
      reason: "d was killed by signal SIGKILL",
      blockedBy: ["d"],
    },
  );
});

Deno.test("done: met by a last exit of 0 with nothing running or coming", () => {
  assert.deepEqual(
    gate("done", dep("EXITED", { lastExit: OK, restart: "on-failure" })),
    {
      kind: "start",
    },
  );
  assert.deepEqual(gate("done", dep("EXITED", { lastExit: OK, restart: "never" })), {
    kind: "start",
  });
  assert.deepEqual(
    gate("done", dep("STOPPED", { lastExit: OK, restart: "never", held: true })),
    { kind: "start" },
    "held after it finished",
  );
});

Deno.test("done: waits while it runs, or is about to run again after a failure", () => {
  for (const state of ["STOPPED", "STARTING", "RUNNING", "STOPPING"] as const) {
    assert.equal(
      gate("done", dep(state, { restart: "on-failure" })).kind,
      "wait",
      state,
    );
  }
  assert.deepEqual(
    gate("done", dep("BACKOFF", { lastExit: FAILED, restart: "on-failure" })),
    { kind: "wait", reason: "waiting for d: done", waitingFor: ["d"] },
  );
  assert.equal(
    gate("done", dep("RUNNING", { lastExit: OK, restart: "on-failure" })).kind,
    "wait",
    "running again after an earlier success",
  );
});

Deno.test("done: never after a failing exit under restart: never", () => {
  assert.deepEqual(
    mayStart(
      { migrate: "done" },
      () => dep("EXITED", { lastExit: FAILED, restart: "never" }),
    ),
    { kind: "never", reason: "migrate exited with code 1", blockedBy: ["migrate"] },
  );
});

Deno.test("done: never under restart: always, which restarts it after every exit", () => {
  for (const state of ["RUNNING", "BACKOFF", "STOPPED"] as const) {
    assert.deepEqual(gate("done", dep(state, { lastExit: FAILED })), {
      kind: "never",
      reason: "d has restart: always, so it is never done",
      blockedBy: ["d"],
    });
  }
});

Deno.test("FATAL is never, whatever the condition", () => {
  for (const condition of ["started", "ready", "done"] as const) {
    assert.deepEqual(gate(condition, dep("FATAL", { restart: "on-failure" })), {
      kind: "never",
      reason: "d is FATAL",
      blockedBy: ["d"],
    });
  }
});

Deno.test("a dependency that is not defined is never", () => {
  assert.deepEqual(gate("started", undefined), {
    kind: "never",
    reason: "d is not defined",
    blockedBy: ["d"],
  });
});

Deno.test("a held dependency makes its dependents wait, and the reason says so", () => {
  assert.deepEqual(gate("ready", dep("STOPPED", { held: true })), {
    kind: "wait",
    reason: "waiting for d: ready (d is held)",
    waitingFor: ["d"],
  });
});

Deno.test("a dependency blocked for good blocks its dependents, naming why", () => {
  const blocked = dep("STOPPED", { blocked: "db is FATAL" });
  for (const condition of ["started", "ready"] as const) {
    assert.deepEqual(gate(condition, blocked), {
      kind: "never",
      reason: "d will not start: db is FATAL",
      blockedBy: ["d"],
    });
  }
  assert.deepEqual(
    gate("done", { ...blocked, restart: "never" }),
    { kind: "never", reason: "d will not start: db is FATAL", blockedBy: ["d"] },
  );
  // Running after all (started by name): not blocked any more.
  assert.deepEqual(gate("started", dep("RUNNING", { blocked: "db is FATAL" })), {
    kind: "start",
  });
});

Deno.test("every dependency not met is listed, in dependsOn order; never wins over wait", () => {
  const states: Record<string, DependencyState> = {
    db: dep("STARTING"),
    migrate: dep("RUNNING", { restart: "on-failure" }),
    api: dep("RUNNING"),
    cache: dep("FATAL"),
    queue: dep("EXITED", { lastExit: FAILED, restart: "never" }),
  };
  const lookup = (name: string) => states[name];
  assert.deepEqual(mayStart({ db: "ready", migrate: "done", api: "started" }, lookup), {
    kind: "wait",
    reason: "waiting for db: ready, migrate: done",
    waitingFor: ["db", "migrate"],
  });
  assert.deepEqual(
    mayStart({ db: "ready", cache: "started", queue: "done", api: "ready" }, lookup),
    {
      kind: "never",
      reason: "cache is FATAL; queue exited with code 1",
      blockedBy: ["cache", "queue"],
    },
  );
});
