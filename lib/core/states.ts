/**
 * The names of a process's states, as users read them in status output.
 *
 * They are supervisord's names, so people who know supervisord read them
 * without a legend. This module imports nothing.
 *
 * @module
 */

/** A process's state as shown to users. */
export type ProcessState =
  | "STOPPED" // not running and nothing pending: never started, the monitor stopped, or held
  | "STARTING" // a child is alive, and its readiness probe has not passed yet
  | "RUNNING" // a child is alive (and ready, if it has a readiness probe)
  | "STOPPING" // a stop signal was sent, or members its child left behind are being stopped
  | "BACKOFF" // waiting for a scheduled start
  | "EXITED" // it exited and its restart policy says not to start it again
  | "FATAL"; // it gave up: maxRestarts early deaths in a row, or a failed start under never

/**
 * Maps the monitor's internal state kinds to the names users see (a
 * running child not ready yet is STARTING; a process waiting for its
 * dependencies is STOPPED, with the reason in its status).
 */
export const STATES: Readonly<
  Record<
    "stopped" | "waiting" | "running" | "stopping" | "backoff" | "exited" | "fatal",
    ProcessState
  >
> = Object.freeze({
  stopped: "STOPPED",
  waiting: "STOPPED",
  running: "RUNNING",
  stopping: "STOPPING",
  backoff: "BACKOFF",
  exited: "EXITED",
  fatal: "FATAL",
});
