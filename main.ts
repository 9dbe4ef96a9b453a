/**
 * tend's command line: read the arguments, hand them to the command, print
 * what went wrong, and exit with the command's status.
 *
 * This is the only module that reads `Deno.args` or calls `Deno.exit`;
 * the commands live in `lib/cli/`, and everything else under `lib/` returns
 * values and throws typed errors.
 *
 * @module
 */

import { UsageError } from "./lib/cli/args.ts";
import { check } from "./lib/cli/check.ts";
import { clientCommand, COMMAND_HELP } from "./lib/cli/commands.ts";
import { write, WriteError } from "./lib/cli/console.ts";
import { EXIT } from "./lib/cli/exit_codes.ts";
import { HELP, VERSION } from "./lib/cli/help.ts";
import { run } from "./lib/cli/run.ts";
import { guardSignals } from "./lib/cli/signals.ts";
import { schema } from "./lib/cli/schema.ts";
import { ConfigError } from "./lib/config/load.ts";

export { EXIT } from "./lib/cli/exit_codes.ts";
export { VERSION } from "./lib/cli/help.ts";

/**
 * Runs tend with `args` and resolves with its exit status.
 *
 * @param args the command line, without the program name
 */
export async function main(args: string[]): Promise<number> {
  // First of all, for every command (a client waiting in `tend logs -f` or
  // `tend shutdown` is as long-lived as `tend run`): SIGUSR1 would make
  // Deno open a debugger port any local user could use to run code as us.
  guardSignals();
  const [command, ...rest] = args;
  try {
    const client = clientCommand(command);
    if (client !== undefined) return await client(rest);
    switch (command) {
      case "run":
        return await run(rest);
      case "check":
        return await check(rest);
      case "schema":
        return await schema(rest);
      case "help": {
        // `tend help COMMAND` is `tend COMMAND --help`.
        const [topic, ...more] = rest;
        if (more.length > 0) throw new UsageError("help takes one command");
        if (topic !== undefined && !Object.hasOwn(COMMAND_HELP, topic)) {
          throw new UsageError(`no command "${topic}" to show the help of`);
        }
        write(Deno.stdout, topic === undefined ? HELP : COMMAND_HELP[topic]!);
        return EXIT.OK;
      }
      case "--help":
      case "-h":
        write(Deno.stdout, HELP);
        return EXIT.OK;
      case "--version":
      case "-V":
      case "-v":
        write(Deno.stdout, `tend ${VERSION}\n`);
        return EXIT.OK;
      case undefined:
        throw new UsageError("no command given");
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (error) {
    if (error instanceof WriteError) {
      // What tend printed could not be written. A reader that left chose
      // to (`tend check | head`): nothing to say. Otherwise one line, not
      // a stack trace.
      if (error.readerGone) return EXIT.BROKEN_PIPE;
      complain(`tend: cannot write to stdout: ${error.message}\n`);
      return EXIT.IOERR;
    }
    if (error instanceof UsageError) {
      complain(`tend: ${error.message}\nRun 'tend --help' for usage.\n`);
      return EXIT.USAGE;
    }
    if (error instanceof ConfigError) {
      complain(`${error.message}\n`);
      return EXIT.CONFIG;
    }
    throw error;
  }
}

// Writes to stderr; when stderr cannot be written either, there is nobody
// left to tell, and the exit status says what happened.
function complain(text: string): void {
  try {
    write(Deno.stderr, text);
  } catch (error) {
    if (!(error instanceof WriteError)) throw error;
  }
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
