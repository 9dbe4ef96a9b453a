/**
 * The config's JSON Schema as editors use it, through Ajv (draft
 * 2020-12): tests check that every file tend accepts validates.
 *
 * @module
 */

import { Ajv2020 } from "ajv/dist/2020.js";
import { parse } from "yaml";
import { configSchema } from "../../lib/config/schema.ts";

// strict: an unknown keyword or a mistake in the schema is an error here;
// but `oneOf: [{required: [cmd]}, {required: [shell]}]` names keys the
// process's `properties` define one level up, which is fine.
const ajv = new Ajv2020({
  allErrors: true,
  strict: true,
  strictRequired: false,
  allowUnionTypes: true,
});
const validate = ajv.compile(configSchema());

/**
 * What the schema finds wrong with a config's text (YAML with merge keys,
 * read as an editor reads it), one line each; empty when it validates.
 */
export function schemaProblems(text: string): string[] {
  const data = parse(text, { merge: true });
  if (validate(data)) return [];
  return (validate.errors ?? []).map((e) =>
    `${e.instancePath || "/"} ${e.message ?? ""} ${JSON.stringify(e.params)}`
  );
}

/** Fails unless `text` validates against the schema. */
export function assertValidatesSchema(text: string): void {
  const problems = schemaProblems(text);
  if (problems.length > 0) {
    throw new Error(
      `a config tend accepts fails the JSON Schema:\n${
        problems.join("\n")
      }\n---\n${text}`,
    );
  }
}
