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

/** The real clock: `performance.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
  queueMicrotask: (fn) => queueMicrotask(fn),
};
