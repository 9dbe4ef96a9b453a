/**
 * YAML with positions: parsing keeps every node's offset, and a
 * {@linkcode Checker} collects problems at offsets while readers walk the
 * document, turning them into FILE:LINE:COL at the end.
 *
 * @module
 */

import {
  type Document,
  isAlias,
  isNode,
  isScalar,
  LineCounter,
  type Node,
  parseDocument,
  visit,
  type YAMLMap,
} from "yaml";
import type { Problem } from "./problems.ts";

/** A parsed document and what turns its offsets into lines and columns. */
export interface ParsedYaml {
  /** The document, with a range on every node. */
  doc: Document;
  /** Offsets to lines and columns. */
  lineCounter: LineCounter;
}

/**
 * Parses YAML text, keeping every node's position and collecting errors
 * in the document instead of throwing.
 */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
  });
  return { doc, lineCounter };
}

/** Where a node is in the document: keys and list indexes from the top. */
export type Path = readonly (string | number)[];

/** One key of a mapping, its value, and where to point when either is wrong. */
export interface Entry {
  /** The key's text. */
  key: string;
  /** Path to the value: the mapping's path plus the key. */
  path: Path;
  /** Offset of the key. */
  keyAt: number;
  /** The value, through any alias; null when the key has no node. */
  value: Node | null;
  /** Offset of the value as written (an alias itself), or of the key when empty. */
  at: number;
}

/** Collects problems as offsets while the readers walk the document. */
export class Checker {
  /** The parsed document. */
  readonly doc: Document;
  #found: { at: number; path: Path; message: string }[] = [];
  #duplicates = new Set<number>();

  /** @param doc the parsed document the problems are about */
  constructor(doc: Document) {
    this.doc = doc;
  }

  /** Records a problem at offset `at` of the text. */
  report(at: number, path: Path, message: string): void {
    this.#found.push({ at, path, message });
  }

  /** The problems in file order, with offsets turned into lines and columns. */
  problems(file: string, lineCounter: LineCounter): Problem[] {
    // Array#sort is stable, so problems at the same spot keep their order.
    return [...this.#found].sort((a, b) => a.at - b.at).map(({ at, path, message }) => {
      const { line, col } = lineCounter.linePos(at);
      return { file, line, col, path: formatPath(path), message };
    });
  }

  /** Follows an alias to its anchor; anything that is not a node becomes null. */
  resolve(node: unknown): Node | null {
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return isNode(node) ? node : null;
  }

  /** Where a node starts, or `fallback` for a node with no text (an empty value). */
  offsetOf(node: unknown, fallback: number): number {
    const range = isNode(node) ? node.range : undefined;
    return range && range[0] < range[1] ? range[0] : fallback;
  }

  /**
   * The entries of a mapping in file order; reports keys that are not plain
   * scalars and duplicate keys, and leaves both out (the first one wins).
   */
  entries(map: YAMLMap, path: Path): Entry[] {
    const seen = new Set<string>();
    const entries: Entry[] = [];
    for (const pair of map.items) {
      const keyAt = this.offsetOf(pair.key, this.offsetOf(map, 0));
      const key = scalarText(this.resolve(pair.key));
      if (key === undefined) {
        this.report(keyAt, path, "keys must be strings");
        continue;
      }
      if (seen.has(key)) {
        // Reported here, with its path, rather than from yaml's own
        // DUPLICATE_KEY error, which has no path.
        this.#duplicates.add(keyAt);
        this.report(keyAt, path, `duplicate key ${quote(key)}`);
        continue;
      }
      seen.add(key);
      entries.push({
        key,
        path: [...path, key],
        keyAt,
        value: this.resolve(pair.value),
        at: this.offsetOf(pair.value, keyAt),
      });
    }
    return entries;
  }

  /**
   * Reports yaml's own errors; duplicate keys only where `entries` did not
   * already, that is in mappings the readers never walk.
   */
  reportYamlErrors(): void {
    for (const error of this.doc.errors) {
      const at = error.pos[0];
      if (error.code === "DUPLICATE_KEY") {
        if (this.#duplicates.has(at)) continue;
        this.report(at, [], `duplicate key ${quote(this.#keyTextAt(at))}`);
      } else if (error.code === "MULTIPLE_DOCS") {
        // yaml's own text points at its API (parseAllDocuments), not at the file.
        this.report(at, [], "the file must hold one YAML document, not several");
      } else {
        this.report(at, [], error.message);
      }
    }
  }

  /** Reports aliases whose anchor is not defined before them; true if any. */
  reportDanglingAliases(): boolean {
    let found = false;
    visit(this.doc, {
      Alias: (_, alias) => {
        if (alias.resolve(this.doc) !== undefined) return;
        this.report(this.offsetOf(alias, 0), [], `unknown alias "*${alias.source}"`);
        found = true;
      },
    });
    return found;
  }

  #keyTextAt(at: number): string {
    let text = "";
    visit(this.doc, {
      Pair: (_, pair) => {
        if (!isNode(pair.key) || pair.key.range?.[0] !== at) return undefined;
        text = scalarText(this.resolve(pair.key)) ?? "";
        return visit.BREAK;
      },
    });
    return text;
  }
}

/**
 * The text of a scalar: strings as they are, numbers and booleans as written
 * (`8000`, `0x10`, `TRUE`), so `[http.server, 8000]` means what it shows.
 * Null, collections and binary data have no text.
 */
export function scalarText(node: Node | null): string | undefined {
  if (!isScalar(node)) return undefined;
  const value = node.value;
  if (typeof value === "string") return value;
  if (
    typeof value === "number" || typeof value === "boolean" || typeof value === "bigint"
  ) {
    return node.source ?? String(value);
  }
  return undefined;
}

/** `processes.web.cmd[0]`, quoting keys that would be ambiguous: `processes["a.b"]`. */
export function formatPath(path: Path): string {
  let text = "";
  for (const part of path) {
    if (typeof part === "number") text += `[${part}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(part)) text += text === "" ? part : `.${part}`;
    else text += `[${quote(part)}]`;
  }
  return text;
}

/** A value quoted for a message: `"kill_time"`. */
export function quote(text: string): string {
  return JSON.stringify(text);
}
