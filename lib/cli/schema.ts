/**
 * `tend schema`: print the config file's JSON Schema.
 *
 * @module
 */

import { schemaText } from "../config/schema.ts";
import { HELP_OPTION, parse, UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import { HELP } from "./help.ts";

/**
 * Runs `tend schema` and resolves with its exit status.
 *
 * @throws {UsageError} for arguments (it takes none)
 */
export function schema(args: string[]): Promise<number> {
  const { positionals, values } = parse(args, HELP_OPTION);
  if (values.help) {
    write(Deno.stdout, HELP);
    return Promise.resolve(EXIT.OK);
  }
  if (positionals.length > 0) throw new UsageError("schema takes no arguments");
  write(Deno.stdout, schemaText());
  return Promise.resolve(EXIT.OK);
}
