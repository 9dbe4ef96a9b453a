/**
 * One reader per kind of value: each turns a YAML node into a value, or
 * reports what is wrong with it (with its place) and returns `undefined`.
 *
 * @module
 */

import { isMap, isScalar, isSeq, type Node } from "./yaml_package.ts";
import { parseDuration } from "../core/duration.ts";
import { parseSize } from "../core/size.ts";
import { normalizeSignal, type SignalName, SIGNALS } from "../core/signals.ts";
import { RESTART_POLICIES, type RestartPolicy, setOwn } from "../core/spec.ts";
import { suggest } from "./suggest.ts";
import { MAX_ID, type UserTable } from "./users.ts";
import { type Checker, type Entry, quote, scalarText } from "./yaml.ts";

/** What readers may need besides the node: where relative paths start, who is who. */
export interface ReadContext {
  /** Absolute folder of the config file; relative paths are taken from it. */
  baseDir: string;
  /** The users `user:` names and a lone `uid:` finds its group in. */
  users: UserTable;
}

/** Reads one key's value; see the module doc. */
export type Reader<T> = (c: Checker, entry: Entry, ctx: ReadContext) => T | undefined;

/** `cmd`: a non-empty list of strings, the program first and not empty. */
export function readArgv(c: Checker, entry: Entry): string[] | undefined {
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

/** `shell`: a non-blank command line. */
export function readShell(c: Checker, entry: Entry): string | undefined {
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

/**
 * `cwd`: a folder, as written; `${VAR}` expansion and making it absolute
 * (against the config's folder) are the mutators' (`resolveCwd`).
 */
export function readCwd(c: Checker, entry: Entry): string | undefined {
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
  if (isHome(dir)) {
    c.report(entry.at, entry.path, HOME_NOT_EXPANDED);
    return undefined;
  }
  return dir;
}

/** Whether a path starts with `~`, which no shell will expand for tend. */
export function isHome(dir: string): boolean {
  return dir === "~" || dir.startsWith("~/");
}

/** What is said about a path that starts with `~`. */
export const HOME_NOT_EXPANDED =
  '"~" is not expanded; write the full path (or ${HOME})';

/**
 * `envFile`: a path, or a non-empty list of paths, of env files; each one
 * as written (expansion and reading are the mutators').
 */
export function readEnvFile(c: Checker, entry: Entry): string[] | undefined {
  const node = entry.value;
  if (!isSeq(node)) {
    const path = scalarText(node);
    if (path === undefined || path === "") {
      c.report(entry.at, entry.path, "must be a path, or a list of paths");
      return undefined;
    }
    return [path];
  }
  if (node.items.length === 0) {
    c.report(entry.at, entry.path, "must list at least one file");
    return undefined;
  }
  const paths: string[] = [];
  node.items.forEach((item, index) => {
    const path = scalarText(c.resolve(item));
    if (path === undefined || path === "") {
      c.report(c.offsetOf(item, entry.at), [...entry.path, index], "must be a path");
    } else paths.push(path);
  });
  return paths.length === node.items.length ? paths : undefined;
}

/**
 * The most copies `replicas` may ask for: far more than one machine runs
 * well, and few enough that a typo (an extra zero or three) is an error
 * rather than a reload that builds millions of specs.
 */
export const MAX_REPLICAS = 10_000;

/** `replicas`: a whole number of copies, from 1 to {@linkcode MAX_REPLICAS}. */
export function readReplicas(c: Checker, entry: Entry): number | undefined {
  const value = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 1) {
    if (value <= MAX_REPLICAS) return value;
    c.report(entry.at, entry.path, `must be at most ${MAX_REPLICAS}`);
    return undefined;
  }
  const hint = value === 0
    ? " (to define a process without starting it, use autostart: false)"
    : "";
  c.report(entry.at, entry.path, `must be a whole number, 1 or more${hint}`);
  return undefined;
}

/** `env`: a mapping of variable names (no `=`) to strings. */
export function readEnv(c: Checker, entry: Entry): Record<string, string> | undefined {
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
      const hint = isEmpty(variable.value) ? ' (write "" for an empty value)' : "";
      c.report(variable.at, variable.path, `must be a string${hint}`);
      ok = false;
    } else {
      setOwn(env, variable.key, value);
    }
  }
  return ok ? env : undefined;
}

function isEmpty(node: Node | null): boolean {
  return node === null || (isScalar(node) && node.value === null);
}

/** `true` or `false`. */
export function readBoolean(c: Checker, entry: Entry): boolean | undefined {
  if (isScalar(entry.value) && typeof entry.value.value === "boolean") {
    return entry.value.value;
  }
  c.report(entry.at, entry.path, "must be true or false");
  return undefined;
}

/**
 * A user or group id: an integer from 0 to {@linkcode MAX_ID}. Larger ones
 * would pass here and fail at every spawn (EINVAL), so they are refused
 * where they are written.
 */
export function readId(c: Checker, entry: Entry): number | undefined {
  const value = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    if (value <= MAX_ID) return value;
    c.report(entry.at, entry.path, OUT_OF_RANGE);
    return undefined;
  }
  c.report(entry.at, entry.path, "must be a non-negative integer");
  return undefined;
}

/** A count: a non-negative integer. */
export function readCount(c: Checker, entry: Entry): number | undefined {
  const value = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    return value;
  }
  c.report(entry.at, entry.path, "must be a whole number, 0 or more");
  return undefined;
}

const OUT_OF_RANGE = `must be at most ${MAX_ID} (ids are 32 bits, and ${
  MAX_ID + 1
} means "unchanged")`;

/**
 * Who `user:` names: a uid, and the primary group when it was named by a
 * user name (a numeric `user:` is a uid, whose group is looked up as for
 * `uid:`).
 */
export interface UserRef {
  /** The name as written, when it is one. */
  name?: string;
  /** The user id. */
  uid: number;
  /** The primary group, from the user table; absent for a numeric `user:`. */
  gid?: number;
}

/**
 * `user`: a user name from the user table, or a numeric uid, as
 * supervisord's `user=` takes either.
 */
export function readUser(
  c: Checker,
  entry: Entry,
  ctx: ReadContext,
): UserRef | undefined {
  const text = scalarText(entry.value);
  if (text === undefined || text === "") {
    c.report(entry.at, entry.path, "must be a user name or a numeric uid");
    return undefined;
  }
  if (/^\d+$/.test(text)) {
    const uid = Number(text);
    if (uid <= MAX_ID) return { uid };
    c.report(entry.at, entry.path, OUT_OF_RANGE);
    return undefined;
  }
  const user = ctx.users.byName(text);
  if (user !== undefined) return { name: user.name, uid: user.uid, gid: user.gid };
  const { source, unavailable } = ctx.users;
  c.report(
    entry.at,
    entry.path,
    unavailable === undefined
      ? `unknown user ${quote(text)} (not in ${source})`
      : `cannot look up user ${quote(text)}: ${source}: ${unavailable}`,
  );
  return undefined;
}

// Other tools' words for the policies, keyed by squashed spelling.
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

/** `restart`: one of the policies, with a did-you-mean. */
export function readRestart(c: Checker, entry: Entry): RestartPolicy | undefined {
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

/** A signal name, `SIG` optional and any case, with a did-you-mean. */
export function readSignal(c: Checker, entry: Entry): SignalName | undefined {
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

/** A duration in seconds: a number, or a string with a unit. */
export function readDuration(c: Checker, entry: Entry): number | undefined {
  const node = entry.value;
  try {
    // A mapping or list is passed as is, so parseDuration rejects it as a TypeError.
    return parseDuration(isScalar(node) ? node.value : node);
  } catch (error) {
    c.report(
      entry.at,
      entry.path,
      error instanceof Error ? error.message : String(error),
    );
    return undefined;
  }
}

/** A size in bytes: a number, or a string with a unit (`10MB`, `64KiB`). */
export function readSize(c: Checker, entry: Entry): number | undefined {
  const node = entry.value;
  try {
    // A mapping or list is passed as is, so parseSize rejects it as a TypeError.
    return parseSize(isScalar(node) ? node.value : node);
  } catch (error) {
    c.report(
      entry.at,
      entry.path,
      error instanceof Error ? error.message : String(error),
    );
    return undefined;
  }
}

/**
 * The most rotated copies a log file may keep: each rotation renames every
 * one of them, and a typo (an extra zero or three) should be an error, not
 * a rotation that makes a million system calls.
 */
export const MAX_BACKUPS = 1000;

/** `backups`: how many rotated copies of a log file are kept, 0 to {@linkcode MAX_BACKUPS}. */
export function readBackups(c: Checker, entry: Entry): number | undefined {
  const value = isScalar(entry.value) ? entry.value.value : undefined;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) {
    if (value <= MAX_BACKUPS) return value;
    c.report(entry.at, entry.path, `must be at most ${MAX_BACKUPS}`);
    return undefined;
  }
  c.report(entry.at, entry.path, "must be a whole number, 0 or more");
  return undefined;
}

/** A log file's rotation, as written; each key optional. */
export interface RotationDraft {
  /** `maxBytes`, in bytes. */
  maxBytes?: number;
  /** `backups`. */
  backups?: number;
}

/**
 * A process's `log:` as written: a file and its rotation, each optional
 * (the top-level `log:` fills in what is left out); `false` for no file
 * even when the top level gives every process one. `log: PATH` is short
 * for `log: { file: PATH }`. The path is as written: `${VAR}` expansion
 * and making it absolute are the mutators'.
 */
export type LogDraft = false | (RotationDraft & { file?: string });

/** The top-level `log:` as written: a folder for every process's file, and their rotation. */
export type TopLogDraft = RotationDraft & { dir?: string };

// Other tools' names for the log keys (supervisord, PM2, logrotate), squashed.
const LOG_ALIASES: Readonly<Record<string, string>> = {
  path: "file",
  filename: "file",
  logfile: "file",
  stdoutlogfile: "file",
  outfile: "file",
  logfilemaxbytes: "maxBytes",
  stdoutlogfilemaxbytes: "maxBytes",
  maxsize: "maxBytes",
  size: "maxBytes",
  rotatesize: "maxBytes",
  limit: "maxBytes",
  logfilebackups: "backups",
  stdoutlogfilebackups: "backups",
  keep: "backups",
  rotate: "backups",
  count: "backups",
  maxfiles: "backups",
  retain: "backups",
  directory: "dir",
  folder: "dir",
  logdir: "dir",
  childlogdir: "dir",
};

// A mapping of log keys: `path` is `file` or `dir`, which one reads as a path.
function readLogMapping(
  c: Checker,
  entry: Entry,
  pathKey: "file" | "dir",
): (RotationDraft & { path?: string }) | undefined {
  if (!isMap(entry.value)) return undefined;
  const keys = [pathKey, "maxBytes", "backups"];
  const out: RotationDraft & { path?: string } = {};
  let ok = true;
  for (const field of c.entries(entry.value, entry.path)) {
    let value: string | number | undefined;
    if (field.key === pathKey) {
      value = out.path = readCwd(c, field);
    } else if (field.key === "maxBytes") {
      value = out.maxBytes = readSize(c, field);
    } else if (field.key === "backups") {
      value = out.backups = readBackups(c, field);
    } else {
      const other = pathKey === "file" ? "dir" : "file";
      const guess = field.key === other
        ? undefined
        : suggest(field.key, keys, LOG_ALIASES);
      const advice = field.key === other
        ? pathKey === "file"
          ? " (dir is a top-level log key; a process's log takes file)"
          : " (file is a process's log key; the top-level log takes dir)"
        : guess === undefined
        ? `; use ${keys.join(", ")}`
        : ` (did you mean "${guess}"?)`;
      c.report(field.keyAt, field.path, `unknown key ${quote(field.key)}${advice}`);
      ok = false;
      continue;
    }
    if (value === undefined) ok = false;
  }
  if (out.path === undefined) delete out.path;
  if (out.maxBytes === undefined) delete out.maxBytes;
  if (out.backups === undefined) delete out.backups;
  return ok ? out : undefined;
}

/** A process's `log`: a path, a mapping of `file`, `maxBytes` and `backups`, or `false`. */
export function readLog(c: Checker, entry: Entry): LogDraft | undefined {
  const node = entry.value;
  if (isScalar(node) && node.value === false) return false;
  if (isMap(node)) {
    const read = readLogMapping(c, entry, "file");
    if (read === undefined) return undefined;
    const { path, ...rotation } = read;
    return path === undefined ? rotation : { file: path, ...rotation };
  }
  if (isScalar(node) && typeof node.value === "string") {
    const file = readCwd(c, entry);
    return file === undefined ? undefined : { file };
  }
  c.report(
    entry.at,
    entry.path,
    "must be a file's path, a mapping with file, maxBytes and backups, or false",
  );
  return undefined;
}

/** The top-level `log`: a mapping of `dir`, `maxBytes` and `backups`. */
export function readTopLog(c: Checker, entry: Entry): TopLogDraft | undefined {
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, "must be a mapping with dir, maxBytes and backups");
    return undefined;
  }
  const read = readLogMapping(c, entry, "dir");
  if (read === undefined) return undefined;
  const { path, ...rotation } = read;
  return path === undefined ? rotation : { dir: path, ...rotation };
}
