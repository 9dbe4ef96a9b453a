/**
 * Reading Prometheus' text format in tests, strictly: what promtool does
 * not check (a series twice), and each family's HELP, TYPE and samples in
 * one block.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The exposition parsed: families in order, and each series' value. */
export function parseExposition(text: string): {
  families: { name: string; help: string; type: string }[];
  series: Map<string, number>;
} {
  assert.ok(text.endsWith("\n"), "the text ends with a newline");
  const families: { name: string; help: string; type: string }[] = [];
  const series = new Map<string, number>();
  let current: string | null = null;
  for (const line of text.slice(0, -1).split("\n")) {
    const help = /^# HELP (\S+) (.+)$/.exec(line);
    const type = /^# TYPE (\S+) (gauge|counter)$/.exec(line);
    if (help) {
      assert.ok(!families.some((f) => f.name === help[1]), `${help[1]} twice`);
      families.push({ name: help[1]!, help: help[2]!, type: "" });
      current = help[1]!;
      continue;
    }
    if (type) {
      assert.equal(type[1], current, "TYPE follows its HELP");
      families.at(-1)!.type = type[2]!;
      continue;
    }
    const sample = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    assert.ok(sample, `a sample line: ${line}`);
    assert.equal(sample[1], current, `${line} is in its family's block`);
    const key = sample[1]! + (sample[2] ?? "");
    assert.ok(!series.has(key), `${key} twice`);
    series.set(key, Number(sample[3]));
  }
  return { families, series };
}
