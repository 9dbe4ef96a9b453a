/**
 * What a reload changes: the running processes against the wanted ones,
 * compared by name. Pure; the supervisor applies the plan.
 *
 * @module
 */

import { type ProcessSpec, sameSpec } from "./spec.ts";

/** The outcome of comparing two sets of processes by name. */
export interface ReloadPlan {
  /** Wanted, not running: to start, in the wanted order. */
  added: [string, ProcessSpec][];
  /** Running, not wanted: to stop and forget. */
  removed: string[];
  /** In both with a different spec (any key): to stop and start anew. */
  changed: [string, ProcessSpec][];
  /** In both with the same spec: left alone (same pid). */
  unchanged: string[];
}

/**
 * Compares the running processes with the wanted ones.
 *
 * Names are compared through Maps, never as object keys looked up with
 * `in`: names such as `toString` or `__proto__` are valid and must not meet
 * `Object.prototype`.
 *
 * @example
 * ```ts
 * import { planReload } from "./reload.ts";
 * const plan = planReload(
 *   { a: { argv: ["x"] }, b: { argv: ["y"] } },
 *   { b: { argv: ["z"] }, c: { argv: ["w"] } },
 * );
 * plan.removed; // ["a"]
 * plan.changed.map(([name]) => name); // ["b"]
 * plan.added.map(([name]) => name); // ["c"]
 * ```
 */
export function planReload(
  current: Record<string, ProcessSpec>,
  wanted: Record<string, ProcessSpec>,
): ReloadPlan {
  const now = new Map(Object.entries(current));
  const next = new Map(Object.entries(wanted));
  const plan: ReloadPlan = { added: [], removed: [], changed: [], unchanged: [] };
  for (const name of now.keys()) {
    if (!next.has(name)) plan.removed.push(name);
  }
  for (const [name, spec] of next) {
    const old = now.get(name);
    if (old === undefined) plan.added.push([name, spec]);
    else if (!sameSpec(old, spec)) plan.changed.push([name, spec]);
    else plan.unchanged.push(name);
  }
  return plan;
}
