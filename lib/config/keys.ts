/**
 * The key table: one row per config key, with its reader, its other-tool
 * aliases, a one-line doc, and how `tend check` shows it. Validation, the
 * `check` listing and the did-you-mean all read this table, so a new key is
 * one row here (and a field of `ProcessSpec`).
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import type { ProcessSpec, ResolvedSpec, Timing } from "../core/spec.ts";
import { TIMING_KEYS } from "../core/spec.ts";
import {
  readArgv,
  readBoolean,
  readCount,
  readCwd,
  readDuration,
  readEnv,
  type Reader,
  readId,
  readRestart,
  readShell,
  readSignal,
} from "./readers.ts";

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
}

/** A key of a process: a {@linkcode KeyRow} that also fills a spec and is listed. */
export interface ProcessKeyRow extends KeyRow {
  /** Puts the value read into the spec. */
  apply(spec: Partial<ProcessSpec>, value: unknown): void;
  /**
   * How `tend check` lists it, resolved; absent for a key another row
   * lists (`shell` is listed as `argv`, with `cmd`).
   */
  show?: { label: string; text(spec: ResolvedSpec, given: ProcessSpec): string };
}

// Names other tools use for the timing keys, squashed.
const TIMING_ALIASES: Readonly<Record<keyof Timing, readonly string[]>> = {
  threshold: ["startsecs", "minuptime"],
  killTime: ["stopwaitsecs", "killtimeout", "stoptimeout", "graceperiod"],
  minRestartDelay: ["restartdelay"],
  maxRestartDelay: [],
};

const TIMING_DOCS: Readonly<Record<keyof Timing, string>> = {
  threshold: "a run at least this long counts as healthy",
  killTime: "grace between the stop signal and SIGKILL",
  minRestartDelay: "first back-off delay after an early death",
  maxRestartDelay: "the back-off doubles up to this",
};

/** The four timing keys, valid at the top level and per process. */
export const TIMING_ROWS: readonly KeyRow[] = TIMING_KEYS.map((key) => ({
  key,
  aliases: TIMING_ALIASES[key],
  doc: TIMING_DOCS[key],
  read: readDuration,
}));

/** Keys of the top level; `processes` is read by the loader itself. */
export const TOP_ROWS: readonly KeyRow[] = [
  ...TIMING_ROWS,
  {
    key: "processes",
    aliases: ["procs", "programs", "services", "apps"],
    doc: "the processes to run, by name",
    read: () => undefined,
  },
  {
    key: "socket",
    aliases: ["sock", "controlsocket", "unixsocket"],
    doc: "the control socket's path, relative to this file's folder",
    read: readCwd,
  },
];

// A row whose value goes into the spec under its own key.
function own<K extends keyof ProcessSpec>(
  key: K,
  aliases: readonly string[],
  doc: string,
  read: Reader<NonNullable<ProcessSpec[K]>>,
  show: ProcessKeyRow["show"],
): ProcessKeyRow {
  return {
    key,
    aliases,
    doc,
    read,
    apply: (spec, value) => {
      spec[key] = value as ProcessSpec[K];
    },
    show,
  };
}

/** Keys of a process, in the order `tend check` lists them. */
export const PROCESS_ROWS: readonly ProcessKeyRow[] = [
  {
    key: "cmd",
    aliases: ["command", "args", "argv", "exec", "program"],
    doc: "the program and its arguments, a list; the program is looked up on PATH",
    read: readArgv,
    apply: (spec, value) => spec.argv = value as string[],
    show: { label: "argv", text: (spec) => spec.argv.map(shellQuote).join(" ") },
  },
  {
    key: "shell",
    aliases: ["sh", "script", "commandline"],
    doc: "a command line for /bin/sh -c; exactly one of cmd and shell",
    read: readShell,
    apply: (spec, value) => spec.argv = ["/bin/sh", "-c", value as string],
  },
  own(
    "cwd",
    ["dir", "directory", "workdir", "workingdir", "chdir"],
    "working directory, relative to the config file's folder",
    readCwd,
    {
      label: "cwd",
      text: (spec) => spec.cwd ?? "(tend's working directory)",
    },
  ),
  own(
    "env",
    ["environment", "environ"],
    "variables added to tend's environment",
    readEnv,
    {
      label: "env",
      // Only the names: values are often secrets, and this ends up in CI logs.
      text: (spec) => Object.keys(spec.env).join(", ") || "(none)",
    },
  ),
  own(
    "clearEnv",
    [],
    "start from an empty environment (only env), as procmon does",
    readBoolean,
    {
      label: "clearEnv",
      text: (spec) => String(spec.clearEnv),
    },
  ),
  own("uid", ["user"], "numeric user to run as (tend must be root)", readId, {
    label: "uid",
    text: (spec) => spec.uid === undefined ? "(tend's)" : String(spec.uid),
  }),
  own("gid", ["group"], "numeric group to run as (tend must be root)", readId, {
    label: "gid",
    text: (spec) => spec.gid === undefined ? "(tend's)" : String(spec.gid),
  }),
  own(
    "restart",
    ["autorestart", "restartpolicy"],
    "always (default), on-failure or never",
    readRestart,
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
    {
      label: "stopSignal",
      text: (spec, given) => given.stopSignal ?? `${spec.stopSignal} (default)`,
    },
  ),
  ...TIMING_ROWS.map((row): ProcessKeyRow => {
    const key = row.key as keyof Timing;
    return {
      ...row,
      apply: (spec, value) => spec[key] = value as number,
      show: { label: key, text: (spec) => formatDuration(spec.timing[key]) },
    };
  }),
];

function shellQuote(arg: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
