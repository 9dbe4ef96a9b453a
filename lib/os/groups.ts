/**
 * Process groups: does a group still have a live member, and a watch that
 * calls back once it has none.
 *
 * Zombies answer to `kill(-pgid, 0)` until whoever inherited them reaps
 * them, so a closer look at the process table (see proc.ts) tells live
 * members from zombies.
 *
 * A look at the whole table costs: thousands of `/proc` entries, or a
 * `ps`. So a watch remembers the members the last full look found and
 * checks only those; only once none of them is alive does a full look
 * confirm that no other member is left (one forked since) before the group
 * counts as empty. And the checks of a group that stays alive grow apart,
 * from the first interval up to about a second.
 *
 * @module
 */

import type { Clock } from "../core/ports.ts";
import { systemClock } from "./clock.ts";
import { ERRNO_SYMBOLS, errnoOf, openLibc } from "./libc.ts";
import { type GroupMembers, type ProcessTable, processTable } from "./proc.ts";

/** Tuning for a {@linkcode GroupWatcher}. */
export interface GroupWatcherOptions {
  /** Milliseconds before the first check of a watched group. @default 20 */
  interval?: number;
  /**
   * The longest wait, in milliseconds, between two checks of a group that
   * stays alive; each wait doubles the last. @default 1000
   */
  maxInterval?: number;
  /**
   * How to read the process table; by default the best this process may
   * use (see proc.ts), found on first need. `null`: none.
   */
  table?: ProcessTable | null;
  /** Timers. @default systemClock */
  clock?: Clock;
  /**
   * Told, once, when live members cannot be told from zombies here: a
   * group with only zombies left then counts as alive until its killTime.
   */
  onWarning?: (message: string) => void;
}

// One watched group.
interface Watch {
  callbacks: Set<() => void>;
  // The live members the last look found; empty: look at the whole table.
  members: number[];
  // The wait before the next check, in milliseconds.
  interval: number;
  // When the next check is due (clock milliseconds).
  due: number;
  // How many signals were sent to the group (see signalled()).
  signals: number;
}

/**
 * Tells whether process groups still have live members, and calls back
 * when they have none. One timer serves every watched group and runs only
 * while some group is watched, so an idle tend does no polling.
 */
export class GroupWatcher {
  #interval: number;
  #maxInterval: number;
  #clock: Clock;
  #table: Promise<ProcessTable | null> | null;
  #onWarning: (message: string) => void;
  #warned = false;
  #watches = new Map<number, Watch>();
  #timer: unknown = null;
  #timerDue = Infinity;
  // A round of checks is under way; it arms the timer again when done.
  #checking = false;
  // A full look shared by every caller until the next spawn or the next
  // turn of the event loop: "no live member" stays true once true, but a
  // look from before a group was created knows nothing of it.
  #scan: Promise<GroupMembers | null> | null = null;
  // What the last full look found, to start a new watch from: the look
  // that found a leader's group alive at its exit is usually just before.
  #lastScan: GroupMembers | null = null;
  /** How many full looks at the process table were taken (for tests). */
  scans = 0;

  /** Builds a watcher; nothing runs until a group is watched. */
  constructor(options: GroupWatcherOptions = {}) {
    this.#interval = options.interval ?? 20;
    this.#maxInterval = Math.max(this.#interval, options.maxInterval ?? 1000);
    this.#clock = options.clock ?? systemClock;
    this.#table = options.table === undefined ? null : Promise.resolve(options.table);
    this.#onWarning = options.onWarning ?? (() => {});
  }

  /**
   * A process was started: a full look taken before it knows nothing of
   * its group, so none is reused from here on.
   */
  spawned(): void {
    this.#scan = null;
  }

  /** Whether the group has a member that is not a zombie. */
  async alive(pgid: number): Promise<boolean> {
    if (!await groupExists(pgid)) return false;
    // Something answers to the group id, but zombies do until whoever
    // inherited them reaps them, which can take seconds under a slow init
    // and forever when tend is a container's PID 1. Look closer.
    const members = await this.#fullScan();
    return members === null || members.has(pgid);
  }

  /**
   * Calls `onEmpty` once the group has no live member; returns a function
   * that cancels the watch.
   */
  watch(pgid: number, onEmpty: () => void): () => void {
    let watch = this.#watches.get(pgid);
    if (!watch) {
      watch = {
        callbacks: new Set(),
        // Only candidates: each is checked to be alive and in the group.
        members: [...this.#lastScan?.get(pgid) ?? []],
        interval: this.#interval,
        due: this.#clock.now() + this.#interval,
        signals: 0,
      };
      this.#watches.set(pgid, watch);
    }
    const entry = () => onEmpty();
    watch.callbacks.add(entry);
    this.#arm();
    const mine = watch;
    return () => {
      mine.callbacks.delete(entry);
      if (mine.callbacks.size === 0 && this.#watches.get(pgid) === mine) {
        this.#watches.delete(pgid);
      }
    };
  }

  /**
   * A signal was just sent to the group: its members may die any moment
   * now, so the next checks come quickly again (the monitor gives a group
   * a grace after SIGKILL; a slow check must not outlast it).
   */
  signalled(pgid: number): void {
    const watch = this.#watches.get(pgid);
    if (!watch) return;
    watch.signals++;
    watch.interval = this.#interval;
    watch.due = Math.min(watch.due, this.#clock.now() + this.#interval);
    this.#arm();
  }

  // Arms the one timer for the earliest check due, unless it is armed for
  // that already.
  #arm(): void {
    if (this.#checking) return;
    let due = Infinity;
    for (const watch of this.#watches.values()) due = Math.min(due, watch.due);
    if (due === Infinity || (this.#timer !== null && this.#timerDue <= due)) return;
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer);
    this.#timerDue = due;
    this.#timer = this.#clock.setTimeout(
      () => void this.#round(),
      Math.max(0, due - this.#clock.now()),
    );
  }

  // Checks every group that is due; calls back for those found empty.
  async #round(): Promise<void> {
    this.#timer = null;
    this.#timerDue = Infinity;
    this.#checking = true;
    const now = this.#clock.now();
    let failure: { error: unknown } | null = null;
    for (const [pgid, watch] of [...this.#watches]) {
      if (watch.due > now) continue;
      const signals = watch.signals;
      let empty: boolean;
      try {
        empty = await this.#empty(pgid, watch);
      } catch {
        // The table could not be read this time (a `ps` that failed):
        // look again later.
        empty = false;
      }
      if (this.#watches.get(pgid) !== watch) continue; // cancelled meanwhile
      if (!empty) {
        // A group that stays alive is looked at less and less often, unless
        // it was signalled during this check.
        if (watch.signals === signals) {
          watch.interval = Math.min(watch.interval * 2, this.#maxInterval);
        }
        watch.due = this.#clock.now() + watch.interval;
        continue;
      }
      this.#watches.delete(pgid);
      for (const entry of watch.callbacks) {
        // Every callback runs even if one throws; the first error is
        // raised once the watch is re-armed.
        try {
          entry();
        } catch (error) {
          failure ??= { error };
        }
      }
    }
    this.#checking = false;
    this.#arm();
    if (failure) throw failure.error;
  }

  // Whether the group has no live member left: the members found last
  // time first, and the whole table only once none of them is alive.
  async #empty(pgid: number, watch: Watch): Promise<boolean> {
    if (!await groupExists(pgid)) return true;
    const table = await this.#getTable();
    if (table === null) return false; // cannot tell: zombies count as alive
    if (watch.members.length > 0) {
      const live = await table.check(watch.members);
      watch.members = watch.members.filter((pid) => live.get(pid) === pgid);
      if (watch.members.length > 0) return false;
    }
    const members = await this.#fullScan();
    if (members === null) return false;
    watch.members = members.get(pgid) ?? [];
    return watch.members.length === 0;
  }

  // One full look, shared by every caller until the next spawn or the
  // next turn of the event loop; null when the table cannot be read.
  #fullScan(): Promise<GroupMembers | null> {
    if (this.#scan !== null) return this.#scan;
    const scan = this.#scan = (async () => {
      const table = await this.#getTable();
      if (table === null) return null;
      this.scans++;
      try {
        return this.#lastScan = await table.scan();
      } catch {
        return null;
      }
    })();
    // Stale by the next turn: members die, and new groups are born.
    this.#clock.setTimeout(() => {
      if (this.#scan === scan) this.#scan = null;
    }, 0);
    return scan;
  }

  async #getTable(): Promise<ProcessTable | null> {
    const table = await (this.#table ??= processTable());
    if (table === null && !this.#warned) {
      this.#warned = true;
      this.#onWarning(
        "tend cannot tell live process-group members from zombies here: it needs " +
          "/proc (with --allow-ffi, or --allow-all) or `ps` on PATH. A group whose " +
          "leader has exited counts as alive while anything answers to its id, so " +
          "stopping it may wait its whole killTime and end in a needless SIGKILL",
      );
    }
    return table;
  }
}

const KILL_SYMBOLS = {
  kill: { parameters: ["i32", "i32"], result: "i32" },
  ...ERRNO_SYMBOLS,
} as const;
const ESRCH = 3;

let killLib: Deno.DynamicLibrary<typeof KILL_SYMBOLS> | null | undefined;
let nodeProcess: Promise<{ kill(pid: number, signal: number): void }> | undefined;

// kill(-pgid, 0): does anything, zombies included, answer to the group id?
// Deno.kill cannot send signal 0. Through libc with FFI; without it,
// through node:process, loaded only then (a Node built-in costs Deno its
// Node-compatibility layer).
async function groupExists(pgid: number): Promise<boolean> {
  if (killLib === undefined) killLib = openLibc(KILL_SYMBOLS);
  if (killLib !== null) {
    if (killLib.symbols.kill(-pgid, 0) === 0) return true;
    // EPERM: a member we may not signal is still a member.
    return errnoOf(killLib) !== ESRCH;
  }
  const process =
    await (nodeProcess ??= import("node:process").then((m) => m.default ?? m));
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH";
  }
}
