/**
 * Settings given on the command line, which win over the file's at start
 * and on every reload.
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import type { RestartPolicy, Timing } from "../core/spec.ts";
import type { Config } from "./load.ts";
import { delaysConflict } from "./validators.ts";

/** What `tend run`'s flags set. */
export interface Overrides {
  /** Monitor-wide timing keys (`--threshold`, `--kill-time`, ...). */
  timing: Partial<Timing>;
  /** A restart policy for every process (`--restart`). */
  restart?: RestartPolicy;
}

/**
 * Applies the overrides to `config` in place, unless they would make a
 * process's delays cross (a flag's minimum above the maximum that applies
 * to some process, say): then nothing is changed and the problem is
 * returned, in words.
 *
 * @returns `null` when applied, else what is wrong
 */
export function applyOverrides(config: Config, overrides: Overrides): string | null {
  const timing = { ...config.timing, ...overrides.timing };
  // The file was checked on its own; a flag can still cross a process's delays.
  const scopes: [string, Partial<Timing>][] = [
    ["", {}],
    ...Object.entries(config.processes).map((
      [name, spec],
    ): [string, Partial<Timing>] => [
      ` for process "${name}"`,
      spec,
    ]),
  ];
  for (const [where, own] of scopes) {
    const min = own.minRestartDelay ?? timing.minRestartDelay;
    const max = own.maxRestartDelay ?? timing.maxRestartDelay;
    if (delaysConflict(min, max)) {
      return `minRestartDelay (${formatDuration(min)}) is above maxRestartDelay ` +
        `(${formatDuration(max)})${where}`;
    }
  }
  config.timing = timing;
  if (overrides.restart) {
    for (const spec of Object.values(config.processes)) {
      spec.restart = overrides.restart;
    }
  }
  return null;
}
