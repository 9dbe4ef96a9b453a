/**
 * tend's command line: parse the arguments, load the config, set up the
 * log, wire OS signals, run the monitor, and decide the exit status.
 *
 * This is the only module that reads `Deno.args`, prints to the console,
 * listens for OS signals or calls `Deno.exit`; everything under `lib/`
 * returns values and throws typed errors.
 *
 * @module
 */

import inspector from "node:inspector";
import { constants as osConstants } from "node:os";
import { basename } from "node:path";
import { parseArgs } from "node:util";
import denoJson from "./deno.json" with { type: "json" };
import {
  type Config,
  ConfigError,
  describeProcess,
  formatProblem,
  loadConfig,
} from "./lib/config.ts";
import { systemClock } from "./lib/clock.ts";
import { DenoSpawner } from "./lib/deno_spawner.ts";
import { formatDuration, parseDuration } from "./lib/duration.ts";
import { type LogFormat, Logger } from "./lib/log.ts";
import { type MonitorEvent, ProcessMonitor } from "./lib/monitor.ts";
import {
  DEFAULT_TIMING,
  type ExitStatus,
  RESTART_POLICIES,
  type RestartPolicy,
  sameSpec,
  type Timing,
  TIMING_KEYS,
} from "./lib/spec.ts";

/** tend's version, from deno.json. */
export const VERSION: string = denoJson.version;

/** Exit statuses, after BSD's sysexits where one fits. */
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

const HELP = `tend ${VERSION}: keeps a set of named commands running (procmon for Deno)

Usage:
  tend run [CONFIG]                  run CONFIG (default ./procs.yaml) in the foreground
  tend run [FLAGS] -- CMD [ARG...]   run one command, named after CMD's basename
  tend check [CONFIG]                validate CONFIG and list each process's settings
  tend --help | --version

Flags for run (they override the file):
  --threshold S            a run at least this long counts as healthy (default 1s)
  --kill-time S            grace between the stop signal and SIGKILL (default 5s)
  --min-restart-delay S    first back-off delay (default 1s)
  --max-restart-delay S    largest back-off delay (default 1h)
  --restart POLICY         always | on-failure | never, for every process
  --log-format FORMAT      text (default) | json
  --color WHEN             auto (default: only on a terminal, never with NO_COLOR) | always | never

  S is a number of seconds (0.5) or a number with a unit: 500ms, 5s, 2m, 1h.

Signals:
  SIGTERM, SIGINT   stop every process gracefully, then exit 0; a second one kills them all at once
  SIGHUP            reload CONFIG; an invalid file is reported and the running config kept
  SIGUSR2           log each process's state, pid, uptime, restarts and last exit
  SIGUSR1           is Deno's (it opens a debugger port); tend closes that port

Exit status:
  0   stopped on request, every child gone
  64  bad usage    78  invalid config    1  internal failure
  When every process has finished for good (restart: never or on-failure): 0 if
  each last exit was code 0, else the first failed process's status (its exit
  code, 128+N if signal N killed it, 127 if it could not be started).
`;

/** A command line tend cannot make sense of. */
class UsageError extends Error {
  override name = "UsageError";
}

interface RunFlags {
  timing: Partial<Timing>;
  restart?: RestartPolicy;
  format: LogFormat;
  color: "auto" | "always" | "never";
}

const RUN_OPTIONS = {
  "threshold": { type: "string" },
  "kill-time": { type: "string" },
  "min-restart-delay": { type: "string" },
  "max-restart-delay": { type: "string" },
  "restart": { type: "string" },
  "log-format": { type: "string" },
  "color": { type: "string" },
  "help": { type: "boolean", short: "h" },
} as const;

// How close a repeated stop signal must follow the first to count as the
// same delivery; see onStop in supervise().
const SAME_KEYPRESS_MS = 50;

// How long tend, on its way out, waits for its children's last output to be
// read (a slow log holds it back, or members of a group hold the pipes).
const OUTPUT_WAIT_MS = 2000;

const FLAG_TIMING: Record<string, keyof Timing> = {
  "threshold": "threshold",
  "kill-time": "killTime",
  "min-restart-delay": "minRestartDelay",
  "max-restart-delay": "maxRestartDelay",
};

/**
 * Runs tend with `args` and resolves with its exit status.
 *
 * @param args the command line, without the program name
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "run":
        return await run(rest);
      case "check":
        return await check(rest);
      case "--help":
      case "-h":
      case "help":
        return help();
      case "--version":
      case "-V":
        write(Deno.stdout, `tend ${VERSION}\n`);
        return EXIT.OK;
      case undefined:
        throw new UsageError("no command given");
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      write(Deno.stderr, `tend: ${error.message}\nRun 'tend --help' for usage.\n`);
      return EXIT.USAGE;
    }
    if (error instanceof ConfigError) {
      write(Deno.stderr, `${error.message}\n`);
      return EXIT.CONFIG;
    }
    throw error;
  }
}

function help(): number {
  write(Deno.stdout, HELP);
  return EXIT.OK;
}

async function check(args: string[]): Promise<number> {
  const { positionals, values } = parse(args, { help: RUN_OPTIONS.help });
  if (values.help) return help();
  if (positionals.length > 1) throw new UsageError("check takes one config file");
  const config = await loadConfig(positionals[0] ?? "procs.yaml");
  const names = Object.keys(config.processes);
  const lines = [
    `${config.file}: valid, ${names.length} process${names.length === 1 ? "" : "es"}`,
    ...TIMING_KEYS.map((key) => `${key}: ${formatDuration(config.timing[key])}`),
    "",
    ...names.map((name) =>
      describeProcess(name, config.processes[name]!, config.timing) + "\n"
    ),
  ];
  write(Deno.stdout, lines.join("\n"));
  return EXIT.OK;
}

async function run(args: string[]): Promise<number> {
  const dashes = args.indexOf("--");
  const flagArgs = dashes === -1 ? args : args.slice(0, dashes);
  const { positionals, values } = parse(flagArgs, RUN_OPTIONS);
  if (values.help) return help();
  const flags = runFlags(values);
  let file: string | null = null;
  let config: Config;
  if (dashes !== -1) {
    if (positionals.length > 0) {
      throw new UsageError("give either a config file or -- CMD, not both");
    }
    const argv = args.slice(dashes + 1);
    if (argv.length === 0 || argv[0] === "") {
      throw new UsageError("no command after --");
    }
    const name = basename(argv[0]!).replace(/[^A-Za-z0-9_.-]/g, "_") || "cmd";
    config = {
      file: "(command line)",
      timing: { ...DEFAULT_TIMING },
      processes: { [name]: { argv } },
    };
  } else {
    if (positionals.length > 1) throw new UsageError("run takes one config file");
    file = positionals[0] ?? "procs.yaml";
    config = await loadConfig(file);
  }
  applyOverrides(config, flags);
  return await supervise(config, file, flags);
}

function parse<
  T extends Record<string, { type: "string" | "boolean"; short?: string }>,
>(
  args: string[],
  options: T,
) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    // parseArgs' messages are clear ("Unknown option '--x'"); drop its advice
    // about "--" since tend gives "--" its own meaning.
    throw new UsageError(
      (error as Error).message.replace(/\. To specify a positional.*$/s, ""),
    );
  }
}

function runFlags(values: Record<string, string | boolean | undefined>): RunFlags {
  const timing: Partial<Timing> = {};
  for (const [flag, key] of Object.entries(FLAG_TIMING)) {
    const value = values[flag];
    if (typeof value !== "string") continue;
    try {
      timing[key] = parseDuration(value);
    } catch (error) {
      throw new UsageError(`--${flag} ${value}: ${(error as Error).message}`);
    }
  }
  const restart = values["restart"];
  if (restart !== undefined && !RESTART_POLICIES.includes(restart as RestartPolicy)) {
    throw new UsageError(`--restart must be one of ${RESTART_POLICIES.join(", ")}`);
  }
  const format = values["log-format"] ?? "text";
  if (format !== "text" && format !== "json") {
    throw new UsageError(`--log-format must be text or json, not "${format}"`);
  }
  const color = values["color"] ?? "auto";
  if (color !== "auto" && color !== "always" && color !== "never") {
    throw new UsageError(`--color must be auto, always or never, not "${color}"`);
  }
  return { timing, restart: restart as RestartPolicy | undefined, format, color };
}

// Flags win over the file, at start and on every reload.
function applyOverrides(config: Config, flags: RunFlags): void {
  config.timing = { ...config.timing, ...flags.timing };
  const scopes: [string, Partial<Timing>][] = [
    ["", {}],
    ...Object.entries(config.processes).map((
      [name, spec],
    ): [string, Partial<Timing>] => [
      ` for process "${name}"`,
      spec,
    ]),
  ];
  // The file was checked on its own; a flag can still cross a process's delays.
  for (const [where, own] of scopes) {
    const min = own.minRestartDelay ?? config.timing.minRestartDelay;
    const max = own.maxRestartDelay ?? config.timing.maxRestartDelay;
    if (min > max) {
      throw new UsageError(
        `minRestartDelay (${formatDuration(min)}) is above maxRestartDelay ` +
          `(${formatDuration(max)})${where}`,
      );
    }
  }
  if (flags.restart) {
    for (const spec of Object.values(config.processes)) spec.restart = flags.restart;
  }
}

async function supervise(
  first: Config,
  file: string | null,
  flags: RunFlags,
): Promise<number> {
  const logger = new Logger({
    out: Deno.stdout,
    format: flags.format,
    color: flags.color === "always" ||
      (flags.color === "auto" && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR")),
  });
  let finish!: (code: number) => void;
  const finished = new Promise<number>((resolve) => finish = resolve);
  let stopping = false;

  const sink = {
    event(event: MonitorEvent) {
      logger.event(event);
      if (event.type === "not-restarting") queueMicrotask(checkAllDone);
    },
    lines: logger.lines.bind(logger),
    backpressure: logger.backpressure.bind(logger),
  };
  const spawner = new DenoSpawner();
  const monitor = new ProcessMonitor({
    spawner,
    sink,
    timing: first.timing,
  });
  for (const [name, spec] of Object.entries(first.processes)) {
    monitor.addProcess(name, spec);
  }

  const stop = async (code: number) => {
    stopping = true;
    await monitor.stopService();
    await spawner.idle(OUTPUT_WAIT_MS);
    logger.log("info", "every process has stopped");
    finish(code);
  };

  // When no process can ever run again (each exited under restart: never or
  // on-failure), there is nothing left to supervise: exit, as a one-shot
  // job under cron expects, with the status of the first process that failed.
  function checkAllDone(): void {
    if (stopping) return;
    const status = monitor.status();
    if (!status.every((s) => s.state === "EXITED" || s.state === "FATAL")) return;
    const failed = status.find((s) => s.state === "FATAL" || s.lastExit?.code !== 0);
    logger.log("info", "every process has finished; exiting");
    void stop(
      failed ? exitCodeOf(failed.state === "FATAL" ? null : failed.lastExit) : EXIT.OK,
    );
  }

  // Under `deno task`, one Ctrl-C reaches tend twice within a millisecond
  // (from the terminal and forwarded by the task runner); a repeat that
  // close is the same keypress, not the second one that means "kill".
  let firstStop: { signal: Deno.Signal; at: number } | null = null;
  const onStop = (signal: Deno.Signal) => () => {
    const now = performance.now();
    if (!stopping) {
      firstStop = { signal, at: now };
      logger.log(
        "info",
        `${signal}: stopping every process (send it again to kill them at once)`,
      );
      void stop(EXIT.OK);
    } else if (firstStop?.signal === signal && now - firstStop.at < SAME_KEYPRESS_MS) {
      return;
    } else {
      logger.log("warn", `${signal} again: sending SIGKILL to every process group`);
      monitor.killAll();
    }
  };

  let reloading: Promise<void> | null = null;
  let reloadAgain = false;
  const onHup = () => {
    if (stopping) return;
    if (file === null) {
      logger.log("warn", "SIGHUP: nothing to reload when running a single command");
      return;
    }
    if (reloading) {
      reloadAgain = true;
      return;
    }
    reloading = (async () => {
      do {
        reloadAgain = false;
        await reload(file, monitor, logger, flags);
      } while (reloadAgain && !stopping);
      // The reload may have removed the last process that could still run.
      checkAllDone();
    })().finally(() => reloading = null);
  };

  // supervisorctl's `status`, as a signal: one record per process.
  const onStatus = () => logger.status(monitor.status(), systemClock.now());

  const handlers: [Deno.Signal, () => void][] = [
    ["SIGTERM", onStop("SIGTERM")],
    ["SIGINT", onStop("SIGINT")],
    ["SIGHUP", onHup],
    ["SIGUSR2", onStatus],
    ["SIGUSR1", () => closeSignalInspector(logger)],
  ];
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);

  // If tend itself fails, its children (each in its own session) would
  // outlive it: kill them before exiting.
  const onFatal = (event: ErrorEvent | PromiseRejectionEvent) => {
    event.preventDefault();
    const error = "reason" in event ? event.reason : event.error;
    logger.log("error", `internal failure: ${error?.stack ?? error}`);
    void monitor.stopService(); // no restarts from here on
    monitor.killAll();
    finish(EXIT.INTERNAL);
  };
  globalThis.addEventListener("error", onFatal);
  globalThis.addEventListener("unhandledrejection", onFatal);

  const count = Object.keys(first.processes).length;
  logger.log(
    "info",
    `tend ${VERSION}: starting ${count} process${
      count === 1 ? "" : "es"
    } from ${first.file} (pid ${Deno.pid})`,
  );
  monitor.startService();

  const code = await finished;
  for (const [signal, handler] of handlers) Deno.removeSignalListener(signal, handler);
  await spawner.idle(OUTPUT_WAIT_MS);
  await logger.flush();
  return code;
}

async function reload(
  file: string,
  monitor: ProcessMonitor,
  logger: Logger,
  flags: RunFlags,
): Promise<void> {
  logger.log("info", `SIGHUP: reloading ${file}`);
  let next: Config;
  try {
    next = await loadConfig(file);
    applyOverrides(next, flags);
  } catch (error) {
    if (!(error instanceof ConfigError || error instanceof UsageError)) throw error;
    const problems = error instanceof ConfigError
      ? error.problems.map(formatProblem)
      : [`${file}: ${error.message}`];
    logger.log(
      "error",
      `reload failed, keeping the running config: ${problems.length} problem${
        problems.length === 1 ? "" : "s"
      }`,
    );
    for (const problem of problems) logger.log("error", problem);
    return;
  }
  for (const key of TIMING_KEYS) monitor[key] = next.timing[key];
  // Maps, not `in` and indexing: names such as "toString" or "__proto__"
  // are valid and must not meet Object.prototype.
  const current = new Map(Object.entries(monitor.processes));
  const wanted = new Map(Object.entries(next.processes));
  const counts = { added: 0, removed: 0, changed: 0, unchanged: 0 };
  for (const name of current.keys()) {
    if (!wanted.has(name)) {
      monitor.removeProcess(name);
      counts.removed++;
    }
  }
  for (const [name, spec] of wanted) {
    const old = current.get(name);
    if (old === undefined) {
      monitor.addProcess(name, spec);
      counts.added++;
    } else if (!sameSpec(old, spec)) {
      monitor.updateProcess(name, spec);
      counts.changed++;
    } else {
      counts.unchanged++;
    }
  }
  logger.log(
    "info",
    `reloaded ${file}: ${counts.added} added, ${counts.removed} removed, ` +
      `${counts.changed} changed, ${counts.unchanged} unchanged`,
  );
}

/**
 * Deno (since 2.9.2, like Node) answers SIGUSR1 by opening a V8 inspector
 * on 127.0.0.1:9229, through which any local user could run code as tend,
 * often root. Deno has no switch to turn that off, so tend closes it as soon
 * as it is up (by the next turn of the event loop). An inspector that was
 * already open (`--inspect`, asked for on purpose) is left alone.
 */
function closeSignalInspector(logger: Logger): void {
  try {
    if (inspector.url() !== undefined) return;
  } catch {
    // Without --allow-sys tend cannot look, let alone close it.
    logger.log(
      "warn",
      "SIGUSR1: Deno may have opened a debugger port on 127.0.0.1:9229, which tend " +
        "cannot close without --allow-sys; send SIGUSR2 for a status report",
    );
    return;
  }
  let tries = 0;
  const check = () => {
    if (inspector.url() !== undefined) {
      inspector.close();
      logger.log(
        "warn",
        "SIGUSR1: Deno opened a debugger port for it, and tend closed it; " +
          "send SIGUSR2 for a status report",
      );
    } else if (++tries < INSPECTOR_CHECKS) {
      setTimeout(check, 5);
    }
  };
  setTimeout(check, 0);
}

// How many times, 5 ms apart, tend looks for the inspector SIGUSR1 opened.
const INSPECTOR_CHECKS = 40;

// tini's rule: a child killed by signal N exits 128+N; one that could not
// be started at all gives 127, as a shell does for a missing command.
function exitCodeOf(status: ExitStatus | null): number {
  if (status === null) return 127;
  if (status.signal === null) return status.code;
  const signals = osConstants.signals as Record<string, number>;
  return 128 + (signals[status.signal] ?? 0);
}

function write(out: { writeSync(p: Uint8Array): number }, text: string): void {
  const bytes = new TextEncoder().encode(text);
  let off = 0;
  while (off < bytes.length) off += out.writeSync(bytes.subarray(off));
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
