/**
 * Durations as users write them (`0.5`, `"5"`, `500ms`, `1.5s`, `2m`, `1h`) and
 * back again for display.
 *
 * Two kinds of display, for two jobs: {@linkcode formatDuration} writes a
 * setting exactly, in one unit, so it can be pasted back into a file
 * (`90s`); {@linkcode formatElapsed} writes a measured time the way a
 * status table does, rounded and in mixed units (`1m30s`).
 *
 * Everything inside tend counts in seconds, as procmon does. This module is
 * pure and imports nothing, so the config loader, the CLI and the log share it.
 *
 * @module
 */

/** Seconds in one of each unit a duration string may carry. */
const UNIT_SECONDS: Readonly<Record<string, number>> = Object.freeze({
  ms: 0.001,
  s: 1,
  m: 60,
  h: 3600,
});

// An optional sign (so "-5s" gets "must not be negative", not "malformed"), a
// decimal number without exponent, then an optional unit glued to it.
const DURATION_PATTERN = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(ms|s|m|h)?$/;

const MALFORMED = "must be a number of seconds or a string like 500ms, 5s, 2m, 1h";

/**
 * Reads a duration and returns it in seconds.
 *
 * Accepts a non-negative finite number of seconds, a numeric string (`"5"`),
 * or a number followed directly by a lowercase unit: `ms`, `s`, `m` or `h`.
 * No space is allowed between the number and the unit, and no surrounding
 * space either: YAML already trims plain values, so a space there is a typo.
 * The messages have no subject, so callers prefix what was being read
 * (`killTime: must not be negative`).
 *
 * @example
 * ```ts
 * import { parseDuration } from "./duration.ts";
 * parseDuration(0.5); // 0.5
 * parseDuration("500ms"); // 0.5
 * parseDuration("2m"); // 120
 * ```
 *
 * @param value The raw value, typically straight from YAML or a CLI flag.
 * @returns The duration in seconds.
 * @throws {TypeError} When the value is neither a number nor a well-formed string.
 * @throws {RangeError} When the duration is negative or infinite.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === "number") return checkRange(value);
  if (typeof value !== "string") throw new TypeError(MALFORMED);
  const match = DURATION_PATTERN.exec(value);
  if (match === null) throw new TypeError(MALFORMED);
  const [, sign, digits, unit] = match;
  const magnitude = Number(digits) * UNIT_SECONDS[unit ?? "s"]!;
  return checkRange(sign === "-" ? -magnitude : magnitude);
}

function checkRange(seconds: number): number {
  if (Number.isNaN(seconds)) throw new TypeError(MALFORMED);
  if (seconds < 0) throw new RangeError("must not be negative");
  if (seconds === Infinity) throw new RangeError("must be finite");
  // `-0` would print as "0" everywhere but compare oddly with Object.is.
  return seconds === 0 ? 0 : seconds;
}

/**
 * Formats seconds the way a user would write them, in the largest unit that
 * divides them exactly.
 *
 * Whole hours and minutes use `h` and `m`, whole milliseconds under a second
 * use `ms`, and anything else falls back to seconds (`1.5s`, `90s`).
 *
 * @example
 * ```ts
 * import { formatDuration } from "./duration.ts";
 * formatDuration(0.5); // "500ms"
 * formatDuration(120); // "2m"
 * formatDuration(1.5); // "1.5s"
 * ```
 *
 * @param seconds A duration in seconds, as {@linkcode parseDuration} returns.
 * @returns The duration with a unit, for display.
 */
export function formatDuration(seconds: number): string {
  // Twelve significant digits hide float noise such as 0.1 * 3 = 0.30000000000000004.
  const s = roundNoise(seconds);
  if (!Number.isFinite(s)) return `${s}s`;
  if (Number.isInteger(s)) {
    if (s !== 0 && s % 3600 === 0) return `${s / 3600}h`;
    if (s !== 0 && s % 60 === 0) return `${s / 60}m`;
    return `${s}s`;
  }
  const ms = roundNoise(s * 1000);
  if (Math.abs(s) < 1 && Number.isInteger(ms)) return `${ms}ms`;
  return `${s}s`;
}

function roundNoise(n: number): number {
  return Number.isFinite(n) ? Number(n.toPrecision(12)) : n;
}

/**
 * Formats a measured time (an uptime, how long a run lasted, a wait still
 * to come) rounded for reading at a glance: milliseconds under a second,
 * tenths of a second under a minute, then `3m12s` and `2h5m`.
 *
 * @example
 * ```ts
 * import { formatElapsed } from "./duration.ts";
 * formatElapsed(0.25); // "250ms"
 * formatElapsed(4.21); // "4.2s"
 * formatElapsed(192); // "3m12s"
 * formatElapsed(7500); // "2h5m"
 * ```
 *
 * @param seconds a non-negative time in seconds
 */
export function formatElapsed(seconds: number): string {
  const s = Math.max(0, seconds);
  if (s < 1) return `${Math.round(s * 1000)}ms`;
  if (s < 60) return `${Number(s.toFixed(1))}s`;
  const whole = Math.round(s);
  if (whole < 3600) return `${Math.floor(whole / 60)}m${whole % 60}s`;
  const minutes = Math.floor(whole / 60);
  return `${Math.floor(minutes / 60)}h${minutes % 60}m`;
}
