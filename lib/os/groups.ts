/**
 * Process groups: does a group still have a live member, and a watch that
 * calls back once it has none.
 *
 * Zombies answer to `kill(-pgid, 0)` until whoever inherited them reaps
 * them, so a closer look tells live members from zombies: `/proc` where
 * Deno may read it, else `ps`.
 *
 * @module
 */

import process from "node:process";
import { spawnOwn } from "./pids.ts";

/**
 * Tells whether process groups still have live members, and calls back
 * when they have none. One timer serves every watched group and runs only
 * while some group is watched, so an idle tend does no polling.
 */
export class GroupWatcher {
  #interval: number;
  #watches = new Map<number, Set<() => void>>();
  #timer: ReturnType<typeof setTimeout> | null = null;

  /** @param interval milliseconds between checks of watched groups */
  constructor(interval: number) {
    this.#interval = interval;
  }

  /** Whether the group has a member that is not a zombie. */
  async alive(
    pgid: number,
    scan: () => Promise<Set<number> | null> = liveGroups,
  ): Promise<boolean> {
    if (!groupExists(pgid)) return false;
    // Something answers to the group id, but zombies do until whoever
    // inherited them reaps them, which can take seconds under a slow init
    // and forever when tend is a container's PID 1. Look closer.
    const live = await scan();
    return live === null || live.has(pgid);
  }

  /**
   * Calls `onEmpty` once the group has no live member; returns a function
   * that cancels the watch.
   */
  watch(pgid: number, onEmpty: () => void): () => void {
    let set = this.#watches.get(pgid);
    if (!set) this.#watches.set(pgid, set = new Set());
    const entry = () => onEmpty();
    set.add(entry);
    this.#arm();
    return () => {
      set.delete(entry);
      if (set.size === 0 && this.#watches.get(pgid) === set) this.#watches.delete(pgid);
    };
  }

  #arm(): void {
    if (this.#timer !== null || this.#watches.size === 0) return;
    this.#timer = setTimeout(async () => {
      // One scan per round serves every watched group.
      let cached: Promise<Set<number> | null> | undefined;
      const scan = () => cached ??= liveGroups();
      let failure: { error: unknown } | null = null;
      for (const [pgid, set] of [...this.#watches]) {
        if (await this.alive(pgid, scan)) continue;
        if (this.#watches.get(pgid) !== set) continue;
        this.#watches.delete(pgid);
        for (const entry of set) {
          // Every callback runs even if one throws; the first error is
          // raised once the watch is re-armed.
          try {
            entry();
          } catch (error) {
            failure ??= { error };
          }
        }
      }
      this.#timer = null;
      this.#arm();
      if (failure) throw failure.error;
    }, this.#interval);
  }
}

// kill(-pgid, 0): does anything, zombies included, answer to the group id?
function groupExists(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    // EPERM: a member we may not signal is still a member.
    return (error as { code?: string }).code !== "ESRCH";
  }
}

let procReadable = true;

/**
 * The process groups that have at least one member that is not a zombie,
 * or null when that cannot be told. Reads /proc where Deno may (it needs
 * --allow-all for /proc), else asks `ps`, which needs only --allow-run.
 */
async function liveGroups(): Promise<Set<number> | null> {
  if (procReadable) {
    try {
      return procLiveGroups();
    } catch {
      procReadable = false;
    }
  }
  try {
    // Through spawnOwn, never Deno.Command().output(), which hides the pid
    // from the registry the reaper spares (pids.ts).
    const out = await spawnOwn("ps", {
      args: ["-A", "-o", "pgid=,stat="],
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).output();
    if (!out.success) return null;
    const live = new Set<number>();
    for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
      const [pgid, stat] = line.trim().split(/\s+/);
      if (pgid && stat && !stat.startsWith("Z")) live.add(Number(pgid));
    }
    return live;
  } catch {
    return null;
  }
}

function procLiveGroups(): Set<number> {
  const live = new Set<number>();
  for (const entry of Deno.readDirSync("/proc")) {
    const c = entry.name.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    let stat: string;
    try {
      stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
    } catch (error) {
      if (error instanceof Deno.errors.NotCapable) throw error;
      continue; // it exited while we looked
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parens.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 3);
    if (fields[0] !== "Z" && fields[0] !== "X") live.add(Number(fields[2]));
  }
  return live;
}
