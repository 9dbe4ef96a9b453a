/**
 * tend's version and its help text.
 *
 * @module
 */

import denoJson from "../../deno.json" with { type: "json" };

/** tend's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** The text of `tend --help`. */
export const HELP =
  `tend ${VERSION}: keeps a set of named commands running (procmon for Deno)

Usage:
  tend run [CONFIG]                  run CONFIG (default ./procs.yaml) in the foreground
  tend run [FLAGS] -- CMD [ARG...]   run one command, named after CMD's basename
  tend check [CONFIG]                validate CONFIG and list each process's settings
  tend schema                        print the config file's JSON Schema
  tend --help | --version

Controlling a running tend (through its control socket):
  tend status [NAME...]              each process's state, pid, uptime, restarts, last exit
  tend start NAME...                 start now (releases a hold, revives FATAL)
  tend stop NAME...                  stop and keep stopped until started
  tend restart NAME...               stop, then start again
  tend signal SIGNAL NAME...         send SIGNAL to each process's group
  tend logs [NAME...] [-n N] [-f]    the last N lines (default 100), then follow with -f
  tend reload                        read CONFIG again and say what changed
  tend shutdown                      stop everything and wait for tend to exit
  "all" names every process. Each finds tend as run does: -c FILE (default
  ./procs.yaml), --socket PATH, or TEND_SOCKET; --json prints JSON.
  tend COMMAND --help shows a command's options.

Flags for run (they override the file):
  --threshold S            a run at least this long counts as healthy (default 1s)
  --kill-time S            grace between the stop signal and SIGKILL (default 5s)
  --min-restart-delay S    first back-off delay (default 1s)
  --max-restart-delay S    largest back-off delay (default 1h)
  --restart POLICY         always | on-failure | never, for every process
  --log-format FORMAT      text (default) | json
  --color WHEN             auto (default: only on a terminal, never with NO_COLOR) | always | never
  --subreaper              reap orphaned processes as PID 1 does (needs --allow-ffi)
  --socket PATH            the control socket (default: TEND_SOCKET, the file's socket:,
                           else \${XDG_RUNTIME_DIR:-/tmp}/tend-UID/HASH.sock)
  --http ADDR              also listen on TCP (127.0.0.1:9100; a PORT alone is 127.0.0.1):
                           /v1 with a bearer token (TEND_TOKEN, http.tokenFile, or
                           printed), /metrics, /livez, /readyz and the dashboard at /

  S is a number of seconds (0.5) or a number with a unit: 500ms, 5s, 2m, 1h.

Signals:
  SIGTERM, SIGINT, SIGQUIT (and SIGPWR, SIGXCPU, SIGABRT, SIGBUS)
                    stop every process gracefully, then exit 0; a second one kills them all at once
  SIGHUP            reload CONFIG; an invalid file is reported and the running config kept
  SIGUSR2           log each process's state, pid, uptime, restarts and last exit
  SIGUSR1           nothing: tend makes sure Deno opens no debugger port on it (needs --allow-ffi)
  SIGALRM, SIGIO, SIGXFSZ and other stray signals are logged and ignored

Exit status of run:
  0   stopped on request, every child gone
  64  bad usage    78  invalid config    1  internal failure, or no control socket
  74  what --version, --help or check prints could not be written (141: its reader had gone)
  75  another tend already runs this config (same socket): nothing was started
  When every process has finished for good (restart: never or on-failure): 0 if
  each last exit was code 0, else the first failed process's status (its exit
  code, 128+N if signal N killed it, 127 if it could not be started).
Exit status of the control commands:
  0 done; 1 an unknown NAME (nothing done) or a wait timed out; 64 bad usage;
  69 no tend answers at the socket; 78 reload found problems in CONFIG.
`;
