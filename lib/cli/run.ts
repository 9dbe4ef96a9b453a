/**
 * `tend run`: run a config (or one command) in the foreground until it is
 * stopped, and decide the exit status.
 *
 * @module
 */

import { basename } from "node:path";
import { DEFAULT_TIMING, toProcessName } from "../core/spec.ts";
import { type Config, ConfigError, formatProblem, loadConfig } from "../config/load.ts";
import { applyOverrides } from "../config/overrides.ts";
import { systemClock } from "../os/clock.ts";
import { DenoSpawner } from "../os/deno_spawner.ts";
import { signalNumber } from "../os/signals.ts";
import { Logger } from "../output/log.ts";
import { type LoadResult, Supervisor } from "../supervisor.ts";
import { parse, RUN_OPTIONS, type RunFlags, runFlags, UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import { HELP, VERSION } from "./help.ts";
import { claimControl, type ControlPlane } from "./serve.ts";
import { handleSignals } from "./signals.ts";

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
  const dashes = args.indexOf("--");
  const flagArgs = dashes === -1 ? args : args.slice(0, dashes);
  const { positionals, values } = parse(flagArgs, RUN_OPTIONS);
  if (values.help) {
    write(Deno.stdout, HELP);
    return EXIT.OK;
  }
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
    config = {
      file: "(command line)",
      timing: { ...DEFAULT_TIMING },
      processes: { [toProcessName(basename(argv[0]!))]: { argv } },
    };
  } else {
    if (positionals.length > 1) throw new UsageError("run takes one config file");
    file = positionals[0] ?? "procs.yaml";
    config = await loadConfig(file);
  }
  const problem = applyOverrides(config, flags);
  if (problem !== null) throw new UsageError(problem);
  // The instance lock comes before anything starts: a second tend of the
  // same instance exits here (75), having started nothing.
  const argv = dashes === -1 ? null : args.slice(dashes + 1);
  const control = await claimControl({ socket: flags.socket, config, file, argv });
  if (typeof control === "number") return control;
  try {
    return await supervise(
      config,
      file === null ? null : reloader(file, flags),
      flags,
      control,
    );
  } finally {
    control.release();
  }
}

// Reads the file again, with the flags applied, for a reload.
function reloader(file: string, flags: RunFlags): () => Promise<LoadResult> {
  return async () => {
    let config: Config;
    try {
      config = await loadConfig(file);
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
  });
  const spawner = new DenoSpawner();
  const supervisor = new Supervisor({
    config,
    load,
    spawner,
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
  control.attach(supervisor, log);
  supervisor.start();

  const code = await supervisor.exit;
  stopListening();
  await control.close();
  await spawner.idle(OUTPUT_WAIT_MS);
  await log.flush();
  return code;
}
