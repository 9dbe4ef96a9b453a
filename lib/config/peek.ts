/**
 * The one key a client command needs from a config file, read leniently:
 * `tend status` and `tend reload` must find a running tend's socket even
 * while the file is being edited and does not validate.
 *
 * @module
 */

import { isAbsolute, join, normalize } from "../core/path.ts";
import { isMap, isScalar, parseDocument } from "./yaml_package.ts";

/**
 * The `socket:` key of config text, as an absolute path (relative to
 * `baseDir`), or `null` when the file sets none or cannot be read that far.
 *
 * @example
 * ```ts
 * import { peekSocket } from "./peek.ts";
 * peekSocket("socket: run/tend.sock\nprocesses: {", "/srv/app"); // "/srv/app/run/tend.sock"
 * peekSocket("processes: {}", "/srv/app"); // null
 * ```
 */
export function peekSocket(text: string, baseDir: string): string | null {
  let root: unknown;
  try {
    root = parseDocument(text, { uniqueKeys: false }).contents;
  } catch {
    return null;
  }
  if (!isMap(root)) return null;
  const node = root.get("socket", true);
  if (!isScalar(node) || typeof node.value !== "string" || node.value === "") {
    return null;
  }
  const path = node.value;
  return isAbsolute(path) ? normalize(path) : join(baseDir, path);
}
