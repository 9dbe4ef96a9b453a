/**
 * tend's exit statuses, after BSD's sysexits where one fits.
 *
 * @module
 */

/** Exit statuses of the command line. */
export const EXIT = {
  /** A requested stop, with every child gone. */
  OK: 0,
  /** An internal failure. */
  INTERNAL: 1,
  /**
   * A client command did not get there: a named process does not exist
   * (nothing was done), a wait timed out, or a process could not be started.
   */
  FAILED: 1,
  /** Bad command-line usage (EX_USAGE). */
  USAGE: 64,
  /** What tend had to print could not be written: a full disk, say (EX_IOERR). */
  IOERR: 74,
  /** No tend answers at the control socket (EX_UNAVAILABLE). */
  UNAVAILABLE: 69,
  /** Another tend already runs this instance (EX_TEMPFAIL): the cron lock. */
  ALREADY_RUNNING: 75,
  /** An invalid config file; nothing was started (EX_CONFIG). */
  CONFIG: 78,
  /**
   * The reader of what tend printed went away (EPIPE): 128 + SIGPIPE, the
   * status of any writer SIGPIPE ends (`yes | head`). Deno ignores
   * SIGPIPE, so tend gives it itself; `set -o pipefail` sees the same.
   */
  BROKEN_PIPE: 141,
} as const;
