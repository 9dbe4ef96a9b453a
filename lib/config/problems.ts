/**
 * What is wrong with a config file, and where: problems and the error that
 * carries them.
 *
 * @module
 */

/** One thing wrong with a config file, and where. */
export interface Problem {
  /** The path of the file, as given. */
  file: string;
  /**
   * Line of the offending node, from 1; absent when the problem is the file
   * itself (it cannot be read), which has no place to point at.
   */
  line?: number;
  /** Column of the offending node, from 1; absent with `line`. */
  col?: number;
  /** Where in the document, like `processes.web.cmd`; empty for the file itself. */
  path: string;
  /** What is wrong, without a subject: `must be a list of strings`. */
  message: string;
  /**
   * `warning` for what is valid but will fail at run time (`tend check`'s
   * warnings); absent for an error.
   */
  severity?: "warning";
}

/**
 * Formats a problem as `FILE:LINE:COL: path.to.key: message`, the shape editors
 * and terminals turn into links; a problem without a place (a file that
 * cannot be read) as `FILE: message`, rather than with a made-up `1:1`. A
 * warning says so after the place, as compilers do:
 * `FILE:LINE:COL: warning: path.to.key: message`.
 *
 * @example
 * ```ts
 * import { formatProblem } from "./problems.ts";
 * formatProblem({ file: "procs.yaml", line: 3, col: 5, path: "processes.web.cmd", message: "must not be empty" });
 * // "procs.yaml:3:5: processes.web.cmd: must not be empty"
 * formatProblem({ file: "procs.yaml", path: "", message: "is a directory, not a regular file" });
 * // "procs.yaml: is a directory, not a regular file"
 * formatProblem({ file: "procs.yaml", line: 3, col: 11, path: "processes.web.cwd", message: '"/srv/x" does not exist', severity: "warning" });
 * // 'procs.yaml:3:11: warning: processes.web.cwd: "/srv/x" does not exist'
 * ```
 *
 * @param problem The problem to format.
 * @returns One line; the path and its colon are left out when the path is empty.
 */
export function formatProblem(problem: Problem): string {
  const place = problem.line === undefined
    ? problem.file
    : `${problem.file}:${problem.line}:${problem.col ?? 1}`;
  const where = problem.severity === "warning" ? `${place}: warning` : place;
  return problem.path === ""
    ? `${where}: ${problem.message}`
    : `${where}: ${problem.path}: ${problem.message}`;
}

/** A config file that cannot be used, with every problem found in it. */
export class ConfigError extends SyntaxError {
  /** Every problem, in the order they appear in the file. */
  readonly problems: Problem[];

  /**
   * Makes an error whose message lists every problem, one per line.
   *
   * @param problems What is wrong; at least one.
   * @param options `cause`, when an OS error is behind the problem.
   */
  constructor(problems: Problem[], options?: ErrorOptions) {
    super(problems.map(formatProblem).join("\n"), options);
    this.name = "ConfigError";
    this.problems = problems;
  }
}
