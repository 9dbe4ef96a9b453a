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
import { NotifySockets } from "../os/notify.ts";
import { DenoProber } from "../os/probes.ts";
import type { SpawnerBase } from "../os/spawner_base.ts";
import { signalNumber } from "../os/signals.ts";
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
import { HELP, VERSION } from "./help.ts";
import { guardSignals, handleSignals } from "./signals.ts";
import { startSystem } from "./system.ts";

// How long tend, on its way out, waits for its children's last output to be
// read (a slow log holds it back, or members of a group hold the pipes).
const OUTPUT_WAIT_MS = 2000;

/**
 * Runs `tend run` and resolves with its exit status.
 *
 * @throws {ConfigError} when the file is invalid (nothing was started)
 * @throws {UsageError} for bad arguments
 */
export async function run(args: string[]): Promise<number> {
  // First of all: until this runs, a SIGUSR1 ends tend (or, later, opens
  // Deno's debugger port). No child has started yet.
  guardSignals();
  const dashes = args.indexOf("--");
  const flagArgs = dashes === -1 ? args : args.slice(0, dashes);
  const { positionals, values } = parse(flagArgs, RUN_OPTIONS);
  if (values.help) {
    write(Deno.stdout, HELP);
    return EXIT.OK;
  }
  const flags = runFlags(values);
  let source: { file: string; options: LoadOptions } | null = null;
  let config: Config;
  if (dashes !== -1) {
    if (positionals.length > 0) {
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
    source = configFile(positionals[0]);
    config = await loadConfig(source.file, source.options);
  }
  const problem = applyOverrides(config, flags);
  if (problem !== null) throw new UsageError(problem);
  return await supervise(
    config,
    source === null ? null : reloader(source, flags),
    flags,
  );
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
): Promise<number> {
  const log = new Logger({
    out: Deno.stdout,
    format: flags.format,
    color: flags.color === "always" ||
      (flags.color === "auto" && Deno.stdout.isTerminal() && !Deno.env.get("NO_COLOR")),
  });
  const spawner = makeSpawner(log);
  const supervisor = new Supervisor({
    config,
    load,
    spawner,
    prober: new DenoProber(),
    notifySockets: () => {
      try {
        return NotifySockets.create("/tmp");
      } catch {
        return null; // no FFI: the supervisor says what that means
      }
    },
    clock: systemClock,
    log,
    signalNumber,
    outputWait: OUTPUT_WAIT_MS,
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
  log.log(
    "info",
    `tend ${VERSION}: starting ${count} process${
      count === 1 ? "" : "es"
    } from ${config.file} (pid ${Deno.pid})`,
  );
  // Reaping (PID 1, --subreaper) and sd_notify; before the first spawn.
  const system = startSystem(supervisor, log, { subreaper: flags.subreaper });
  supervisor.start();

  const code = await supervisor.exit;
  await system.stop();
  stopListening();
  await spawner.idle(OUTPUT_WAIT_MS);
  await log.flush();
  return code;
}
