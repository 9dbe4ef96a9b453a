/**
 * Time as the monitor sees it: a monotonic "now" and cancellable timers.
 *
 * The monitor never touches global timers; it is handed a {@linkcode Clock}.
 * Production passes {@linkcode systemClock}; tests pass a fake clock from
 * `@sinonjs/fake-timers` and advance it exactly, as Twisted's tests do with
 * `Clock.advance()`.
 *
 * @module
 */

/** An opaque handle returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = unknown;

/** The monitor's only source of time. All values are milliseconds. */
export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps with the wall clock). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a handle that already fired is ignored. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Calls `fn` as soon as the current event has been handled, at the same
   * instant: how "restart at once" is scheduled without a 0 ms timer.
   */
  queueMicrotask(fn: () => void): void;
}

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
