/**
 * The log file keys: sizes (`maxBytes`), a process's `log` and the
 * top-level one, how they combine, `${VAR}` in `log.file`, and every
 * problem at its place.
 */

import assert from "node:assert/strict";
import {
  type Config,
  ConfigError,
  formatProblem,
  parseConfig,
} from "../../lib/config/load.ts";
import { configSchema } from "../../lib/config/schema.ts";
import { describeProcess } from "../../lib/config/describe.ts";
import { formatSize, parseSize } from "../../lib/core/size.ts";
import { DEFAULT_TIMING, sameSpec } from "../../lib/core/spec.ts";
import { assertValidatesSchema, schemaProblems } from "../_fakes/schema.ts";

const FILE = "procs.yaml";
const BASE = "/srv/app";
const ENV: Record<string, string> = { LOGS: "/var/log/app" };

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(text: string): Config {
  const config = parseConfig(text, FILE, BASE, { env: ENV });
  assertValidatesSchema(text);
  return config;
}

function problems(text: string): string[] {
  try {
    parseConfig(text, FILE, BASE, { env: ENV });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("a size is bytes, or a number with a decimal or binary unit", () => {
  const cases: [unknown, number][] = [
    [0, 0],
    [4096, 4096],
    ["4096", 4096],
    ["10B", 10],
    ["64KB", 64_000],
    ["64KiB", 65_536],
    ["10MB", 10_000_000],
    ["10 MiB", 10_485_760],
    ["1GB", 1_000_000_000],
    ["2GiB", 2_147_483_648],
    ["1.5MB", 1_500_000],
    ["1.5MiB", 1_572_864],
    // Exactly, not through floating point (4.35 * 1000 is 4349.999...).
    ["4.35KB", 4350],
    ["0.0001KB", 0],
    ["+5KB", 5000],
  ];
  for (const [value, bytes] of cases) {
    assert.equal(parseSize(value), bytes, String(value));
  }
});

Deno.test("a size that is not one says why, and suggests the unit meant", () => {
  const cases: [unknown, RegExp][] = [
    [-1, /^must not be negative$/],
    ["-5MB", /^must not be negative$/],
    [1.5, /^must be a whole number of bytes/],
    ["1.5", /^must be a whole number of bytes/],
    ["10mb", /^unknown unit "mb" \(did you mean "MB"\?\); use KB, MB, GB/],
    ["10mib", /did you mean "MiB"\?/],
    ["10M", /^unknown unit "M" \(did you mean "MB" or "MiB"\?\)/],
    ["10k", /did you mean "KB" or "KiB"\?/],
    ["10TB", /^unknown unit "TB"; use KB, MB, GB \(powers of 1000\) or KiB, MiB, GiB/],
    ["", /^must be a number of bytes, or a number with a unit/],
    ["MB", /^must be a number of bytes/],
    ["10  MB", /^must be a number of bytes/],
    [true, /^must be a number of bytes/],
    [Infinity, /^must be finite$/],
    [2 ** 60, /^must be at most 9007199254740991 bytes$/],
    ["9999999GiB", /^must be at most/],
  ];
  for (const [value, message] of cases) {
    assert.throws(
      () => parseSize(value),
      (error: Error) => message.test(error.message),
      String(value),
    );
  }
});

Deno.test("a size is shown in the largest unit that holds it exactly", () => {
  assert.equal(formatSize(0), "0");
  assert.equal(formatSize(10_000_000), "10MB");
  assert.equal(formatSize(65_536), "64KiB");
  assert.equal(formatSize(3 * 1024 ** 3), "3GiB");
  assert.equal(formatSize(1), "1 byte");
  assert.equal(formatSize(1234), "1234 bytes");
  for (const bytes of [64_000, 1_572_864, 10_485_760, 2_000_000_000]) {
    assert.equal(parseSize(formatSize(bytes)), bytes);
  }
});

Deno.test("the schema's size pattern takes what parseSize takes", () => {
  const log = configSchema().$defs.process.properties.log as {
    anyOf: { properties?: { maxBytes: { anyOf: { pattern?: string }[] } } }[];
  };
  const pattern = new RegExp(log.anyOf[2]!.properties!.maxBytes.anyOf[1]!.pattern!);
  for (const text of ["0", "4096", "64KB", "64KiB", "1.5 MB", "+5GB", "10B"]) {
    parseSize(text);
    assert.ok(pattern.test(text), text);
  }
  for (const text of ["-1", "10mb", "10M", "MB", "", "1e3", "10  MB"]) {
    assert.throws(() => parseSize(text), Error, text);
    assert.ok(!pattern.test(text), text);
  }
});

Deno.test("a process's log: a path, or file, maxBytes and backups, made absolute from the config's folder", () => {
  const config = parse(yaml(
    "processes:",
    "  web: { cmd: [x], log: logs/web.log }",
    "  api: { cmd: [x], log: { file: /var/log/api.log, maxBytes: 64KB, backups: 2 } }",
    "  db: { cmd: [x] }",
  ));
  assert.deepEqual(config.processes.web!.log, {
    file: "/srv/app/logs/web.log",
    maxBytes: 10_000_000,
    backups: 5,
  });
  assert.deepEqual(config.processes.api!.log, {
    file: "/var/log/api.log",
    maxBytes: 64_000,
    backups: 2,
  });
  assert.equal(config.processes.db!.log, undefined);
});

Deno.test("the top-level log gives every process DIR/NAME.log; a process's own log wins key by key", () => {
  const config = parse(yaml(
    "log: { dir: logs, maxBytes: 1MiB, backups: 3 }",
    "processes:",
    "  web: { cmd: [x] }",
    "  api: { cmd: [x], log: { backups: 9 } }",
    "  db: { cmd: [x], log: { file: /data/db.log } }",
    "  quiet: { cmd: [x], log: false }",
    "  w: { cmd: [x], replicas: 2 }",
  ));
  const logs = Object.fromEntries(
    Object.entries(config.processes).map(([name, spec]) => [name, spec.log]),
  );
  assert.deepEqual(logs, {
    web: { file: "/srv/app/logs/web.log", maxBytes: 1_048_576, backups: 3 },
    api: { file: "/srv/app/logs/api.log", maxBytes: 1_048_576, backups: 9 },
    db: { file: "/data/db.log", maxBytes: 1_048_576, backups: 3 },
    quiet: undefined,
    "w.1": { file: "/srv/app/logs/w.1.log", maxBytes: 1_048_576, backups: 3 },
    "w.2": { file: "/srv/app/logs/w.2.log", maxBytes: 1_048_576, backups: 3 },
  });
  // Rotation alone at the top is for the processes that name a file.
  const sizes = parse(yaml(
    "log: { maxBytes: 0 }",
    "processes:",
    "  web: { cmd: [x], log: web.log }",
    "  db: { cmd: [x] }",
  ));
  assert.deepEqual(sizes.processes.web!.log, {
    file: "/srv/app/web.log",
    maxBytes: 0,
    backups: 5,
  });
  assert.equal(sizes.processes.db!.log, undefined);
});

Deno.test("${VAR} is expanded in log.file (with TEND_REPLICA) and in the top-level log.dir", () => {
  const config = parse(yaml(
    "log: { dir: '${LOGS}/all' }",
    "processes:",
    "  web:",
    "    cmd: [x]",
    "    replicas: 2",
    "    log: { file: '${LOGS}/web-${TEND_REPLICA}.log' }",
    "  api: { cmd: [x], log: '${LOGS:-/nope}/${TEND_PROCESS}.log' }",
    "  db: { cmd: [x] }",
  ));
  assert.equal(config.processes["web.1"]!.log!.file, "/var/log/app/web-1.log");
  assert.equal(config.processes["web.2"]!.log!.file, "/var/log/app/web-2.log");
  assert.equal(config.processes.api!.log!.file, "/var/log/app/api.log");
  assert.equal(config.processes.db!.log!.file, "/var/log/app/all/db.log");
  assert.deepEqual(
    problems(yaml(
      "log: { dir: '${NOPE}' }",
      "processes:",
      "  web: { cmd: [x], log: { file: 'a/${MISSING}.log' } }",
    )),
    [
      'procs.yaml:1:14: log.dir: variable "NOPE" is not set (write ${NOPE:-value} to give a default)',
      'procs.yaml:3:36: processes.web.log.file: variable "MISSING" is not set (write ${MISSING:-value} to give a default)',
    ],
  );
});

Deno.test("every problem of the log keys is reported at its place", () => {
  assert.deepEqual(
    problems(yaml(
      "log: { dir: ~/logs, size: 1MB, file: x }",
      "processes:",
      "  a: { cmd: [x], log: { maxBytes: 10M, backup: 3, dir: x } }",
      "  b: { cmd: [x], log: { maxBytes: -1, backups: 1001 } }",
      "  c: { cmd: [x], log: 12 }",
      "  d: { cmd: [x], log: { file: '' } }",
    )),
    [
      'procs.yaml:1:13: log.dir: "~" is not expanded; write the full path (or ${HOME})',
      'procs.yaml:1:21: log.size: unknown key "size" (did you mean "maxBytes"?)',
      'procs.yaml:1:32: log.file: unknown key "file" (file is a process\'s log key; the top-level log takes dir)',
      'procs.yaml:3:35: processes.a.log.maxBytes: unknown unit "M" (did you mean "MB" or "MiB"?); use KB, MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024)',
      'procs.yaml:3:40: processes.a.log.backup: unknown key "backup" (did you mean "backups"?)',
      'procs.yaml:3:51: processes.a.log.dir: unknown key "dir" (dir is a top-level log key; a process\'s log takes file)',
      "procs.yaml:4:35: processes.b.log.maxBytes: must not be negative",
      "procs.yaml:4:48: processes.b.log.backups: must be at most 1000",
      "procs.yaml:5:23: processes.c.log: must be a file's path, a mapping with file, maxBytes and backups, or false",
      "procs.yaml:6:31: processes.d.log.file: must not be empty",
    ],
  );
  assert.deepEqual(
    problems(yaml("processes:", "  web: { cmd: [x], log: { backups: 2 } }")),
    [
      "procs.yaml:2:25: processes.web.log: needs a file (or a top-level log: { dir: ... } that gives every process one)",
    ],
  );
  assert.deepEqual(problems(yaml("log: logs", "processes:", "  web: { cmd: [x] }")), [
    "procs.yaml:1:6: log: must be a mapping with dir, maxBytes and backups",
  ]);
});

Deno.test("two processes may not share a log file; copies sharing one are told about ${TEND_REPLICA}", () => {
  assert.deepEqual(
    problems(yaml(
      "log: { dir: logs }",
      "processes:",
      "  web: { cmd: [x], log: logs/db.log }",
      "  db: { cmd: [x] }",
      "  w: { cmd: [x], replicas: 3, log: w.log }",
    )),
    [
      'procs.yaml:1:6: log: "/srv/app/logs/db.log" is also the log file of web; each process needs its own',
      'procs.yaml:5:36: processes.w.log: "/srv/app/w.log" is also the log file of w.1; each process needs its own (for copies made by replicas, put ${TEND_REPLICA} in the file\'s name)',
    ],
  );
});

Deno.test("a log change alone leaves the spec the same (no restart); tend check lists the file", () => {
  const before = parse(yaml("processes:", "  web: { cmd: [x], log: a.log }"));
  const after = parse(
    yaml("processes:", "  web: { cmd: [x], log: { file: b.log, maxBytes: 0 } }"),
  );
  assert.ok(sameSpec(before.processes.web!, after.processes.web!));
  const shown = (config: Config) =>
    describeProcess("web", config.processes.web!, DEFAULT_TIMING).split("\n").find((
      line,
    ) => line.startsWith("  log:"));
  assert.equal(
    shown(before),
    "  log:             /srv/app/a.log (maxBytes 10MB, backups 5)",
  );
  assert.equal(shown(after), "  log:             /srv/app/b.log (never rotated)");
  const none = parse(yaml("processes:", "  web: { cmd: [x] }"));
  assert.equal(shown(none), "  log:             (none: tend's log only)");
});

Deno.test("the schema refuses the log settings a schema can refuse", () => {
  for (
    const text of [
      "log: {file: x}\nprocesses: {web: {cmd: [x]}}",
      "log: x\nprocesses: {web: {cmd: [x]}}",
      "processes: {web: {cmd: [x], log: {dir: x}}}",
      "processes: {web: {cmd: [x], log: true}}",
      "processes: {web: {cmd: [x], log: {file: x, maxBytes: 10M}}}",
      "processes: {web: {cmd: [x], log: {file: x, backups: -1}}}",
    ]
  ) {
    assert.notDeepEqual(schemaProblems(text), [], text);
  }
});
