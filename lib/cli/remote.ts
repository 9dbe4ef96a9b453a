/**
 * What the client commands (`status`, `start`, `stop`, `restart`,
 * `signal`, `logs`, `reload`, `shutdown`) share: their common options,
 * finding the socket the way `tend run` does, connecting, checking names,
 * and turning failures into messages and exit statuses.
 *
 * @module
 */

import { isAbsolute, normalize, resolve } from "../core/path.ts";
import { readSocketKey } from "../config/load.ts";
import { nonBlockingOpener } from "../os/files.ts";
import { ApiFailure, ControlClient, NoTendError } from "../control/client.ts";
import type { ProcessStatusJson, StatusJson } from "../control/api.ts";
import {
  checkClientSocket,
  chooseSocket,
  type SocketChoice,
  SocketError,
} from "../control/server.ts";
import { HELP_OPTION, type Options, parse, UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import { escapeText } from "../output/escape.ts";

/** The options every client command takes. */
export const CLIENT_OPTIONS = {
  config: { type: "string", short: "c" },
  socket: { type: "string" },
  json: { type: "boolean" },
  ...HELP_OPTION,
} as const;

/** The help lines for {@linkcode CLIENT_OPTIONS}. */
export const CLIENT_OPTIONS_HELP = `Finding tend (as tend run does):
  -c, --config FILE   the config tend runs (default ./procs.yaml)
  --socket PATH       the control socket (else TEND_SOCKET, else the config's
                      socket: key, else derived from FILE's absolute path)
  -- CMD [ARG...]     for a tend started as tend run -- CMD (same directory)
Output:
  --json              print the API's JSON instead of text
  -h, --help          this help`;

/** A client command line, parsed. */
export interface ClientArgs<T extends Options> {
  /** The positional arguments before `--`. */
  positionals: string[];
  /** The options. */
  values: ReturnType<typeof parse<T>>["values"];
  /** The command after `--`, for a `tend run -- CMD` instance; else null. */
  command: string[] | null;
}

/** Parses a client command line: options, names, and a `-- CMD` part. */
export function parseClient<T extends Options>(
  args: string[],
  options: T,
): ClientArgs<T> {
  const dashes = args.indexOf("--");
  const own = dashes === -1 ? args : args.slice(0, dashes);
  const { positionals, values } = parse(own, options);
  const command = dashes === -1 ? null : args.slice(dashes + 1);
  if (command !== null && command.length === 0) {
    throw new UsageError("no command after --");
  }
  return { positionals, values, command };
}

/** An environment variable, or undefined when unset or not allowed. */
export function envVar(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** tend's user id (0 where the OS has none, as on Windows). */
export function userId(): number {
  return Deno.uid() ?? 0;
}

/**
 * The working directory as the shell shows it (`pwd -L`): `$PWD` when it is
 * absolute and the same directory as Deno's (physical) one, else Deno's.
 * So `cd /srv/app/current` (a symlink to a release) is /srv/app/current.
 */
export function logicalCwd(): string {
  const physical = Deno.cwd();
  const pwd = envVar("PWD");
  if (pwd === undefined || !isAbsolute(pwd) || pwd === physical) return physical;
  try {
    const [a, b] = [Deno.statSync(pwd), Deno.statSync(physical)];
    if (a.dev === b.dev && a.ino === b.ino && a.ino !== null) return normalize(pwd);
  } catch {
    // Gone or unreadable: the physical directory it is.
  }
  return physical;
}

/**
 * A config file's path as the socket is derived from it: absolute, from
 * the logical working directory, symlinks kept. A deploy that points
 * `/srv/app/current` at a new release keeps the same socket (and the same
 * instance lock), where resolving symlinks would give every release its own.
 */
export function socketKeyFile(file: string): string {
  return resolve(logicalCwd(), file);
}

/**
 * The socket a client uses: `--socket`, `TEND_SOCKET`, the config's
 * `socket:` key (read leniently, so a file being edited still works), or
 * the path derived from the config file (or the `-- CMD` command).
 *
 * @throws {SocketError} when the path is too long
 */
export async function clientSocket(
  values: { config?: string | undefined; socket?: string | undefined },
  command: string[] | null,
): Promise<SocketChoice> {
  const common = {
    flag: values.socket,
    env: envVar("TEND_SOCKET"),
    runtimeDir: envVar("XDG_RUNTIME_DIR"),
    uid: userId(),
    cwd: logicalCwd(),
  };
  if (command !== null) {
    return chooseSocket({ ...common, derive: { cwd: logicalCwd(), argv: command } });
  }
  // As the loader does, a relative socket: is taken from the folder of the
  // path as given; the derived socket hashes the logical absolute path.
  const given = resolve(Deno.cwd(), values.config ?? "procs.yaml");
  const file = socketKeyFile(values.config ?? "procs.yaml");
  // Opened through libc where it can be had, as the loader opens it.
  const socket = await readSocketKey(given, nonBlockingOpener() ?? undefined);
  return chooseSocket({
    ...common,
    config: socket === null ? undefined : { socket, file },
    derive: { file },
  });
}

/**
 * Finds the socket, connects, runs `body`, and turns failures into
 * messages on stderr and exit statuses: 69 when no tend answers, 1 for an
 * API error (an unknown name, say).
 */
export async function withClient(
  values: { config?: string | undefined; socket?: string | undefined },
  command: string[] | null,
  body: (client: ControlClient) => Promise<number>,
): Promise<number> {
  let socket: SocketChoice;
  try {
    socket = await clientSocket(values, command);
    await checkClientSocket(socket, userId());
  } catch (error) {
    if (error instanceof SocketError) return fail(error.message, EXIT.UNAVAILABLE);
    throw error;
  }
  using client = new ControlClient(socket);
  try {
    return await body(client);
  } catch (error) {
    if (error instanceof NoTendError) return fail(error.message, EXIT.UNAVAILABLE);
    if (error instanceof ApiFailure) return fail(error.message, EXIT.FAILED);
    throw error;
  }
}

/** Prints `tend: message` on stderr and returns `code`. */
export function fail(message: string, code: number): number {
  write(Deno.stderr, `tend: ${safeLines(message)}\n`);
  return code;
}

/** Prints `text` and a newline on stdout. */
export function say(text: string): void {
  write(Deno.stdout, safeLines(text) + "\n");
}

// What a tend server sent (names, reasons, a child's words) reaches the
// terminal escaped, line by line: a server, or a child through it, must
// not be able to move the cursor, retitle the window or fake a line.
function safeLines(text: string): string {
  return text.split("\n").map(escapeText).join("\n");
}

/** Prints a value as indented JSON on stdout. */
export function printJson(value: unknown): void {
  say(JSON.stringify(value, null, 2));
}

/**
 * The status of every process, and the names asked for with `all`
 * expanded; `null` (after saying which) when a name is unknown, so that
 * nothing is done for any.
 */
export async function resolveNames(
  client: ControlClient,
  names: readonly string[],
): Promise<
  { status: StatusJson; names: string[]; byName: Map<string, ProcessStatusJson> } | null
> {
  const { body: status } = await client.get<StatusJson>("/v1/status");
  const byName = new Map(status.processes.map((p) => [p.name, p]));
  const wanted = names.includes("all") ? [...byName.keys()] : [...new Set(names)];
  const unknown = wanted.filter((name) => !byName.has(name));
  if (unknown.length > 0) {
    const list = [...byName.keys()].join(", ") || "none";
    fail(
      `no process named ${
        unknown.map((n) => `"${n}"`).join(", ")
      } (processes: ${list}); ` +
        `nothing was done`,
      EXIT.FAILED,
    );
    return null;
  }
  return { status, names: wanted, byName };
}

/** Shows `--help` text and returns 0 when asked for; else null. */
export function helpAsked(
  values: { help?: boolean | undefined },
  help: string,
): number | null {
  if (!values.help) return null;
  write(Deno.stdout, help);
  return EXIT.OK;
}

/** Checks that a command that acts on processes was given at least one name. */
export function needNames(names: readonly string[], command: string): void {
  if (names.length === 0) {
    throw new UsageError(`${command} needs at least one process name (or "all")`);
  }
}
