/**
 * The config file's JSON Schema (draft 2020-12), generated from the key
 * table the loader reads, so the two cannot drift: `tend schema` prints
 * it, `tend.schema.json` at the repository's root is it (a test checks),
 * and editors that know the `yaml-language-server` comment validate and
 * complete a file with it.
 *
 * The schema accepts every file tend accepts; tend checks more than a
 * schema can say (a `minRestartDelay` above `maxRestartDelay`, users in
 * `/etc/passwd`, env files that exist), so the reverse does not hold.
 *
 * @module
 */

import {
  IGNORED_TOP_PREFIX,
  type JsonSchema,
  type KeyRow,
  PROCESS_ROWS,
  TOP_ROWS,
} from "./keys.ts";

// Each row's schema, with its doc as the description editors show.
function properties(rows: readonly KeyRow[]): Record<string, JsonSchema> {
  const out: Record<string, JsonSchema> = {};
  for (const row of rows) out[row.key] = { description: row.doc, ...row.schema };
  return out;
}

/**
 * The JSON Schema of a config file.
 *
 * @example
 * ```ts
 * import { configSchema } from "./schema.ts";
 * const schema = configSchema();
 * schema.$schema; // "https://json-schema.org/draft/2020-12/schema"
 * Object.keys(schema.$defs.process.properties).includes("cmd"); // true
 * ```
 */
export function configSchema(): JsonSchema & {
  $defs: { process: JsonSchema & { properties: Record<string, JsonSchema> } };
} {
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "tend config",
    description: "The processes tend runs, and how (tend check validates more).",
    type: "object",
    properties: properties(TOP_ROWS),
    // A place for anchors, as docker compose allows.
    patternProperties: { [`^${IGNORED_TOP_PREFIX}`]: {} },
    additionalProperties: false,
    required: ["processes"],
    $defs: {
      process: {
        description: "One process: cmd or shell, and how to run it.",
        type: "object",
        properties: properties(PROCESS_ROWS),
        additionalProperties: false,
        oneOf: [{ required: ["cmd"] }, { required: ["shell"] }],
      },
    },
  };
}

/** The schema as `tend schema` prints it and `tend.schema.json` holds it. */
export function schemaText(): string {
  return JSON.stringify(configSchema(), null, 2) + "\n";
}
