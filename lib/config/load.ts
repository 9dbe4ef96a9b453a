/**
 * The config file: YAML text in, a validated {@linkcode Config} out, and every
 * problem reported at once with its line and column.
 *
 * Loading is a pipeline, as process-compose's loader is: parse with
 * positions (`yaml.ts`); read each mapping through the key table
 * (`keys.ts`), turning nodes into values and collecting problems instead of
 * stopping at the first (`readers.ts`); then run the checks across keys
 * (`validators.ts`); then build the config. Only {@linkcode loadConfig}
 * touches the file system.
 *
 * @module
 */

import { dirname, resolve } from "node:path";
import { isMap, isScalar, type Node } from "yaml";
import {
  DEFAULT_TIMING,
  NAME_PATTERN,
  type ProcessSpec,
  setOwn,
  type Timing,
} from "../core/spec.ts";
import { type KeyRow, PROCESS_ROWS, TOP_ROWS } from "./keys.ts";
import { ConfigError } from "./problems.ts";
import type { ReadContext } from "./readers.ts";
import { suggest } from "./suggest.ts";
import { checkCommand, checkDelays, type Fields } from "./validators.ts";
import { Checker, type Entry, parseYaml, quote } from "./yaml.ts";

export { ConfigError, formatProblem, type Problem } from "./problems.ts";

/** A validated config file. */
export interface Config {
  /** The path of the file, as given. */
  file: string;
  /** Monitor-wide timing, with procmon's defaults for keys the file leaves out. */
  timing: Timing;
  /** The processes by name, in the order the file lists them. */
  processes: Record<string, ProcessSpec>;
  /** The control socket's absolute path (`socket:`), when the file sets one. */
  socket?: string;
}

/**
 * Reads a config file from disk and validates it.
 *
 * @param file Path of the YAML file; a relative `cwd` in it is resolved
 *   against the folder that holds it.
 * @returns The validated config.
 * @throws {ConfigError} When the file cannot be read (at line 1, column 1,
 *   naming the OS's reason) or is invalid.
 */
export async function loadConfig(file: string): Promise<Config> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (error) {
    const message = `cannot read the file: ${osReason(error)}`;
    throw new ConfigError([{ file, line: 1, col: 1, path: "", message }], {
      cause: error,
    });
  }
  return parseConfig(text, file, dirname(resolve(file)));
}

// Deno appends the call and path ("...: readfile 'x'"); the file name is
// already at the front of the problem, so keep only the OS's words.
function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/: \w+ '.*'$/s, "");
}

/**
 * Parses and validates config text; pure, it reads nothing but its arguments.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./load.ts";
 * const text = "processes:\n  web: {cmd: [python3, -m, http.server]}\n";
 * const config = parseConfig(text, "procs.yaml", "/srv/app");
 * config.processes.web?.argv; // ["python3", "-m", "http.server"]
 * ```
 *
 * @param text The YAML source.
 * @param file The file's path as it should appear in problems and in the result.
 * @param baseDir Absolute folder a relative `cwd` is resolved against.
 * @returns The validated config.
 * @throws {ConfigError} With every problem found, when there is at least one.
 */
export function parseConfig(text: string, file: string, baseDir: string): Config {
  const { doc, lineCounter } = parseYaml(text);
  const checker = new Checker(doc);
  const config = readDocument(checker, file, { baseDir });
  const problems = checker.problems(file, lineCounter);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}

function readDocument(
  c: Checker,
  file: string,
  ctx: ReadContext,
): Config | undefined {
  for (const warning of c.doc.warnings) c.report(warning.pos[0], [], warning.message);
  const broken = c.doc.errors.some((error) => error.code !== "DUPLICATE_KEY");
  const dangling = c.reportDanglingAliases();
  if (broken || dangling) {
    // After a syntax error the tree is the parser's guess, and a dangling
    // alias is a hole in it; checking it would add made-up problems next to
    // the real one.
    c.reportYamlErrors();
    return undefined;
  }
  const config = readTop(c, file, ctx);
  c.reportYamlErrors();
  return config;
}

function readTop(c: Checker, file: string, ctx: ReadContext): Config | undefined {
  const root = c.resolve(c.doc.contents);
  if (root === null || (isScalar(root) && root.value === null)) {
    c.report(0, [], 'the file is empty; it needs a "processes" mapping');
    return undefined;
  }
  if (!isMap(root)) {
    c.report(
      c.offsetOf(root, 0),
      [],
      'the top level must be a mapping with "processes"',
    );
    return undefined;
  }
  const top = readFields(c, c.entries(root, []), TOP_ROWS, ctx, (entry) =>
    // A process written at the top level, outside `processes:`, is a common slip.
    looksLikeProcess(entry.value) ? 'processes go under "processes:"' : undefined);
  checkDelays(c, [top]);
  const processes = top.get("processes");
  if (processes === undefined) {
    c.report(c.offsetOf(root, 0), [], 'missing key "processes"');
    return undefined;
  }
  const timing: Timing = { ...DEFAULT_TIMING };
  for (const key of Object.keys(timing) as (keyof Timing)[]) {
    const value = top.get(key)?.value;
    if (typeof value === "number") timing[key] = value;
  }
  const socket = top.get("socket")?.value;
  return {
    file,
    timing,
    processes: readProcesses(c, processes.entry, top, ctx),
    ...(typeof socket === "string" ? { socket } : {}),
  };
}

function looksLikeProcess(node: Node | null): boolean {
  return isMap(node) && (node.has("cmd") || node.has("shell"));
}

/**
 * Reads the entries of one mapping through the key table: each known key
 * with its row's reader, each unknown one reported with a did-you-mean.
 */
function readFields(
  c: Checker,
  entries: Entry[],
  rows: readonly KeyRow[],
  ctx: ReadContext,
  hint: (entry: Entry) => string | undefined = () => undefined,
): Fields {
  const fields: Fields = new Map();
  for (const entry of entries) {
    const row = rows.find((r) => r.key === entry.key);
    if (row === undefined) {
      unknownKey(c, entry, rows, hint(entry));
      continue;
    }
    fields.set(entry.key, { entry, value: row.read(c, entry, ctx) });
  }
  return fields;
}

function unknownKey(
  c: Checker,
  entry: Entry,
  rows: readonly KeyRow[],
  hint: string | undefined,
): void {
  const aliases: Record<string, string> = {};
  for (const row of rows) for (const alias of row.aliases) aliases[alias] = row.key;
  const guess = suggest(entry.key, rows.map((row) => row.key), aliases);
  let advice = "";
  if (guess !== undefined) advice = ` (did you mean "${guess}"?)`;
  else if (hint !== undefined) advice = ` (${hint})`;
  c.report(entry.keyAt, entry.path, `unknown key ${quote(entry.key)}${advice}`);
}

function readProcesses(
  c: Checker,
  entry: Entry,
  top: Fields,
  ctx: ReadContext,
): Record<string, ProcessSpec> {
  const processes: Record<string, ProcessSpec> = {};
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, "must be a mapping of process names to settings");
    return processes;
  }
  if (entry.value.items.length === 0) {
    c.report(entry.at, entry.path, "must list at least one process");
  }
  for (const named of c.entries(entry.value, entry.path)) {
    if (!NAME_PATTERN.test(named.key)) {
      c.report(
        named.keyAt,
        named.path,
        'process name must use only letters, digits, ".", "_" and "-"',
      );
    }
    const spec = readProcess(c, named, top, ctx);
    if (spec !== undefined) setOwn(processes, named.key, spec);
  }
  return processes;
}

function readProcess(
  c: Checker,
  named: Entry,
  top: Fields,
  ctx: ReadContext,
): ProcessSpec | undefined {
  if (!isMap(named.value)) {
    c.report(named.at, named.path, "must be a mapping with cmd or shell");
    return undefined;
  }
  const fields = readFields(c, c.entries(named.value, named.path), PROCESS_ROWS, ctx);
  checkCommand(c, named, fields);
  checkDelays(c, [fields, top]);
  const spec: Partial<ProcessSpec> = {};
  for (const row of PROCESS_ROWS) {
    const value = fields.get(row.key)?.value;
    // Keys that were absent or invalid stay out, so specs compare with
    // sameSpec and serialise without `undefined` holes.
    if (value !== undefined) row.apply(spec, value);
  }
  if (spec.argv === undefined || (fields.has("cmd") && fields.has("shell"))) {
    return undefined;
  }
  return spec as ProcessSpec;
}
