/**
 * The JSON Schema cannot drift from the loader: it is generated from the
 * key table, holds every key of it, the committed `tend.schema.json` is a
 * fresh generation, and the files tend accepts validate against it (the
 * config tests check each file they parse; here the example and the
 * README's files).
 */

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { parseConfig } from "../../lib/config/load.ts";
import { PROCESS_ROWS, TOP_ROWS } from "../../lib/config/keys.ts";
import { configSchema, schemaText } from "../../lib/config/schema.ts";
import { parseDuration } from "../../lib/core/duration.ts";
import { normalizeSignal, SIGNALS } from "../../lib/core/signals.ts";
import { assertValidatesSchema, schemaProblems } from "../_fakes/schema.ts";

const ROOT = new URL("../../", import.meta.url);

async function readRoot(name: string): Promise<string> {
  return await Deno.readTextFile(new URL(name, ROOT));
}

Deno.test("the schema has every key of the key table, and only those", () => {
  const schema = configSchema();
  assert.deepEqual(
    Object.keys(schema.properties as object),
    TOP_ROWS.map((row) => row.key),
  );
  assert.deepEqual(
    Object.keys(schema.$defs.process.properties),
    PROCESS_ROWS.map((row) => row.key),
  );
  for (const row of [...TOP_ROWS, ...PROCESS_ROWS]) {
    const where = TOP_ROWS.includes(row)
      ? (schema.properties as Record<string, { description?: string }>)
      : (schema.$defs.process.properties as Record<string, { description?: string }>);
    assert.equal(where[row.key]?.description, row.doc, row.key);
  }
});

Deno.test("tend.schema.json is the schema generated now (deno task schema writes it)", async () => {
  assert.equal(
    await readRoot("tend.schema.json"),
    schemaText(),
    "tend.schema.json is stale: run `deno task schema`",
  );
});

Deno.test("procs.example.yaml points editors at the schema, and validates against it", async () => {
  const text = await readRoot("procs.example.yaml");
  assert.equal(
    text.split("\n")[0],
    "# yaml-language-server: $schema=./tend.schema.json",
  );
  const file = fileURLToPath(new URL("procs.example.yaml", ROOT));
  parseConfig(text, file, "/", { env: { USER: "someone" } });
  assertValidatesSchema(text);
});

Deno.test("every config file in the README that tend accepts validates against the schema", async () => {
  const readme = await readRoot("README.md");
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const configs = blocks.filter((text) => /^processes:/m.test(text));
  assert.ok(configs.length >= 2, `found ${configs.length} config files in the README`);
  for (const text of configs) {
    // The README's env files are not there; the rest must hold.
    try {
      parseConfig(text, "procs.yaml", "/srv/app", {
        env: { HOME: "/home/me", PORT: "8000" },
        envFiles: new Map(
          [".env", "web.env", "conf/web.env"].map((
            name,
          ) => [`/srv/app/${name}`, { text: "A=1\n" }]),
        ),
      });
    } catch (error) {
      assert.fail(`a README config is invalid: ${error}\n---\n${text}`);
    }
    assertValidatesSchema(text);
  }
});

Deno.test("the schema refuses what tend refuses that a schema can say", () => {
  const bad = [
    "processes: {}",
    "procs: {web: {cmd: [x]}}",
    "processes: {web: {cmd: [x], shell: y}}",
    "processes: {web: {cwd: /}}",
    "processes: {web: {cmd: []}}",
    "processes: {web: {cmd: x}}",
    "processes: {web: {cmd: [x], restart: sometimes}}",
    "processes: {web: {cmd: [x], killTime: -1}}",
    "processes: {web: {cmd: [x], killTime: 5 s}}",
    "processes: {web: {cmd: [x], stopSignal: SIGFOO}}",
    "processes: {web: {cmd: [x], replicas: 0}}",
    "processes: {web: {cmd: [x], envFile: []}}",
    "processes: {web: {cmd: [x], uid: -1}}",
    "processes: {web: {cmd: [x], restrat: always}}",
    'processes: {"bad name": {cmd: [x]}}',
  ];
  for (const text of bad) {
    assert.notDeepEqual(schemaProblems(text), [], text);
  }
  assert.deepEqual(
    schemaProblems(
      "x-base: &b {restart: never}\nprocesses: {web: {<<: *b, cmd: [x], stopSignal: term}}",
    ),
    [],
  );
});

Deno.test("the schema's duration and signal patterns take what the readers take", () => {
  const schema = configSchema();
  const props = schema.$defs.process.properties;
  const duration = new RegExp(
    ((props.killTime as { anyOf: { pattern?: string }[] }).anyOf[1]!.pattern)!,
  );
  for (const text of ["5", "0.5", ".5", "5.", "+2", "500ms", "1.5s", "2m", "1h"]) {
    assert.equal(parseDuration(text) >= 0, true);
    assert.ok(duration.test(text), text);
  }
  for (const text of ["-1", "5 s", "1d", "ms", "", "1e3", "5S"]) {
    assert.throws(() => parseDuration(text), Error, text);
    assert.ok(!duration.test(text), text);
  }
  const signal = new RegExp((props.stopSignal as { pattern: string }).pattern);
  for (const name of SIGNALS) {
    for (
      const text of [
        name,
        name.slice(3),
        name.toLowerCase(),
        name.slice(3).toLowerCase(),
      ]
    ) {
      assert.ok(signal.test(text) && normalizeSignal(text) !== null, text);
    }
  }
  for (const text of ["SIGFOO", "SIG", "TERMS", "9"]) {
    assert.ok(!signal.test(text) && normalizeSignal(text) === null, text);
  }
});
