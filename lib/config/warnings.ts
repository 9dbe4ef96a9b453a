/**
 * What `tend check` warns about: settings that are valid but will fail
 * when the process starts (where they would only show as a process that
 * backs off forever). A program that is not on `PATH` or not executable,
 * a `cwd` that does not exist, a `cmd` whose one item holds spaces.
 *
 * The program is looked up the way Deno's spawn looks it up (tried on
 * Deno 2.9.6): a name with a `/` is taken from the process's `cwd`; a
 * bare name is searched in the `PATH` of the process's own `env` when it
 * sets one (even to ""), else in tend's own `PATH` (also under
 * `clearEnv`); empty `PATH` entries are skipped and relative ones are
 * taken from the `cwd`; only executable regular files count.
 *
 * Pure: the file system is asked through a {@linkcode FileProbe}.
 *
 * @module
 */

import { isAbsolute, join } from "../core/path.ts";
import type { ProcessSpec } from "../core/spec.ts";
import type { Config, Place } from "./load.ts";
import type { Problem } from "./problems.ts";
import { quote } from "./yaml.ts";

/** What is at a path, after symbolic links. */
export type FileKind = "directory" | "executable" | "file" | "missing" | "unknown";

/** How the warnings look at the file system. */
export interface FileProbe {
  /**
   * What `path` is: a folder, a regular file tend may execute, another
   * file, nothing, or `unknown` when it cannot tell (no permission to look).
   */
  kind(path: string): Promise<FileKind>;
}

/** What the warnings need besides the config. */
export interface WarningContext {
  /** The file system. */
  probe: FileProbe;
  /** tend's own `PATH`, used when a process's `env` sets none. */
  path: string | undefined;
}

/**
 * The warnings about `config`, in the order of its processes, each at the
 * place of the setting (the process's name when the setting has none).
 * Copies of a replicated process share their settings: each warning is
 * given once.
 */
export async function runtimeWarnings(
  config: Config,
  ctx: WarningContext,
): Promise<Problem[]> {
  const warnings: Problem[] = [];
  const seen = new Set<string>();
  const warn = (place: Place | undefined, message: string) => {
    const problem: Problem = {
      file: config.file,
      path: place?.path ?? "",
      message,
      severity: "warning",
    };
    if (place !== undefined) {
      problem.line = place.line;
      problem.col = place.col;
    }
    const key = JSON.stringify(problem);
    if (seen.has(key)) return;
    seen.add(key);
    warnings.push(problem);
  };
  for (const [name, spec] of Object.entries(config.processes)) {
    const places = config.places?.[name] ?? {};
    if (spec.cwd !== undefined) {
      const kind = await ctx.probe.kind(spec.cwd);
      if (kind === "missing" || kind === "executable" || kind === "file") {
        const what = kind === "missing" ? "does not exist" : "is not a folder";
        warn(places.cwd ?? places.name, `${quote(spec.cwd)} ${what}`);
        // The program cannot start there anyway, and a relative one is
        // looked up from it.
        continue;
      }
    }
    // Only a `cmd` names its program; `shell` runs /bin/sh.
    if (places.program === undefined) continue;
    const problem = await programProblem(spec, ctx);
    if (problem !== undefined) warn(places.program, problem);
  }
  return warnings;
}

// What will go wrong with starting the program, if anything.
async function programProblem(
  spec: ProcessSpec,
  ctx: WarningContext,
): Promise<string | undefined> {
  const program = spec.argv[0] ?? "";
  if (spec.argv.length === 1 && /\s/.test(program.trim())) {
    return `is one item with spaces, ${quote(program)}, so it names a program ` +
      `called that; give each argument its own item, or use shell:`;
  }
  const cwd = spec.cwd;
  if (program.includes("/")) {
    const full = isAbsolute(program) || cwd === undefined
      ? program
      : join(cwd, program);
    const looked = full === program ? "" : ` (looked for ${full})`;
    switch (await ctx.probe.kind(full)) {
      case "missing":
        return `${quote(program)} does not exist${looked}`;
      case "directory":
        return `${quote(program)} is a folder, not a program${looked}`;
      case "file":
        return `${quote(program)} is not executable${looked}`;
      default:
        return undefined;
    }
  }
  const own = spec.env !== undefined && Object.hasOwn(spec.env, "PATH");
  const path = own ? spec.env!.PATH! : ctx.path ?? "";
  const whose = own ? "the PATH its env sets" : "tend's PATH";
  const notExecutable: string[] = [];
  for (const dir of path.split(":")) {
    if (dir === "") continue;
    const base = isAbsolute(dir) || cwd === undefined ? dir : join(cwd, dir);
    const candidate = join(base, program);
    const kind = await ctx.probe.kind(candidate);
    if (kind === "executable" || kind === "unknown") return undefined;
    if (kind === "file") notExecutable.push(candidate);
  }
  if (notExecutable.length > 0) {
    return `${quote(program)} is on ${whose} but not executable: ${
      notExecutable.join(", ")
    }`;
  }
  return `${quote(program)} is not found on ${whose} (${path || "empty"})`;
}
