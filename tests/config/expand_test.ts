/**
 * `${VAR}` expansion alone: the forms docker compose takes, `$$`, a `$`
 * left as written, and every malformed `${` with the index of its `$`.
 */

import assert from "node:assert/strict";
import { expand, type Lookup } from "../../lib/config/expand.ts";

const ENV: Record<string, string> = { PORT: "8000", EMPTY: "", HOST: "db", N: "3" };
const lookup: Lookup = (name) => Object.hasOwn(ENV, name) ? ENV[name] : undefined;

function value(text: string): string | undefined {
  return expand(text, lookup).value;
}

function problems(text: string): [number, string][] {
  return expand(text, lookup).problems.map((p) => [p.index, p.message]);
}

Deno.test("expand() replaces ${VAR} and keeps the rest as written", () => {
  assert.equal(value("--port=${PORT}"), "--port=8000");
  assert.equal(value("${HOST}:${PORT}"), "db:8000");
  assert.equal(value("no variables"), "no variables");
  assert.equal(value(""), "");
  assert.equal(value("${EMPTY}"), "");
});

Deno.test("expand() takes defaults as compose does: :- when unset or empty, - when unset", () => {
  assert.equal(value("${NOPE:-9000}"), "9000");
  assert.equal(value("${EMPTY:-fallback}"), "fallback");
  assert.equal(value("${EMPTY-fallback}"), "");
  assert.equal(value("${NOPE-fallback}"), "fallback");
  assert.equal(value("${PORT:-9000}"), "8000");
  assert.equal(value("${NOPE:-}"), "");
  // A default may hold expressions of its own, and "}" ends at its match.
  assert.equal(value("${NOPE:-${HOST}:${PORT}}"), "db:8000");
  assert.equal(value("${NOPE:-${ALSO:-x}}y"), "xy");
  assert.equal(value("${NOPE:-a$$b}"), "a$b");
});

Deno.test("expand() reads $$ as one $ and leaves a $ not followed by { alone", () => {
  assert.equal(value("costs $$5"), "costs $5");
  assert.equal(value("$${PORT}"), "${PORT}");
  assert.equal(value("$$$$"), "$$");
  // Left to the shell of sh -c, or literal.
  assert.equal(value("echo $HOME $1 $"), "echo $HOME $1 $");
  assert.equal(value("^a.*$"), "^a.*$");
});

Deno.test("an unset variable without a default is a problem naming it, at its $", () => {
  assert.deepEqual(problems("a ${NOPE} b ${ALSO}"), [
    [2, 'variable "NOPE" is not set (write ${NOPE:-value} to give a default)'],
    [12, 'variable "ALSO" is not set (write ${ALSO:-value} to give a default)'],
  ]);
  assert.equal(value("${NOPE}"), undefined);
  // A default that is not used is not expanded.
  assert.equal(value("${PORT:-${NOPE}}"), "8000");
  assert.deepEqual(problems("${NOPE:-${ALSO}}"), [
    [8, 'variable "ALSO" is not set (write ${ALSO:-value} to give a default)'],
  ]);
});

Deno.test("${VAR:?message} and ${VAR?message} are problems with the file's own words", () => {
  assert.deepEqual(problems("${NOPE:?set it in .env}"), [
    [0, 'variable "NOPE" is not set: set it in .env'],
  ]);
  assert.deepEqual(problems("${EMPTY:?needed}"), [[
    0,
    'variable "EMPTY" is empty: needed',
  ]]);
  assert.equal(value("${EMPTY?needed}"), "");
  assert.deepEqual(problems("x${NOPE?}"), [[1, 'variable "NOPE" is not set']]);
});

Deno.test("a malformed ${ is a problem at its $", () => {
  assert.deepEqual(problems("port ${PORT"), [
    [5, 'unclosed "${" (write $$ for a literal $)'],
  ]);
  assert.deepEqual(problems("${}"), [[0, '"${}" names no variable']]);
  assert.deepEqual(problems("a${1X}"), [
    [
      1,
      '"${1X}": a variable name has letters, digits and "_", and does not start ' +
      "with a digit (write $$ for a literal $)",
    ],
  ]);
  assert.deepEqual(problems("${A B}")[0]?.[0], 0);
  assert.deepEqual(problems("${PORT:x}"), [[
    0,
    '"${PORT:x}": expected "}" after PORT',
  ]]);
  assert.deepEqual(problems("${NOPE:-${X}"), [
    [0, 'unclosed "${" (write $$ for a literal $)'],
  ]);
});
