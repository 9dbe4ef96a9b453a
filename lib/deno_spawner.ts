/**
 * The real {@linkcode Spawner}, over `Deno.Command`: the only file in tend
 * that starts processes or sends them signals.
 *
 * Each child is started with `detached: true`, which makes it the leader
 * of a new session and so of a new process group whose id is its pid.
 * Signals go to the whole group (`kill(-pgid, sig)`), so a shell's
 * children, a server's workers and anything else the child started get
 * them too.
 *
 * @module
 */

import process from "node:process";
import {
  type Child,
  type ChildEvents,
  type OutputHandler,
  type Spawner,
  SpawnError,
  type SpawnRequest,
} from "./spawn.ts";
import type { ExitStatus } from "./spec.ts";

/** Tuning for {@linkcode DenoSpawner}. */
export interface DenoSpawnerOptions {
  /**
   * Milliseconds to wait, after the leader exits, for its output to reach
   * end of file before reporting the exit anyway (something it started
   * outside its group may hold the pipes). Time spent waiting for the log
   * to take output (back-pressure) does not count. @default 250
   */
  drainGrace?: number;
  /**
   * The longest wait, in milliseconds, for a dead leader's output to be
   * read, back-pressure included, before its exit is reported anyway; its
   * output still goes on to the log after that. @default 10000
   */
  drainLimit?: number;
  /** Milliseconds between checks of groups whose leader has exited. @default 20 */
  pollInterval?: number;
  /**
   * Largest buffer an output stream is read into. Each stream starts with
   * 4 KiB and doubles its buffer whenever a read fills it, so an idle
   * child costs little and a flooding one reads in big chunks. @default 65536
   */
  readSize?: number;
}

/**
 * Starts children with `Deno.Command`, each the leader of its own process
 * group, stdin from `/dev/null`, stdout and stderr piped.
 *
 * @example
 * ```ts ignore
 * import { DenoSpawner } from "./deno_spawner.ts";
 * const spawner = new DenoSpawner();
 * const child = spawner.spawn({ argv: ["sleep", "10"] }, events);
 * child.signal("SIGTERM");
 * ```
 */
export class DenoSpawner implements Spawner {
  #drainGrace: number;
  #drainLimit: number;
  #readSize: number;
  #groups: GroupWatcher;
  // Output streams still being read, with whether each waits on the log.
  #pumps = new Set<Pump>();

  /** Builds a spawner. */
  constructor(options: DenoSpawnerOptions = {}) {
    this.#drainGrace = options.drainGrace ?? 250;
    this.#drainLimit = options.drainLimit ?? 10_000;
    this.#readSize = options.readSize ?? 65536;
    this.#groups = new GroupWatcher(options.pollInterval ?? 20);
  }

  /**
   * Starts `request`; see {@linkcode Spawner.spawn}.
   *
   * @throws {SpawnError} with the OS's reason when the process cannot start
   */
  spawn(request: SpawnRequest, events: ChildEvents): Child {
    const [program, ...args] = request.argv;
    if (program === undefined || program === "") {
      throw new SpawnError("Cannot start a process: its argv is empty");
    }
    let proc: Deno.ChildProcess;
    try {
      proc = new Deno.Command(program, {
        args,
        cwd: request.cwd,
        env: request.env,
        clearEnv: request.clearEnv,
        uid: request.uid,
        gid: request.gid,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
    } catch (error) {
      // Deno's message already names the program and the OS's reason, e.g.
      // "Failed to spawn 'x': No such file or directory (os error 2)".
      throw new SpawnError(error instanceof Error ? error.message : String(error), {
        cause: error,
      });
    }
    const child = new DenoChild(proc.pid, this.#groups);
    const pumps = [
      this.#pump(proc.stdout, events.stdout),
      this.#pump(proc.stderr, events.stderr),
    ];
    proc.status.then(async (s) => {
      child.reaped = true;
      const status: ExitStatus = s.signal === null
        ? { code: s.code, signal: null }
        : { code: null, signal: s.signal };
      const groupAlive = await this.#groups.alive(proc.pid);
      // Report the exit after the last of its output, unless members of its
      // group live on (they may hold the pipes) or something else keeps the
      // pipes open past a short grace.
      if (!groupAlive) {
        // Nothing is left to signal, and the group id may soon be reused.
        child.gone = true;
        await this.#drain(pumps);
      }
      events.exit(status, groupAlive);
    });
    return child;
  }

  /**
   * Resolves once every output stream has been read to its end, or after
   * `ms` milliseconds, whichever comes first. tend calls it before it
   * exits, so the last output of its children reaches the log.
   */
  async idle(ms: number): Promise<void> {
    const deadline = performance.now() + ms;
    while (this.#pumps.size > 0) {
      const left = deadline - performance.now();
      if (left <= 0) break;
      await settleWithin(Promise.all([...this.#pumps].map((p) => p.done)), left);
    }
    // Streams something else still holds open: hand on their partial lines,
    // and do not wait for them again.
    for (const pump of this.#pumps) pump.out.end();
    this.#pumps.clear();
  }

  #pump(stream: ReadableStream<Uint8Array<ArrayBuffer>>, out: OutputHandler): Pump {
    const pump: Pump = {
      done: Promise.resolve(),
      blocked: false,
      finished: false,
      out,
    };
    pump.done = readAll(stream, out, this.#readSize, pump).finally(() => {
      pump.finished = true;
      this.#pumps.delete(pump);
    });
    this.#pumps.add(pump);
    return pump;
  }

  // Waits for a dead leader's output to be read to its end. The grace runs
  // only while the streams are not held back by the log, so a slow log
  // delays the exit report instead of splitting it from its output; the
  // limit bounds the wait all the same. If the wait ends first, a stream
  // waiting on a read (something outside the group holds the pipe) has its
  // partial line handed on now, before the exit is reported; one the log
  // holds back is left alone, to end in its own time.
  async #drain(pumps: Pump[]): Promise<void> {
    const done = Promise.all(pumps.map((p) => p.done));
    const limit = performance.now() + this.#drainLimit;
    let grace = this.#drainGrace;
    while (grace > 0 && performance.now() < limit) {
      const from = performance.now();
      if (await settleWithin(done, Math.min(grace, DRAIN_STEP))) return;
      if (!pumps.some((p) => p.blocked)) grace -= performance.now() - from;
    }
    for (const pump of pumps) {
      if (pump.finished || pump.blocked) continue;
      pump.out.end();
      // Reading goes on, but tend does not wait for it on its way out.
      this.#pumps.delete(pump);
    }
  }
}

// How often a drain wait looks at whether the log holds the streams back.
const DRAIN_STEP = 25;

// One output stream being read.
interface Pump {
  done: Promise<void>;
  // Whether it waits for the log to take what it read (back-pressure).
  blocked: boolean;
  // Whether it reached end of file (or a read error).
  finished: boolean;
  out: OutputHandler;
}

class DenoChild implements Child {
  readonly pid: number;
  /** See {@linkcode Child.reaped}. */
  reaped = false;
  // The leader exited and its group was found empty: signals would go to
  // nobody, or to a new group that reused the id.
  gone = false;
  #groups: GroupWatcher;

  constructor(pid: number, groups: GroupWatcher) {
    this.pid = pid;
    this.#groups = groups;
  }

  signal(signal: string): void {
    if (this.gone) return;
    try {
      Deno.kill(-this.pid, signal as Deno.Signal);
    } catch (error) {
      // The group is gone already: nothing left to signal. Other errors
      // (a member tend may not signal) are the monitor's to report.
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
  }

  watchGroup(onEmpty: () => void): () => void {
    return this.#groups.watch(this.pid, onEmpty);
  }
}

// Reads a stream into a handler, waiting whenever the handler asks it to
// (back-pressure), and always ending the handler. The buffer is reused;
// it starts small and doubles, up to `max`, whenever a read fills it.
async function readAll(
  stream: ReadableStream<Uint8Array<ArrayBuffer>>,
  out: OutputHandler,
  max: number,
  pump: Pump,
): Promise<void> {
  const reader = stream.getReader({ mode: "byob" });
  let buffer = new Uint8Array(Math.min(4096, max));
  try {
    while (true) {
      const { value, done } = await reader.read(buffer);
      if (done || value === undefined) break;
      const wait = out.write(value);
      if (wait) {
        pump.blocked = true;
        await wait;
        pump.blocked = false;
      }
      buffer = value.length === value.buffer.byteLength && value.length < max
        ? new Uint8Array(Math.min(value.length * 2, max))
        : new Uint8Array(value.buffer);
    }
  } catch {
    // A read error ends the stream like end of file does.
  } finally {
    out.end();
    reader.releaseLock();
  }
}

// Whether `promise` settled within `ms` milliseconds.
function settleWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.then(() => true),
    new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms)),
  ]).finally(() => clearTimeout(timer));
}

/**
 * Tells whether process groups still have live members, and calls back
 * when they have none. One timer serves every watched group and runs only
 * while some group is watched, so an idle tend does no polling.
 */
class GroupWatcher {
  #interval: number;
  #watches = new Map<number, Set<() => void>>();
  #timer: ReturnType<typeof setTimeout> | null = null;

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
    const out = await new Deno.Command("ps", {
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
