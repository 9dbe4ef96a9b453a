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
import { clientCommand } from "./lib/cli/commands.ts";
import { write } from "./lib/cli/console.ts";
import { EXIT } from "./lib/cli/exit_codes.ts";
import { HELP, VERSION } from "./lib/cli/help.ts";
import { run } from "./lib/cli/run.ts";
import { ConfigError } from "./lib/config/load.ts";

export { EXIT } from "./lib/cli/exit_codes.ts";
export { VERSION } from "./lib/cli/help.ts";

/**
 * Runs tend with `args` and resolves with its exit status.
 *
 * @param args the command line, without the program name
 */
export async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    const client = clientCommand(command);
    if (client !== undefined) return await client(rest);
    switch (command) {
      case "run":
        return await run(rest);
      case "check":
        return await check(rest);
      case "--help":
      case "-h":
      case "help":
        write(Deno.stdout, HELP);
        return EXIT.OK;
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

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
