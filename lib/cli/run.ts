/**
 * `tend run`: run a config (or one command) in the foreground until it is
 * stopped, and decide the exit status.
 *
 * @module
 */

import { basename } from "../core/path.ts";
import { DEFAULT_TIMING, toProcessName } from "../core/spec.ts";
import {
  type Config,
  ConfigError,
  formatProblem,
  loadConfig,
  type LoadOptions,
} from "../config/load.ts";
import { tendVariables } from "../config/mutators.ts";
import { applyOverrides } from "../config/overrides.ts";
import { systemClock } from "../os/clock.ts";
import { DenoSpawner } from "../os/deno_spawner.ts";
import { FfiSpawner, ffiSpawnerUnavailable } from "../os/ffi_spawner.ts";
import { denoLogFiles } from "../os/log_files.ts";
import { keepInheritedFromChildren } from "../os/fds.ts";
import { NotifySockets } from "../os/notify.ts";
import { DenoProber } from "../os/probes.ts";
import type { SpawnerBase } from "../os/spawner_base.ts";
import { signalNumber } from "../os/signals.ts";
import { isNonBlocking } from "../os/stdio.ts";
import { Logger } from "../output/log.ts";
import { type LoadResult, Supervisor } from "../supervisor.ts";
import {
  configFile,
  parse,
  RUN_OPTIONS,
  type RunFlags,
  runFlags,
  UsageError,
} from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import { VERSION } from "./help.ts";
import { claimControl, type ControlPlane } from "./serve.ts";
import { guardSignals, handleSignals } from "./signals.ts";
import { startSystem } from "./system.ts";

// How long tend, on its way out, waits for its children's last output to be
// read (members of a group may hold the pipes), and then for its log to be
// written (a slow or stalled stdout holds it back).
const OUTPUT_WAIT_MS = 2000;

// How long the log still gets once the children are gone, when a second
// stop request came during the stop: plenty for a working stdout to take
// the last records, even on a busy machine.
const LAST_WORDS_MS = 500;

/** The text of `tend run --help`. */
export const RUN_HELP = `Usage: tend run [FLAGS] [CONFIG | -c FILE]
       tend run [FLAGS] -- CMD [ARG...]

Runs CONFIG (default ./procs.yaml) in the foreground until it is stopped,
or one command, named after CMD's basename (what twistd procmon CMD
does). Every line the processes print is logged as [name] line, with
tend's own records about them, on stdout (and in their log files).

Flags (they override the file, on every reload too):
  --threshold S          a run this long counts as healthy (default 1s)
  --kill-time S          grace from the stop signal to SIGKILL (default 5s)
  --min-restart-delay S  first back-off delay (default 1s)
  --max-restart-delay S  largest back-off delay (default 1h)
  --restart POLICY       always | on-failure | never, for every process
  --log-format FORMAT    text (default) | json
  --color WHEN           auto (default: on a terminal, unless NO_COLOR is
                         set) | always | never
  --subreaper            reap orphans as PID 1 does (needs --allow-ffi)
  --socket PATH          the control socket (default: TEND_SOCKET, else
                         the file's socket:, else
                         \${XDG_RUNTIME_DIR:-/tmp}/tend-UID/HASH.sock)
  --http ADDR            also listen on TCP (127.0.0.1:9100; a PORT alone
                         is 127.0.0.1): /v1 with a bearer token
                         (TEND_TOKEN, http.tokenFile, or printed),
                         /metrics, /livez, /readyz, the dashboard at /
  -c, --config FILE      CONFIG, as the other commands take it
  -h, --help             this help

  S is seconds (0.5) or a number with a unit: 500ms, 5s, 2m, 1h.

Signals:
  SIGTERM, SIGINT, SIGQUIT (and SIGPWR, SIGXCPU, SIGABRT, SIGBUS)
           stop every process gracefully, then exit 0; a second one
           kills them all at once
  SIGHUP   reload CONFIG (an invalid file is reported, the old one kept)
  SIGUSR2  log each process's state, readiness, pid, uptime, restarts
  SIGUSR1  nothing: no debugger port opens on it (needs --allow-ffi)
  SIGALRM, SIGIO, SIGXFSZ and other stray signals are logged and ignored

Exit status:
  0   stopped on request, every child gone
  64  bad usage        78  invalid config (nothing was started)
  75  another tend already runs this config (the same socket)
  1   an internal failure, or the control socket cannot be used
  When every process has finished for good (restart: never or
  on-failure): 0 if each last exit was 0, else the first failed one's
  status (its exit code, 128+N for signal N, 127 if it could not start).
`;

/**
 * Runs `tend run` and resolves with its exit status.
 *
 * @throws {ConfigError} when the file is invalid (nothing was started)
 * @throws {UsageError} for bad arguments
 */
export async function run(args: string[]): Promise<number> {
  // main.ts guards first thing; this is for run() called on its own (it is
  // idempotent). Until it runs, a SIGUSR1 ends tend, or opens Deno's
  // debugger port; no child has started yet.
  guardSignals();
  const dashes = args.indexOf("--");
  const flagArgs = dashes === -1 ? args : args.slice(0, dashes);
  const { positionals, values } = parse(flagArgs, RUN_OPTIONS);
  if (values.help) {
    write(Deno.stdout, RUN_HELP);
    return EXIT.OK;
  }
  const flags = runFlags(values);
  let source: { file: string; options: LoadOptions } | null = null;
  let config: Config;
  if (dashes !== -1) {
    if (positionals.length > 0 || values.config !== undefined) {
      throw new UsageError("give either a config file or -- CMD, not both");
    }
    const argv = args.slice(dashes + 1);
    if (argv.length === 0 || argv[0] === "") {
      throw new UsageError("no command after --");
    }
    // Unlike a file's processes, it keeps tend's working directory.
    const name = toProcessName(basename(argv[0]!));
    config = {
      file: "(command line)",
      timing: { ...DEFAULT_TIMING },
      processes: { [name]: { argv, env: tendVariables(name) } },
    };
  } else {
    if (positionals.length > 1) throw new UsageError("run takes one config file");
    source = configFile(positionals[0], values.config);
    config = await loadConfig(source.file, source.options);
  }
  const problem = applyOverrides(config, flags);
  if (problem !== null) throw new UsageError(problem);
  // The instance lock comes before anything starts: a second tend of the
  // same instance exits here (75), having started nothing.
  const argv = dashes === -1 ? null : args.slice(dashes + 1);
  const control = await claimControl({
    socket: flags.socket,
    config,
    file: source?.file ?? null,
    argv,
    http: flags.http,
  });
  if (typeof control === "number") return control;
  try {
    return await supervise(
      config,
      source === null ? null : reloader(source, flags),
      flags,
      control,
    );
  } finally {
    control.release();
  }
}

/**
 * The spawner `tend run` uses: the FFI one (`posix_spawn`, cheaper by far
 * per child) where it can run, DenoSpawner (`Deno.Command`) otherwise.
 * `TEND_SPAWNER=deno` asks for DenoSpawner, `ffi` for the FFI one (which
 * falls back, with a warning, where it cannot run): the benchmark runs
 * tend with each.
 */
function makeSpawner(log: Logger): SpawnerBase {
  const options = { onWarning: (message: string) => log.log("warn", message) };
  const wanted = Deno.permissions.querySync({ name: "env", variable: "TEND_SPAWNER" })
      .state === "granted"
    ? Deno.env.get("TEND_SPAWNER") ?? ""
    : "";
  if (wanted === "deno") return new DenoSpawner(options);
  const why = ffiSpawnerUnavailable();
  if (why === null) return new FfiSpawner(options);
  if (wanted === "ffi") {
    log.log(
      "warn",
      `TEND_SPAWNER=ffi: the FFI spawner cannot run here (${why}); ` +
        "tend starts its children with DenoSpawner instead",
    );
  }
  return new DenoSpawner(options);
}

// Reads the file again, with the flags applied, for a reload.
function reloader(
  { file, options }: { file: string; options: LoadOptions },
  flags: RunFlags,
): () => Promise<LoadResult> {
  return async () => {
    let config: Config;
    try {
      config = await loadConfig(file, options);
    } catch (error) {
      if (error instanceof ConfigError) {
        return { problems: error.problems.map(formatProblem) };
      }
      throw error;
    }
    const problem = applyOverrides(config, flags);
    return problem === null ? { config } : { problems: [`${file}: ${problem}`] };
  };
}

async function supervise(
  config: Config,
  load: (() => Promise<LoadResult>) | null,
  flags: RunFlags,
  control: ControlPlane,
): Promise<number> {
  const log = new Logger({
    out: Deno.stdout,
    format: flags.format,
    color: flags.color === "always" ||
      (flags.color === "auto" && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR")),
    // A parent may have made stdout (a pipe, a terminal) non-blocking; only
    // atomic writes survive that whole (see LoggerOptions), until stdout is
    // known to block (below).
    atomicWrites: true,
    onNotice: note,
  });
  const spawner = makeSpawner(log);
  const supervisor = new Supervisor({
    config,
    load,
    spawner,
    prober: new DenoProber(),
    // Throws with the reason (no FFI, a full or read-only folder), which the
    // supervisor logs. TMPDIR is honoured, as mkdtemp(3) users do.
    notifySockets: () => NotifySockets.create(Deno.env.get("TMPDIR") || "/tmp"),
    clock: systemClock,
    log,
    signalNumber,
    outputWait: OUTPUT_WAIT_MS,
    logFiles: denoLogFiles,
  });
  const stopListening = handleSignals(supervisor, log);

  // If tend itself fails, its children (each in its own session) would
  // outlive it: the supervisor kills them before tend exits.
  const onFatal = (event: ErrorEvent | PromiseRejectionEvent) => {
    event.preventDefault();
    supervisor.fail("reason" in event ? event.reason : event.error);
  };
  globalThis.addEventListener("error", onFatal);
  globalThis.addEventListener("unhandledrejection", onFatal);

  const count = Object.keys(config.processes).length;
  // A text record of tend's own starts with "tend" already; a JSON one has
  // only its message to say who speaks.
  log.log(
    "info",
    `${log.format === "json" ? "tend " : ""}${VERSION}: starting ${count} process${
      count === 1 ? "" : "es"
    } from ${config.file} (pid ${Deno.pid})`,
  );
  // What tend's parent left open reaches no child (before the first spawn).
  const fdsKept = keepInheritedFromChildren();
  // (Without FFI tend has warned already, about that and what it costs.)
  if (fdsKept !== null && !fdsKept.includes("--allow-ffi")) {
    log.log("warn", `descriptors tend inherited may reach its children: ${fdsKept}`);
  }
  // Reaping (PID 1, --subreaper) and sd_notify; before the first spawn.
  const system = startSystem(supervisor, log, { subreaper: flags.subreaper });
  let insisted = false;
  void supervisor.insisted.then(() => insisted = true);
  control.attach(supervisor, log);
  supervisor.start();
  // Atomic writes cost a pipe or a file most of its speed. Once stdout is
  // known to block, as nearly always, big writes are exact: ask (after the
  // start, which this must not delay).
  void isNonBlocking(1).then((nonBlocking) => {
    if (nonBlocking === false) log.atomicWrites = false;
  });

  const code = await supervisor.exit;
  // Orphans left (as PID 1 or a subreaper) are stopped now, like a group.
  await system.stop();
  // The children are gone. Their last output and tend's last records get
  // a deadline to be written, and a further stop request ends the wait at
  // once: a stdout that is not read (`| sleep`, a stopped pager) must not
  // hold tend, and nothing but exiting ends a write stuck in the kernel
  // (main.ts exits with Deno.exit, which does).
  let timer: ReturnType<typeof setTimeout> | undefined;
  const outcome = await Promise.race([
    (async () => {
      await spawner.idle(OUTPUT_WAIT_MS);
      // The log files within the same deadline, and then what closing
      // them had to say (a file that failed to the end) in tend's log.
      await Promise.all([log.flush(), supervisor.closeLogFiles()]);
      await log.flush();
      return "written" as const;
    })(),
    new Promise<"late">((resolve) =>
      timer = setTimeout(
        () => resolve("late"),
        insisted ? LAST_WORDS_MS : OUTPUT_WAIT_MS,
      )
    ),
    // Asked again before this wait: the last records still get LAST_WORDS_MS.
    ...insisted ? [] : [supervisor.insisted.then(() => "insisted" as const)],
  ]);
  clearTimeout(timer);
  stopListening();
  await control.close();
  const left = log.unwritten;
  if (outcome !== "written" && left > 0) {
    const why = outcome === "insisted" || insisted
      ? "asked to stop again"
      : `stdout did not take the log within ${OUTPUT_WAIT_MS / 1000}s`;
    // stderr may be stuck too (`2>&1`): the note gets a moment, no more.
    await Promise.race([
      note(`${why}: exiting with ${left} bytes of the log unwritten`),
      new Promise((resolve) => setTimeout(resolve, 100)),
    ]);
  }
  return code;
}

const encoder = new TextEncoder();

/**
 * Says something about tend's own output on stderr, `tend: MESSAGE`:
 * asynchronously, and waited for only on the way out (briefly), never
 * with writeSync or console.*: stderr may be the same stalled (or
 * non-blocking) pipe as stdout, and a synchronous write to it would stop
 * tend altogether.
 */
function note(message: string): Promise<unknown> {
  return Deno.stderr.write(encoder.encode(`tend: ${message}\n`)).catch(() => {});
}
