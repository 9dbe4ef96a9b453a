/**
 * Checks across keys, each a small function over what the readers found:
 * the keys written in one mapping, with their entries (for the place to
 * report) and their values (`undefined` when invalid, already reported).
 *
 * @module
 */

import { isMap } from "./yaml_package.ts";
import { formatDuration } from "../core/duration.ts";
import { DEFAULT_TIMING, type Timing } from "../core/spec.ts";
import {
  type Draft,
  replicasOf,
  RESERVED_VARIABLES,
  reservedMessage,
} from "./mutators.ts";
import type { UserRef } from "./readers.ts";
import type { UserTable } from "./users.ts";
import { type Checker, type Entry, quote } from "./yaml.ts";

/** A key written in a mapping, and its value as read (`undefined`: invalid). */
export interface Field {
  /** Where it is written. */
  entry: Entry;
  /** What it was read as. */
  value: unknown;
}

/** The keys written in one mapping (the top level, or one process), by key. */
export type Fields = Map<string, Field>;

/** A process needs exactly one of `cmd` and `shell`; reported at its name. */
export function checkCommand(c: Checker, named: Entry, fields: Fields): void {
  const cmd = fields.has("cmd");
  const shell = fields.has("shell");
  if (cmd && shell) {
    c.report(named.keyAt, named.path, "has both cmd and shell; use one");
  } else if (!cmd && !shell) c.report(named.keyAt, named.path, "needs cmd or shell");
}

/**
 * Whether a minimum delay above a maximum is wrong, and how to say it:
 * shared by the file's check and the command-line flags' check.
 */
export function delaysConflict(min: number, max: number): boolean {
  return min > max;
}

/**
 * Reports `minRestartDelay` above `maxRestartDelay` in the innermost scope,
 * comparing the values that apply there (its own, else the outer scope's,
 * else procmon's). It is reported at whichever of the two keys that scope
 * sets, preferring `minRestartDelay`; a scope that sets neither inherited the
 * problem and is left alone. An invalid value skips the check: it already
 * has its own problem.
 *
 * @param scopes innermost first: a process, then the top level
 */
export function checkDelays(c: Checker, scopes: [Fields, ...Fields[]]): void {
  const min = effective("minRestartDelay", scopes);
  const max = effective("maxRestartDelay", scopes);
  if (min === undefined || max === undefined || !delaysConflict(min, max)) return;
  const own = scopes[0];
  const minField = own.get("minRestartDelay");
  const maxField = own.get("maxRestartDelay");
  if (minField !== undefined) {
    c.report(
      minField.entry.at,
      minField.entry.path,
      `must not be above maxRestartDelay (${formatDuration(max)})`,
    );
  } else if (maxField !== undefined) {
    c.report(
      maxField.entry.at,
      maxField.entry.path,
      `must not be below minRestartDelay (${formatDuration(min)})`,
    );
  }
}

// The value of a timing key where `scopes` (innermost first) apply;
// undefined if the value that applies is invalid.
function effective(key: keyof Timing, scopes: Fields[]): number | undefined {
  for (const scope of scopes) {
    const field = scope.get(key);
    if (field !== undefined) return field.value as number | undefined;
  }
  return DEFAULT_TIMING[key];
}

/** The ids a process runs as; an absent one is tend's own. */
export interface Identity {
  /** The user id. */
  uid?: number;
  /** The group id. */
  gid?: number;
}

/**
 * Works out the uid and gid a process runs as from `user`, `uid` and
 * `gid`:
 *
 * - `user: NAME` gives the uid and the primary group of NAME;
 * - `uid` with `user` must be the same uid (it is then redundant), or it is
 *   reported at `uid`;
 * - a uid without a group (a lone `uid:`, or a numeric `user:`) takes the
 *   primary group of its entry in the user table. Without an entry that is
 *   a problem at the uid: left alone, the child would keep tend's group,
 *   root's group 0, which is how a `nobody` child came to write root-group
 *   files;
 * - `gid` always wins over the primary group.
 *
 * @returns the ids, or `undefined` when one of the keys is wrong (reported)
 */
export function resolveIdentity(
  c: Checker,
  fields: Fields,
  users: UserTable,
): Identity | undefined {
  const user = fields.get("user");
  const uid = fields.get("uid");
  const gid = fields.get("gid");
  // An invalid value has been reported by its reader; nothing to add.
  if (
    [user, uid, gid].some((field) => field !== undefined && field.value === undefined)
  ) {
    return undefined;
  }
  const ref = user?.value as UserRef | undefined;
  const id = uid?.value as number | undefined;
  if (ref !== undefined && id !== undefined && ref.uid !== id) {
    const named = ref.name === undefined
      ? `${ref.uid}`
      : `${quote(ref.name)} (uid ${ref.uid})`;
    c.report(
      uid!.entry.at,
      uid!.entry.path,
      `does not match user ${named}; give one of user and uid`,
    );
    return undefined;
  }
  const identity: Identity = {};
  const wantedUid = id ?? ref?.uid;
  const wantedGid = (gid?.value as number | undefined) ?? ref?.gid;
  if (wantedUid !== undefined) identity.uid = wantedUid;
  if (wantedGid !== undefined) identity.gid = wantedGid;
  if (wantedUid === undefined || wantedGid !== undefined) return identity;
  const entry = users.byUid(wantedUid);
  if (entry !== undefined) {
    identity.gid = entry.gid;
    return identity;
  }
  const where = (uid ?? user)!.entry;
  c.report(
    where.at,
    where.path,
    users.unavailable === undefined
      ? `uid ${wantedUid} is not in ${users.source}, so its group is unknown; add gid:`
      : `cannot look up the group of uid ${wantedUid} (${users.source}: ` +
        `${users.unavailable}); add gid:`,
  );
  return undefined;
}

/**
 * The names `replicas` makes (`web.1` ... `web.N`) must not be the name of
 * another process of the file: reported at the `replicas` that makes one.
 */
export function checkReplicaNames(c: Checker, drafts: readonly Draft[]): void {
  const plain = new Set<string>();
  for (const draft of drafts) {
    if (replicasOf(draft) === undefined) plain.add(draft.named.key);
  }
  for (const draft of drafts) {
    const count = replicasOf(draft);
    if (count === undefined) continue;
    const field = draft.fields.get("replicas")!;
    const name = draft.named.key;
    const taken: string[] = [];
    for (let i = 1; i <= count; i++) {
      if (plain.has(`${name}.${i}`)) taken.push(`${name}.${i}`);
    }
    if (taken.length === 0) continue;
    const names = taken.map(quote).join(", ");
    c.report(
      field.entry.at,
      field.entry.path,
      `makes ${names}, already the name of another process ` +
        `(copies are named ${name}.1 ... ${name}.${count})`,
    );
  }
}

/** `env` may not set the variables tend sets itself (TEND_PROCESS, TEND_REPLICA). */
export function checkReservedEnv(c: Checker, fields: Fields): void {
  const env = fields.get("env");
  if (env === undefined || env.value === undefined) return;
  if (!isMap(env.entry.value)) return;
  for (const variable of c.entries(env.entry.value, env.entry.path)) {
    if (RESERVED_VARIABLES.includes(variable.key)) {
      c.report(variable.keyAt, variable.path, reservedMessage(variable.key));
    }
  }
}

/** A process's log file, for {@linkcode checkLogFiles}. */
export interface LogFilePlace {
  /** The process's name. */
  name: string;
  /** Its log file, absolute. */
  file: string;
  /** Where the file comes from: the process's `log`, or the top-level one. */
  entry: Entry | undefined;
}

/**
 * Two processes may not share a log file: each rotates its own, and two
 * writers would rename the file under each other. Reported once per place
 * that gives a second process a file already taken (copies of a
 * replicated process share their `log`, so the hint says what tells them
 * apart).
 */
export function checkLogFiles(c: Checker, logs: readonly LogFilePlace[]): void {
  const owner = new Map<string, string>();
  const reported = new Set<number>();
  for (const { name, file, entry } of logs) {
    const first = owner.get(file);
    if (first === undefined) {
      owner.set(file, name);
      continue;
    }
    if (entry === undefined || reported.has(entry.at)) continue;
    reported.add(entry.at);
    const copies = /\.\d+$/.test(name) && /\.\d+$/.test(first)
      ? " (for copies made by replicas, put ${TEND_REPLICA} in the file's name)"
      : "";
    c.report(
      entry.at,
      entry.path,
      `${
        quote(file)
      } is also the log file of ${first}; each process needs its own${copies}`,
    );
  }
}
