/**
 * `${VAR}` expansion, as docker compose interpolates its files: `${VAR}`,
 * `${VAR:-default}` (unset or empty), `${VAR-default}` (unset),
 * `${VAR:?message}` and `${VAR?message}` (an error when unset), and `$$`
 * for a literal `$`. A `$` followed by anything else is kept as written,
 * so `cmd: [sh, -c, 'echo $HOME']` still leaves `$HOME` to the shell.
 *
 * The expansion itself ({@linkcode expand}) is pure string work; the
 * helpers below apply it to a key's value where the file wrote it, so a
 * problem points at the string (at its `${` when the string is written as
 * it is).
 *
 * @module
 */

import { isMap, isSeq, type Node } from "./yaml_package.ts";
import { setOwn } from "../core/spec.ts";
import type { Checker, Entry, Path } from "./yaml.ts";

/** Looks a variable up; `undefined` when it is not set. */
export type Lookup = (name: string) => string | undefined;

/** What is wrong in a string, and where in it (a UTF-16 index). */
export interface ExpandProblem {
  /** Index in the string of the `$` that starts the bad expression. */
  index: number;
  /** What is wrong, naming the variable. */
  message: string;
}

/** The outcome of {@linkcode expand}: the value, or every problem. */
export type Expanded =
  | { value: string; problems: [] }
  | { value: undefined; problems: ExpandProblem[] };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands `${...}` and `$$` in `text`. Defaults are expanded only when
 * they are used, and may hold expressions of their own
 * (`${PORT:-${BASE_PORT}}`).
 *
 * @example
 * ```ts
 * import { expand } from "./expand.ts";
 * const env: Record<string, string> = { PORT: "8000" };
 * expand("--port=${PORT}", (name) => env[name]).value; // "--port=8000"
 * expand("${HOST:-localhost}", (name) => env[name]).value; // "localhost"
 * expand("costs $$5", (name) => env[name]).value; // "costs $5"
 * expand("${NOPE}", (name) => env[name]).problems[0]?.message;
 * // 'variable "NOPE" is not set (write ${NOPE:-value} to give a default)'
 * ```
 */
export function expand(text: string, lookup: Lookup): Expanded {
  const problems: ExpandProblem[] = [];
  const value = expandFrom(text, 0, text.length, lookup, problems);
  return problems.length === 0
    ? { value, problems: [] }
    : { value: undefined, problems };
}

// Expands text[from, to), adding problems with indexes into `text`.
function expandFrom(
  text: string,
  from: number,
  to: number,
  lookup: Lookup,
  problems: ExpandProblem[],
): string {
  let out = "";
  let i = from;
  while (i < to) {
    const dollar = text.indexOf("$", i);
    if (dollar === -1 || dollar >= to) {
      out += text.slice(i, to);
      break;
    }
    out += text.slice(i, dollar);
    const next = text[dollar + 1];
    if (next === "$" && dollar + 1 < to) {
      out += "$";
      i = dollar + 2;
      continue;
    }
    if (next !== "{" || dollar + 1 >= to) {
      out += "$";
      i = dollar + 1;
      continue;
    }
    const close = matchingBrace(text, dollar + 2, to);
    if (close === -1) {
      problems.push({
        index: dollar,
        message: 'unclosed "${" (write $$ for a literal $)',
      });
      break;
    }
    out += expression(text, dollar, close, lookup, problems);
    i = close + 1;
  }
  return out;
}

// The index of the "}" that closes a "${" whose inside starts at `from`,
// counting nested "${...}" and skipping "$$"; -1 if there is none.
function matchingBrace(text: string, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const char = text[i];
    if (char === "$" && (text[i + 1] === "$" || text[i + 1] === "{")) {
      if (text[i + 1] === "{") depth++;
      i++;
    } else if (char === "}") {
      if (depth === 0) return i;
      depth--;
    }
  }
  return -1;
}

// One "${...}" from text[start] ("$") to text[close] ("}").
function expression(
  text: string,
  start: number,
  close: number,
  lookup: Lookup,
  problems: ExpandProblem[],
): string {
  const inside = text.slice(start + 2, close);
  const op = /^([^:?-]*)(:-|-|:\?|\?)?/.exec(inside)!;
  const name = op[1]!;
  const shown = text.slice(start, close + 1);
  if (name === "") {
    problems.push({ index: start, message: `"${shown}" names no variable` });
    return "";
  }
  if (!NAME.test(name)) {
    problems.push({
      index: start,
      message: `"${shown}": a variable name has letters, digits and "_", and does ` +
        "not start with a digit (write $$ for a literal $)",
    });
    return "";
  }
  const operator = op[2];
  const wordFrom = start + 2 + name.length + (operator?.length ?? 0);
  if (operator === undefined && wordFrom !== close) {
    problems.push({ index: start, message: `"${shown}": expected "}" after ${name}` });
    return "";
  }
  const value = lookup(name);
  const missing = operator?.startsWith(":")
    ? value === undefined || value === ""
    : value === undefined;
  if (!missing) return value!;
  switch (operator) {
    case ":-":
    case "-":
      return expandFrom(text, wordFrom, close, lookup, problems);
    case ":?":
    case "?": {
      const why = text.slice(wordFrom, close);
      const state = value === undefined ? "is not set" : "is empty";
      problems.push({
        index: start,
        message: `variable ${JSON.stringify(name)} ${state}${why ? `: ${why}` : ""}`,
      });
      return "";
    }
    default:
      problems.push({
        index: start,
        message:
          `variable ${JSON.stringify(name)} is not set (write \${${name}:-value} ` +
          "to give a default)",
      });
      return "";
  }
}

/**
 * Expands one string written at `node` (the value of `path`), reporting
 * each problem at its place; `undefined` when there was one.
 */
export type Substitute = (
  text: string,
  node: Node | null,
  at: number,
  path: Path,
) => string | undefined;

/**
 * A {@linkcode Substitute} over `lookup` that reports to `c`: at the `${`
 * when the string is written as it is, else at the string.
 */
export function substitute(c: Checker, lookup: Lookup): Substitute {
  return (text, node, at, path) => {
    const result = expand(text, lookup);
    for (const problem of result.problems) {
      c.report(c.offsetIn(node, problem.index, at), path, problem.message);
    }
    return result.value;
  };
}

/**
 * Expands a key whose value is one string (`cwd`) or a list of strings
 * (`cmd`, `envFile`), each where the file wrote it.
 *
 * @returns the expanded value, of the same shape; `undefined` on a problem
 */
export function expandStrings(
  value: string | string[],
  entry: Entry,
  c: Checker,
  sub: Substitute,
): string | string[] | undefined {
  if (typeof value === "string") return sub(value, entry.value, entry.at, entry.path);
  if (!isSeq(entry.value)) {
    // One string, read as a list of one (`envFile: .env`).
    const one = value.map((text) => sub(text, entry.value, entry.at, entry.path));
    return one.includes(undefined) ? undefined : one as string[];
  }
  const items = entry.value.items;
  const out: string[] = [];
  let ok = true;
  value.forEach((text, index) => {
    const node = c.resolve(items[index]);
    const at = c.offsetOf(items[index], entry.at);
    const expanded = sub(text, node, at, [...entry.path, index]);
    if (expanded === undefined) ok = false;
    else out.push(expanded);
  });
  return ok ? out : undefined;
}

/**
 * Expands the values of a mapping of names to strings (`env`), each where
 * the file wrote it; the names are left alone.
 *
 * @returns the expanded mapping; `undefined` on a problem
 */
export function expandValues(
  value: Record<string, string>,
  entry: Entry,
  c: Checker,
  sub: Substitute,
): Record<string, string> | undefined {
  const places = new Map<string, Entry>();
  if (isMap(entry.value)) {
    // The same walk the reader made (its problems are listed once).
    for (const variable of c.entries(entry.value, entry.path)) {
      places.set(variable.key, variable);
    }
  }
  const out: Record<string, string> = {};
  let ok = true;
  for (const [name, text] of Object.entries(value)) {
    const place = places.get(name);
    const expanded = sub(
      text,
      place?.value ?? null,
      place?.at ?? entry.at,
      place?.path ?? [...entry.path, name],
    );
    if (expanded === undefined) ok = false;
    else setOwn(out, name, expanded);
  }
  return ok ? out : undefined;
}
