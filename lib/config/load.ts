/**
 * The config file: YAML text in, a validated {@linkcode Config} out, and every
 * problem reported at once with its line and column.
 *
 * Loading is a pipeline, as process-compose's loader is: read the file
 * (a regular file of at most {@linkcode MAX_CONFIG_BYTES}, strict UTF-8);
 * parse with positions (`yaml.ts`); read each mapping through the key table
 * (`keys.ts`), turning nodes into values and collecting problems instead of
 * stopping at the first (`readers.ts`); then run the checks across keys
 * (`validators.ts`); then build the config. Only {@linkcode loadConfig}
 * touches the file system: the config file and `/etc/passwd`.
 *
 * @module
 */

import { dirname, isAbsolute, resolve as resolveFrom } from "../core/path.ts";
import { isMap, isScalar, isSeq, type LineCounter, type Node } from "./yaml_package.ts";
import {
  DEFAULT_TIMING,
  NAME_PATTERN,
  type ProcessSpec,
  setOwn,
  type Timing,
} from "../core/spec.ts";
import type { Lookup } from "./expand.ts";
import { IGNORED_TOP_PREFIX, type KeyRow, PROCESS_ROWS, TOP_ROWS } from "./keys.ts";
import {
  composeEnv,
  type Draft,
  type EnvFileText,
  expandFields,
  expandReplicaDependencies,
  type Instance,
  layered,
  locateEnvFiles,
  readEnvFiles,
  replicate,
  resolveCwd,
  resolveLog,
  resolveTopLog,
  tendVariables,
  type TopLog,
} from "./mutators.ts";
import type { HttpSettings } from "./http.ts";
import { ConfigError, type Problem } from "./problems.ts";
import type { LogDraft, ReadContext, TopLogDraft } from "./readers.ts";
import { ReadGuard, ReadTimeout } from "./read_guard.ts";
import { type FileKind, runtimeWarnings } from "./warnings.ts";
import { suggest } from "./suggest.ts";
import { checkDependencies } from "./probes.ts";
import { UserTable } from "./users.ts";
import {
  checkCommand,
  checkDelays,
  checkLogFiles,
  checkReplicaNames,
  checkReservedEnv,
  type Fields,
  type Identity,
  resolveIdentity,
} from "./validators.ts";
import {
  Checker,
  type Entry,
  formatPath,
  parseYaml,
  type Path,
  quote,
} from "./yaml.ts";
import { peekSocket } from "./peek.ts";

export { ConfigError, formatProblem, type Problem } from "./problems.ts";
export type { EnvFileText } from "./mutators.ts";

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
  /** The HTTP listener's settings (`http:`), when the file has them. */
  http?: HttpSettings;
  /**
   * Where each process's settings are written, by process name, for what
   * is said about them after loading (`tend check`'s warnings); absent
   * for a config that is not from a file (`tend run -- CMD`).
   */
  places?: Record<string, ProcessPlaces>;
}

/** A place in the config file. */
export interface Place {
  /** Line, from 1. */
  line: number;
  /** Column, from 1. */
  col: number;
  /** The key's path, like `processes.web.cmd[0]`. */
  path: string;
}

/** Where a process's settings are written. */
export interface ProcessPlaces {
  /** Its name under `processes`. */
  name?: Place;
  /** The program, `cmd[0]` (absent for `shell`). */
  program?: Place;
  /** Its `cwd`, when it has one. */
  cwd?: Place;
}

/**
 * The largest config file tend reads, 10 MiB: far more than any config.
 * It bounds what a file costs to read; yaml.ts bounds what it costs to
 * parse (tokens, nesting).
 */
export const MAX_CONFIG_BYTES = 10 * 1024 * 1024;

/** Options of {@linkcode loadConfig}. */
export interface LoadOptions {
  /**
   * What to say when the file does not exist, instead of "no such file";
   * the command line says how to get one when it chose the file itself.
   */
  missing?: string;
  /** The user table `user:` and a lone `uid:` are looked up in. @default "/etc/passwd" */
  passwd?: string;
  /** The environment `${VAR}` reads. @default tend's own */
  env?: Readonly<Record<string, string>> | Lookup;
  /**
   * How files (the config, env files, the user table) are opened: without
   * blocking in `open(2)` (`O_NONBLOCK`, `O_NOCTTY`). tend passes one over
   * libc where it can (`os/files.ts`). @default node:fs's, loaded on first
   * use (a Node built-in costs Deno memory, so only when there is no other)
   */
  open?: FileOpener;
}

/** What an open file says of itself (`fstat`). */
export interface OpenedStat {
  /** Whether it is a regular file. */
  isFile: boolean;
  /** Its device (`st_dev`). */
  dev: bigint;
  /** Its inode. */
  ino: bigint;
  /** Its size in bytes. */
  size: bigint;
}

/** A file open for reading. */
export interface OpenedFile {
  /** What the open file is (not what the path names now). */
  stat(): Promise<OpenedStat>;
  /** Reads at most `length` bytes into `buffer` at `offset`; 0 at the end. */
  read(buffer: Uint8Array, offset: number, length: number): Promise<number>;
  /** Closes it. */
  close(): Promise<void>;
}

/**
 * Opens a path for reading without blocking in `open(2)`: a FIFO or a
 * terminal swapped in for the file after its `stat` must neither hang the
 * open nor become tend's controlling terminal.
 */
export type FileOpener = (path: string) => Promise<OpenedFile>;

// node:fs's non-blocking open, for where no other opener is given.
async function nodeOpen(path: string): Promise<OpenedFile> {
  const { constants, promises: fsp } = await import("node:fs");
  const handle = await fsp.open(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY,
  );
  return {
    async stat() {
      const stats = await handle.stat({ bigint: true });
      return {
        isFile: stats.isFile(),
        dev: stats.dev,
        ino: stats.ino,
        size: stats.size,
      };
    },
    async read(buffer, offset, length) {
      return (await handle.read(buffer, offset, length, null)).bytesRead;
    },
    close: () => handle.close(),
  };
}

/**
 * The largest env file tend reads, 1 MiB: Linux refuses to start a program
 * whose arguments and environment pass 2 MiB together, so a bigger one
 * could never be used whole.
 */
export const MAX_ENV_FILE_BYTES = 1024 * 1024;

/**
 * Reads a config file from disk and validates it: the file, the user
 * table, tend's environment and the env files the config names are the
 * pipeline's only inputs, all read here.
 *
 * @param file Path of the YAML file; relative paths in it (`cwd`,
 *   `envFile`) are taken from the folder that holds it.
 * @param options See {@linkcode LoadOptions}.
 * @returns The validated config.
 * @throws {ConfigError} When the file cannot be read (a problem with no
 *   line and column, saying why: missing, a directory, a FIFO, too big) or
 *   is invalid.
 */
export async function loadConfig(
  file: string,
  options: LoadOptions = {},
): Promise<Config> {
  const open = options.open ?? nodeOpen;
  const text = await readConfigText(file, open, options.missing);
  const users = await readUsers(options.passwd ?? "/etc/passwd", open);
  const env = options.env ?? tendEnvironment(file);
  const prepared = prepareConfig(text, file, dirname(resolveFrom(Deno.cwd(), file)), {
    users,
    env,
  });
  const envFiles = new Map<string, EnvFileText>();
  for (const path of prepared.envFiles) {
    envFiles.set(path, await readEnvFile(path, open));
  }
  return prepared.finish(envFiles);
}

/**
 * tend's environment, one variable at a time. Without `--allow-env` for a
 * variable the file names, that is the problem, rather than "not set".
 */
function tendEnvironment(file: string): Lookup {
  return (name) => {
    try {
      return Deno.env.get(name);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotCapable)) throw error;
      throw new ConfigError([{
        file,
        path: "",
        message: `cannot read the variable ${name}: tend runs without --allow-env ` +
          "for it (give --allow-env, as the README's Permissions say)",
      }]);
    }
  };
}

/**
 * An env file's text, read as the config is (a regular file, bounded,
 * strict UTF-8), or why it cannot be.
 */
async function readEnvFile(path: string, open: FileOpener): Promise<EnvFileText> {
  let bytes: Uint8Array;
  try {
    bytes = await guard.run(() => readRegularFile(path, MAX_ENV_FILE_BYTES, open));
  } catch (error) {
    if (error instanceof Unreadable || error instanceof ReadTimeout) {
      return { problem: error.message };
    }
    if (errorCode(error) === "ENOENT") {
      return { problem: await whyMissing(path, undefined), missing: true };
    }
    return { problem: `cannot read the file: ${osReason(error)}` };
  }
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
  } catch {
    const { line, col, message } = invalidUtf8(path, bytes);
    return { problem: message, line, col };
  }
}

/**
 * The `socket:` key of a config file, read as leniently as
 * {@linkcode peekSocket} (a client must find a running tend's socket while
 * its file is being edited), but through the same bounded reader as
 * {@linkcode loadConfig}: a FIFO, `/dev/zero` or a huge file gives `null`
 * at once, never a hang or unbounded memory.
 */
export async function readSocketKey(
  file: string,
  open: FileOpener = nodeOpen,
): Promise<string | null> {
  try {
    return peekSocket(
      await readConfigText(file, open),
      dirname(resolveFrom(Deno.cwd(), file)),
    );
  } catch {
    return null; // unreadable: the socket is derived from the file's path
  }
}

/**
 * What `tend check` warns about in a valid config: what will fail when a
 * process starts (see `warnings.ts`), looked up in this file system with
 * tend's own `PATH`.
 */
export function checkRuntime(config: Config): Promise<Problem[]> {
  let path: string | undefined;
  try {
    path = Deno.env.get("PATH");
  } catch {
    // Without --allow-env for PATH, programs are looked up in none.
  }
  return runtimeWarnings(config, { probe: { kind: fileKind }, path });
}

// What is at a path, for the warnings; "unknown" when it cannot tell.
async function fileKind(path: string): Promise<FileKind> {
  let stats: Deno.FileInfo;
  try {
    stats = await Deno.stat(path);
  } catch (error) {
    const code = errorCode(error);
    return code === "ENOENT" || code === "ENOTDIR" ? "missing" : "unknown";
  }
  if (stats.isDirectory) return "directory";
  if (!stats.isFile) return "file";
  try {
    // What spawn checks: tend's own permission (root needs an x bit too).
    // Deno has no access(2); `tend check` is short-lived, so node:fs is
    // fine here.
    const { constants, promises: fsp } = await import("node:fs");
    await fsp.access(path, constants.X_OK);
    return "executable";
  } catch {
    return "file";
  }
}

/** A file tend will not read as a config: its kind, its size, a swap. */
class Unreadable extends Error {
  override name = "Unreadable";
}

// Bounds the reads that hang (a regular file on a dead network mount): a
// reload must come back, or every later reload queues behind it.
const guard = new ReadGuard({ timeoutMs: 5000, maxStuck: 2 });

/**
 * The text of a config file, or a ConfigError saying why there is none.
 * Invalid UTF-8 is a problem at its first bad byte, not U+FFFD quietly.
 */
async function readConfigText(
  file: string,
  open: FileOpener,
  missing?: string,
): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await guard.run(() => readRegularFile(file, MAX_CONFIG_BYTES, open));
  } catch (error) {
    let message: string;
    if (error instanceof Unreadable || error instanceof ReadTimeout) {
      message = error.message;
    } else if (errorCode(error) === "ENOENT") message = await whyMissing(file, missing);
    else message = `cannot read the file: ${osReason(error)}`;
    const cause = error instanceof Unreadable ? undefined : error;
    throw new ConfigError([{ file, path: "", message }], { cause });
  }
  try {
    // A leading BOM is dropped (TextDecoder's default): editors on Windows
    // add one, and it is not part of the YAML.
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ConfigError([invalidUtf8(file, bytes)]);
  }
}

/**
 * The bytes of `path`, which must be a regular file of at most `cap` bytes
 * (after symbolic links). Anything else would hang (a FIFO with no writer
 * blocks open(2) on a thread for as long as it has none) or never end
 * (`/dev/zero`), so it is refused by what stat says before it is opened;
 * the open is non-blocking and the open file is checked again, in case the
 * path was swapped for something else in between; and no more than `cap`
 * bytes are read whatever the size said (`/proc` files say 0).
 */
async function readRegularFile(
  path: string,
  cap: number,
  open: FileOpener,
): Promise<Uint8Array> {
  const before = await Deno.stat(path);
  if (!before.isFile) {
    throw new Unreadable(`is ${kindOf(before)}, not a regular file`);
  }
  if (before.size > cap) {
    throw new Unreadable(`is larger than ${mib(cap)} (${before.size} bytes)`);
  }
  const handle = await open(path);
  try {
    const opened = await handle.stat();
    if (
      !opened.isFile || opened.dev !== BigInt(before.dev) ||
      opened.ino !== BigInt(before.ino ?? -1)
    ) {
      throw new Unreadable("was replaced while it was being opened; try again");
    }
    // Room for one byte more than the size says, so the end shows in one
    // read; the size is only a hint.
    let buffer = new Uint8Array(
      Math.min(cap + 1, Math.max(Number(opened.size) + 1, 1 << 16)),
    );
    let length = 0;
    while (true) {
      if (length === buffer.length) {
        if (length > cap) break;
        const bigger = new Uint8Array(Math.min(cap + 1, length * 2));
        bigger.set(buffer);
        buffer = bigger;
      }
      const bytesRead = await handle.read(buffer, length, buffer.length - length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    // It grew after the stat, or it is a file whose size says nothing.
    if (length > cap) throw new Unreadable(`is larger than ${mib(cap)}`);
    return buffer.subarray(0, length);
  } finally {
    await handle.close();
  }
}

function kindOf(stats: Deno.FileInfo): string {
  if (stats.isDirectory) return "a directory";
  if (stats.isFifo) return "a FIFO";
  if (stats.isCharDevice) return "a character device";
  if (stats.isBlockDevice) return "a block device";
  if (stats.isSocket) return "a socket";
  return "something else";
}

function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

// What to say about a path that stat cannot find.
async function whyMissing(file: string, missing: string | undefined): Promise<string> {
  try {
    // stat follows links; a link to nothing is there, and worth naming.
    const link = await Deno.lstat(file);
    if (link.isSymlink) {
      return `is a symbolic link to ${
        quote(await Deno.readLink(file))
      }, which does not exist`;
    }
  } catch {
    // not there at all
  }
  if (missing !== undefined) return missing;
  // A relative path is taken from tend's working directory, which under a
  // service manager is often not where the user thinks.
  return isAbsolute(file)
    ? "no such file"
    : `no such file (looked for ${resolveFrom(Deno.cwd(), file)})`;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// Deno words its errors "Permission denied (os error 13): open '/x'",
// node:fs "EACCES: permission denied, open '/x'"; the file name is already
// at the front of the problem, so keep only the reason, in node's lower
// case, as tend has always said it.
function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const reason = message.match(/^(.*?) \(os error \d+\)(?:: \w+ '.*')?$/s)?.[1] ??
    message.match(/^E[A-Z]+: (.*?), \w+ '.*'$/s)?.[1];
  return reason === undefined ? message : reason[0]!.toLowerCase() + reason.slice(1);
}

/**
 * The problem for text that is not UTF-8, at its first bad byte: the
 * column counts what is before it on its line as the YAML positions do
 * (UTF-16 code units).
 */
function invalidUtf8(file: string, bytes: Uint8Array): Problem {
  const at = firstInvalidUtf8(bytes);
  // (lastIndexOf with -1 would search from the end.)
  const lineStart = at === 0 ? 0 : bytes.lastIndexOf(0x0a, at - 1) + 1;
  let line = 1;
  for (let i = 0; i < lineStart; i++) if (bytes[i] === 0x0a) line++;
  const before = new TextDecoder().decode(bytes.subarray(lineStart, at));
  // The decoder drops a leading BOM here as it did for the YAML text.
  const col = before.length + 1;
  const byte = (bytes[at] ?? 0).toString(16).padStart(2, "0");
  return {
    file,
    line,
    col,
    path: "",
    message: `invalid UTF-8: byte 0x${byte} at offset ${at} (save the file as UTF-8)`,
  };
}

/**
 * The offset of the first byte that does not start a valid UTF-8 sequence
 * (overlong forms, surrogates, code points above U+10FFFF and sequences cut
 * short all count), or `bytes.length` when there is none. Only called once
 * the decoder has refused the text, which it does without saying where.
 */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let low = 0x80;
    let high = 0xbf;
    if (lead >= 0xc2 && lead <= 0xdf) more = 1;
    else if (lead >= 0xe0 && lead <= 0xef) {
      more = 2;
      if (lead === 0xe0) low = 0xa0; // overlong
      if (lead === 0xed) high = 0x9f; // surrogates
    } else if (lead >= 0xf0 && lead <= 0xf4) {
      more = 3;
      if (lead === 0xf0) low = 0x90; // overlong
      if (lead === 0xf4) high = 0x8f; // above U+10FFFF
    } else return i;
    const second = bytes[i + 1];
    if (second === undefined || second < low || second > high) return i;
    for (let k = 2; k <= more; k++) {
      const next = bytes[i + k];
      if (next === undefined || (next & 0xc0) !== 0x80) return i;
    }
    i += more + 1;
  }
  return bytes.length;
}

/**
 * The user table, read as the config is. A table that cannot be read is
 * not an error by itself (a container may have no /etc/passwd): only a
 * config that needs it, with `user:` or a lone `uid:`, is refused, saying
 * why.
 */
async function readUsers(passwd: string, open: FileOpener): Promise<UserTable> {
  try {
    const bytes = await guard.run(() =>
      readRegularFile(passwd, MAX_CONFIG_BYTES, open)
    );
    // Names are compared as text; a stray bad byte in a comment or a GECOS
    // field should not hide every user.
    return UserTable.parse(new TextDecoder().decode(bytes), passwd);
  } catch (error) {
    let reason: string;
    if (error instanceof Unreadable || error instanceof ReadTimeout) {
      reason = error.message;
    } else if (errorCode(error) === "ENOENT") reason = "no such file";
    else reason = osReason(error);
    return UserTable.failed(passwd, reason);
  }
}

/** Options of {@linkcode parseConfig} and {@linkcode prepareConfig}. */
export interface ParseOptions {
  /**
   * The users `user:` names and a lone `uid:` takes its group from;
   * without one, both are problems ({@linkcode loadConfig} reads
   * `/etc/passwd`).
   */
  users?: UserTable;
  /**
   * tend's environment, which `${VAR}` reads (after the process's own
   * `TEND_*` and env files): a record, or a function that looks a name up.
   * Without one, no variable is set ({@linkcode loadConfig} reads tend's).
   */
  env?: Readonly<Record<string, string>> | Lookup;
  /**
   * The texts of the env files the config names, by absolute path (see
   * {@linkcode PreparedConfig.envFiles}); a file not here is "no such file".
   */
  envFiles?: ReadonlyMap<string, EnvFileText>;
}

/**
 * A config read up to the point where its env files are needed: which
 * ones, and how to go on once they are read. This is how the pipeline
 * stays pure while {@linkcode loadConfig} does the reading.
 */
export interface PreparedConfig {
  /** Absolute paths of the env files the config names, each once. */
  envFiles: string[];
  /**
   * Reads the env files' texts into the processes and finishes the
   * pipeline: `${VAR}` expansion, default `cwd`, the environment.
   *
   * @throws {ConfigError} With every problem found, when there is at least one.
   */
  finish(envFiles: ReadonlyMap<string, EnvFileText>): Config;
}

/**
 * Parses and validates config text; pure, it reads nothing but its arguments.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./load.ts";
 * const text = "processes:\n  web: {cmd: [python3, -m, http.server, '${PORT:-8000}']}\n";
 * const config = parseConfig(text, "procs.yaml", "/srv/app", { env: { PORT: "9000" } });
 * config.processes.web?.argv; // ["python3", "-m", "http.server", "9000"]
 * config.processes.web?.cwd; // "/srv/app"
 * ```
 *
 * @param text The YAML source.
 * @param file The file's path as it should appear in problems and in the result.
 * @param baseDir Absolute folder relative paths (`cwd`, `envFile`) are taken
 *   from, and the default `cwd`.
 * @param options See {@linkcode ParseOptions}.
 * @returns The validated config.
 * @throws {ConfigError} With every problem found, when there is at least one.
 */
export function parseConfig(
  text: string,
  file: string,
  baseDir: string,
  options: ParseOptions = {},
): Config {
  return prepareConfig(text, file, baseDir, options).finish(
    options.envFiles ?? new Map(),
  );
}

/**
 * The first half of {@linkcode parseConfig}: parse, read each mapping
 * through the key table, check across keys, make the copies `replicas`
 * asks for and find the env files they name. Problems found so far are
 * reported by `finish`, with the rest.
 */
export function prepareConfig(
  text: string,
  file: string,
  baseDir: string,
  options: Omit<ParseOptions, "envFiles"> = {},
): PreparedConfig {
  const { doc, lineCounter } = parseYaml(text);
  const checker = new Checker(doc, text);
  const users = options.users ?? UserTable.failed("the user table", "none was given");
  const env = toLookup(options.env);
  const read = readDocument(checker, file, { baseDir, users });
  let instances: Instance[] = [];
  if (read !== undefined) {
    checkReplicaNames(checker, read.drafts);
    instances = replicate(read.drafts);
    for (const instance of instances) {
      locateEnvFiles(checker, instance, env, baseDir, file);
    }
  }
  let outcome: { config: Config } | { error: ConfigError } | undefined;
  return {
    envFiles: [
      ...new Set(instances.flatMap((i) => i.envFiles.map((f) => f.path))),
    ],
    finish(envFiles) {
      // Once: the Checker keeps what it found.
      outcome ??= build(checker, lineCounter, file, read, instances, {
        env,
        envFiles,
        baseDir,
      });
      if ("error" in outcome) throw outcome.error;
      return outcome.config;
    },
  };
}

function toLookup(env: ParseOptions["env"]): Lookup {
  if (env === undefined) return () => undefined;
  if (typeof env === "function") return env;
  return (name) => Object.hasOwn(env, name) ? env[name] : undefined;
}

/** The top level as read: timing, and each process as the key table read it. */
interface ReadDocument {
  timing: Timing;
  drafts: ProcessDraft[];
  /** The `processes` entry, for checks across processes. */
  entry: Entry;
  /** The control socket's absolute path, when the file sets one. */
  socket?: string;
  /** The `http:` settings, when the file has them. */
  http?: HttpSettings;
  /** The top-level `log:`, as read, when the file has a valid one. */
  log?: { entry: Entry; value: TopLogDraft };
}

/** A process as read, with the ids its user keys resolve to. */
interface ProcessDraft extends Draft {
  /** `undefined` when user, uid or gid is wrong (reported). */
  identity: Identity | undefined;
}

function build(
  c: Checker,
  lineCounter: LineCounter,
  file: string,
  read: ReadDocument | undefined,
  instances: Instance[],
  ctx: { env: Lookup; envFiles: ReadonlyMap<string, EnvFileText>; baseDir: string },
): { config: Config } | { error: ConfigError } {
  const processes: Record<string, ProcessSpec> = {};
  const offsets: Record<string, Record<string, { at: number; path: Path }>> = {};
  const copies = new Map<string, string[]>();
  const topLog = read?.log === undefined
    ? undefined
    : resolveTopLog(c, read.log.entry, read.log.value, ctx.env, ctx.baseDir);
  for (const instance of instances) {
    const built = buildProcess(c, instance, { ...ctx, topLog });
    if (built === undefined) continue;
    setOwn(processes, instance.name, built.spec);
    setOwn(offsets, instance.name, built.places);
    if (instance.replica !== undefined) {
      const group = copies.get(instance.draft.named.key) ?? [];
      group.push(instance.name);
      copies.set(instance.draft.named.key, group);
    }
  }
  // Dependencies are checked by the file's names (a replicated process is
  // one name there), before they are expanded to the copies.
  if (read !== undefined) {
    const byFileName: Record<string, ProcessSpec> = {};
    for (const instance of instances) {
      const key = instance.draft.named.key;
      if (Object.hasOwn(processes, instance.name) && !Object.hasOwn(byFileName, key)) {
        setOwn(byFileName, key, processes[instance.name]!);
      }
    }
    checkDependencies(c, read.entry, byFileName, copies);
  }
  expandReplicaDependencies(processes, copies);
  checkLogFiles(
    c,
    instances.flatMap((instance) => {
      const log = Object.hasOwn(processes, instance.name)
        ? processes[instance.name]!.log
        : undefined;
      return log === undefined ? [] : [{
        name: instance.name,
        file: log.file,
        entry: instance.draft.fields.get("log")?.entry ?? topLog?.entry,
      }];
    }),
  );
  const problems = c.problems(file, lineCounter);
  if (problems.length > 0 || read === undefined) {
    return { error: new ConfigError(problems) };
  }
  const places: Record<string, ProcessPlaces> = {};
  for (const [name, byKey] of Object.entries(offsets)) {
    const own: ProcessPlaces = {};
    for (const [key, { at, path }] of Object.entries(byKey)) {
      own[key as keyof ProcessPlaces] = {
        ...lineCounter.linePos(at),
        path: formatPath(path),
      };
    }
    setOwn(places, name, own);
  }
  const config: Config = { file, timing: read.timing, processes, places };
  if (read.socket !== undefined) config.socket = read.socket;
  if (read.http !== undefined) config.http = read.http;
  return { config };
}

// Steps 3 to 6 of the mutators for one process, then its spec.
function buildProcess(
  c: Checker,
  instance: Instance,
  ctx: {
    env: Lookup;
    envFiles: ReadonlyMap<string, EnvFileText>;
    baseDir: string;
    topLog: TopLog | undefined;
  },
):
  | { spec: ProcessSpec; places: Record<string, { at: number; path: Path }> }
  | undefined {
  const draft = instance.draft as ProcessDraft;
  const { fields, identity } = draft;
  const tend = tendVariables(instance.name, instance.replica);
  const fromFiles = readEnvFiles(c, instance, ctx.envFiles);
  const values = expandFields(c, instance, layered([tend, fromFiles ?? {}], ctx.env));
  const cwd = fields.get("cwd");
  values.set(
    "cwd",
    resolveCwd(c, cwd?.entry, values.get("cwd") as string | undefined, ctx.baseDir),
  );
  values.set(
    "env",
    composeEnv(fromFiles ?? {}, values.get("env") as Record<string, string>, tend),
  );
  const log = fields.get("log");
  // A log that could not be read (or expanded) is reported already.
  const ownLog = values.get("log") as LogDraft | undefined;
  values.set(
    "log",
    log !== undefined && ownLog === undefined
      ? undefined
      : resolveLog(c, instance.name, log?.entry, ownLog, ctx.topLog, ctx.baseDir),
  );
  const spec: Partial<ProcessSpec> = {};
  for (const row of PROCESS_ROWS) {
    const value = values.get(row.key);
    // Keys that were absent or invalid stay out, so specs compare with
    // sameSpec and serialise without `undefined` holes.
    if (value !== undefined) row.apply(spec, value);
  }
  if (identity?.uid !== undefined) spec.uid = identity.uid;
  if (identity?.gid !== undefined) spec.gid = identity.gid;
  if (
    spec.argv === undefined || identity === undefined || fromFiles === undefined ||
    (fields.has("cmd") && fields.has("shell"))
  ) {
    return undefined;
  }
  const places: Record<string, { at: number; path: Path }> = {
    name: { at: draft.named.keyAt, path: draft.named.path },
  };
  const cmd = fields.get("cmd")?.entry;
  if (cmd !== undefined && isSeq(cmd.value)) {
    places.program = {
      at: c.offsetOf(cmd.value.items[0], cmd.at),
      path: [...cmd.path, 0],
    };
  }
  if (cwd !== undefined) places.cwd = { at: cwd.entry.at, path: cwd.entry.path };
  return { spec: spec as ProcessSpec, places };
}

function readDocument(
  c: Checker,
  file: string,
  ctx: ReadContext,
): ReadDocument | undefined {
  for (const warning of c.doc.warnings) c.report(warning.pos[0], [], warning.message);
  const broken = c.doc.errors.length > 0;
  const dangling = c.reportDanglingAliases();
  if (broken || dangling) {
    // After a syntax error the tree is the parser's guess, and a dangling
    // alias is a hole in it; checking it would add made-up problems next to
    // the real one.
    c.reportYamlErrors();
    return undefined;
  }
  const read = readTop(c, file, ctx);
  c.reportYamlErrors();
  return read;
}

function readTop(
  c: Checker,
  _file: string,
  ctx: ReadContext,
): ReadDocument | undefined {
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
  // `x-` keys are a place for anchors (`x-base: &base {...}`), as in
  // docker compose; their mappings were still checked for duplicates.
  const entries = c.entries(root, []).filter((entry) =>
    !entry.key.startsWith(IGNORED_TOP_PREFIX)
  );
  const top = readFields(c, entries, TOP_ROWS, ctx, (entry) =>
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
  const http = top.get("http")?.value as HttpSettings | undefined;
  const log = top.get("log");
  return {
    timing,
    drafts: readProcesses(c, processes.entry, top, ctx),
    entry: processes.entry,
    ...(typeof socket === "string" ? { socket } : {}),
    ...(http !== undefined ? { http } : {}),
    ...(log?.value !== undefined
      ? { log: { entry: log.entry, value: log.value as TopLogDraft } }
      : {}),
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
): ProcessDraft[] {
  const drafts: ProcessDraft[] = [];
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, "must be a mapping of process names to settings");
    return drafts;
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
    const draft = readProcess(c, named, top, ctx);
    if (draft !== undefined) drafts.push(draft);
  }
  return drafts;
}

// A process through the key table and the checks across its keys.
function readProcess(
  c: Checker,
  named: Entry,
  top: Fields,
  ctx: ReadContext,
): ProcessDraft | undefined {
  if (!isMap(named.value)) {
    c.report(named.at, named.path, "must be a mapping with cmd or shell");
    return undefined;
  }
  const fields = readFields(c, c.entries(named.value, named.path), PROCESS_ROWS, ctx);
  checkCommand(c, named, fields);
  checkDelays(c, [fields, top]);
  checkReservedEnv(c, fields);
  const identity = resolveIdentity(c, fields, ctx.users);
  return { named, fields, identity };
}
