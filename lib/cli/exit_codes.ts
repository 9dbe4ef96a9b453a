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
  /** Bad command-line usage (EX_USAGE). */
  USAGE: 64,
  /** An invalid config file; nothing was started (EX_CONFIG). */
  CONFIG: 78,
} as const;
