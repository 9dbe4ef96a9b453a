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

import { constants, promises as fsp } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { isMap, isScalar, type Node } from "yaml";
import {
  DEFAULT_TIMING,
  NAME_PATTERN,
  type ProcessSpec,
  setOwn,
  type Timing,
} from "../core/spec.ts";
import { type KeyRow, PROCESS_ROWS, TOP_ROWS } from "./keys.ts";
import { ConfigError, type Problem } from "./problems.ts";
import type { ReadContext } from "./readers.ts";
import { ReadGuard, ReadTimeout } from "./read_guard.ts";
import { suggest } from "./suggest.ts";
import { checkDependencies } from "./probes.ts";
import { UserTable } from "./users.ts";
import {
  checkCommand,
  checkDelays,
  type Fields,
  resolveIdentity,
} from "./validators.ts";
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
}

/**
 * Reads a config file from disk and validates it.
 *
 * @param file Path of the YAML file; a relative `cwd` in it is resolved
 *   against the folder that holds it.
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
  const text = await readConfigText(file, options.missing);
  const users = await readUsers(options.passwd ?? "/etc/passwd");
  return parseConfig(text, file, dirname(resolve(file)), { users });
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
async function readConfigText(file: string, missing?: string): Promise<string> {
  let bytes: Uint8Array;
  try {
    bytes = await guard.run(() => readRegularFile(file, MAX_CONFIG_BYTES));
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
async function readRegularFile(path: string, cap: number): Promise<Uint8Array> {
  const before = await fsp.stat(path, { bigint: true });
  if (!before.isFile()) {
    throw new Unreadable(`is ${kindOf(before)}, not a regular file`);
  }
  if (before.size > BigInt(cap)) {
    throw new Unreadable(`is larger than ${mib(cap)} (${before.size} bytes)`);
  }
  const handle = await fsp.open(
    path,
    constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY,
  );
  try {
    const opened = await handle.stat({ bigint: true });
    if (!opened.isFile() || opened.dev !== before.dev || opened.ino !== before.ino) {
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
      const { bytesRead } = await handle.read(
        buffer,
        length,
        buffer.length - length,
        null,
      );
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

type Stats = Awaited<ReturnType<typeof fsp.stat>>;

function kindOf(stats: Stats): string {
  if (stats.isDirectory()) return "a directory";
  if (stats.isFIFO()) return "a FIFO";
  if (stats.isCharacterDevice()) return "a character device";
  if (stats.isBlockDevice()) return "a block device";
  if (stats.isSocket()) return "a socket";
  return "something else";
}

function mib(bytes: number): string {
  return `${bytes / (1024 * 1024)} MiB`;
}

// What to say about a path that stat cannot find.
async function whyMissing(file: string, missing: string | undefined): Promise<string> {
  try {
    // stat follows links; a link to nothing is there, and worth naming.
    const link = await fsp.lstat(file);
    if (link.isSymbolicLink()) {
      return `is a symbolic link to ${
        quote(await fsp.readlink(file))
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
    : `no such file (looked for ${resolve(file)})`;
}

function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

// node:fs words its errors "EACCES: permission denied, open 'x'"; the file
// name is already at the front of the problem, so keep only the reason.
function osReason(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.match(/^E[A-Z]+: (.*?), \w+ '.*'$/s)?.[1] ?? message;
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
async function readUsers(passwd: string): Promise<UserTable> {
  try {
    const bytes = await guard.run(() => readRegularFile(passwd, MAX_CONFIG_BYTES));
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

/** Options of {@linkcode parseConfig}. */
export interface ParseOptions {
  /**
   * The users `user:` names and a lone `uid:` takes its group from;
   * without one, both are problems ({@linkcode loadConfig} reads
   * `/etc/passwd`).
   */
  users?: UserTable;
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
  const { doc, lineCounter } = parseYaml(text);
  const checker = new Checker(doc);
  const users = options.users ?? UserTable.failed("the user table", "none was given");
  const config = readDocument(checker, file, { baseDir, users });
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
  const broken = c.doc.errors.length > 0;
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
  return {
    file,
    timing,
    processes: readProcesses(c, processes.entry, top, ctx),
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
  checkDependencies(c, entry, processes);
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
  const identity = resolveIdentity(c, fields, ctx.users);
  const spec: Partial<ProcessSpec> = {};
  for (const row of PROCESS_ROWS) {
    const value = fields.get(row.key)?.value;
    // Keys that were absent or invalid stay out, so specs compare with
    // sameSpec and serialise without `undefined` holes.
    if (value !== undefined) row.apply(spec, value);
  }
  if (identity?.uid !== undefined) spec.uid = identity.uid;
  if (identity?.gid !== undefined) spec.gid = identity.gid;
  if (
    spec.argv === undefined || identity === undefined ||
    (fields.has("cmd") && fields.has("shell"))
  ) {
    return undefined;
  }
  return spec as ProcessSpec;
}
