/**
 * The mutators: steps of the pipeline that run after the key table has
 * read a process, and turn what the file wrote into what runs. In order:
 *
 * 1. {@linkcode replicate}: `replicas: N` makes copies `NAME.1` ...
 *    `NAME.N` (their names are checked by `checkReplicaNames`);
 * 2. {@linkcode locateEnvFiles}: each `envFile` path, `${VAR}` expanded,
 *    made absolute against the config's folder (loadConfig reads them);
 * 3. {@linkcode readEnvFiles}: their variables, from the texts read;
 * 4. {@linkcode expandFields}: `${VAR}` in every key whose row says how
 *    (`cmd`, `cwd`, `env`), from the process's variables;
 * 5. {@linkcode resolveCwd}: the folder made absolute, the config's folder
 *    by default;
 * 6. {@linkcode composeEnv}: envFile's variables, then `env`, then tend's
 *    own (`TEND_PROCESS`, `TEND_REPLICA`); {@linkcode resolveLog}: the log
 *    file, from the process's `log` over the top-level one
 *    ({@linkcode resolveTopLog}), made absolute;
 * 7. {@linkcode expandReplicaDependencies}, on the built specs: a
 *    dependency on a replicated process is one on each of its copies.
 *
 * Each is pure: what it needs from files and the environment is handed in.
 *
 * @module
 */

import { dirname, isAbsolute, join, normalize, sep } from "../core/path.ts";
import { isMap, isSeq } from "./yaml_package.ts";
import {
  DEFAULT_LOG_ROTATION,
  type LogFileSpec,
  type ProcessSpec,
  setOwn,
} from "../core/spec.ts";
import { parseDotenv } from "./dotenv.ts";
import { expandStrings, type Lookup, substitute } from "./expand.ts";
import { PROCESS_ROWS } from "./keys.ts";
import {
  HOME_NOT_EXPANDED,
  isHome,
  type LogDraft,
  type RotationDraft,
  type TopLogDraft,
} from "./readers.ts";
import type { Fields } from "./validators.ts";
import { type Checker, type Entry, type Path, quote } from "./yaml.ts";

/** The variable every child gets: its process's name. */
export const TEND_PROCESS = "TEND_PROCESS";
/** The variable each copy of a replicated process gets: its number, from 1. */
export const TEND_REPLICA = "TEND_REPLICA";
/** The variables tend sets itself, which a file may not set. */
export const RESERVED_VARIABLES: readonly string[] = [TEND_PROCESS, TEND_REPLICA];

/** A process as the key table read it: its entry, and its keys as read. */
export interface Draft {
  /** The process's entry under `processes`. */
  named: Entry;
  /** Its keys, as the readers read them. */
  fields: Fields;
}

/** One process to build: a process of the file, or one copy of one. */
export interface Instance {
  /** Its name: the file's, or `NAME.i` for copy i. */
  name: string;
  /** What the file wrote for it (shared by the copies). */
  draft: Draft;
  /** Its copy number, from 1, when the process is replicated. */
  replica?: number;
  /** Its env files, once located; empty when it names none. */
  envFiles: LocatedFile[];
}

/** An env file a process names, located. */
export interface LocatedFile {
  /** Absolute path, the key loadConfig reads it under. */
  path: string;
  /** The path as problems show it: as written, from the config file's folder. */
  shown: string;
  /** Where the file names it: the offset of the path... */
  at: number;
  /** ...and the path of the item (`processes.web.envFile[0]`). */
  where: Path;
}

/**
 * An env file's text, or why there is none: `missing` when it does not
 * exist; `line` and `col` when the problem is at a place in it (invalid
 * UTF-8).
 */
export type EnvFileText =
  | { text: string }
  | { problem: string; missing?: boolean; line?: number; col?: number };

/** The variables tend gives a process: its name, and its copy number. */
export function tendVariables(name: string, replica?: number): Record<string, string> {
  const vars: Record<string, string> = { [TEND_PROCESS]: name };
  if (replica !== undefined) vars[TEND_REPLICA] = String(replica);
  return vars;
}

/** The number of copies a process asks for; `undefined` when it is not replicated. */
export function replicasOf(draft: Draft): number | undefined {
  const value = draft.fields.get("replicas")?.value;
  return typeof value === "number" ? value : undefined;
}

/**
 * The processes to build: each process of the file, or its copies
 * `NAME.1` ... `NAME.N` when it has `replicas: N` (even `replicas: 1`, so
 * that names do not change with the count).
 */
export function replicate(drafts: readonly Draft[]): Instance[] {
  return drafts.flatMap((draft): Instance[] => {
    const count = replicasOf(draft);
    const name = draft.named.key;
    if (count === undefined) return [{ name, draft, envFiles: [] }];
    return Array.from({ length: count }, (_, i) => ({
      name: `${name}.${i + 1}`,
      draft,
      replica: i + 1,
      envFiles: [],
    }));
  });
}

/**
 * Lookups tried in order: the first that has a variable gives it; `fallback`
 * (tend's environment) last.
 */
export function layered(records: Record<string, string>[], fallback: Lookup): Lookup {
  return (name) => {
    for (const record of records) if (Object.hasOwn(record, name)) return record[name];
    return fallback(name);
  };
}

/**
 * Step 2: finds the env files `instance` names, `${VAR}` expanded from
 * tend's variables and environment (not from env files, which are not read
 * yet), relative paths taken from `baseDir`. Sets `instance.envFiles`.
 *
 * @param file the config file's path as given, for paths shown in problems
 */
export function locateEnvFiles(
  c: Checker,
  instance: Instance,
  env: Lookup,
  baseDir: string,
  file: string,
): void {
  const field = instance.draft.fields.get("envFile");
  if (field === undefined || field.value === undefined) return;
  const lookup = layered([tendVariables(instance.name, instance.replica)], env);
  const paths = expandStrings(
    field.value as string[],
    field.entry,
    c,
    substitute(c, lookup),
  );
  if (paths === undefined) return;
  const items = isSeq(field.entry.value) ? field.entry.value.items : undefined;
  instance.envFiles = (paths as string[]).map((path, index) => ({
    path: isAbsolute(path) ? normalize(path) : join(baseDir, path),
    shown: isAbsolute(path) ? path : join(dirname(file), path),
    at: items === undefined ? field.entry.at : c.offsetOf(items[index], field.entry.at),
    where: items === undefined ? field.entry.path : [...field.entry.path, index],
  }));
}

/**
 * Step 3: the variables of `instance`'s env files, in order (a later file
 * wins), from `files` (the texts loadConfig read, by absolute path). A file
 * that could not be read is a problem where the config names it; a bad
 * line is a problem at its line in the env file.
 *
 * @returns the variables, or `undefined` when there was a problem
 */
export function readEnvFiles(
  c: Checker,
  instance: Instance,
  files: ReadonlyMap<string, EnvFileText>,
): Record<string, string> | undefined {
  const values: Record<string, string> = {};
  let ok = true;
  for (const located of instance.envFiles) {
    const got = files.get(located.path) ??
      { problem: "no such file", missing: true };
    if ("problem" in got) {
      ok = false;
      if (got.line !== undefined) {
        const place = { file: located.shown, line: got.line, col: got.col ?? 1 };
        c.reportElsewhere(located.at, located.where, place, got.problem);
        continue;
      }
      // Relative paths are from the config's folder, which may not be
      // where the user looked.
      const looked = got.missing && located.shown !== located.path
        ? ` (looked for ${located.path})`
        : "";
      c.report(
        located.at,
        located.where,
        `${quote(located.shown)}: ${got.problem}${looked}`,
      );
      continue;
    }
    const dotenv = parseDotenv(got.text);
    for (const problem of dotenv.problems) {
      const { line, col, message } = problem;
      c.reportElsewhere(
        located.at,
        located.where,
        { file: located.shown, line, col },
        message,
      );
      ok = false;
    }
    for (const [name, value] of Object.entries(dotenv.values)) {
      if (RESERVED_VARIABLES.includes(name)) {
        const line = lineOf(got.text, name);
        c.reportElsewhere(
          located.at,
          located.where,
          { file: located.shown, line, col: 1 },
          reservedMessage(name),
        );
        ok = false;
        continue;
      }
      setOwn(values, name, value);
    }
  }
  return ok ? values : undefined;
}

/** What is said about a variable tend sets itself, written in a file. */
export function reservedMessage(name: string): string {
  return name === TEND_PROCESS
    ? `${name} is set by tend, to the process's name`
    : `${name} is set by tend, to the copy's number (with replicas)`;
}

// The line (from 1) of the last line setting `name`, for a problem about it.
function lineOf(text: string, name: string): number {
  const lines = text.split("\n");
  const pattern = new RegExp(`^\\s*(?:export\\s+)?${name}\\s*=`);
  for (let i = lines.length - 1; i >= 0; i--) if (pattern.test(lines[i]!)) return i + 1;
  return 1;
}

/**
 * Step 4: `${VAR}` expanded in every key of `instance` whose row has an
 * `expand` (but `envFile`, expanded by step 2), from `lookup`.
 *
 * @returns the keys' values, expanded; a key whose expansion failed
 *   (reported) maps to `undefined`, a key not written is absent
 */
export function expandFields(
  c: Checker,
  instance: Instance,
  lookup: Lookup,
): Map<string, unknown> {
  const values = new Map<string, unknown>();
  const sub = substitute(c, lookup);
  for (const [key, field] of instance.draft.fields) {
    const row = PROCESS_ROWS.find((r) => r.key === key);
    const expand = key === "envFile" ? undefined : row?.expand;
    values.set(
      key,
      expand === undefined || field.value === undefined
        ? field.value
        : expand(field.value, field.entry, c, sub),
    );
  }
  return values;
}

/**
 * Step 5: the working directory: `dir` (expanded) made absolute against
 * `baseDir` and normalized, or `baseDir` itself when the process names
 * none, so a file behaves the same wherever tend starts.
 *
 * @param entry where `cwd` is written, for problems; absent when it is not
 * @returns the folder, or `undefined` when it is wrong (reported)
 */
export function resolveCwd(
  c: Checker,
  entry: Entry | undefined,
  dir: string | undefined,
  baseDir: string,
): string | undefined {
  if (entry === undefined || dir === undefined) return baseDir;
  if (dir === "") {
    c.report(entry.at, entry.path, "is empty once ${...} is expanded");
    return undefined;
  }
  if (isHome(dir)) {
    c.report(entry.at, entry.path, HOME_NOT_EXPANDED);
    return undefined;
  }
  // Existence is checked when the process is spawned (and warned about by
  // `tend check`), where a missing folder is a death like any other, not a
  // reason to refuse the whole file.
  const full = isAbsolute(dir) ? normalize(dir) : join(baseDir, dir);
  return full.length > 1 && full.endsWith(sep) ? full.slice(0, -1) : full;
}

/**
 * Step 6: the variables a process adds to its environment: its env files',
 * then `env` (which wins), then tend's own.
 */
export function composeEnv(
  fromFiles: Record<string, string>,
  env: Record<string, string> | undefined,
  tend: Record<string, string>,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const layer of [fromFiles, env ?? {}, tend]) {
    for (const [name, value] of Object.entries(layer)) setOwn(out, name, value);
  }
  return out;
}

/**
 * Step 7, on built specs: a dependency on a replicated process (by the
 * name the file gave it) becomes one on each of its copies, with the same
 * condition, so `dependsOn: { web: ready }` waits for every copy of `web`.
 * A dependency on one copy (`web.2`) is left as it is.
 *
 * @param copies the names of each replicated process's copies, by its name
 */
export function expandReplicaDependencies(
  processes: Record<string, ProcessSpec>,
  copies: ReadonlyMap<string, readonly string[]>,
): void {
  if (copies.size === 0) return;
  for (const spec of Object.values(processes)) {
    if (spec.dependsOn === undefined) continue;
    const dependsOn: NonNullable<ProcessSpec["dependsOn"]> = {};
    for (const [name, condition] of Object.entries(spec.dependsOn)) {
      for (const target of copies.get(name) ?? [name]) {
        setOwn(dependsOn, target, condition);
      }
    }
    spec.dependsOn = dependsOn;
  }
}

/** The top-level `log:`, resolved: the folder made absolute, and where it is written. */
export interface TopLog extends RotationDraft {
  /** The folder of every process's `NAME.log`, absolute; absent when not given. */
  dir?: string;
  /** Where `log:` is written, for problems. */
  entry: Entry;
}

/**
 * The top-level `log:`: its `dir` `${VAR}`-expanded from tend's
 * environment (there is no process to take variables from) and made
 * absolute against `baseDir`.
 *
 * @returns the settings; `undefined` when `dir` is wrong (reported)
 */
export function resolveTopLog(
  c: Checker,
  entry: Entry,
  draft: TopLogDraft,
  env: Lookup,
  baseDir: string,
): TopLog | undefined {
  const { dir, ...rotation } = draft;
  if (dir === undefined) return { ...rotation, entry };
  const place = pathEntry(c, entry, "dir");
  const expanded = substitute(c, env)(dir, place.value, place.at, place.path);
  if (expanded === undefined) return undefined;
  const full = resolveCwd(c, place, expanded, baseDir);
  return full === undefined ? undefined : { ...rotation, dir: full, entry };
}

/**
 * Step 6 too: a process's log file. Its own `log` wins key by key over the
 * top-level one: its `file` over the top's `dir` (which gives
 * `DIR/NAME.log`), its `maxBytes` and `backups` over the top's, then
 * {@linkcode DEFAULT_LOG_ROTATION}. `log: false` is no file whatever the
 * top says; a process's `log` with rotation settings but no `file` needs
 * the top's `dir`. The file is made absolute against `baseDir`.
 *
 * @param entry where the process's `log` is written, when it is
 * @param own the process's `log`, expanded; absent when it has none
 * @returns the file; `null` for none; `undefined` when it is wrong (reported)
 */
export function resolveLog(
  c: Checker,
  name: string,
  entry: Entry | undefined,
  own: LogDraft | undefined,
  top: TopLog | undefined,
  baseDir: string,
): LogFileSpec | null | undefined {
  if (own === false) return null;
  if (own === undefined && top?.dir === undefined) return null;
  const rotation = {
    maxBytes: own?.maxBytes ?? top?.maxBytes ?? DEFAULT_LOG_ROTATION.maxBytes,
    backups: own?.backups ?? top?.backups ?? DEFAULT_LOG_ROTATION.backups,
  };
  if (own?.file !== undefined && entry !== undefined) {
    const file = resolveCwd(c, pathEntry(c, entry, "file"), own.file, baseDir);
    return file === undefined ? undefined : { file, ...rotation };
  }
  if (top?.dir !== undefined) {
    return { file: join(top.dir, `${name}.log`), ...rotation };
  }
  c.report(
    entry!.at,
    entry!.path,
    "needs a file (or a top-level log: { dir: ... } that gives every process one)",
  );
  return undefined;
}

// The entry of a log mapping's path key, or the log entry itself when it
// is written as a path (`log: web.log`).
function pathEntry(c: Checker, entry: Entry, key: "file" | "dir"): Entry {
  if (!isMap(entry.value)) return entry;
  return c.entries(entry.value, entry.path).find((field) => field.key === key) ?? entry;
}
