/**
 * A process with every setting resolved, as `tend check` lists it; the
 * rows and their order come from the key table.
 *
 * @module
 */

import { type ProcessSpec, resolveSpec, type Timing } from "../core/spec.ts";
import { PROCESS_ROWS } from "./keys.ts";

/**
 * Describes a process with every setting resolved, for `tend check`.
 *
 * @example
 * ```ts
 * import { describeProcess } from "./describe.ts";
 * import { DEFAULT_TIMING } from "../core/spec.ts";
 * describeProcess("web", { argv: ["python3", "-m", "http.server"] }, DEFAULT_TIMING)
 *   .split("\n")[1]; // "  argv:            python3 -m http.server"
 * ```
 *
 * @param name The process's name.
 * @param spec Its spec, as the loader returns it.
 * @param timing The monitor-wide timing its own timing keys override.
 * @returns Several lines: the name, then one indented `key: value` per setting.
 */
export function describeProcess(
  name: string,
  spec: ProcessSpec,
  timing: Timing,
): string {
  const resolved = resolveSpec(spec, timing);
  const rows = PROCESS_ROWS.flatMap((row) =>
    row.show ? [[row.show.label, row.show.text(resolved, spec)] as const] : []
  );
  const width = Math.max(...rows.map(([key]) => key.length)) + 2;
  return [name, ...rows.map(([key, value]) => `  ${`${key}:`.padEnd(width)}${value}`)]
    .join("\n");
}
