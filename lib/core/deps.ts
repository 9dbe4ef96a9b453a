/**
 * Dependencies between processes (`dependsOn`): the order to start and
 * stop them in, the cycles that make an order impossible, and the gate
 * that says whether a process may start now.
 *
 * The gate's rules, per condition (each pinned by a test in
 * `tests/core/deps_test.ts`):
 *
 * | dependency is ... | `started` | `ready` | `done` |
 * | --- | --- | --- | --- |
 * | STARTING | start | wait | wait |
 * | RUNNING | start | start once ready | wait |
 * | EXITED, last exit 0 | start | never | start |
 * | EXITED, a failing exit | start | never | never |
 * | STOPPED, last exit 0 | wait | wait | start |
 * | STOPPED, BACKOFF, STOPPING | wait | wait | wait |
 * | FATAL | never | never | never |
 * | any state, `restart: always` | — | — | never, unless already done |
 * | not defined | never | never | never |
 *
 * - `started` is met by a dependency that has a child (STARTING or
 *   RUNNING) or that ran and finished for good (EXITED): it did start,
 *   and it will not start again, so waiting longer would be waiting
 *   forever (docker compose's `service_started` works the same way).
 * - `ready` is met by a RUNNING dependency whose readiness probe passed
 *   (a process without a probe is ready once it runs). One that exited
 *   for good can never be ready again: never.
 * - `done` is met by a dependency whose last run exited with code 0 and
 *   that is not running or about to run (EXITED, or STOPPED by a hold
 *   after it finished). A failing exit under a policy that will not run it
 *   again (EXITED after `restart: never`) or giving up (FATAL) is never;
 *   a failing exit under `on-failure` waits for the retry. Under
 *   `restart: always` a process is restarted after every exit, so it is
 *   never done (the config rejects that too).
 * - FATAL is never for every condition: it gave up, and only `tend start`
 *   revives it. "Never" is not final: the gate is asked again whenever a
 *   dependency changes, so a revived dependency lets its dependents start.
 * - A dependency that is itself blocked for good (its own gate said
 *   never, and it is not running) blocks its dependents too, naming why.
 * - A held dependency (`tend stop`, `autostart: false`) makes its
 *   dependents wait, and the reason says it is held.
 *
 * Once a process has started, the gate is not asked again for it: a
 * dependency that restarts later does not restart, stop or hold its
 * dependents.
 *
 * Pure: it reads only what it is given.
 *
 * @module
 */

import { describeExit } from "./exit.ts";
import type { DependencyCondition, ExitStatus, RestartPolicy } from "./spec.ts";
import type { ProcessState } from "./states.ts";

/** What one process depends on: dependency name -> condition. */
export type Dependencies = Readonly<Record<string, DependencyCondition>>;

/**
 * Every process and what it depends on, in the order the processes were
 * defined (file order), which every result here follows where it can.
 */
export type DependencyGraph = ReadonlyMap<string, Dependencies>;

/**
 * Builds a graph from specs (anything with an optional `dependsOn`),
 * keeping their order.
 *
 * @example
 * ```ts
 * import { dependencyGraph, startOrder } from "./deps.ts";
 * const graph = dependencyGraph({
 *   api: { dependsOn: { db: "ready" } },
 *   db: {},
 * });
 * startOrder(graph); // ["db", "api"]
 * ```
 */
export function dependencyGraph(
  specs: Readonly<Record<string, { readonly dependsOn?: Dependencies }>>,
): DependencyGraph {
  const graph = new Map<string, Dependencies>();
  for (const [name, spec] of Object.entries(specs)) {
    graph.set(name, spec.dependsOn ?? {});
  }
  return graph;
}

/** The graph has a cycle, so no order exists. */
export class DependencyCycleError extends Error {
  /** The processes in the cycle, in dependency order, the first not repeated. */
  readonly cycle: readonly string[];
  /** @param cycle the processes in the cycle */
  constructor(cycle: readonly string[]) {
    super(`Cannot order the processes: dependency cycle ${formatCycle(cycle)}`);
    this.name = "DependencyCycleError";
    this.cycle = cycle;
  }
}

/**
 * A cycle as users read it: `a -> b -> c -> a`.
 *
 * @example
 * ```ts
 * import { formatCycle } from "./deps.ts";
 * formatCycle(["a", "b"]); // "a -> b -> a"
 * ```
 */
export function formatCycle(cycle: readonly string[]): string {
  return [...cycle, cycle[0]].join(" -> ");
}

/**
 * Every dependency cycle, one per group of processes that depend on each
 * other in a ring (a strongly connected component), each as the shortest
 * ring through the group's first process in graph order, starting there.
 * A process that depends on itself is a cycle of one. Dependencies on
 * names the graph does not hold are left out (they are a different
 * problem). Empty when there is none.
 *
 * @example
 * ```ts
 * import { dependencyGraph, findCycles } from "./deps.ts";
 * findCycles(dependencyGraph({
 *   a: { dependsOn: { b: "ready" } },
 *   b: { dependsOn: { c: "started" } },
 *   c: { dependsOn: { a: "done" } },
 * })); // [["a", "b", "c"]]
 * ```
 */
export function findCycles(graph: DependencyGraph): string[][] {
  const order = [...graph.keys()];
  const rank = new Map(order.map((name, i) => [name, i]));
  const edges = (name: string) =>
    Object.keys(graph.get(name) ?? {}).filter((dep) => graph.has(dep));
  // Tarjan's strongly connected components, iteratively: a long chain of
  // dependencies must not overflow the stack.
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const groups: string[][] = [];
  let next = 0;
  for (const root of order) {
    if (index.has(root)) continue;
    const work: { name: string; deps: string[]; i: number }[] = [];
    const enter = (name: string) => {
      index.set(name, next);
      low.set(name, next);
      next++;
      stack.push(name);
      onStack.add(name);
      work.push({ name, deps: edges(name), i: 0 });
    };
    enter(root);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      if (frame.i < frame.deps.length) {
        const dep = frame.deps[frame.i++]!;
        if (!index.has(dep)) enter(dep);
        else if (onStack.has(dep)) {
          low.set(frame.name, Math.min(low.get(frame.name)!, index.get(dep)!));
        }
        continue;
      }
      work.pop();
      const parent = work.at(-1);
      if (parent) {
        low.set(parent.name, Math.min(low.get(parent.name)!, low.get(frame.name)!));
      }
      if (low.get(frame.name) !== index.get(frame.name)) continue;
      const group: string[] = [];
      let member: string;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        group.push(member);
      } while (member !== frame.name);
      const selfLoop = group.length === 1 && edges(frame.name).includes(frame.name);
      if (group.length > 1 || selfLoop) groups.push(group);
    }
  }
  return groups
    .map((group) => group.sort((a, b) => rank.get(a)! - rank.get(b)!))
    .sort((a, b) => rank.get(a[0]!)! - rank.get(b[0]!)!)
    .map((group) => shortestRing(group, edges));
}

// The shortest ring from the group's first member back to it, through
// members only (breadth first, so ties go to dependencies listed first).
function shortestRing(group: string[], edges: (name: string) => string[]): string[] {
  const start = group[0]!;
  const members = new Set(group);
  const via = new Map<string, string>();
  const queue = [start];
  for (let at = 0; at < queue.length; at++) {
    const name = queue[at]!;
    for (const dep of edges(name)) {
      if (!members.has(dep)) continue;
      if (dep === start) {
        const ring = [name];
        while (ring[0] !== start) ring.unshift(via.get(ring[0]!)!);
        return ring;
      }
      if (via.has(dep)) continue;
      via.set(dep, name);
      queue.push(dep);
    }
  }
  return group; // not reached: every group holds a ring through its members
}

/**
 * An order to start the processes in: each after everything it depends
 * on, and otherwise as close to graph order as that allows (a process's
 * dependencies are placed just before it, in the order it lists them).
 * Dependencies on names the graph does not hold are ignored.
 *
 * @throws {DependencyCycleError} naming the first cycle, when there is one
 */
export function startOrder(graph: DependencyGraph): string[] {
  const cycles = findCycles(graph);
  if (cycles.length > 0) throw new DependencyCycleError(cycles[0]!);
  const placed = new Set<string>();
  const order: string[] = [];
  for (const root of graph.keys()) {
    // Depth first, iteratively, placing each process after its dependencies.
    const work: { name: string; deps: string[]; i: number }[] = [];
    const visit = (name: string) => {
      if (placed.has(name) || !graph.has(name)) return;
      placed.add(name);
      work.push({ name, deps: Object.keys(graph.get(name)!), i: 0 });
    };
    visit(root);
    while (work.length > 0) {
      const frame = work.at(-1)!;
      if (frame.i < frame.deps.length) visit(frame.deps[frame.i++]!);
      else order.push(work.pop()!.name);
    }
  }
  return order;
}

/**
 * An order to stop the processes in: the reverse of
 * {@linkcode startOrder}, so dependents stop before what they depend on.
 *
 * @throws {DependencyCycleError} naming the first cycle, when there is one
 */
export function stopOrder(graph: DependencyGraph): string[] {
  return startOrder(graph).reverse();
}

/**
 * Who depends on whom: for each process, the processes that list it in
 * their `dependsOn`, in graph order. Every process of the graph has an
 * entry (empty when nothing depends on it).
 */
export function dependentsOf(graph: DependencyGraph): Map<string, string[]> {
  const dependents = new Map<string, string[]>();
  for (const name of graph.keys()) dependents.set(name, []);
  for (const [name, deps] of graph) {
    for (const dep of Object.keys(deps)) dependents.get(dep)?.push(name);
  }
  return dependents;
}

/**
 * The dependents of `name` that must be gone before it is stopped at
 * shutdown (dependents first): those `isDown` says are still up. Empty
 * when it may be stopped now.
 *
 * @example
 * ```ts
 * import { dependencyGraph, stopBlockers } from "./deps.ts";
 * const graph = dependencyGraph({ db: {}, api: { dependsOn: { db: "ready" } } });
 * stopBlockers(graph, "db", (name) => name !== "api"); // ["api"]
 * stopBlockers(graph, "db", () => true); // []
 * ```
 *
 * @param isDown whether a process has no child left (and none coming)
 */
export function stopBlockers(
  graph: DependencyGraph,
  name: string,
  isDown: (name: string) => boolean,
): string[] {
  const blockers: string[] = [];
  for (const [other, deps] of graph) {
    if (other !== name && Object.hasOwn(deps, name) && !isDown(other)) {
      blockers.push(other);
    }
  }
  return blockers;
}

/** What the gate needs to know about one dependency. */
export interface DependencyState {
  /** Its state as users see it. */
  state: ProcessState | "STARTING";
  /** Whether it is ready; absent counts as ready while RUNNING (no probe). */
  ready?: boolean;
  /** Whether it is held (kept stopped until started by name). */
  held: boolean;
  /** How its last child ended, if one did. */
  lastExit: ExitStatus | null;
  /** Its restart policy. */
  restart: RestartPolicy;
  /**
   * Why it can never start itself, when its own gate said never (its own
   * dependency is FATAL, say); absent or null when it is not blocked.
   */
  blocked?: string | null;
}

/** The gate's answer; see {@linkcode mayStart}. */
export type StartGate =
  | { kind: "start" }
  | {
    kind: "wait";
    /** `waiting for db: ready, migrate: done`, for status. */
    reason: string;
    /** The dependencies not met yet, in `dependsOn` order. */
    waitingFor: string[];
  }
  | {
    kind: "never";
    /** `db is FATAL; migrate exited with code 1`, for status and the log. */
    reason: string;
    /** The dependencies that can never meet their condition, in `dependsOn` order. */
    blockedBy: string[];
  };

/**
 * Whether a process may start now, given what it depends on and the state
 * of each dependency: `start`, `wait` (with the reason to show), or
 * `never` (a dependency can never meet its condition as things stand);
 * see the module doc for the rules. `never` wins over `wait`.
 *
 * @example
 * ```ts
 * import { mayStart } from "./deps.ts";
 * const db = { state: "STARTING", held: false, lastExit: null, restart: "always" } as const;
 * mayStart({ db: "ready" }, (name) => name === "db" ? db : undefined);
 * // { kind: "wait", reason: "waiting for db: ready", waitingFor: ["db"] }
 * ```
 *
 * @param dependsOn the process's dependencies; absent or empty: start
 * @param lookup the state of a dependency by name; `undefined`: not defined
 */
export function mayStart(
  dependsOn: Dependencies | undefined,
  lookup: (name: string) => DependencyState | undefined,
): StartGate {
  const waits: string[] = [];
  const waitingFor: string[] = [];
  const nevers: string[] = [];
  const blockedBy: string[] = [];
  for (const [name, condition] of Object.entries(dependsOn ?? {})) {
    const verdict = judge(name, condition, lookup(name));
    if (verdict === "met") continue;
    if (verdict.kind === "never") {
      nevers.push(verdict.reason);
      blockedBy.push(name);
    } else {
      waits.push(`${name}: ${condition}${verdict.note}`);
      waitingFor.push(name);
    }
  }
  if (nevers.length > 0) return { kind: "never", reason: nevers.join("; "), blockedBy };
  if (waits.length > 0) {
    return { kind: "wait", reason: `waiting for ${waits.join(", ")}`, waitingFor };
  }
  return { kind: "start" };
}

type Verdict = "met" | { kind: "wait"; note: string } | {
  kind: "never";
  reason: string;
};

function judge(
  name: string,
  condition: DependencyCondition,
  dep: DependencyState | undefined,
): Verdict {
  if (dep === undefined) return { kind: "never", reason: `${name} is not defined` };
  if (dep.state === "FATAL") return { kind: "never", reason: `${name} is FATAL` };
  const exited = dep.state === "EXITED";
  const lastOk = dep.lastExit?.code === 0;
  const wait = { kind: "wait", note: dep.held ? ` (${name} is held)` : "" } as const;
  // No child and none coming, because its own dependencies can never be met.
  const blocked = dep.blocked && (dep.state === "STOPPED" || exited)
    ? { kind: "never", reason: `${name} will not start: ${dep.blocked}` } as const
    : null;
  switch (condition) {
    case "started":
      if (dep.state === "STARTING" || dep.state === "RUNNING" || exited) return "met";
      return blocked ?? wait;
    case "ready":
      if (dep.state === "RUNNING" && dep.ready !== false) return "met";
      if (exited) {
        return { kind: "never", reason: `${name} ${exitedHow(dep.lastExit)}` };
      }
      return blocked ?? wait;
    case "done":
      if ((exited || dep.state === "STOPPED") && lastOk) return "met";
      if (dep.restart === "always") {
        return {
          kind: "never",
          reason: `${name} has restart: always, so it is never done`,
        };
      }
      if (exited) {
        return { kind: "never", reason: `${name} ${exitedHow(dep.lastExit)}` };
      }
      return blocked ?? wait;
  }
}

function exitedHow(status: ExitStatus | null): string {
  if (status === null) return "has exited";
  return status.signal === null
    ? `exited with code ${status.code}`
    : `was killed by ${describeExit(status)}`;
}
