/**
 * Env files alone: the dotenv syntax compose and systemd share, and every
 * bad line with its line and column.
 */

import assert from "node:assert/strict";
import { parseDotenv } from "../../lib/config/dotenv.ts";

function lines(...text: string[]): string {
  return text.join("\n") + "\n";
}

Deno.test("parseDotenv() reads NAME=value lines, comments, export and empty values", () => {
  const { values, problems } = parseDotenv(lines(
    "# a comment",
    "",
    "   # an indented comment",
    "A=1",
    "export B=two words  ",
    "  C = spaced  ",
    "EMPTY=",
    "HASH=a#b",
    "COMMENTED=value # a comment",
    "URL=postgres://u:p@h/db?x=1",
    "DOTTED.NAME=ok",
    "export=a variable called export",
  ));
  assert.deepEqual(problems, []);
  assert.deepEqual(values, {
    A: "1",
    B: "two words",
    C: "spaced",
    EMPTY: "",
    HASH: "a#b",
    COMMENTED: "value",
    URL: "postgres://u:p@h/db?x=1",
    "DOTTED.NAME": "ok",
    export: "a variable called export",
  });
});

Deno.test("parseDotenv() takes single quotes as written and double quotes with escapes", () => {
  const { values, problems } = parseDotenv(lines(
    "S='it is # not a comment, \\n stays'",
    'D="tab\\there\\nnewline \\"quoted\\" back\\\\slash \\$ kept"',
    'M="first',
    'second"',
    "Q='a' # a comment after the quote",
    'E=""',
    "DOLLAR=$HOME ${X}",
  ));
  assert.deepEqual(problems, []);
  assert.deepEqual(values, {
    S: "it is # not a comment, \\n stays",
    D: 'tab\there\nnewline "quoted" back\\slash \\$ kept',
    M: "first\nsecond",
    Q: "a",
    E: "",
    // Values are not expanded, as docker run --env-file takes them.
    DOLLAR: "$HOME ${X}",
  });
});

Deno.test("parseDotenv() reads CRLF files, and a later line for a name wins", () => {
  const { values, problems } = parseDotenv('A=1\r\nB="two"\r\nA=3\r\n');
  assert.deepEqual(problems, []);
  assert.deepEqual(values, { A: "3", B: "two" });
});

Deno.test("every bad line is a problem at its line and column, and the good ones still count", () => {
  const { values, problems } = parseDotenv(lines(
    "GOOD=1",
    "oops",
    "  1BAD=x",
    "SPACE IN=x",
    "Q='closed' trailing",
    "NUL=a\0b",
    'LAST="never closed',
    "MORE=lost inside the quote",
  ));
  assert.deepEqual(values, { GOOD: "1" });
  assert.deepEqual(problems, [
    { line: 2, col: 1, message: 'expected NAME=value, not "oops" alone' },
    {
      line: 3,
      col: 3,
      message:
        '"1BAD" is not a variable name (letters, digits, "_", "." and "-", not starting with a digit)',
    },
    { line: 4, col: 1, message: 'expected NAME=value, not "SPACE" alone' },
    { line: 5, col: 12, message: "unexpected text after the closing quote" },
    { line: 6, col: 1, message: "NUL: a value cannot hold a NUL byte" },
    { line: 7, col: 6, message: "unclosed double quote" },
  ]);
});
