/**
 * What the core needs from outside: a way to start processes, a clock,
 * and a way to run health checks.
 *
 * {@linkcode ProcessMonitor} depends only on these interfaces. The real
 * implementations live in `os/` (`deno_spawner.ts` over `Deno.Command`,
 * `clock.ts` over the global timers, `probes.ts` over sockets and
 * `Deno.Command`); tests use fakes that behave like Twisted's
 * `DummyProcess` and `Clock`.
 *
 * @module
 */

import type { SignalName } from "./signals.ts";
import type { ExitStatus, ProbeCheck, ResolvedSpec } from "./spec.ts";

/** The two output streams of a child. */
export type OutputStream = "stdout" | "stderr";

/**
 * What a spawner needs to start one process: the part of a resolved spec
 * about how to run it (not when or how to stop it).
 */
export type SpawnRequest =
  & Pick<ResolvedSpec, "argv" | "cwd" | "env" | "clearEnv" | "uid" | "gid">
  & {
    /** The name of the process it is a child of, for spawners that care. */
    name?: string;
  };

/**
 * Receives the bytes of one output stream of one child.
 *
 * `write` may return a promise: the spawner waits for it before reading
 * more, which is how a slow log destination slows a flooding child down
 * instead of growing a buffer.
 */
export interface OutputHandler {
  /** Takes the next chunk; the chunk may be reused once this returns. */
  write(chunk: Uint8Array): void | Promise<void>;
  /**
   * The stream reached end of file, or the spawner stopped waiting for it
   * (the child is gone but something else holds the pipe open, or tend is
   * exiting): a partial last line should be handed on. In the second case
   * more chunks and another `end` may follow.
   */
  end(): void;
}

/** How a spawned child reports back. */
export interface ChildEvents {
  /** Handler for the child's stdout. */
  stdout: OutputHandler;
  /** Handler for the child's stderr. */
  stderr: OutputHandler;
  /**
   * The child (the group leader) exited. Called once, after its output has
   * been read to the end, unless other members of its process group still
   * hold the pipes open.
   *
   * @param groupAlive whether other members of its process group were still
   * alive (not zombies) when it exited
   */
  exit(status: ExitStatus, groupAlive: boolean): void;
}

/** A running child: the leader of its own process group. */
export interface Child {
  /** The leader's pid, which is also the group id. */
  readonly pid: number;
  /**
   * Whether the leader has exited, even if {@linkcode ChildEvents.exit} has
   * not been called yet (its output is still being read).
   */
  readonly reaped: boolean;
  /**
   * Sends `signal` to every member of the child's process group. A group
   * that is already gone is not an error.
   *
   * @throws {Error} when the OS refuses (a member tend may not signal)
   */
  signal(signal: SignalName): void;
  /**
   * Asks the group to stop: sends `signal` to every member, then SIGCONT
   * (as systemd does), so that a member stopped with SIGSTOP can act on
   * it. A group that is already gone is not an error.
   *
   * @throws {Error} when the OS refuses (a member tend may not signal)
   */
  stop(signal: SignalName): void;
  /**
   * Calls `onEmpty` once when no live member of the group is left (zombies
   * do not count). Used after the leader exited.
   * Returns a function that cancels the watch.
   */
  watchGroup(onEmpty: () => void): () => void;
}

/** Starts processes. */
export interface Spawner {
  /**
   * Starts `request` as the leader of a new process group with stdin from
   * `/dev/null` and both output streams piped to `events`.
   *
   * @throws {SpawnError} when the OS refuses (missing program, bad cwd,
   * uid not permitted, ...); nothing was started then.
   */
  spawn(request: SpawnRequest, events: ChildEvents): Child;
}

/** A process could not be started; `message` carries the OS's reason. */
export class SpawnError extends Error {
  /** Builds the error; `cause` keeps the original OS error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "SpawnError";
  }
}

/** An opaque handle returned by {@linkcode Clock.setTimeout}. */
export type TimerHandle = unknown;

/** The core's only source of time. All values are milliseconds. */
export interface Clock {
  /** Milliseconds on a monotonic clock (never jumps with the wall clock). */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  /** Cancels a timer; a handle that already fired is ignored. */
  clearTimeout(handle: TimerHandle): void;
  /**
   * Calls `fn` as soon as the current event has been handled, at the same
   * instant: how "restart at once" is scheduled without a 0 ms timer.
   */
  queueMicrotask(fn: () => void): void;
}

/**
 * The process a probe check belongs to: what an `exec` check runs with
 * (the process's working directory, environment and user), and what a
 * message names.
 */
export interface ProbeTarget {
  /** The process's name. */
  name: string;
  /** The pid of the child being checked. */
  pid: number;
  /** Working directory for an `exec` check; tend's own when absent. */
  cwd?: string;
  /** Variables added to tend's environment (or all of it with `clearEnv`). */
  env?: Record<string, string>;
  /** Start an `exec` check from an empty environment, as the process does. @default false */
  clearEnv?: boolean;
  /** User id an `exec` check runs as, the process's. */
  uid?: number;
  /** Group id an `exec` check runs as, the process's. */
  gid?: number;
}

/** The outcome of one probe check. */
export interface ProbeResult {
  /** Whether the check passed. */
  ok: boolean;
  /** What was seen, in words, for status and the log (`HTTP 503 Service Unavailable`). */
  message: string;
}

/**
 * Runs one check of a probe (`http`, `tcp`, `exec`); the event-driven
 * kinds (`log`, `notify`) are fed by tend, never run through a prober.
 */
export interface Prober {
  /**
   * Runs `check` for `target` and resolves with its outcome within about
   * `timeoutMs` milliseconds: a check that takes longer is given up (an
   * `exec` command killed with its whole group) and resolves as failed.
   * It should not reject; a rejection counts as a failed check.
   *
   * @param signal aborted when the result is no longer wanted (the
   *   process exited, or the caller's own timeout ran out): the check
   *   should end at once, leaving nothing behind
   */
  check(
    check: ProbeCheck,
    target: ProbeTarget,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ProbeResult>;
}
