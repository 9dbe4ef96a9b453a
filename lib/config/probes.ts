/**
 * The health keys of a process: `ready:` and `alive:` (probes) and
 * `dependsOn:`, their readers, the checks across processes they need
 * (unknown names, cycles, conditions that can never hold), and how
 * `tend check` shows them.
 *
 * A probe is a mapping with exactly one check and optional fields:
 *
 * ```yaml
 * ready: { http: http://127.0.0.1:8000/health, period: 2s, failures: 5 }
 * alive: { exec: [pg_isready, -q], timeout: 3s }
 * ready: { log: 'listening on port \d+' }   # readiness only
 * ready: { notify: true }                  # readiness only
 * dependsOn: { db: ready, migrate: done }   # or a list: [db, cache] (each: started)
 * ```
 *
 * @module
 */

import { isMap, isScalar, isSeq, type YAMLMap } from "./yaml_package.ts";
import { formatDuration, parseDuration } from "../core/duration.ts";
import { findCycles, formatCycle } from "../core/deps.ts";
import {
  describeCheck,
  isEventDriven,
  linearRegExp,
  type ProbeRole,
} from "../core/probes.ts";
import {
  type DependencyCondition,
  type ProbeCheck,
  type ProbeSpec,
  type ProcessSpec,
  type ResolvedProbe,
  setOwn,
} from "../core/spec.ts";
import { suggest } from "./suggest.ts";
import { type Checker, type Entry, type Path, quote, scalarText } from "./yaml.ts";
import { readArgv, readShell } from "./readers.ts";

// The keys that say what a probe checks, in the order messages list them.
const KINDS = ["http", "tcp", "exec", "shell", "log", "notify"] as const;
type KindKey = typeof KINDS[number];

// The keys that tune when and how often a probe checks.
const FIELDS = ["initialDelay", "period", "timeout", "successes", "failures"] as const;
type FieldKey = typeof FIELDS[number];

// Other tools' names for probe keys (Kubernetes, docker compose,
// process-compose), squashed.
const PROBE_ALIASES: Readonly<Record<string, string>> = {
  initialdelayseconds: "initialDelay",
  startperiod: "initialDelay",
  startdelay: "initialDelay",
  delay: "initialDelay",
  periodseconds: "period",
  interval: "period",
  every: "period",
  timeoutseconds: "timeout",
  successthreshold: "successes",
  success: "successes",
  failurethreshold: "failures",
  failure: "failures",
  retries: "failures",
  httpget: "http",
  url: "http",
  get: "http",
  tcpsocket: "tcp",
  socket: "tcp",
  command: "exec",
  cmd: "exec",
  argv: "exec",
  test: "exec",
  sh: "shell",
  script: "shell",
  regex: "log",
  pattern: "log",
  match: "log",
  sdnotify: "notify",
};

const CONDITIONS: readonly DependencyCondition[] = ["started", "ready", "done"];

// Other tools' names for the conditions (docker compose, process-compose), squashed.
const CONDITION_ALIASES: Readonly<Record<string, DependencyCondition>> = {
  servicestarted: "started",
  processstarted: "started",
  running: "started",
  up: "started",
  healthy: "ready",
  servicehealthy: "ready",
  processhealthy: "ready",
  processready: "ready",
  servicecompletedsuccessfully: "done",
  processcompletedsuccessfully: "done",
  completed: "done",
  complete: "done",
  finished: "done",
  success: "done",
};

// A bare port, or HOST:PORT, or [IPv6]:PORT.
const HOST_PORT = /^(?:(?:\[([^\]]+)\]|([^:\s]*)):)?(\d+)$/;

const TCP_HINT = "must be HOST:PORT, like 127.0.0.1:5432";
const URL_HINT = "must be a URL like http://127.0.0.1:8000/health";

/** `ready:`: a readiness probe, of any kind. */
export function readReadyProbe(c: Checker, entry: Entry): ProbeSpec | undefined {
  return readProbe(c, entry, "ready");
}

/** `alive:`: a liveness probe: `http`, `tcp`, `exec` or `shell`. */
export function readAliveProbe(c: Checker, entry: Entry): ProbeSpec | undefined {
  return readProbe(c, entry, "alive");
}

function kindsFor(role: ProbeRole): readonly KindKey[] {
  return role === "ready" ? KINDS : KINDS.filter((k) => k !== "log" && k !== "notify");
}

// "a, b or c"
function either(words: readonly string[]): string {
  return words.length < 2
    ? words.join("")
    : `${words.slice(0, -1).join(", ")} or ${words.at(-1)}`;
}

function readProbe(c: Checker, entry: Entry, role: ProbeRole): ProbeSpec | undefined {
  const allowed = kindsFor(role);
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, `must be a mapping with one of ${either(allowed)}`);
    return undefined;
  }
  let ok = true;
  const report = (at: number, path: Path, message: string) => {
    c.report(at, path, message);
    ok = false;
  };
  const kinds: Entry[] = [];
  const fields = new Map<FieldKey, Entry>();
  for (const field of c.entries(entry.value, entry.path)) {
    if ((KINDS as readonly string[]).includes(field.key)) kinds.push(field);
    else if ((FIELDS as readonly string[]).includes(field.key)) {
      fields.set(field.key as FieldKey, field);
    } else {
      const guess = suggest(field.key, [...KINDS, ...FIELDS], PROBE_ALIASES);
      const advice = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
      report(field.keyAt, field.path, `unknown key ${quote(field.key)}${advice}`);
    }
  }
  let check: ProbeCheck | undefined;
  if (kinds.length === 0) {
    report(entry.keyAt, entry.path, `needs one of ${either(allowed)}`);
  } else if (kinds.length > 1) {
    const names = kinds.map((k) => k.key);
    const these = names.length === 2
      ? `both ${names[0]} and ${names[1]}`
      : `${names.slice(0, -1).join(", ")} and ${names.at(-1)}`;
    report(entry.keyAt, entry.path, `has ${these}; use one`);
  } else {
    check = readCheck(c, kinds[0]!, role, report);
  }
  // The fields are checked even when the check is not, so that every
  // problem is reported at once.
  const probe: Partial<ProbeSpec> = {};
  for (const [key, field] of fields) {
    if (check !== undefined && isEventDriven(check)) {
      const passes = check.kind === "log"
        ? "it passes on the first line that matches"
        : "it passes when the process sends READY=1";
      report(
        field.keyAt,
        field.path,
        `a ${check.kind} probe takes no ${key}: ${passes}`,
      );
      continue;
    }
    const value = readField(field, key, role, report);
    if (value !== undefined) probe[key] = value;
  }
  if (!ok || check === undefined) return undefined;
  return { check, ...probe };
}

type Report = (at: number, path: Path, message: string) => void;

function readCheck(
  c: Checker,
  kind: Entry,
  role: ProbeRole,
  report: Report,
): ProbeCheck | undefined {
  const key = kind.key as KindKey;
  if (role === "alive" && (key === "log" || key === "notify")) {
    report(
      kind.keyAt,
      kind.path,
      `${key} is for readiness only; a liveness probe needs ${
        either(kindsFor("alive"))
      }`,
    );
    return undefined;
  }
  // An undefined result makes the probe invalid; the shared readers
  // (readArgv, readShell) report their own problems.
  switch (key) {
    case "http":
      return readUrl(kind, report);
    case "tcp":
      return readHostPort(kind, report);
    case "exec": {
      const argv = readArgv(c, kind);
      return argv === undefined ? undefined : { kind: "exec", argv };
    }
    case "shell": {
      const script = readShell(c, kind);
      return script === undefined
        ? undefined
        : { kind: "exec", argv: ["/bin/sh", "-c", script] };
    }
    case "log":
      return readPattern(kind, report);
    case "notify":
      if (isScalar(kind.value) && kind.value.value === true) return { kind: "notify" };
      report(
        kind.at,
        kind.path,
        isScalar(kind.value) && kind.value.value === false
          ? "must be true (leave the probe out for none)"
          : "must be true",
      );
      return undefined;
  }
}

function readUrl(entry: Entry, report: Report): ProbeCheck | undefined {
  const text = scalarText(entry.value);
  if (text === undefined || text === "") {
    report(entry.at, entry.path, URL_HINT);
    return undefined;
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    report(
      entry.at,
      entry.path,
      `is not a URL; ${URL_HINT.replace("must be", "write")}`,
    );
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    report(
      entry.at,
      entry.path,
      `must be an http:// or https:// URL, not ${quote(url.protocol)}`,
    );
    return undefined;
  }
  if (url.hostname === "") {
    report(entry.at, entry.path, URL_HINT);
    return undefined;
  }
  return { kind: "http", url: text };
}

function readHostPort(entry: Entry, report: Report): ProbeCheck | undefined {
  const text = scalarText(entry.value);
  const match = text === undefined ? null : HOST_PORT.exec(text);
  if (match === null) {
    report(entry.at, entry.path, TCP_HINT);
    return undefined;
  }
  const port = Number(match[3]);
  if (!(port >= 1 && port <= 65535)) {
    report(entry.at, entry.path, `port ${match[3]} is out of range; use 1 to 65535`);
    return undefined;
  }
  // A bare port (or ":PORT") means this machine, over IPv4.
  const host = match[1] ?? (match[2] || "127.0.0.1");
  return { kind: "tcp", host, port };
}

/** V8's reason for refusing a pattern, without the pattern repeated. */
function whyNot(error: unknown): string {
  return (error instanceof Error ? error.message : String(error))
    .replace(/^Invalid regular expression: \/.*\/[a-z]*: /s, "");
}

function readPattern(entry: Entry, report: Report): ProbeCheck | undefined {
  const pattern = scalarText(entry.value);
  if (pattern === undefined || pattern === "") {
    report(
      entry.at,
      entry.path,
      "must be a regular expression, like 'listening on \\d+'",
    );
    return undefined;
  }
  try {
    new RegExp(pattern);
  } catch (error) {
    // V8 says "Invalid regular expression: /(/: Unterminated group".
    report(entry.at, entry.path, `is not a valid regular expression: ${whyNot(error)}`);
    return undefined;
  }
  try {
    // Every line a child prints is matched: only linear-time patterns, so no
    // line can make tend backtrack for ever.
    linearRegExp(pattern);
  } catch (error) {
    const why = whyNot(error);
    report(
      entry.at,
      entry.path,
      why === "Cannot be executed in linear time"
        ? "cannot be matched in linear time (back-references and lookarounds " +
          "are not allowed: a child's line could make it run for ever)"
        : why,
    );
    return undefined;
  }
  return { kind: "log", pattern };
}

function readField(
  field: Entry,
  key: FieldKey,
  role: ProbeRole,
  report: Report,
): number | undefined {
  if (key === "initialDelay" || key === "period" || key === "timeout") {
    let seconds: number;
    try {
      seconds = parseDuration(isScalar(field.value) ? field.value.value : field.value);
    } catch (error) {
      report(
        field.at,
        field.path,
        error instanceof Error ? error.message : String(error),
      );
      return undefined;
    }
    // A period of 0 would check in a busy loop, a timeout of 0 always fail.
    if (key !== "initialDelay" && seconds === 0) {
      report(field.at, field.path, "must be more than 0");
      return undefined;
    }
    return seconds;
  }
  const value = isScalar(field.value) ? field.value.value : undefined;
  if (!(typeof value === "number" && Number.isSafeInteger(value) && value >= 1)) {
    report(field.at, field.path, "must be a whole number, 1 or more");
    return undefined;
  }
  if (key === "successes" && role === "alive" && value !== 1) {
    report(
      field.at,
      field.path,
      "must be 1 for a liveness probe: a single pass ends a run of failures (as in Kubernetes)",
    );
    return undefined;
  }
  return value;
}

/**
 * `dependsOn:`: a mapping of process names to `started`, `ready` or
 * `done`, or a list of names, each meaning `started` (docker compose's
 * short form).
 */
export function readDependsOn(
  c: Checker,
  entry: Entry,
): Record<string, DependencyCondition> | undefined {
  const node = entry.value;
  const deps: Record<string, DependencyCondition> = {};
  let ok = true;
  if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const at = c.offsetOf(item, entry.at);
      const path = [...entry.path, index];
      const name = scalarText(c.resolve(item));
      if (name === undefined || name === "") {
        c.report(at, path, "must be a process name");
        ok = false;
      } else if (Object.hasOwn(deps, name)) {
        c.report(at, path, `${quote(name)} is listed twice`);
        ok = false;
      } else {
        setOwn(deps, name, "started");
      }
    });
    return ok ? deps : undefined;
  }
  if (!isMap(node)) {
    c.report(
      entry.at,
      entry.path,
      "must be a mapping of process names to started, ready or done (or a list of names)",
    );
    return undefined;
  }
  for (const dep of c.entries(node, entry.path)) {
    const text = scalarText(dep.value);
    const condition = CONDITIONS.find((cond) => cond === text);
    if (condition !== undefined) {
      setOwn(deps, dep.key, condition);
      continue;
    }
    ok = false;
    if (text === undefined) {
      c.report(dep.at, dep.path, "must be started, ready or done");
    } else {
      const guess = suggest(text, CONDITIONS, CONDITION_ALIASES);
      const advice = guess === undefined
        ? "; use started, ready or done"
        : ` (did you mean "${guess}"?)`;
      c.report(dep.at, dep.path, `unknown condition ${quote(text)}${advice}`);
    }
  }
  return ok ? deps : undefined;
}

// Where one dependency is written: its name (or list item) and its condition.
interface DependencyPlace {
  keyAt: number;
  at: number;
  path: Path;
}

// One process as written: its mapping, and where each dependency is.
interface Written {
  node: YAMLMap | null;
  deps: Map<string, DependencyPlace>;
}

/**
 * Checks the dependencies across processes, each problem at its place:
 * a dependency on a process that is not defined (with a did-you-mean),
 * a dependency cycle (naming its processes, at the first process of the
 * ring in file order), `ready` on a process without a `ready:` probe, and
 * `done` on a process that restarts always (it is never done).
 *
 * A dependency may name one copy of a replicated process (`web.2`), as
 * well as the whole of it (`web`: every copy).
 *
 * @param processes the `processes:` entry of the file
 * @param specs the processes that were read without problems, by file name
 * @param copies the copies' names of each replicated process, by file name
 */
export function checkDependencies(
  c: Checker,
  processes: Entry,
  specs: Readonly<Record<string, ProcessSpec>>,
  copies: ReadonlyMap<string, readonly string[]> = new Map(),
): void {
  // A copy's name stands for its process as written (`web.2` is `web`).
  const fileNameOf = new Map<string, string>();
  for (const [name, names] of copies) {
    for (const copy of names) fileNameOf.set(copy, name);
  }
  const target = (dep: string) => written.has(dep) ? dep : fileNameOf.get(dep) ?? dep;
  if (!isMap(processes.value)) return;
  const written = new Map<string, Written>();
  for (const pair of processes.value.items) {
    const name = scalarText(c.resolve(pair.key));
    if (name === undefined || written.has(name)) continue; // reported by the loader
    const node = c.resolve(pair.value);
    const map = isMap(node) ? node : null;
    written.set(name, {
      node: map,
      deps: placesOf(c, map, [...processes.path, name, "dependsOn"]),
    });
  }
  const names = [...written.keys(), ...fileNameOf.keys()];
  for (const [name, spec] of Object.entries(specs)) {
    const places = written.get(name)?.deps;
    if (spec.dependsOn === undefined || places === undefined) continue;
    for (const [named, condition] of Object.entries(spec.dependsOn)) {
      const place = places.get(named);
      if (place === undefined) continue;
      const dep = target(named);
      const other = written.get(dep);
      if (other === undefined) {
        const guess = suggest(dep, names.filter((n) => n !== name));
        const advice = guess === undefined ? "" : ` (did you mean "${guess}"?)`;
        c.report(place.keyAt, place.path, `unknown process ${quote(dep)}${advice}`);
        continue;
      }
      if (condition === "ready" && !has(c, other.node, "ready")) {
        c.report(
          place.at,
          place.path,
          `${
            quote(named)
          } has no ready probe, so it is never ready; give it one, or use started`,
        );
      }
      if (condition === "done" && dep !== name) {
        const restart = has(c, other.node, "restart") ? specs[dep]?.restart : "always";
        if (restart === "always") {
          const how = has(c, other.node, "restart") ? "" : " (the default)";
          c.report(
            place.at,
            place.path,
            `${quote(named)} has restart: always${how}, so it is never done; ` +
              "give it restart: on-failure or never",
          );
        }
      }
    }
  }
  const graph = new Map(
    Object.entries(specs).map(([name, spec]) => [
      name,
      Object.fromEntries(
        Object.entries(spec.dependsOn ?? {}).map(([dep, how]) => [target(dep), how]),
      ),
    ]),
  );
  for (const cycle of findCycles(graph)) {
    const [first, next = first] = [cycle[0]!, cycle[1]];
    const deps = written.get(first)?.deps;
    const place = deps === undefined
      ? undefined
      : [...deps].find(([dep]) => target(dep) === next)?.[1];
    if (place === undefined) continue;
    c.report(
      place.keyAt,
      place.path,
      cycle.length === 1
        ? `${quote(first)} depends on itself`
        : `dependency cycle: ${formatCycle(cycle)}`,
    );
  }
}

// Whether a process's mapping has `key`, valid or not (an invalid one was
// reported by its reader, and must not be reported again as missing).
function has(c: Checker, node: YAMLMap | null, key: string): boolean {
  return node !== null &&
    node.items.some((pair) => scalarText(c.resolve(pair.key)) === key);
}

// Where each dependency of a process mapping is written, without
// reporting anything (the reader did): the first of a duplicate wins.
function placesOf(
  c: Checker,
  map: YAMLMap | null,
  path: Path,
): Map<string, DependencyPlace> {
  const places = new Map<string, DependencyPlace>();
  const pair = map?.items.find((p) => scalarText(c.resolve(p.key)) === "dependsOn");
  if (pair === undefined) return places;
  const node = c.resolve(pair.value);
  const fallback = c.offsetOf(pair.key, 0);
  if (isSeq(node)) {
    node.items.forEach((item, index) => {
      const name = scalarText(c.resolve(item));
      const at = c.offsetOf(item, fallback);
      if (name !== undefined && !places.has(name)) {
        places.set(name, { keyAt: at, at, path: [...path, index] });
      }
    });
  } else if (isMap(node)) {
    for (const dep of node.items) {
      const name = scalarText(c.resolve(dep.key));
      if (name === undefined || places.has(name)) continue;
      const keyAt = c.offsetOf(dep.key, fallback);
      places.set(name, {
        keyAt,
        at: c.offsetOf(dep.value, keyAt),
        path: [...path, name],
      });
    }
  }
  return places;
}

/**
 * A probe as `tend check` lists it, every field resolved, or `(none)`.
 *
 * @example
 * ```ts
 * import { describeProbe } from "./probes.ts";
 * import { resolveProbe } from "../core/spec.ts";
 * describeProbe(resolveProbe({ check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 }));
 * // "tcp 127.0.0.1:5432 (initialDelay 0s, period 1s, timeout 1s, successes 1, failures 3)"
 * ```
 */
export function describeProbe(probe: ResolvedProbe | null): string {
  if (probe === null) return "(none)";
  const check = probe.check;
  if (check.kind === "log") {
    return `${describeCheck(check)} (the first line that matches)`;
  }
  if (check.kind === "notify") return "notify (READY=1 on NOTIFY_SOCKET)";
  return `${describeCheck(check)} (initialDelay ${
    formatDuration(probe.initialDelay)
  }, ` +
    `period ${formatDuration(probe.period)}, timeout ${
      formatDuration(probe.timeout)
    }, ` +
    `successes ${probe.successes}, failures ${probe.failures})`;
}

/**
 * Dependencies as `tend check` lists them: `db: ready, migrate: done`, or `(none)`.
 */
export function describeDependencies(
  deps: Readonly<Record<string, DependencyCondition>>,
): string {
  const entries = Object.entries(deps);
  return entries.length === 0
    ? "(none)"
    : entries.map(([name, condition]) => `${name}: ${condition}`).join(", ");
}
