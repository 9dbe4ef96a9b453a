/**
 * YAML with positions: parsing keeps every node's offset, and a
 * {@linkcode Checker} collects problems at offsets while readers walk the
 * document, turning them into FILE:LINE:COL at the end.
 *
 * Everything here is linear in the size of the text, so the loader's size
 * cap bounds the time a file can take: duplicate keys and aliases are found
 * in one walk rather than with yaml's own checks, which compare each key
 * with every earlier one (100,000 keys took minutes) and search the whole
 * document for each alias's anchor.
 *
 * @module
 */

import {
  type Alias,
  Composer,
  type CST,
  Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  Lexer,
  LineCounter,
  type Node,
  type Pair,
  Parser,
  Scalar,
  type YAMLMap,
  YAMLParseError,
} from "./yaml_package.ts";
import type { Problem } from "./problems.ts";

/** A parsed document and what turns its offsets into lines and columns. */
export interface ParsedYaml {
  /** The document, with a range on every node. */
  doc: Document;
  /** Offsets to lines and columns. */
  lineCounter: LineCounter;
}

/**
 * How deep collections may nest. yaml builds its tree recursively and runs
 * out of stack somewhere past 800 levels, depending on what else is on the
 * stack; no config needs a tenth of this, and a fixed limit gives one clear
 * message instead of "Maximum call stack size exceeded" at a varying place.
 */
export const MAX_DEPTH = 100;

/**
 * How many lexical tokens a file may hold. yaml's tree takes about 600
 * bytes a token: 10 MiB of `[1,1,1,...` (5 million items) took 84 s and
 * then ran out of memory, which on a reload would take tend down and leave
 * its children orphaned. A mapping of 100,000 keys is 800,000 tokens; a
 * config is a few thousand.
 */
export const MAX_TOKENS = 1_000_000;

/**
 * Parses YAML text, keeping every node's position and collecting errors
 * in the document instead of throwing. More than {@linkcode MAX_TOKENS}
 * tokens, or nesting deeper than {@linkcode MAX_DEPTH}, is an error at the
 * place it goes too far, found before the tree is built.
 */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const tokens: CST.Token[] = [];
  // What Parser#parse does, one lexical token at a time, so that a file of
  // too many can be stopped before yaml builds a tree of them.
  const parser = new Parser(lineCounter.addNewLine);
  lineCounter.addNewLine(0);
  let count = 0;
  try {
    for (const lexeme of new Lexer().lex(text)) {
      if (++count > MAX_TOKENS) {
        const message = `too much YAML: more than ${MAX_TOKENS} tokens ` +
          "(keys, values, punctuation); a config needs far fewer";
        return { doc: failed(parser.offset, message), lineCounter };
      }
      for (const token of parser.next(lexeme)) tokens.push(token);
    }
    for (const token of parser.end()) tokens.push(token);
  } catch (error) {
    // yaml's parser keeps its own stack and should not overflow; if it
    // does, it has no place to give.
    if (!(error instanceof RangeError)) throw error;
    return { doc: failed(0, "nesting is too deep for the YAML parser"), lineCounter };
  }
  const deep = tooDeep(tokens, MAX_DEPTH);
  if (deep !== undefined) {
    const message = `nesting is too deep (more than ${MAX_DEPTH} levels)`;
    return { doc: failed(deep, message), lineCounter };
  }
  // Duplicate keys are the Checker's: yaml's uniqueKeys is quadratic. With
  // merge, a plain `<<` key is YAML 1.1's merge key (a quoted "<<" is not);
  // the Checker's entries() does the merging, with positions.
  const composer = new Composer({ uniqueKeys: false, merge: true });
  // What yaml's parseDocument does: the first document, and an error if
  // there is another.
  let doc: Document | undefined;
  for (const next of composer.compose(tokens, true, text.length)) {
    if (doc === undefined) {
      doc = next as Document;
      continue;
    }
    const range: [number, number] = [next.range[0], next.range[1]];
    doc.errors.push(new YAMLParseError(range, "MULTIPLE_DOCS", "several documents"));
    break;
  }
  return { doc: doc ?? new Document(null), lineCounter };
}

// An empty document holding one error at `at`.
function failed(at: number, message: string): Document {
  const doc = new Document(null);
  doc.errors.push(new YAMLParseError([at, at + 1], "RESOURCE_EXHAUSTION", message));
  return doc;
}

/**
 * The offset of the first collection nested more than `limit` deep, if
 * any; walks the parser's tokens with a stack of its own, so depth costs
 * no call stack.
 */
function tooDeep(tokens: CST.Token[], limit: number): number | undefined {
  // Pushed last first, so tokens come off in file order and the first
  // collection too deep is the one reported.
  const stack: [CST.Token, number][] = tokens.map((token) => [token, 0]);
  stack.reverse();
  while (stack.length > 0) {
    const [token, depth] = stack.pop()!;
    if (token.type === "document") {
      if (token.value !== undefined) stack.push([token.value, depth]);
      continue;
    }
    if (
      token.type !== "block-map" && token.type !== "block-seq" &&
      token.type !== "flow-collection"
    ) continue;
    if (depth + 1 > limit) return token.offset;
    for (let i = token.items.length - 1; i >= 0; i--) {
      const item = token.items[i]!;
      if (item.value !== undefined) stack.push([item.value, depth + 1]);
      if ("key" in item && item.key) stack.push([item.key, depth + 1]);
    }
  }
  return undefined;
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

/**
 * How many keys merges (`<<: *base`) may bring into mappings, over the
 * whole document. Merges of merges can make a small file mean a huge one
 * (each level doubling, as in the "billion laughs"); no config needs more
 * than a few thousand.
 */
export const MAX_MERGED_KEYS = 1_000_000;

/** A place in another file than the config (an env file it names). */
export interface ElsewherePlace {
  /** The other file's path, as it should appear in the problem. */
  file: string;
  /** Line in that file, from 1. */
  line: number;
  /** Column in that file, from 1. */
  col: number;
}

/**
 * Whether `node` is YAML's merge key: `<<` written plain (a quoted `"<<"`
 * is an ordinary key), which the parser turns into a symbol.
 */
export function isMergeKey(node: unknown): boolean {
  return isScalar(node) && typeof node.value === "symbol" &&
    node.value.description === "<<";
}

const DUPLICATE_MERGE = 'duplicate key "<<" (merge several mappings with <<: [*a, *b])';

/** Collects problems as offsets while the readers walk the document. */
export class Checker {
  /** The parsed document. */
  readonly doc: Document;
  /** The YAML source, when given: for places inside a scalar. */
  readonly text: string | undefined;
  #found: { at: number; path: Path; message: string; place?: ElsewherePlace }[] = [];
  #merged = 0;
  #tooMany = false;
  // What one walk of the whole document found, at construction.
  #targets = new Map<Node, Node>();
  #dangling: Alias[] = [];
  #duplicates: { at: number; key: string; merge?: boolean }[] = [];
  // Duplicates `entries` reported, with their path, by offset.
  #reported = new Set<number>();

  /**
   * @param doc the parsed document the problems are about
   * @param text its source, for places inside a scalar ({@linkcode Checker.offsetIn})
   */
  constructor(doc: Document, text?: string) {
    this.doc = doc;
    this.text = text;
    this.#index();
  }

  /** Records a problem at offset `at` of the text. */
  report(at: number, path: Path, message: string): void {
    this.#found.push({ at, path, message });
  }

  /**
   * Records a problem whose place is in another file (a line of an env
   * file), listed where offset `at` of the config (what named that file) is.
   */
  reportElsewhere(
    at: number,
    path: Path,
    place: ElsewherePlace,
    message: string,
  ): void {
    this.#found.push({ at, path, message, place });
  }

  /**
   * The problems in file order, with offsets turned into lines and columns.
   * The same problem found twice (a template merged into two processes
   * walked again, the copies of a replicated process) is listed once.
   */
  problems(file: string, lineCounter: LineCounter): Problem[] {
    const seen = new Set<string>();
    // Array#sort is stable, so problems at the same spot keep their order.
    return [...this.#found].sort((a, b) => a.at - b.at).flatMap(
      ({ at, path, message, place }) => {
        const where = place ?? { file, ...lineCounter.linePos(at) };
        const problem = { ...where, path: formatPath(path), message };
        const key = JSON.stringify(problem);
        if (seen.has(key)) return [];
        seen.add(key);
        return [problem];
      },
    );
  }

  /**
   * The offset of character `index` of a scalar's value, when the value is
   * written as it is (plain or quoted without escapes, on one line); else
   * where the scalar starts. Problems inside a value (`${` in a `cmd`
   * item) point at their column this way.
   */
  offsetIn(node: Node | null, index: number, fallback: number): number {
    const start = this.offsetOf(node, fallback);
    if (!isScalar(node) || typeof node.value !== "string" || !node.range) return start;
    if (this.text === undefined) return start;
    const source = this.text.slice(node.range[0], node.range[1]);
    if (node.type === Scalar.PLAIN && source === node.value) return start + index;
    if (
      (node.type === Scalar.QUOTE_SINGLE || node.type === Scalar.QUOTE_DOUBLE) &&
      source.slice(1, -1) === node.value
    ) {
      return start + 1 + index;
    }
    return start;
  }

  /** Follows an alias to its anchor; anything that is not a node becomes null. */
  resolve(node: unknown): Node | null {
    // From the index: yaml's own Alias#resolve searches the whole document
    // each time, which makes many aliases quadratic.
    if (isAlias(node)) return this.#targets.get(node) ?? null;
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
   *
   * Merge keys (`<<: *base`, `<<: [*a, *b]`) bring in the keys of the
   * mappings they name, in their place, as YAML 1.1 says: a key written in
   * the mapping itself wins over a merged one wherever it is written, and
   * among merged mappings the first that has a key wins. A merged entry
   * keeps the place where its key and value are written (in the template),
   * with the path of the mapping that merges it.
   */
  entries(map: YAMLMap, path: Path): Entry[] {
    return this.#entries(map, path, [map]);
  }

  #entries(map: YAMLMap, path: Path, merging: YAMLMap[]): Entry[] {
    // First the keys written here, which win over merged ones wherever
    // they are; then everything in file order, merges in their place.
    const taken = new Set<string>();
    const own = new Map<number, Entry>();
    let merges = 0;
    map.items.forEach((pair, index) => {
      const keyAt = this.offsetOf(pair.key, this.offsetOf(map, 0));
      if (isMergeKey(pair.key)) {
        if (++merges > 1) {
          this.#reported.add(keyAt);
          this.report(keyAt, path, DUPLICATE_MERGE);
        }
        return;
      }
      const key = scalarText(this.resolve(pair.key));
      if (key === undefined) {
        this.report(keyAt, path, "keys must be strings");
        return;
      }
      if (taken.has(key)) {
        // Reported here, with its path; reportYamlErrors reports the ones
        // in mappings no reader walks, without one.
        this.#reported.add(keyAt);
        this.report(keyAt, path, `duplicate key ${quote(key)}`);
        return;
      }
      taken.add(key);
      own.set(index, {
        key,
        path: [...path, key],
        keyAt,
        value: this.resolve(pair.value),
        at: this.offsetOf(pair.value, keyAt),
      });
    });
    const entries: Entry[] = [];
    let firstMerge = true;
    map.items.forEach((pair, index) => {
      const entry = own.get(index);
      if (entry !== undefined) entries.push(entry);
      if (!isMergeKey(pair.key) || !firstMerge) return;
      firstMerge = false;
      for (const source of this.#mergeSources(pair, path)) {
        if (merging.includes(source)) {
          this.report(
            this.offsetOf(pair.value, 0),
            path,
            "<<: merges a mapping into itself",
          );
          continue;
        }
        // Every merged key counts, taken or not: what is bounded is the
        // work, which merges of merges can make exponential.
        if (this.#merged > MAX_MERGED_KEYS) return;
        for (const merged of this.#entries(source, path, [...merging, source])) {
          if (++this.#merged > MAX_MERGED_KEYS) {
            if (!this.#tooMany) {
              this.#tooMany = true;
              this.report(
                this.offsetOf(pair.key, 0),
                path,
                `too many merged keys: merges bring in more than ${MAX_MERGED_KEYS}`,
              );
            }
            return;
          }
          if (taken.has(merged.key)) continue;
          taken.add(merged.key);
          entries.push(merged);
        }
      }
    });
    return entries;
  }

  // The mappings a merge key names: one (an alias of a mapping, or a
  // mapping written in place), or a list of them.
  #mergeSources(pair: Pair, path: Path): YAMLMap[] {
    const value = this.resolve(pair.value);
    const at = this.offsetOf(pair.value, this.offsetOf(pair.key, 0));
    const wrong = "<<: must be an alias of a mapping (<<: *base), or a list of them";
    if (isMap(value)) return [value];
    if (!isSeq(value)) {
      this.report(at, path, wrong);
      return [];
    }
    const sources: YAMLMap[] = [];
    for (const item of value.items) {
      const source = this.resolve(item);
      if (isMap(source)) sources.push(source);
      else this.report(this.offsetOf(item, at), path, wrong);
    }
    return sources;
  }

  /**
   * Reports yaml's own errors, and duplicate keys where `entries` did not
   * already, that is in mappings the readers never walk.
   */
  reportYamlErrors(): void {
    for (const error of this.doc.errors) {
      const at = error.pos[0];
      if (error.code === "MULTIPLE_DOCS") {
        // yaml's own text points at its API (parseAllDocuments), not at the file.
        this.report(at, [], "the file must hold one YAML document, not several");
      } else if (
        error.code === "RESOURCE_EXHAUSTION" && /call stack/i.test(error.message)
      ) {
        // Out of stack despite MAX_DEPTH (a caller deep in its own stack).
        this.report(at, [], "nesting is too deep for the YAML parser");
      } else {
        this.report(at, [], error.message);
      }
    }
    for (const { at, key, merge } of this.#duplicates) {
      if (this.#reported.has(at)) continue;
      this.report(at, [], merge ? DUPLICATE_MERGE : `duplicate key ${quote(key)}`);
    }
  }

  /** Reports aliases whose anchor is not defined before them; true if any. */
  reportDanglingAliases(): boolean {
    for (const alias of this.#dangling) {
      this.report(this.offsetOf(alias, 0), [], `unknown alias "*${alias.source}"`);
    }
    return this.#dangling.length > 0;
  }

  /**
   * One walk of the whole document, in document order, with a stack of its
   * own: each alias's anchor (the last one of that name before it, as YAML
   * and yaml's Alias#resolve say), the aliases with none, then the duplicate
   * keys of every mapping, keys compared as `entries` compares them.
   */
  #index(): void {
    const anchors = new Map<string, Node>();
    const maps: YAMLMap[] = [];
    const stack: unknown[] = [this.doc.contents];
    while (stack.length > 0) {
      const node = stack.pop();
      if (isAlias(node)) {
        const target = anchors.get(node.source);
        if (target === undefined) this.#dangling.push(node);
        else this.#targets.set(node, target);
        continue;
      }
      if (!isNode(node)) continue;
      // Set before the children are walked: an alias inside its own anchor
      // refers to it, as in yaml.
      if (node.anchor) anchors.set(node.anchor, node);
      // Children are pushed last first, so they come off in file order.
      if (isMap(node)) {
        maps.push(node);
        for (let i = node.items.length - 1; i >= 0; i--) {
          stack.push(node.items[i]!.value, node.items[i]!.key);
        }
      } else if (isSeq(node)) {
        for (let i = node.items.length - 1; i >= 0; i--) stack.push(node.items[i]);
      }
    }
    for (const map of maps) {
      const seen = new Set<string>();
      let merges = 0;
      for (const pair of map.items) {
        if (isMergeKey(pair.key) && ++merges > 1) {
          const at = this.offsetOf(pair.key, this.offsetOf(map, 0));
          this.#duplicates.push({ at, key: "<<", merge: true });
          continue;
        }
        const key = scalarText(this.resolve(pair.key));
        if (key === undefined) continue;
        if (!seen.has(key)) seen.add(key);
        else {
          const at = this.offsetOf(pair.key, this.offsetOf(map, 0));
          this.#duplicates.push({ at, key });
        }
      }
    }
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
    else if (part.length <= QUOTE_LIMIT && /^[A-Za-z0-9_-]+$/.test(part)) {
      text += text === "" ? part : `.${part}`;
    } else text += `[${quote(part)}]`;
  }
  return text;
}

/** How much of a value a message quotes; the place says where the rest is. */
const QUOTE_LIMIT = 80;

/**
 * A value quoted for a message: `"kill_time"`; a long one is cut, so a
 * stray megabyte key makes one readable line, not a megabyte of log.
 *
 * @example
 * ```ts
 * import { quote } from "./yaml.ts";
 * quote("kill_time"); // '"kill_time"'
 * quote("k".repeat(1000)).length; // 84
 * ```
 */
export function quote(text: string): string {
  if (text.length <= QUOTE_LIMIT) return JSON.stringify(text);
  // Cut on a code point, not inside a surrogate pair.
  const head = Array.from(text.slice(0, QUOTE_LIMIT + 1)).slice(0, -1).join("");
  return `${JSON.stringify(head)}...`;
}
