/**
 * Checks across keys, each a small function over what the readers found:
 * the keys written in one mapping, with their entries (for the place to
 * report) and their values (`undefined` when invalid, already reported).
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import { DEFAULT_TIMING, type Timing } from "../core/spec.ts";
import type { Checker, Entry } from "./yaml.ts";

/** A key written in a mapping, and its value as read (`undefined`: invalid). */
export interface Field {
  /** Where it is written. */
  entry: Entry;
  /** What it was read as. */
  value: unknown;
}

/** The keys written in one mapping (the top level, or one process), by key. */
export type Fields = Map<string, Field>;

/** A process needs exactly one of `cmd` and `shell`; reported at its name. */
export function checkCommand(c: Checker, named: Entry, fields: Fields): void {
  const cmd = fields.has("cmd");
  const shell = fields.has("shell");
  if (cmd && shell) {
    c.report(named.keyAt, named.path, "has both cmd and shell; use one");
  } else if (!cmd && !shell) c.report(named.keyAt, named.path, "needs cmd or shell");
}

/**
 * Whether a minimum delay above a maximum is wrong, and how to say it:
 * shared by the file's check and the command-line flags' check.
 */
export function delaysConflict(min: number, max: number): boolean {
  return min > max;
}

/**
 * Reports `minRestartDelay` above `maxRestartDelay` in the innermost scope,
 * comparing the values that apply there (its own, else the outer scope's,
 * else procmon's). It is reported at whichever of the two keys that scope
 * sets, preferring `minRestartDelay`; a scope that sets neither inherited the
 * problem and is left alone. An invalid value skips the check: it already
 * has its own problem.
 *
 * @param scopes innermost first: a process, then the top level
 */
export function checkDelays(c: Checker, scopes: [Fields, ...Fields[]]): void {
  const min = effective("minRestartDelay", scopes);
  const max = effective("maxRestartDelay", scopes);
  if (min === undefined || max === undefined || !delaysConflict(min, max)) return;
  const own = scopes[0];
  const minField = own.get("minRestartDelay");
  const maxField = own.get("maxRestartDelay");
  if (minField !== undefined) {
    c.report(
      minField.entry.at,
      minField.entry.path,
      `must not be above maxRestartDelay (${formatDuration(max)})`,
    );
  } else if (maxField !== undefined) {
    c.report(
      maxField.entry.at,
      maxField.entry.path,
      `must not be below minRestartDelay (${formatDuration(min)})`,
    );
  }
}

// The value of a timing key where `scopes` (innermost first) apply;
// undefined if the value that applies is invalid.
function effective(key: keyof Timing, scopes: Fields[]): number | undefined {
  for (const scope of scopes) {
    const field = scope.get(key);
    if (field !== undefined) return field.value as number | undefined;
  }
  return DEFAULT_TIMING[key];
}
