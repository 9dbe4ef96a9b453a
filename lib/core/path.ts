/**
 * POSIX path arithmetic, as `node:path`'s posix functions do it, for the
 * few that tend needs. tend imports this instead of `node:path`: loading a
 * Node built-in makes Deno set up its Node-compatibility layer, which costs
 * memory for what a few lines of string work do.
 *
 * This module is pure and imports nothing.
 *
 * @module
 */

/** The separator. */
export const sep = "/";

/** Whether `path` is absolute. */
export function isAbsolute(path: string): boolean {
  return path.startsWith("/");
}

/**
 * `path` with `.` segments, `..` segments that can go and repeated slashes
 * resolved away, a trailing slash kept; `.` for an empty result.
 *
 * @example
 * ```ts
 * import { normalize } from "./path.ts";
 * normalize("/a//b/../c/."); // "/a/c"
 * normalize("a/../../b/"); // "../b/"
 * ```
 */
export function normalize(path: string): string {
  if (path === "") return ".";
  const absolute = isAbsolute(path);
  const trailing = path.endsWith("/");
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length > 0 && parts[parts.length - 1] !== "..") parts.pop();
      else if (!absolute) parts.push("..");
    } else parts.push(part);
  }
  let out = parts.join("/");
  if (out === "") return absolute ? "/" : trailing ? "./" : ".";
  if (trailing) out += "/";
  return absolute ? `/${out}` : out;
}

/** The non-empty `parts` joined with `/`, normalized; `.` when there are none. */
export function join(...parts: string[]): string {
  const joined = parts.filter((part) => part !== "").join("/");
  return joined === "" ? "." : normalize(joined);
}

/** Everything before the last segment (trailing slashes aside), as node:path says it. */
export function dirname(path: string): string {
  if (path === "") return ".";
  const rooted = path.startsWith("/");
  let end = -1;
  let slashes = true;
  for (let i = path.length - 1; i >= 1; i--) {
    if (path[i] === "/") {
      if (!slashes) {
        end = i;
        break;
      }
    } else slashes = false;
  }
  if (end === -1) return rooted ? "/" : ".";
  if (rooted && end === 1) return "//";
  return path.slice(0, end);
}

/** The last segment (trailing slashes aside). */
export function basename(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === "/") end--;
  return path.slice(path.lastIndexOf("/", end - 1) + 1, end);
}

/**
 * `path` made absolute from `cwd` (itself absolute), normalized, without a
 * trailing slash: `node:path`'s `resolve(path)` with `cwd` for
 * `process.cwd()`.
 */
export function resolve(cwd: string, path: string): string {
  const full = normalize(isAbsolute(path) ? path : `${cwd}/${path}`);
  return full.length > 1 && full.endsWith("/") ? full.slice(0, -1) : full;
}
