/**
 * The real {@linkcode Clock}: a monotonic "now" and the global timers.
 *
 * The monitor never touches global timers; it is handed a clock.
 * Production passes {@linkcode systemClock}; tests pass a fake clock from
 * `@sinonjs/fake-timers` and advance it exactly, as Twisted's tests do with
 * `Clock.advance()`.
 *
 * @module
 */

import type { Clock } from "../core/ports.ts";

// The longest delay setTimeout takes (about 24.8 days); a longer one fires
// almost at once instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

// A timer longer than setTimeout allows, re-armed in steps until it is due.
class LongTimer {
  id: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The real clock: `performance.now()` and the global timers, with delays
 * longer than `setTimeout` allows (about 24.8 days) waited in steps.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    if (!(ms > MAX_TIMER_MS)) return setTimeout(fn, ms);
    const due = performance.now() + ms;
    const timer = new LongTimer();
    const arm = (left: number) => {
      timer.id = setTimeout(() => {
        const rest = due - performance.now();
        if (rest > 0) arm(rest);
        else fn();
      }, Math.min(left, MAX_TIMER_MS));
    };
    arm(ms);
    return timer;
  },
  clearTimeout: (handle) =>
    clearTimeout(
      handle instanceof LongTimer ? handle.id : handle as ReturnType<typeof setTimeout>,
    ),
  queueMicrotask: (fn) => queueMicrotask(fn),
};
