/**
 * The key table: one row per config key, with its reader, its other-tool
 * aliases, a one-line doc, its JSON Schema, whether `${VAR}` is expanded in
 * it, and how `tend check` shows it. Validation, the `check` listing, the
 * did-you-mean and `tend schema` all read this table, so a new key is one
 * row here (and a field of `ProcessSpec`).
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import { formatSize } from "../core/size.ts";
import { SIGNALS } from "../core/signals.ts";
import type { LogFileSpec, ProcessSpec, ResolvedSpec, Timing } from "../core/spec.ts";
import { NAME_PATTERN, RESTART_POLICIES, TIMING_KEYS } from "../core/spec.ts";
import { isMap } from "./yaml_package.ts";
import { type Checker, type Entry } from "./yaml.ts";
import { expandStrings, expandValues, type Substitute } from "./expand.ts";
import {
  type LogDraft,
  MAX_BACKUPS,
  MAX_REPLICAS,
  readArgv,
  readBoolean,
  readCount,
  readCwd,
  readDuration,
  readEnv,
  readEnvFile,
  type Reader,
  readId,
  readLog,
  readReplicas,
  readRestart,
  readShell,
  readSignal,
  readTopLog,
  readUser,
} from "./readers.ts";
import {
  describeDependencies,
  describeProbe,
  readAliveProbe,
  readDependsOn,
  readReadyProbe,
} from "./probes.ts";
import { MAX_ID } from "./users.ts";
import { HTTP_SCHEMA, readHttp } from "./http.ts";

/** A fragment of JSON Schema (draft 2020-12), as plain JSON. */
export type JsonSchema = { [keyword: string]: unknown };

/** A key of the top level or of a process. */
export interface KeyRow {
  /** The key as written in the file. */
  key: string;
  /** Other tools' names for it (supervisord, PM2, process-compose, compose), squashed. */
  aliases: readonly string[];
  /** One line saying what it is. */
  doc: string;
  /** Reads its value, reporting problems; `undefined` when invalid. */
  read: Reader<unknown>;
  /**
   * What its value may be, for `tend schema`: as permissive as the reader
   * (every file tend accepts validates), without `description` (taken
   * from `doc`).
   */
  schema: JsonSchema;
}

/**
 * Expands `${VAR}` in a value as read, each string where the file wrote
 * it (see `expand.ts`'s helpers); `undefined` when a problem was reported.
 */
export type Expander = (
  value: unknown,
  entry: Entry,
  c: Checker,
  sub: Substitute,
) => unknown;

/** A key of a process: a {@linkcode KeyRow} that also fills a spec and is listed. */
export interface ProcessKeyRow extends KeyRow {
  /** Puts the value read (and expanded) into the spec. */
  apply(spec: Partial<ProcessSpec>, value: unknown): void;
  /**
   * How `${VAR}` is expanded in it; absent: not expanded (`shell`, which
   * the shell expands with the child's environment). A key holding a path
   * or an argument is expanded; adding one (`log.file`) is an `expand`
   * here, over the strings of its value.
   */
  expand?: Expander;
  /**
   * How `tend check` lists it, resolved; absent for a key another row
   * lists (`shell` is listed as `argv`, with `cmd`).
   */
  show?: { label: string; text(spec: ResolvedSpec, given: ProcessSpec): string };
}

// Names other tools use for the timing keys, squashed.
const TIMING_ALIASES: Readonly<Record<keyof Timing, readonly string[]>> = {
  threshold: ["startsecs", "minuptime"],
  killTime: [
    "stopwaitsecs",
    "killtimeout",
    "stoptimeout",
    "graceperiod",
    "stopgraceperiod",
  ],
  minRestartDelay: ["restartdelay"],
  maxRestartDelay: [],
};

const TIMING_DOCS: Readonly<Record<keyof Timing, string>> = {
  threshold: "a run at least this long counts as healthy",
  killTime: "grace between the stop signal and SIGKILL",
  minRestartDelay: "first back-off delay after an early death",
  maxRestartDelay: "the back-off doubles up to this",
};

// What parseDuration takes as a string (a number of seconds is a number).
const DURATION_TEXT = "^\\+?(?:\\d+(?:\\.\\d*)?|\\.\\d+)(?:ms|s|m|h)?$";

// A scalar the readers take as text: YAML numbers and booleans are read as
// written (`[http.server, 8000]`).
const TEXT: JsonSchema = { type: ["string", "number", "boolean"] };
const NON_EMPTY_TEXT: JsonSchema = { ...TEXT, minLength: 1 };

/** The schema of a duration: seconds, or a string with a unit. */
export const DURATION_SCHEMA: JsonSchema = {
  anyOf: [
    { type: "number", minimum: 0 },
    { type: "string", pattern: DURATION_TEXT },
  ],
};

// "TERM" -> "[Tt][Ee][Rr][Mm]": JSON Schema patterns take no flags.
function caseless(word: string): string {
  return word.replace(/[A-Z]/g, (c) => `[${c}${c.toLowerCase()}]`);
}

/** The schema of a signal name: `SIG` optional, any case, as readSignal takes it. */
export const SIGNAL_SCHEMA: JsonSchema = {
  type: "string",
  pattern: `^(?:${caseless("SIG")})?(?:${
    SIGNALS.map((name) => caseless(name.slice(3))).join("|")
  })$`,
};

const ID_SCHEMA: JsonSchema = { type: "integer", minimum: 0, maximum: MAX_ID };

/** The schema of a size: bytes, or a string with a unit, as parseSize takes it. */
export const SIZE_SCHEMA: JsonSchema = {
  anyOf: [
    { type: "integer", minimum: 0 },
    { type: "string", pattern: "^\\+?\\d+(?:\\.\\d*)? ?(?:B|KB|MB|GB|KiB|MiB|GiB)?$" },
  ],
};

// The rotation keys, shared by a process's log and the top-level one.
const ROTATION_SCHEMA: Record<string, JsonSchema> = {
  maxBytes: {
    description: "rotate before a record would take the file past this size; 0: never",
    ...SIZE_SCHEMA,
  },
  backups: {
    description: "rotated copies kept, FILE.1 (the newest) to FILE.N",
    type: "integer",
    minimum: 0,
    maximum: MAX_BACKUPS,
  },
};

/** The four timing keys, valid at the top level and per process. */
export const TIMING_ROWS: readonly KeyRow[] = TIMING_KEYS.map((key) => ({
  key,
  aliases: TIMING_ALIASES[key],
  doc: TIMING_DOCS[key],
  read: readDuration,
  schema: DURATION_SCHEMA,
}));

/**
 * Keys of the top level; `processes` is read by the loader itself. Keys
 * starting with `x-` are ignored (a place for anchors), as docker compose
 * ignores them.
 */
export const TOP_ROWS: readonly KeyRow[] = [
  ...TIMING_ROWS,
  {
    key: "processes",
    aliases: ["procs", "programs", "services", "apps"],
    doc: "the processes to run, by name",
    read: () => undefined,
    // Each value is a process: schema.ts puts PROCESS_ROWS there.
    schema: {
      type: "object",
      minProperties: 1,
      propertyNames: { pattern: NAME_PATTERN.source },
      additionalProperties: { $ref: "#/$defs/process" },
    },
  },
  {
    key: "socket",
    aliases: ["sock", "controlsocket", "unixsocket"],
    doc: "the control socket's path, relative to this file's folder",
    read: readCwd,
    schema: NON_EMPTY_TEXT,
  },
  {
    key: "http",
    aliases: ["dashboard", "listen", "httplisten", "webui", "inethttpserver"],
    doc: "the HTTP listener: the /v1 API with a token, /metrics, /livez, /readyz " +
      "and the dashboard (--http ADDR overrides listen)",
    read: readHttp,
    schema: HTTP_SCHEMA,
  },
  {
    key: "log",
    aliases: ["logs", "logging", "logdir", "childlogdir"],
    doc: "log files: every process writes DIR/NAME.log; maxBytes and backups " +
      "for every file",
    read: readTopLog,
    schema: {
      type: "object",
      properties: {
        dir: {
          description: "the folder of every process's NAME.log, relative to this " +
            "file's folder",
          ...NON_EMPTY_TEXT,
        },
        ...ROTATION_SCHEMA,
      },
      additionalProperties: false,
    },
  },
];

/** What a top-level key that tend ignores starts with. */
export const IGNORED_TOP_PREFIX = "x-";

// A row whose value goes into the spec under its own key.
function own<K extends keyof ProcessSpec>(
  key: K,
  aliases: readonly string[],
  doc: string,
  read: Reader<NonNullable<ProcessSpec[K]>>,
  schema: JsonSchema,
  show: ProcessKeyRow["show"],
  expand?: Expander,
): ProcessKeyRow {
  const row: ProcessKeyRow = {
    key,
    aliases,
    doc,
    read,
    schema,
    apply: (spec, value) => {
      spec[key] = value as ProcessSpec[K];
    },
    show,
  };
  if (expand !== undefined) row.expand = expand;
  return row;
}

// Expanders over the shapes the readers return.
const strings: Expander = (value, entry, c, sub) =>
  expandStrings(value as string | string[], entry, c, sub);
const values: Expander = (value, entry, c, sub) =>
  expandValues(value as Record<string, string>, entry, c, sub);

// `log`: `${VAR}` in its file, where the file writes it (`log: PATH`, or
// its `file:` key); the sizes are numbers, and false is false.
const logFile: Expander = (value, entry, c, sub) => {
  const draft = value as LogDraft;
  if (draft === false || draft.file === undefined) return draft;
  const place = isMap(entry.value)
    ? c.entries(entry.value, entry.path).find((field) => field.key === "file")
    : undefined;
  const file = place === undefined
    ? sub(draft.file, entry.value, entry.at, entry.path)
    : sub(draft.file, place.value, place.at, place.path);
  return file === undefined ? undefined : { ...draft, file };
};

/**
 * How `tend check` shows a log file: its path and rotation.
 *
 * @example
 * ```ts
 * import { describeLogFile } from "./keys.ts";
 * describeLogFile({ file: "/var/log/web.log", maxBytes: 10_000_000, backups: 5 });
 * // "/var/log/web.log (maxBytes 10MB, backups 5)"
 * ```
 */
export function describeLogFile(log: LogFileSpec | null): string {
  if (log === null) return "(none: tend's log only)";
  const rotation = log.maxBytes === 0
    ? "never rotated"
    : `maxBytes ${formatSize(log.maxBytes)}, backups ${log.backups}`;
  return `${log.file} (${rotation})`;
}

/** Keys of a process, in the order `tend check` lists them. */
export const PROCESS_ROWS: readonly ProcessKeyRow[] = [
  {
    key: "cmd",
    aliases: ["command", "args", "argv", "exec", "program"],
    doc: "the program and its arguments, a list; the program is looked up on PATH",
    read: readArgv,
    schema: { type: "array", minItems: 1, items: TEXT },
    apply: (spec, value) => spec.argv = value as string[],
    expand: strings,
    show: { label: "argv", text: (spec) => spec.argv.map(shellQuote).join(" ") },
  },
  {
    key: "shell",
    aliases: ["sh", "script", "commandline"],
    doc: "a command line for /bin/sh -c; exactly one of cmd and shell",
    read: readShell,
    schema: NON_EMPTY_TEXT,
    apply: (spec, value) => spec.argv = ["/bin/sh", "-c", value as string],
  },
  own(
    "cwd",
    ["dir", "directory", "workdir", "workingdir", "chdir"],
    "working directory, relative to the config file's folder (the default)",
    readCwd,
    NON_EMPTY_TEXT,
    {
      label: "cwd",
      text: (spec) => spec.cwd ?? "(tend's working directory)",
    },
    strings,
  ),
  {
    key: "envFile",
    aliases: ["envfiles", "dotenv", "environmentfile"],
    doc: "env files (KEY=value lines) whose variables are added before env; " +
      "relative to the config file's folder",
    read: readEnvFile,
    schema: {
      anyOf: [
        { type: "string", minLength: 1 },
        { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
      ],
    },
    // Read into env by the mutators; env lists the names.
    apply: () => {},
    expand: strings,
  },
  own(
    "env",
    ["environment", "environ"],
    "variables added to tend's environment (over envFile's)",
    readEnv,
    {
      type: "object",
      propertyNames: { minLength: 1, pattern: "^[^=]*$" },
      additionalProperties: TEXT,
    },
    {
      label: "env",
      // Only the names: values are often secrets, and this ends up in CI logs.
      text: (spec) => Object.keys(spec.env).join(", ") || "(none)",
    },
    values,
  ),
  own(
    "clearEnv",
    [],
    "start from an empty environment (only env), as procmon does",
    readBoolean,
    { type: "boolean" },
    {
      label: "clearEnv",
      text: (spec) => String(spec.clearEnv),
    },
  ),
  {
    key: "user",
    aliases: ["username", "runas"],
    doc: "a user name (or uid) from /etc/passwd to run as, with its primary group " +
      "(tend must be root)",
    read: readUser,
    schema: {
      anyOf: [{ type: "string", minLength: 1 }, ID_SCHEMA],
    },
    // Applied by resolveIdentity, together with uid and gid, which it may
    // set or contradict; listed as uid and gid.
    apply: () => {},
  },
  own(
    "uid",
    [],
    "numeric user to run as, with its primary group from /etc/passwd unless gid " +
      "is given (tend must be root)",
    readId,
    ID_SCHEMA,
    {
      label: "uid",
      text: (spec) => spec.uid === undefined ? "(tend's)" : String(spec.uid),
    },
  ),
  own(
    "gid",
    ["group"],
    "numeric group to run as (tend must be root)",
    readId,
    ID_SCHEMA,
    {
      label: "gid",
      text: (spec) => spec.gid === undefined ? "(tend's)" : String(spec.gid),
    },
  ),
  own(
    "restart",
    ["autorestart", "restartpolicy"],
    "always (default), on-failure or never",
    readRestart,
    { enum: [...RESTART_POLICIES] },
    {
      label: "restart",
      text: (spec, given) => given.restart ?? `${spec.restart} (default)`,
    },
  ),
  own(
    "autostart",
    ["start", "enabled"],
    "false: defined, but started only by tend start NAME",
    readBoolean,
    { type: "boolean" },
    {
      label: "autostart",
      text: (spec, given) =>
        given.autostart === undefined
          ? `${spec.autostart} (default)`
          : String(spec.autostart),
    },
  ),
  own(
    "maxRestarts",
    ["startretries", "restartlimit", "maxretries"],
    "restarts in a row after early deaths before it gives up (FATAL); unlimited by default",
    readCount,
    { type: "integer", minimum: 0 },
    {
      label: "maxRestarts",
      text: (spec) =>
        spec.maxRestarts === null ? "unlimited (default)" : String(spec.maxRestarts),
    },
  ),
  own(
    "stopSignal",
    ["signal", "killsignal"],
    "the polite stop signal, SIGTERM by default",
    readSignal,
    SIGNAL_SCHEMA,
    {
      label: "stopSignal",
      text: (spec, given) => given.stopSignal ?? `${spec.stopSignal} (default)`,
    },
  ),
  {
    key: "replicas",
    aliases: ["scale", "instances", "numprocs", "copies"],
    doc: "run this many copies, named NAME.1 ... NAME.N, each with TEND_REPLICA=i",
    read: readReplicas,
    schema: { type: "integer", minimum: 1, maximum: MAX_REPLICAS },
    // The copies are made by the mutators; each is listed by its name.
    apply: () => {},
  },
  ...TIMING_ROWS.map((row): ProcessKeyRow => {
    const key = row.key as keyof Timing;
    return {
      ...row,
      apply: (spec, value) => spec[key] = value as number,
      show: { label: key, text: (spec) => formatDuration(spec.timing[key]) },
    };
  }),
  own(
    "ready",
    ["readinessprobe", "readiness", "readycheck", "healthcheck", "health"],
    "a readiness probe: STARTING until it passes, then RUNNING and ready",
    readReadyProbe,
    probeSchema(true),
    { label: "ready", text: (spec) => describeProbe(spec.ready) },
  ),
  own(
    "alive",
    ["livenessprobe", "liveness", "livecheck", "alivecheck"],
    "a liveness probe: failures in a row restart the process",
    readAliveProbe,
    probeSchema(false),
    { label: "alive", text: (spec) => describeProbe(spec.alive) },
  ),
  own(
    "dependsOn",
    ["depends", "dependencies", "requires", "needs", "after"],
    "processes that must be started, ready or done before this one starts",
    readDependsOn,
    {
      oneOf: [
        {
          type: "object",
          additionalProperties: { enum: ["started", "ready", "done"] },
        },
        { type: "array", items: { type: "string" }, uniqueItems: true },
      ],
    },
    { label: "dependsOn", text: (spec) => describeDependencies(spec.dependsOn) },
  ),
  {
    key: "log",
    aliases: ["logfile", "logging", "logs", "stdoutlogfile", "outfile"],
    doc: "its log file: a path, or file, maxBytes and backups (over the top-level " +
      "log's); false: none",
    read: readLog,
    schema: {
      anyOf: [
        { type: "string", minLength: 1 },
        { const: false },
        {
          type: "object",
          properties: {
            file: {
              description: "the file's path, relative to the config file's folder",
              ...NON_EMPTY_TEXT,
            },
            ...ROTATION_SCHEMA,
          },
          additionalProperties: false,
        },
      ],
    },
    // The mutators resolve it (with the top-level log, against the config's
    // folder) into what is applied here.
    apply: (spec, value) => {
      if (value !== null && typeof value === "object") spec.log = value as LogFileSpec;
    },
    expand: logFile,
    show: { label: "log", text: (spec) => describeLogFile(spec.log) },
  },
];

function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

// A probe: exactly one check, and the fields that tune it (log and notify,
// readiness only, take none of those; the loader says so with its place).
function probeSchema(readiness: boolean): JsonSchema {
  const checks: Record<string, JsonSchema> = {
    http: { type: "string", pattern: "^https?://" },
    tcp: { type: ["string", "integer"] },
    exec: { type: "array", minItems: 1, items: TEXT },
    shell: NON_EMPTY_TEXT,
  };
  if (readiness) {
    checks.log = { type: "string" };
    checks.notify = { const: true };
  }
  const count = { type: "integer", minimum: 1 };
  return {
    type: "object",
    properties: {
      ...checks,
      initialDelay: DURATION_SCHEMA,
      period: DURATION_SCHEMA,
      timeout: DURATION_SCHEMA,
      successes: readiness ? count : { const: 1 },
      failures: count,
    },
    additionalProperties: false,
    oneOf: Object.keys(checks).map((check) => ({ required: [check] })),
  };
}
