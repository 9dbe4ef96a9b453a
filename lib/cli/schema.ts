/**
 * `tend schema`: print the config file's JSON Schema.
 *
 * @module
 */

import { schemaText } from "../config/schema.ts";
import { HELP_OPTION, parse, UsageError } from "./args.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";

/** The text of `tend schema --help`. */
export const SCHEMA_HELP = `Usage: tend schema

Prints the config file's JSON Schema (draft 2020-12), generated from the
key table tend's loader reads. Editors with the YAML language server
validate and complete a file that starts with:

  # yaml-language-server: $schema=./tend.schema.json

tend checks more than a schema can say: tend check is the last word.

  -h, --help   this help
`;

/**
 * Runs `tend schema` and resolves with its exit status.
 *
 * @throws {UsageError} for arguments (it takes none)
 */
export function schema(args: string[]): Promise<number> {
  const { positionals, values } = parse(args, HELP_OPTION);
  if (values.help) {
    write(Deno.stdout, SCHEMA_HELP);
    return Promise.resolve(EXIT.OK);
  }
  if (positionals.length > 0) throw new UsageError("schema takes no arguments");
  write(Deno.stdout, schemaText());
  return Promise.resolve(EXIT.OK);
}
