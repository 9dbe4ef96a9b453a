/**
 * The results table: one row per figure, the median of each system's runs,
 * the target and whether tend meets it, and tend's ratio to each
 * other system.
 *
 * @module
 */

import { type Figure, FIGURES, type Value } from "./scenarios.ts";
import { SYSTEM_IDS, type SystemId, TEND_IDS } from "./systems.ts";

/**
 * Every run's value, by figure id, then system, at the run's index (run 1
 * at 0; a run that did not produce the figure leaves a hole or a null).
 */
export type Results = Record<string, Partial<Record<SystemId, (Value | undefined)[]>>>;

/** A median: a number, or a lower bound when the middle run gave up. */
export interface Median {
  v: number;
  over: boolean;
}

/**
 * The median of the runs that produced a value (nulls are left out); a run
 * that gave up at n counts as n, above every run that ended at n.
 */
export function medianValue(values: (Value | undefined)[]): Median | null {
  const items = Array.from(values, (v) => v ?? null)
    .filter((v) => v !== null)
    .map((v) => typeof v === "number" ? { v, over: false } : { v: v.over, over: true })
    .filter((m) => Number.isFinite(m.v))
    .sort((a, b) => a.v - b.v || Number(a.over) - Number(b.over));
  if (items.length === 0) return null;
  const mid = items.length >> 1;
  if (items.length % 2) return items[mid]!;
  const lo = items[mid - 1]!, hi = items[mid]!;
  return hi.over ? hi : { v: (lo.v + hi.v) / 2, over: false };
}

/** Why a cell is empty, by figure id, then system. */
export type Reasons = Record<string, Partial<Record<SystemId, string>>>;

const OTHERS = SYSTEM_IDS.filter((s) => !TEND_IDS.includes(s));

/** Column headings. */
const NAMES: Record<SystemId, string> = {
  "tend": "tend (FFI spawner)",
  "tend-cmd": "tend (Deno.Command)",
  "raw": "raw",
  "supervisord": "supervisord",
  "procmon": "procmon",
  "pm2": "pm2",
};

function group(n: number, digits = 0): string {
  return n.toLocaleString("en-US", {
    minimumFractionDigits: digits,
    maximumFractionDigits: digits,
  });
}

/** Formats a value in a figure's unit. */
export function formatValue(figure: Figure, v: number): string {
  switch (figure.unit) {
    case "lines/s":
      return v >= 1e6 ? `${(v / 1e6).toFixed(2)}M` : `${group(Math.round(v / 1e3))}k`;
    case "ms":
    case "µs":
      return v >= 100 ? group(v) : v >= 10 ? v.toFixed(1) : v.toFixed(2);
    case "×":
      return `${v.toFixed(2)}×`;
    case "s":
      return v >= 10 ? v.toFixed(1) : v.toFixed(2);
    case "MB":
      return v.toFixed(1);
    case "%":
      return v === 100 ? "100" : v.toFixed(2);
    case "count":
      return group(Math.round(v));
    case "yes/no":
      return v >= 1 ? "yes" : v <= 0 ? "no" : `${Math.round(v * 100)}% of runs`;
  }
}

function ratio(figure: Figure, tend: Median | null, other: Median | null): string {
  if (figure.better === null || tend === null || other === null) return "";
  if (tend.v <= 0 || other.v <= 0 || (tend.over && other.over)) return "";
  const r = tend.v / other.v;
  const text = r >= 10
    ? `${r.toFixed(0)}×`
    : r >= 1
    ? `${r.toFixed(1)}×`
    : `${r.toFixed(2)}×`;
  return tend.over ? `> ${text}` : other.over ? `< ${text}` : text;
}

type Row = Partial<Record<SystemId, Median | null>>;

/**
 * Each tend system's `of` ÷ `over`'s, run by run (the runs where both gave
 * a number), for a figure with a `ratio`.
 */
export function runRatios(
  results: Results,
  ratio: NonNullable<Figure["ratio"]>,
): Partial<Record<SystemId, Value[]>> {
  const over = results[ratio.of]?.[ratio.over] ?? [];
  const out: Partial<Record<SystemId, Value[]>> = {};
  for (const id of TEND_IDS) {
    const mine = results[ratio.of]?.[id];
    if (!mine) continue;
    const values: Value[] = [];
    for (let i = 0; i < Math.max(mine.length, over.length); i++) {
      const a = mine[i];
      const b = over[i];
      if (typeof a === "number" && typeof b === "number" && b > 0) values.push(a / b);
    }
    out[id] = values;
  }
  return out;
}

/** The median of every figure and system ("yes/no" figures: the share of yes). */
export function medians(results: Results): Record<string, Row> {
  const out: Record<string, Row> = {};
  for (const figure of FIGURES) {
    const row: Row = {};
    const byRun = figure.ratio ? runRatios(results, figure.ratio) : results[figure.id];
    for (const id of SYSTEM_IDS) {
      const values = byRun?.[id];
      if (!values) continue;
      if (figure.unit === "yes/no") {
        const known = values.filter((v): v is number => typeof v === "number");
        row[id] = known.length
          ? { v: known.reduce((a, b) => a + b, 0) / known.length, over: false }
          : null;
      } else row[id] = medianValue(values);
    }
    out[figure.id] = row;
  }
  return out;
}

/**
 * The markdown table. `present` are the systems that ran (columns for the
 * others are left out). Each tend system has its own "met" column.
 */
export function renderTable(
  results: Results,
  reasons: Reasons,
  present: SystemId[],
): string {
  const meds = medians(results);
  const tends = TEND_IDS.filter((s) => present.includes(s));
  const others = OTHERS.filter((s) => present.includes(s));
  const ratioCols = others.map((s) => `tend ÷ ${s}`);
  const header = [
    "figure",
    "target",
    ...tends.flatMap((id) => [NAMES[id], "met"]),
    ...others.map((id) => NAMES[id]),
    ...ratioCols,
  ];
  const rows: string[][] = [];
  for (const figure of FIGURES) {
    const row = meds[figure.id]!;
    const reason = reasons[figure.ratio?.of ?? figure.id];
    if (Object.keys(row).length === 0 && !reason) continue;
    // n/a: not measured for that system; "—": measured, but every run
    // failed or timed out (see the notes).
    const cell = (id: SystemId) => {
      if (figure.ratio && !TEND_IDS.includes(id)) return "";
      const m = row[id];
      if (m) return (m.over ? "> " : "") + formatValue(figure, m.v);
      return m === null && !reason?.[id] ? "—" : "n/a";
    };
    const plain = Object.fromEntries(
      Object.entries(row).map(([id, m]) => [id, m ? m.v : null]),
    );
    const met = (id: SystemId) => {
      const m = row[id];
      if (!figure.check || !m) return "";
      return figure.check(m.v, plain) ? "✓" : "✗";
    };
    const tend = row.tend ?? null;
    rows.push([
      `${figure.label} (${figure.unit})`,
      figure.target ?? "",
      ...tends.flatMap((id) => [cell(id), met(id)]),
      ...others.map(cell),
      ...others.map((id) => figure.ratio ? "" : ratio(figure, tend, row[id] ?? null)),
    ]);
  }
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [
    line(header),
    line(header.map((_, i) => i >= 2 ? "---:" : "---")),
    ...rows.map(line),
  ].join("\n");
}
