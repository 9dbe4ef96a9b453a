/**
 * The config file: YAML text in, a validated {@linkcode Config} out, and every
 * problem reported at once with its line and column.
 *
 * Loading is a pipeline: `parseDocument` keeps each node's position; one pass
 * reads the top-level mapping and one reads each process, turning nodes into
 * values and collecting problems instead of stopping at the first; a last
 * check per scope compares the restart delays. Only {@linkcode loadConfig}
 * touches the file system.
 *
 * @module
 */

import { dirname, isAbsolute, join, normalize, resolve, sep } from "node:path";
import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";
import { formatDuration, parseDuration } from "./duration.ts";
import { normalizeSignal, SIGNALS } from "./signals.ts";
import {
  DEFAULT_TIMING,
  NAME_PATTERN,
  type ProcessSpec,
  RESTART_POLICIES,
  type RestartPolicy,
  setOwn,
  type Timing,
  TIMING_KEYS,
} from "./spec.ts";

/** A validated config file. */
export interface Config {
  /** The path of the file, as given. */
  file: string;
  /** Monitor-wide timing, with procmon's defaults for keys the file leaves out. */
  timing: Timing;
  /** The processes by name, in the order the file lists them. */
  processes: Record<string, ProcessSpec>;
}

/** One thing wrong with a config file, and where. */
export interface Problem {
  /** The path of the file, as given. */
  file: string;
  /** Line of the offending node, from 1. */
  line: number;
  /** Column of the offending node, from 1. */
  col: number;
  /** Where in the document, like `processes.web.cmd`; empty for the file itself. */
  path: string;
  /** What is wrong, without a subject: `must be a list of strings`. */
  message: string;
}

/**
 * Formats a problem as `FILE:LINE:COL: path.to.key: message`, the shape editors
 * and terminals turn into links.
 *
 * @param problem The problem to format.
 * @returns One line; the path and its colon are left out when the path is empty.
 */
export function formatProblem(problem: Problem): string {
  const where = `${problem.file}:${problem.line}:${problem.col}`;
  return problem.path === ""
    ? `${where}: ${problem.message}`
    : `${where}: ${problem.path}: ${problem.message}`;
}

/** A config file that cannot be used, with every problem found in it. */
export class ConfigError extends SyntaxError {
  /** Every problem, in the order they appear in the file. */
  readonly problems: Problem[];

  /**
   * Makes an error whose message lists every problem, one per line.
   *
   * @param problems What is wrong; at least one.
   * @param options `cause`, when an OS error is behind the problem.
   */
  constructor(problems: Problem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
    this.name = "ConfigError";
    this.problems = problems;
  }
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
 * import { parseConfig } from "./config.ts";
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
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
  });
  const checker = new Checker(doc);
  const config = readDocument(checker, file, baseDir);
  const problems = checker.problems(file, lineCounter);
  if (problems.length > 0 || config === undefined) throw new ConfigError(problems);
  return config;
}

/**
 * Describes a process with every setting resolved, for `tend check`.
 *
 * @param name The process's name.
 * @param spec Its spec, as {@linkcode parseConfig} returns it.
 * @param timing The monitor-wide timing its own timing keys override.
 * @returns Several lines: the name, then one indented `key: value` per setting.
 */
export function describeProcess(
  name: string,
  spec: ProcessSpec,
  timing: Timing,
): string {
  // Only the names of variables: their values are often secrets, and this
  // output ends up in terminals and CI logs.
  const env = Object.keys(spec.env ?? {});
  const rows: [string, string][] = [
    ["argv", spec.argv.map(shellQuote).join(" ")],
    ["cwd", spec.cwd ?? "(tend's working directory)"],
    ["env", env.length === 0 ? "(none)" : env.join(", ")],
    ["clearEnv", String(spec.clearEnv ?? false)],
    ["uid", spec.uid === undefined ? "(tend's)" : String(spec.uid)],
    ["gid", spec.gid === undefined ? "(tend's)" : String(spec.gid)],
    ["restart", spec.restart ?? "always (default)"],
    ["stopSignal", spec.stopSignal ?? "SIGTERM (default)"],
    ...TIMING_KEYS.map((key): [string, string] => [
      key,
      formatDuration(spec[key] ?? timing[key]),
    ]),
  ];
  const width = Math.max(...rows.map(([key]) => key.length)) + 2;
  return [name, ...rows.map(([key, value]) => `  ${`${key}:`.padEnd(width)}${value}`)]
    .join("\n");
}

function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

// ---------------------------------------------------------------------------
// Reading the document

const TOP_KEYS: readonly string[] = [...TIMING_KEYS, "processes"];

const PROCESS_KEYS: readonly string[] = [
  "cmd",
  "shell",
  "cwd",
  "env",
  "clearEnv",
  "uid",
  "gid",
  "restart",
  "stopSignal",
  ...TIMING_KEYS,
];

// Names other tools use for the same thing (supervisord, PM2, process-compose,
// docker-compose), keyed by `squash`ed spelling. Typos are left to `suggest`.
const TIMING_ALIASES: Readonly<Record<string, string>> = {
  startsecs: "threshold",
  minuptime: "threshold",
  stopwaitsecs: "killTime",
  killtimeout: "killTime",
  stoptimeout: "killTime",
  graceperiod: "killTime",
  restartdelay: "minRestartDelay",
};

const TOP_ALIASES: Readonly<Record<string, string>> = {
  ...TIMING_ALIASES,
  procs: "processes",
  programs: "processes",
  services: "processes",
  apps: "processes",
};

const PROCESS_ALIASES: Readonly<Record<string, string>> = {
  ...TIMING_ALIASES,
  command: "cmd",
  args: "cmd",
  argv: "cmd",
  exec: "cmd",
  program: "cmd",
  sh: "shell",
  script: "shell",
  commandline: "shell",
  environment: "env",
  environ: "env",
  dir: "cwd",
  directory: "cwd",
  workdir: "cwd",
  workingdir: "cwd",
  chdir: "cwd",
  autorestart: "restart",
  restartpolicy: "restart",
  signal: "stopSignal",
  killsignal: "stopSignal",
  user: "uid",
  group: "gid",
};

const RESTART_ALIASES: Readonly<Record<string, string>> = {
  no: "never",
  false: "never",
  off: "never",
  none: "never",
  yes: "always",
  true: "always",
  on: "always",
  unlessstopped: "always",
  onerror: "on-failure",
  failure: "on-failure",
};

function readDocument(c: Checker, file: string, baseDir: string): Config | undefined {
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
  const config = readTop(c, file, baseDir);
  c.reportYamlErrors();
  return config;
}

function readTop(c: Checker, file: string, baseDir: string): Config | undefined {
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
  const top = newScope();
  let processes: Entry | undefined;
  for (const entry of c.entries(root, [])) {
    if (isTimingKey(entry.key)) readTiming(c, entry, top);
    else if (entry.key === "processes") processes = entry;
    else {
      // A process written at the top level, outside `processes:`, is a common slip.
      const hint = looksLikeProcess(entry.value)
        ? 'processes go under "processes:"'
        : undefined;
      unknownKey(c, entry, TOP_KEYS, TOP_ALIASES, hint);
    }
  }
  checkDelays(c, [top]);
  if (processes === undefined) {
    c.report(c.offsetOf(root, 0), [], 'missing key "processes"');
    return undefined;
  }
  return {
    file,
    timing: { ...DEFAULT_TIMING, ...top.values },
    processes: readProcesses(c, processes, baseDir, top),
  };
}

function looksLikeProcess(node: Node | null): boolean {
  return isMap(node) && (node.has("cmd") || node.has("shell"));
}

function readProcesses(
  c: Checker,
  entry: Entry,
  baseDir: string,
  top: TimingScope,
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
    const spec = readProcess(c, named, baseDir, top);
    if (spec !== undefined) setOwn(processes, named.key, spec);
  }
  return processes;
}

function readProcess(
  c: Checker,
  named: Entry,
  baseDir: string,
  top: TimingScope,
): ProcessSpec | undefined {
  if (!isMap(named.value)) {
    c.report(named.at, named.path, "must be a mapping with cmd or shell");
    return undefined;
  }
  const timing = newScope();
  const settings: Omit<ProcessSpec, "argv"> = {};
  let cmd: { argv: string[] | undefined } | undefined;
  let shell: { argv: string[] | undefined } | undefined;
  for (const entry of c.entries(named.value, named.path)) {
    const key = entry.key;
    if (isTimingKey(key)) {
      readTiming(c, entry, timing);
      continue;
    }
    switch (key) {
      case "cmd":
        cmd = { argv: readArgv(c, entry) };
        break;
      case "shell": {
        const script = readShell(c, entry);
        shell = { argv: script === undefined ? undefined : ["/bin/sh", "-c", script] };
        break;
      }
      case "cwd":
        settings.cwd = readCwd(c, entry, baseDir);
        break;
      case "env":
        settings.env = readEnv(c, entry);
        break;
      case "clearEnv":
        settings.clearEnv = readBoolean(c, entry);
        break;
      case "uid":
      case "gid":
        settings[key] = readId(c, entry);
        break;
      case "restart":
        settings.restart = readRestart(c, entry);
        break;
      case "stopSignal":
        settings.stopSignal = readSignal(c, entry);
        break;
      default:
        unknownKey(c, entry, PROCESS_KEYS, PROCESS_ALIASES);
    }
  }
  if (cmd !== undefined && shell !== undefined) {
    c.report(named.keyAt, named.path, "has both cmd and shell; use one");
  } else if (cmd === undefined && shell === undefined) {
    c.report(named.keyAt, named.path, "needs cmd or shell");
  }
  checkDelays(c, [timing, top]);
  const argv = (cmd ?? shell)?.argv;
  if (argv === undefined) return undefined;
  // Keys that were absent or invalid stay out, so specs compare with sameSpec
  // and serialise without `undefined` holes.
  return withoutUndefined({ argv, ...settings, ...timing.values });
}

function withoutUndefined<T extends object>(value: T): T {
  for (const key of Object.keys(value) as (keyof T)[]) {
    if (value[key] === undefined) delete value[key];
  }
  return value;
}

// --- one reader per kind of value; each reports its own problems -----------

function readArgv(c: Checker, entry: Entry): string[] | undefined {
  const node = entry.value;
  if (isScalar(node) && typeof node.value === "string") {
    c.report(
      entry.at,
      entry.path,
      "is a string; use a list (argv), or shell: for a command line",
    );
    return undefined;
  }
  if (!isSeq(node)) {
    c.report(entry.at, entry.path, "must be a list of strings");
    return undefined;
  }
  if (node.items.length === 0) {
    c.report(entry.at, entry.path, "must not be empty");
    return undefined;
  }
  const argv: string[] = [];
  node.items.forEach((item, index) => {
    const at = c.offsetOf(item, entry.at);
    const path = [...entry.path, index];
    const arg = scalarText(c.resolve(item));
    if (arg === undefined) c.report(at, path, "must be a string");
    else if (index === 0 && arg === "") c.report(at, path, "must not be empty");
    else argv.push(arg);
  });
  return argv.length === node.items.length ? argv : undefined;
}

function readShell(c: Checker, entry: Entry): string | undefined {
  const script = scalarText(entry.value);
  if (script === undefined) {
    const hint = isSeq(entry.value) ? " (for a list of arguments use cmd:)" : "";
    c.report(entry.at, entry.path, `must be a string${hint}`);
    return undefined;
  }
  if (script.trim() === "") {
    c.report(entry.at, entry.path, "must not be empty");
    return undefined;
  }
  return script;
}

function readCwd(c: Checker, entry: Entry, baseDir: string): string | undefined {
  const dir = scalarText(entry.value);
  if (dir === undefined) {
    c.report(entry.at, entry.path, "must be a string");
    return undefined;
  }
  if (dir === "") {
    c.report(entry.at, entry.path, "must not be empty");
    return undefined;
  }
  // No shell expands it, so "~/app" would quietly mean "<config folder>/~/app".
  if (dir === "~" || dir.startsWith("~/")) {
    c.report(entry.at, entry.path, '"~" is not expanded; write the full path');
    return undefined;
  }
  // Existence is checked when the process is spawned, where a missing folder
  // is a death like any other, not a reason to refuse the whole file.
  const full = isAbsolute(dir) ? normalize(dir) : join(baseDir, dir);
  return full.length > 1 && full.endsWith(sep) ? full.slice(0, -1) : full;
}

function readEnv(c: Checker, entry: Entry): Record<string, string> | undefined {
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, "must be a mapping of variable names to strings");
    return undefined;
  }
  const env: Record<string, string> = {};
  let ok = true;
  for (const variable of c.entries(entry.value, entry.path)) {
    if (variable.key === "" || variable.key.includes("=")) {
      c.report(variable.keyAt, variable.path, 'must be a name without "="');
      ok = false;
    }
    const value = scalarText(variable.value);
    if (value === undefined) {
      const empty = variable.value === null ||
        (isScalar(variable.value) && variable.value.value === null);
      const hint = empty ? ' (write "" for an empty value)' : "";
      c.report(variable.at, variable.path, `must be a string${hint}`);
      ok = false;
    } else {
      setOwn(env, variable.key, value);
    }
  }
  return ok ? env : undefined;
}

function readBoolean(c: Checker, entry: Entry): boolean | undefined {
  if (isScalar(entry.value) && typeof entry.value.value === "boolean") {
    return entry.value.value;
  }
  c.report(entry.at, entry.path, "must be true or false");
  return undefined;
}

function readId(c: Checker, entry: Entry): number | undefined {
  const value = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    return value;
  }
  c.report(entry.at, entry.path, "must be a non-negative integer");
  return undefined;
}

function readRestart(c: Checker, entry: Entry): RestartPolicy | undefined {
  const text = scalarText(entry.value);
  const policy = RESTART_POLICIES.find((p) => p === text);
  if (policy !== undefined) return policy;
  const choices = "always, on-failure or never";
  if (text === undefined) {
    c.report(entry.at, entry.path, `must be ${choices}`);
  } else {
    const guess = suggest(text, RESTART_POLICIES, RESTART_ALIASES);
    const advice = guess === undefined
      ? `; use ${choices}`
      : ` (did you mean "${guess}"?)`;
    c.report(entry.at, entry.path, `unknown restart policy ${quote(text)}${advice}`);
  }
  return undefined;
}

function readSignal(c: Checker, entry: Entry): string | undefined {
  const text = scalarText(entry.value);
  if (text === undefined) {
    c.report(entry.at, entry.path, "must be a signal name like SIGTERM");
    return undefined;
  }
  const signal = normalizeSignal(text);
  if (signal !== null) return signal;
  // Compared without the shared "SIG", which would make every short word look close.
  const bare = text.toUpperCase().replace(/^SIG/, "");
  const guess = suggest(bare, SIGNALS.map((name) => name.slice(3)));
  const advice = guess === undefined
    ? "; use a name like SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGKILL"
    : ` (did you mean "SIG${guess}"?)`;
  c.report(entry.at, entry.path, `unknown signal ${quote(text)}${advice}`);
  return undefined;
}

function unknownKey(
  c: Checker,
  entry: Entry,
  known: readonly string[],
  aliases: Readonly<Record<string, string>>,
  hint?: string,
): void {
  const guess = suggest(entry.key, known, aliases);
  let advice = "";
  if (guess !== undefined) advice = ` (did you mean "${guess}"?)`;
  else if (hint !== undefined) advice = ` (${hint})`;
  c.report(entry.keyAt, entry.path, `unknown key ${quote(entry.key)}${advice}`);
}

// --- timing -----------------------------------------------------------------

/** The timing keys written in one mapping (the top level, or one process). */
interface TimingScope {
  /** Every timing key written here, valid or not. */
  given: Partial<Record<keyof Timing, Entry>>;
  /** The valid ones, in seconds. */
  values: Partial<Timing>;
}

function newScope(): TimingScope {
  return { given: {}, values: {} };
}

function isTimingKey(key: string): key is keyof Timing {
  return (TIMING_KEYS as readonly string[]).includes(key);
}

function readTiming(c: Checker, entry: Entry, scope: TimingScope): void {
  const key = entry.key as keyof Timing;
  scope.given[key] = entry;
  const node = entry.value;
  try {
    // A mapping or list is passed as is, so parseDuration rejects it as a TypeError.
    scope.values[key] = parseDuration(isScalar(node) ? node.value : node);
  } catch (error) {
    c.report(
      entry.at,
      entry.path,
      error instanceof Error ? error.message : String(error),
    );
  }
}

/**
 * Reports `minRestartDelay` above `maxRestartDelay` in the innermost scope,
 * comparing the values that apply there (its own, else the outer scope's,
 * else procmon's). It is reported at whichever of the two keys that scope
 * sets, preferring `minRestartDelay`; a scope that sets neither inherited the
 * problem and is left alone. An invalid value skips the check: it already
 * has its own problem.
 */
function checkDelays(c: Checker, scopes: [TimingScope, ...TimingScope[]]): void {
  const min = effective("minRestartDelay", scopes);
  const max = effective("maxRestartDelay", scopes);
  if (min === undefined || max === undefined || min <= max) return;
  const { minRestartDelay, maxRestartDelay } = scopes[0].given;
  if (minRestartDelay !== undefined) {
    c.report(
      minRestartDelay.at,
      minRestartDelay.path,
      `must not be above maxRestartDelay (${formatDuration(max)})`,
    );
  } else if (maxRestartDelay !== undefined) {
    c.report(
      maxRestartDelay.at,
      maxRestartDelay.path,
      `must not be below minRestartDelay (${formatDuration(min)})`,
    );
  }
}

/** The value of a timing key where `scopes` (innermost first) apply; undefined if invalid. */
function effective(key: keyof Timing, scopes: TimingScope[]): number | undefined {
  for (const scope of scopes) {
    if (scope.given[key] !== undefined) return scope.values[key];
  }
  return DEFAULT_TIMING[key];
}

// ---------------------------------------------------------------------------
// Nodes, positions and problems

type Path = readonly (string | number)[];

/** One key of a mapping, its value, and where to point when either is wrong. */
interface Entry {
  key: string;
  /** Path to the value: the mapping's path plus the key. */
  path: Path;
  /** Offset of the key. */
  keyAt: number;
  /** The value, through any alias; null when the key has no node. */
  value: Node | null;
  /** Offset of the value as written (an alias itself), or of the key when empty. */
  at: number;
}

/** Collects problems as offsets while the readers walk the document. */
class Checker {
  readonly doc: Document;
  #found: { at: number; path: Path; message: string }[] = [];
  #duplicates = new Set<number>();

  constructor(doc: Document) {
    this.doc = doc;
  }

  report(at: number, path: Path, message: string): void {
    this.#found.push({ at, path, message });
  }

  /** The problems in file order, with offsets turned into lines and columns. */
  problems(file: string, lineCounter: LineCounter): Problem[] {
    // Array#sort is stable, so problems at the same spot keep their order.
    return [...this.#found].sort((a, b) => a.at - b.at).map(({ at, path, message }) => {
      const { line, col } = lineCounter.linePos(at);
      return { file, line, col, path: formatPath(path), message };
    });
  }

  /** Follows an alias to its anchor; anything that is not a node becomes null. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return isNode(node) ? node : null;
  }

  /** Where a node starts, or `fallback` for a node with no text (an empty value). */
  offsetOf(node: unknown, fallback: number): number {
    const range = isNode(node) ? node.range : undefined;
    return range && range[0] < range[1] ? range[0] : fallback;
  }

  /**
   * The entries of a mapping in file order; reports keys that are not plain
   * scalars and duplicate keys, and leaves both out (the first one wins).
   */
  entries(map: YAMLMap, path: Path): Entry[] {
    const seen = new Set<string>();
    const entries: Entry[] = [];
    for (const pair of map.items) {
      const keyAt = this.offsetOf(pair.key, this.offsetOf(map, 0));
      const key = scalarText(this.resolve(pair.key));
      if (key === undefined) {
        this.report(keyAt, path, "keys must be strings");
        continue;
      }
      if (seen.has(key)) {
        // Reported here, with its path, rather than from yaml's own
        // DUPLICATE_KEY error, which has no path.
        this.#duplicates.add(keyAt);
        this.report(keyAt, path, `duplicate key ${quote(key)}`);
        continue;
      }
      seen.add(key);
      entries.push({
        key,
        path: [...path, key],
        keyAt,
        value: this.resolve(pair.value),
        at: this.offsetOf(pair.value, keyAt),
      });
    }
    return entries;
  }

  /**
   * Reports yaml's own errors; duplicate keys only where `entries` did not
   * already, that is in mappings the readers never walk.
   */
  reportYamlErrors(): void {
    for (const error of this.doc.errors) {
      const at = error.pos[0];
      if (error.code === "DUPLICATE_KEY") {
        if (this.#duplicates.has(at)) continue;
        this.report(at, [], `duplicate key ${quote(this.#keyTextAt(at))}`);
      } else if (error.code === "MULTIPLE_DOCS") {
        // yaml's own text points at its API (parseAllDocuments), not at the file.
        this.report(at, [], "the file must hold one YAML document, not several");
      } else {
        this.report(at, [], error.message);
      }
    }
  }

  /** Reports aliases whose anchor is not defined before them; true if any. */
  reportDanglingAliases(): boolean {
    let found = false;
    visit(this.doc, {
      Alias: (_, alias) => {
        if (alias.resolve(this.doc) !== undefined) return;
        this.report(this.offsetOf(alias, 0), [], `unknown alias "*${alias.source}"`);
        found = true;
      },
    });
    return found;
  }

  #keyTextAt(at: number): string {
    let text = "";
    visit(this.doc, {
      Pair: (_, pair) => {
        if (!isNode(pair.key) || pair.key.range?.[0] !== at) return undefined;
        text = scalarText(this.resolve(pair.key)) ?? "";
        return visit.BREAK;
      },
    });
    return text;
  }
}

/**
 * The text of a scalar: strings as they are, numbers and booleans as written
 * (`8000`, `0x10`, `TRUE`), so `[http.server, 8000]` means what it shows.
 * Null, collections and binary data have no text.
 */
function scalarText(node: Node | null): string | undefined {
  if (!isScalar(node)) return undefined;
  const value = node.value;
  if (typeof value === "string") return value;
  if (
    typeof value === "number" || typeof value === "boolean" || typeof value === "bigint"
  ) {
    return node.source ?? String(value);
  }
  return undefined;
}

/** `processes.web.cmd[0]`, quoting keys that would be ambiguous: `processes["a.b"]`. */
function formatPath(path: Path): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${quote(part)}]`;
  }
  return text;
}

function quote(text: string): string {
  return JSON.stringify(text);
}

/**
 * The candidate the user probably meant: a known alias, the same word up to
 * case and separators (`kill_time`, `killtime`), or one at most two edits away
 * (and under half the word's length, so short words do not match everything).
 */
function suggest(
  word: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const squashed = squash(word);
  if (Object.hasOwn(aliases, squashed)) return aliases[squashed];
  const same = candidates.find((candidate) => squash(candidate) === squashed);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= 2 && bestDistance * 2 < word.length ? best : undefined;
}

function squash(word: string): string {
  return word.toLowerCase().replace(/[-_. ]/g, "");
}

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string
 * alignment), since `SIGTREM` for `SIGTERM` is one slip, not two.
 */
function editDistance(a: string, b: string): number {
  const rows = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : i),
  );
  const at = (i: number, j: number): number => rows[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      rows[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}
