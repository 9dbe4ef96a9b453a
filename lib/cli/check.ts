/**
 * `tend check [CONFIG]`: validate a file and list each process with its
 * resolved settings.
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import { TIMING_KEYS } from "../core/spec.ts";
import { describeProcess } from "../config/describe.ts";
import { checkRuntime, formatProblem, loadConfig } from "../config/load.ts";
import { CONFIG_OPTION, configFile, HELP_OPTION, parse, UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";

/** The text of `tend check --help`. */
export const CHECK_HELP = `Usage: tend check [CONFIG | -c FILE]

Validates CONFIG (default ./procs.yaml) and lists each process with its
settings resolved: defaults, \${VAR}s, the copies replicas makes, log
files. Every problem is reported at once, as FILE:LINE:COL: key: what is
wrong. What would fail only when a process starts (a program not on
PATH, a cwd that does not exist) is a warning on stderr, and the file is
still valid.

  -c, --config FILE  CONFIG, as the other commands take it
  -h, --help         this help

Exit status: 0 valid (with warnings or not); 78 invalid; 64 bad usage;
74 the listing could not be written (141: its reader had gone).
`;

/**
 * Runs `tend check` and resolves with its exit status.
 *
 * @throws {ConfigError} when the file is invalid (the caller prints it, exit 78)
 * @throws {UsageError} for bad arguments
 */
export async function check(args: string[]): Promise<number> {
  const { positionals, values } = parse(args, { ...CONFIG_OPTION, ...HELP_OPTION });
  if (values.help) {
    write(Deno.stdout, CHECK_HELP);
    return EXIT.OK;
  }
  if (positionals.length > 1) throw new UsageError("check takes one config file");
  const { file, options } = configFile(positionals[0], values.config);
  const config = await loadConfig(file, options);
  // Valid, but what will fail at run time: said on stderr, with its place,
  // and the file is still valid (exit 0).
  const warnings = await checkRuntime(config);
  const names = Object.keys(config.processes);
  const count = `${names.length} process${names.length === 1 ? "" : "es"}`;
  const n = warnings.length;
  const warned = n === 0 ? "" : ` (${n} warning${n === 1 ? "" : "s"})`;
  const lines = [
    `${config.file}: valid, ${count}${warned}`,
    ...TIMING_KEYS.map((key) => `${key}: ${formatDuration(config.timing[key])}`),
    "",
    ...names.map((name) =>
      describeProcess(name, config.processes[name]!, config.timing) + "\n"
    ),
  ];
  write(Deno.stdout, lines.join("\n"));
  if (warnings.length > 0) {
    write(Deno.stderr, warnings.map((w) => formatProblem(w) + "\n").join(""));
  }
  return EXIT.OK;
}
