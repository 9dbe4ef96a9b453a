/**
 * Env files (`envFile:`), in the dotenv syntax docker compose, systemd and
 * the dotenv libraries share:
 *
 * ```sh
 * # a comment
 * export DB_HOST=localhost       # `export` is optional; so is this comment
 * GREETING="hello\nworld"        # double quotes: \n \r \t \" \\ escapes
 * PASSWORD='p@ss # not a comment' # single quotes: exactly as written
 * EMPTY=
 * ```
 *
 * Unquoted values are trimmed, and a `#` after a space starts a comment.
 * Quoted values may span lines. Values are taken as written: `$` in them
 * is not expanded (as `docker run --env-file` and systemd take them).
 * A later line for the same name wins.
 *
 * @module
 */

import { setOwn } from "../core/spec.ts";

/** What is wrong in an env file, and where (line and column from 1). */
export interface DotenvProblem {
  /** Line, from 1. */
  line: number;
  /** Column, from 1 (UTF-16 code units, as the YAML positions count). */
  col: number;
  /** What is wrong. */
  message: string;
}

/** The variables an env file sets, and what is wrong in it. */
export interface Dotenv {
  /** The variables, in file order; a later line for a name wins. */
  values: Record<string, string>;
  /** The problems; the lines they are on set nothing. */
  problems: DotenvProblem[];
}

const KEY = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

const ESCAPES: Readonly<Record<string, string>> = {
  n: "\n",
  r: "\r",
  t: "\t",
  '"': '"',
  "\\": "\\",
};

/**
 * Parses an env file's text.
 *
 * @example
 * ```ts
 * import { parseDotenv } from "./dotenv.ts";
 * parseDotenv('export A=1\nB="two\\nlines" # note\nC=\n').values;
 * // { A: "1", B: "two\nlines", C: "" }
 * parseDotenv("oops\n").problems[0]?.message; // 'expected NAME=value'
 * ```
 */
export function parseDotenv(text: string): Dotenv {
  const values: Record<string, string> = {};
  const problems: DotenvProblem[] = [];
  let pos = 0;
  let line = 1;
  let lineStart = 0;
  const report = (at: number, message: string) => {
    problems.push({ line, col: at - lineStart + 1, message });
  };
  // Moves past the end of the current line.
  const nextLine = () => {
    const newline = text.indexOf("\n", pos);
    pos = newline === -1 ? text.length : newline + 1;
    line++;
    lineStart = pos;
  };
  const skipBlanks = () => {
    while (text[pos] === " " || text[pos] === "\t") pos++;
  };
  // Whether the rest of the line is blank or a comment.
  const restIsEmpty = () => {
    skipBlanks();
    return pos >= text.length || text[pos] === "\n" || text[pos] === "#" ||
      (text[pos] === "\r" && text[pos + 1] === "\n");
  };

  while (pos < text.length) {
    if (restIsEmpty()) {
      nextLine();
      continue;
    }
    if (/^export[ \t]/.test(text.slice(pos, pos + 7))) {
      pos += 6;
      skipBlanks();
    }
    const keyAt = pos;
    while (pos < text.length && !/[=\s#]/.test(text[pos]!)) pos++;
    const key = text.slice(keyAt, pos);
    skipBlanks();
    if (text[pos] !== "=") {
      report(
        keyAt,
        key === ""
          ? "expected NAME=value"
          : `expected NAME=value, not ${JSON.stringify(key)} alone`,
      );
      nextLine();
      continue;
    }
    if (!KEY.test(key)) {
      report(
        keyAt,
        `${JSON.stringify(key)} is not a variable name (letters, digits, "_", "." ` +
          'and "-", not starting with a digit)',
      );
      nextLine();
      continue;
    }
    pos++; // "="
    skipBlanks();
    const quote = text[pos];
    let value: string;
    if (quote === '"' || quote === "'") {
      const quoteAt = pos;
      const startLine = line;
      const startLineStart = lineStart;
      pos++;
      value = "";
      let closed = false;
      while (pos < text.length) {
        const char = text[pos]!;
        if (char === quote) {
          closed = true;
          pos++;
          break;
        }
        if (char === "\\" && quote === '"' && pos + 1 < text.length) {
          const escaped = ESCAPES[text[pos + 1]!];
          // An unknown escape is kept as written, backslash and all.
          value += escaped ?? text.slice(pos, pos + 2);
          pos += 2;
          continue;
        }
        if (char === "\n") {
          line++;
          lineStart = pos + 1;
        }
        value += char;
        pos++;
      }
      if (!closed) {
        line = startLine;
        lineStart = startLineStart;
        report(quoteAt, `unclosed ${quote === '"' ? "double" : "single"} quote`);
        break;
      }
      if (!restIsEmpty()) {
        report(pos, "unexpected text after the closing quote");
        nextLine();
        continue;
      }
    } else {
      const end = text.indexOf("\n", pos);
      const rest = text.slice(pos, end === -1 ? text.length : end);
      // A "#" after a blank starts a comment; one inside a word does not.
      const comment = rest.search(/[ \t]#/);
      value = (comment === -1 ? rest : rest.slice(0, comment)).trim();
    }
    if (value.includes("\0")) {
      report(keyAt, `${key}: a value cannot hold a NUL byte`);
    } else {
      setOwn(values, key, value);
    }
    nextLine();
  }
  return { values, problems };
}
