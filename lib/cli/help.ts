/**
 * tend's version and its help text.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** tend's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The longest line any help text may have: a terminal's classic width. */
export const HELP_WIDTH = 80;

/** The text of `tend --help`: every command in a line; each has its own help. */
export const HELP =
  `tend ${VERSION}: keeps a set of named commands running (procmon for Deno)

Usage:
  tend run [CONFIG | -c FILE]       run CONFIG (default ./procs.yaml)
  tend run [FLAGS] -- CMD [ARG...]  run one command, named after CMD
  tend check [CONFIG | -c FILE]     validate CONFIG, list each process
  tend schema                       print the config file's JSON Schema
  tend --help | --version           also -h, -V and -v

Controlling a running tend (through its control socket):
  tend status [NAME...]             state, readiness, pid, uptime, restarts
  tend start NAME...                start now (releases a hold, revives FATAL)
  tend stop NAME...                 stop, and keep stopped until started
  tend restart NAME...              stop, then start again
  tend signal SIGNAL NAME...        send SIGNAL to each process's group
  tend logs [NAME...] [-n N] [-f]   the last N lines (100), then follow
  tend reload                       read CONFIG again, say what changed
  tend shutdown                     stop everything, wait for tend to exit
  "all" names every process. Each finds tend as run does: -c FILE
  (default ./procs.yaml), --socket PATH, or TEND_SOCKET; --json: JSON.

tend COMMAND --help (or tend help COMMAND) shows a command's options;
tend run --help also the signals tend answers and its exit statuses.
`;
