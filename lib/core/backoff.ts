/**
 * procmon's restart arithmetic, alone: is a run healthy, and how long is
 * the next back-off. Pure; the monitor decides what to do with the answers.
 *
 * @module
 */

import type { Timing } from "./spec.ts";

/**
 * Whether a run of `age` seconds counts as healthy: at least `threshold`.
 * A start that failed (no run at all) never does, whatever the threshold.
 *
 * @example
 * ```ts
 * import { isHealthyRun } from "./backoff.ts";
 * isHealthyRun(10, { threshold: 10 }); // true
 * isHealthyRun(0, { threshold: 0 }, true); // false: it never started
 * ```
 *
 * @param age seconds the child ran
 * @param timing the process's timing (only `threshold` is read)
 * @param failedToStart whether the spawn itself failed
 */
export function isHealthyRun(
  age: number,
  timing: Pick<Timing, "threshold">,
  failedToStart = false,
): boolean {
  return !failedToStart && age >= timing.threshold;
}

/**
 * Brings a delay within the process's bounds, `minRestartDelay` to
 * `maxRestartDelay`: the one clamp of the back-off.
 *
 * @example
 * ```ts
 * import { clampDelay } from "./backoff.ts";
 * clampDelay(16, { minRestartDelay: 2, maxRestartDelay: 10 }); // 10
 * clampDelay(1, { minRestartDelay: 2, maxRestartDelay: 10 }); // 2
 * ```
 */
export function clampDelay(
  delay: number,
  timing: Pick<Timing, "minRestartDelay" | "maxRestartDelay">,
): number {
  return Math.min(Math.max(delay, timing.minRestartDelay), timing.maxRestartDelay);
}

/**
 * The delay after an early death that waited `delay`: twice as long, up to
 * `maxRestartDelay` ("with each instant death it will delay approximately
 * twice as long").
 *
 * @example
 * ```ts
 * import { doubledDelay } from "./backoff.ts";
 * doubledDelay(2, { minRestartDelay: 2, maxRestartDelay: 3 }); // 3
 * ```
 */
export function doubledDelay(
  delay: number,
  timing: Pick<Timing, "minRestartDelay" | "maxRestartDelay">,
): number {
  return clampDelay(delay * 2, timing);
}
