/**
 * Command-line parsing shared by the commands: the usage error, option
 * parsing, and `run`'s flags.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { parseDuration } from "../core/duration.ts";
import { RESTART_POLICIES, type RestartPolicy, type Timing } from "../core/spec.ts";
import { type ListenAddress, parseListen } from "../config/http.ts";
import type { LoadOptions } from "../config/load.ts";
import { nonBlockingOpener } from "../os/files.ts";
import type { Overrides } from "../config/overrides.ts";
import type { LogFormat } from "../output/log.ts";

/** A command line tend cannot make sense of (exit 64). */
export class UsageError extends Error {
  /** @param message what is wrong, without "tend:" */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** The options `parseArgs` takes. */
export type Options = Record<string, { type: "string" | "boolean"; short?: string }>;

/** `--help`, which every command takes. */
export const HELP_OPTION = { help: { type: "boolean", short: "h" } } as const;

/**
 * Parses `args` strictly: an unknown option or a missing value is a
 * {@linkcode UsageError}.
 */
export function parse<T extends Options>(
  args: string[],
  options: T,
): ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
> {
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

/**
 * `-c FILE`, as the client commands take it, so that `tend run -c F` and
 * `tend status -c F` read alike (the positional CONFIG works too).
 */
export const CONFIG_OPTION = { "config": { type: "string", short: "c" } } as const;

/** `tend run`'s options, for {@linkcode parse}. */
export const RUN_OPTIONS = {
  "threshold": { type: "string" },
  "kill-time": { type: "string" },
  "min-restart-delay": { type: "string" },
  "max-restart-delay": { type: "string" },
  "restart": { type: "string" },
  "log-format": { type: "string" },
  "color": { type: "string" },
  "subreaper": { type: "boolean" },
  "socket": { type: "string" },
  "http": { type: "string" },
  ...CONFIG_OPTION,
  ...HELP_OPTION,
} as const;

/** What `tend run`'s flags ask for. */
export interface RunFlags extends Overrides {
  /** The record format. */
  format: LogFormat;
  /** When to colour text records. */
  color: "auto" | "always" | "never";
  /** `--subreaper`: reap orphans as a child subreaper (see `system.ts`). */
  subreaper: boolean;
  /** The control socket (`--socket PATH`). */
  socket?: string;
  /** The HTTP listener's address (`--http ADDR`). */
  http?: ListenAddress;
}

const FLAG_TIMING: Readonly<Record<string, keyof Timing>> = {
  "threshold": "threshold",
  "kill-time": "killTime",
  "min-restart-delay": "minRestartDelay",
  "max-restart-delay": "maxRestartDelay",
};

/**
 * Reads `tend run`'s flags from parsed options.
 *
 * @throws {UsageError} for a malformed duration or an unknown choice
 */
export function runFlags(
  values: Record<string, string | boolean | undefined>,
): RunFlags {
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
  const socket = values["socket"];
  const httpText = values["http"];
  let http: ListenAddress | undefined;
  if (typeof httpText === "string") {
    const parsed = parseListen(httpText);
    if (typeof parsed === "string") throw new UsageError(`--http ${parsed}`);
    http = parsed;
  }
  return {
    timing,
    restart: restart as RestartPolicy | undefined,
    format,
    color,
    subreaper: values["subreaper"] === true,
    ...(typeof socket === "string" ? { socket } : {}),
    ...(http !== undefined ? { http } : {}),
  };
}

/** The config file `run` and `check` read when none is named. */
export const DEFAULT_CONFIG = "procs.yaml";

/**
 * The file a command reads, and how to load it: the one named, or
 * {@linkcode DEFAULT_CONFIG}, with a hint for when it is not there (a first
 * run in the wrong folder, or before copying the example).
 */
export function configFile(
  named: string | undefined,
  flag?: string,
): { file: string; options: LoadOptions } {
  if (named !== undefined && flag !== undefined) {
    throw new UsageError("give the config file once: as CONFIG or as -c FILE");
  }
  named ??= flag;
  // Files are opened through libc where it can be had, not node:fs (see
  // os/files.ts).
  const open = nonBlockingOpener() ?? undefined;
  if (named !== undefined) return { file: named, options: { open } };
  const missing = `no ${DEFAULT_CONFIG} here: name a file, or copy procs.example.yaml`;
  return { file: DEFAULT_CONFIG, options: { missing, open } };
}
