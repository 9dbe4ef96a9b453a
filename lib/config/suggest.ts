/**
 * Did-you-mean: the known word a user probably meant.
 *
 * @module
 */

/**
 * The candidate the user probably meant: a known alias, the same word up to
 * case and separators (`kill_time`, `killtime`), or one at most two edits away
 * (and under half the word's length, so short words do not match everything).
 *
 * @example
 * ```ts
 * import { suggest } from "./suggest.ts";
 * suggest("kill_time", ["killTime", "threshold"]); // "killTime"
 * suggest("environment", ["env"], { environment: "env" }); // "env"
 * suggest("zzz", ["env"]); // undefined
 * ```
 *
 * @param word what the user wrote
 * @param candidates the words that exist
 * @param aliases other tools' words, keyed by their {@linkcode squash}ed spelling
 */
export function suggest(
  word: string,
  candidates: readonly string[],
  aliases: Readonly<Record<string, string>> = {},
): string | undefined {
  const squashed = squash(word);
  if (Object.hasOwn(aliases, squashed)) return aliases[squashed];
  const same = candidates.find((candidate) => squash(candidate) === squashed);
  if (same !== undefined) return same;
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    // The distance is at least the difference in length, so a word far
    // longer than every key (a stray megabyte of text) costs nothing here
    // instead of a table of its length times the key's.
    if (Math.abs(word.length - candidate.length) > 2) continue;
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return bestDistance <= 2 && bestDistance * 2 < word.length ? best : undefined;
}

/**
 * A word without case and separators, so `kill_time`, `Kill-Time` and
 * `killtime` compare equal.
 */
export function squash(word: string): string {
  return word.toLowerCase().replace(/[-_. ]/g, "");
}

/**
 * Edit distance counting a swap of two neighbours as one edit (optimal string
 * alignment), since `SIGTREM` for `SIGTERM` is one slip, not two.
 */
function editDistance(a: string, b: string): number {
  const rows = Array.from(
    { length: a.length + 1 },
    (_, i) => Array.from({ length: b.length + 1 }, (_, j) => i === 0 ? j : i),
  );
  const at = (i: number, j: number): number => rows[i]![j]!;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        best = Math.min(best, at(i - 2, j - 2) + 1);
      }
      rows[i]![j] = best;
    }
  }
  return at(a.length, b.length);
}
