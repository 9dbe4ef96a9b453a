/**
 * The health keys in the config: `ready:`, `alive:` and `dependsOn:`,
 * each rule and its error with its FILE:LINE:COL place, the checks
 * across processes (unknown names, cycles, conditions that can never
 * hold), and how `tend check` lists them.
 */

import assert from "node:assert/strict";
import { describeProcess } from "../../lib/config/describe.ts";
import {
  type Config,
  ConfigError,
  formatProblem,
  parseConfig,
} from "../../lib/config/load.ts";
import {
  DEFAULT_PROBE,
  DEFAULT_TIMING,
  type ProcessSpec,
  resolveSpec,
  sameSpec,
} from "../../lib/core/spec.ts";

const FILE = "procs.yaml";

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(text: string): Config {
  return parseConfig(text, FILE, "/srv/app");
}

function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

function processes(...lines: string[]): Record<string, ProcessSpec> {
  return parse(yaml("processes:", ...lines)).processes;
}

// --- valid probes ---------------------------------------------------------------------

Deno.test("the spec's health example reads into the exact specs", () => {
  const specs = processes(
    "  db:",
    "    cmd: [postgres, -D, ./data]",
    "    ready: { tcp: 127.0.0.1:5432, period: 1s }",
    "  api:",
    "    cmd: [deno, run, -A, api.ts]",
    "    ready: { http: http://127.0.0.1:8000/health }",
    "    alive: { http: http://127.0.0.1:8000/health, failures: 3 }",
    "    dependsOn: { db: ready }",
    "  migrate:",
    "    shell: ./migrate.sh",
    "    restart: on-failure",
    "    dependsOn: { db: ready }",
    "  worker:",
    "    cmd: [./worker]",
    "    dependsOn: { migrate: done, api: started }",
  );
  for (const spec of Object.values(specs)) {
    assert.ok(sameSpec(spec, JSON.parse(JSON.stringify(spec))), "plain JSON");
  }
  // Every process also gets its folder and TEND_PROCESS; the rest is what matters here.
  const health = Object.fromEntries(
    Object.entries(specs).map((
      [name, { cwd: _cwd, env: _env, ...rest }],
    ) => [name, rest]),
  );
  assert.deepEqual(health, {
    db: {
      argv: ["postgres", "-D", "./data"],
      ready: { check: { kind: "tcp", host: "127.0.0.1", port: 5432 }, period: 1 },
    },
    api: {
      argv: ["deno", "run", "-A", "api.ts"],
      ready: { check: { kind: "http", url: "http://127.0.0.1:8000/health" } },
      alive: {
        check: { kind: "http", url: "http://127.0.0.1:8000/health" },
        failures: 3,
      },
      dependsOn: { db: "ready" },
    },
    migrate: {
      argv: ["/bin/sh", "-c", "./migrate.sh"],
      restart: "on-failure",
      dependsOn: { db: "ready" },
    },
    worker: { argv: ["./worker"], dependsOn: { migrate: "done", api: "started" } },
  });
});

Deno.test("every probe kind is read", () => {
  const specs = processes(
    "  a: {cmd: [x], ready: {exec: [pg_isready, -q]}, alive: {shell: 'test -e /tmp/up'}}",
    "  b: {cmd: [x], ready: {log: 'listening on :\\d+'}}",
    "  c: {cmd: [x], ready: {notify: true}}",
    "  d: {cmd: [x], ready: {http: 'https://example.test:8443/ready?x=1'}}",
  );
  assert.deepEqual(specs.a?.ready, {
    check: { kind: "exec", argv: ["pg_isready", "-q"] },
  });
  assert.deepEqual(specs.a?.alive, {
    check: { kind: "exec", argv: ["/bin/sh", "-c", "test -e /tmp/up"] },
  });
  assert.deepEqual(specs.b?.ready, {
    check: { kind: "log", pattern: "listening on :\\d+" },
  });
  assert.deepEqual(specs.c?.ready, { check: { kind: "notify" } });
  assert.deepEqual(specs.d?.ready, {
    check: { kind: "http", url: "https://example.test:8443/ready?x=1" },
  });
});

Deno.test("tcp takes HOST:PORT, [IPv6]:PORT, or a bare port meaning 127.0.0.1", () => {
  const specs = processes(
    "  a: {cmd: [x], ready: {tcp: db.internal:5432}}",
    "  b: {cmd: [x], ready: {tcp: '[::1]:6379'}}",
    "  c: {cmd: [x], ready: {tcp: 8080}}",
    "  d: {cmd: [x], ready: {tcp: ':9000'}}",
  );
  assert.deepEqual(
    Object.values(specs).map((spec) => spec.ready?.check),
    [
      { kind: "tcp", host: "db.internal", port: 5432 },
      { kind: "tcp", host: "::1", port: 6379 },
      { kind: "tcp", host: "127.0.0.1", port: 8080 },
      { kind: "tcp", host: "127.0.0.1", port: 9000 },
    ],
  );
});

Deno.test("probe fields are read as durations and counts, and only the given ones are set", () => {
  const spec = processes(
    "  a:",
    "    cmd: [x]",
    "    ready: {tcp: 5432, initialDelay: 500ms, period: 2, timeout: 1.5s, successes: 2, failures: 5}",
    "    alive: {tcp: 5432, initialDelay: 0, successes: 1}",
  ).a!;
  assert.deepEqual(spec.ready, {
    check: { kind: "tcp", host: "127.0.0.1", port: 5432 },
    initialDelay: 0.5,
    period: 2,
    timeout: 1.5,
    successes: 2,
    failures: 5,
  });
  assert.deepEqual(spec.alive, {
    check: { kind: "tcp", host: "127.0.0.1", port: 5432 },
    initialDelay: 0,
    successes: 1,
  });
});

Deno.test("resolveSpec() gives probes Kubernetes' defaults, and no probe null", () => {
  const spec = processes("  a: {cmd: [x], ready: {tcp: 1, period: 3}}").a!;
  const resolved = resolveSpec(spec, DEFAULT_TIMING);
  assert.deepEqual(resolved.ready, {
    ...DEFAULT_PROBE,
    check: { kind: "tcp", host: "127.0.0.1", port: 1 },
    period: 3,
  });
  assert.equal(resolved.alive, null);
  assert.deepEqual(resolved.dependsOn, {});
});

// --- probe errors --------------------------------------------------------------------------

Deno.test("a probe must be a mapping", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: http://127.0.0.1/}",
      "  b: {cmd: [x], alive: [tcp, 1]}",
    )),
    [
      "procs.yaml:2:24: processes.a.ready: must be a mapping with one of http, tcp, exec, shell, log or notify",
      "procs.yaml:3:24: processes.b.alive: must be a mapping with one of http, tcp, exec or shell",
    ],
  );
});

Deno.test("a probe needs exactly one check", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {period: 1s}}",
      "  b: {cmd: [x], ready: {http: 'http://h/', tcp: 'h:1'}}",
      "  c: {cmd: [x], alive: {exec: [x], shell: x, tcp: 1}}",
    )),
    [
      "procs.yaml:2:17: processes.a.ready: needs one of http, tcp, exec, shell, log or notify",
      "procs.yaml:3:17: processes.b.ready: has both http and tcp; use one",
      "procs.yaml:4:17: processes.c.alive: has exec, shell and tcp; use one",
    ],
  );
});

Deno.test("unknown probe keys get a did-you-mean, Kubernetes' and compose's names included", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a:",
      "    cmd: [x]",
      "    ready:",
      "      tcp: 1",
      "      initialDelaySeconds: 5",
      "      periodSeconds: 5",
      "      timeoutSeconds: 1",
      "      successThreshold: 1",
      "      failureThreshold: 3",
      "      interval: 5s",
      "      retries: 3",
      "      peroid: 1",
      "      colour: red",
      "  b:",
      "    cmd: [x]",
      "    alive: {httpGet: 'http://h/'}",
    )),
    [
      'procs.yaml:6:7: processes.a.ready.initialDelaySeconds: unknown key "initialDelaySeconds" (did you mean "initialDelay"?)',
      'procs.yaml:7:7: processes.a.ready.periodSeconds: unknown key "periodSeconds" (did you mean "period"?)',
      'procs.yaml:8:7: processes.a.ready.timeoutSeconds: unknown key "timeoutSeconds" (did you mean "timeout"?)',
      'procs.yaml:9:7: processes.a.ready.successThreshold: unknown key "successThreshold" (did you mean "successes"?)',
      'procs.yaml:10:7: processes.a.ready.failureThreshold: unknown key "failureThreshold" (did you mean "failures"?)',
      'procs.yaml:11:7: processes.a.ready.interval: unknown key "interval" (did you mean "period"?)',
      'procs.yaml:12:7: processes.a.ready.retries: unknown key "retries" (did you mean "failures"?)',
      'procs.yaml:13:7: processes.a.ready.peroid: unknown key "peroid" (did you mean "period"?)',
      'procs.yaml:14:7: processes.a.ready.colour: unknown key "colour"',
      'procs.yaml:17:13: processes.b.alive.httpGet: unknown key "httpGet" (did you mean "http"?)',
      "procs.yaml:17:5: processes.b.alive: needs one of http, tcp, exec or shell",
    ].sort(byPlace),
  );
});

// Problems in file order (the order ConfigError lists them).
function byPlace(a: string, b: string): number {
  const at = (s: string) => s.split(":").slice(1, 3).map(Number) as [number, number];
  const [la, ca] = at(a);
  const [lb, cb] = at(b);
  return la - lb || ca - cb;
}

Deno.test("process keys from other tools point to ready, alive and dependsOn", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a:",
      "    cmd: [x]",
      "    readiness_probe: {tcp: 1}",
      "    livenessProbe: {tcp: 1}",
      "    depends_on: [b]",
      "    healthcheck: {tcp: 1}",
      "  b: {cmd: [x]}",
    )),
    [
      'procs.yaml:4:5: processes.a.readiness_probe: unknown key "readiness_probe" (did you mean "ready"?)',
      'procs.yaml:5:5: processes.a.livenessProbe: unknown key "livenessProbe" (did you mean "alive"?)',
      'procs.yaml:6:5: processes.a.depends_on: unknown key "depends_on" (did you mean "dependsOn"?)',
      'procs.yaml:7:5: processes.a.healthcheck: unknown key "healthcheck" (did you mean "ready"?)',
    ],
  );
});

Deno.test("http must be an http:// or https:// URL with a host", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {http: [u]}}",
      "  b: {cmd: [x], ready: {http: 'not a url'}}",
      "  c: {cmd: [x], ready: {http: 'ftp://h/x'}}",
      "  d: {cmd: [x], ready: {http: 'http://'}}",
    )),
    [
      "procs.yaml:2:31: processes.a.ready.http: must be a URL like http://127.0.0.1:8000/health",
      "procs.yaml:3:31: processes.b.ready.http: is not a URL; write a URL like http://127.0.0.1:8000/health",
      'procs.yaml:4:31: processes.c.ready.http: must be an http:// or https:// URL, not "ftp:"',
      "procs.yaml:5:31: processes.d.ready.http: is not a URL; write a URL like http://127.0.0.1:8000/health",
    ],
  );
});

Deno.test("tcp must be HOST:PORT with a port from 1 to 65535", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {tcp: localhost}}",
      "  b: {cmd: [x], ready: {tcp: 'h:0'}}",
      "  c: {cmd: [x], ready: {tcp: 'h:65536'}}",
      "  d: {cmd: [x], ready: {tcp: '::1:80'}}",
      "  e: {cmd: [x], ready: {tcp: {host: h}}}",
    )),
    [
      "procs.yaml:2:30: processes.a.ready.tcp: must be HOST:PORT, like 127.0.0.1:5432",
      "procs.yaml:3:30: processes.b.ready.tcp: port 0 is out of range; use 1 to 65535",
      "procs.yaml:4:30: processes.c.ready.tcp: port 65536 is out of range; use 1 to 65535",
      "procs.yaml:5:30: processes.d.ready.tcp: must be HOST:PORT, like 127.0.0.1:5432",
      "procs.yaml:6:30: processes.e.ready.tcp: must be HOST:PORT, like 127.0.0.1:5432",
    ],
  );
});

Deno.test("exec and shell follow cmd's and shell's rules", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {exec: []}}",
      "  b: {cmd: [x], ready: {exec: pg_isready -q}}",
      "  c: {cmd: [x], alive: {shell: '  '}}",
    )),
    [
      "procs.yaml:2:31: processes.a.ready.exec: must not be empty",
      "procs.yaml:3:31: processes.b.ready.exec: is a string; use a list (argv), or shell: for a command line",
      "procs.yaml:4:32: processes.c.alive.shell: must not be empty",
    ],
  );
});

Deno.test("log must be a valid regular expression, reported at its place", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a:",
      "    cmd: [x]",
      "    ready:",
      "      log: 'listening on (port'",
      "  b: {cmd: [x], ready: {log: ''}}",
      "  c: {cmd: [x], ready: {log: '[z-a]'}}",
    )),
    [
      "procs.yaml:5:12: processes.a.ready.log: is not a valid regular expression: Unterminated group",
      "procs.yaml:6:30: processes.b.ready.log: must be a regular expression, like 'listening on \\d+'",
      "procs.yaml:7:30: processes.c.ready.log: is not a valid regular expression: Range out of order in character class",
    ],
  );
});

Deno.test("notify must be true", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {notify: false}}",
      "  b: {cmd: [x], ready: {notify: yes}}",
    )),
    [
      "procs.yaml:2:33: processes.a.ready.notify: must be true (leave the probe out for none)",
      "procs.yaml:3:33: processes.b.ready.notify: must be true",
    ],
  );
});

Deno.test("log and notify are for readiness only", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], alive: {log: up}}",
      "  b: {cmd: [x], alive: {notify: true}}",
    )),
    [
      "procs.yaml:2:25: processes.a.alive.log: log is for readiness only; a liveness probe needs http, tcp, exec or shell",
      "procs.yaml:3:25: processes.b.alive.notify: notify is for readiness only; a liveness probe needs http, tcp, exec or shell",
    ],
  );
});

Deno.test("log and notify probes take no timing fields, which would go unused", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {log: up, period: 1s, timeout: 1s}}",
      "  b: {cmd: [x], ready: {notify: true, initialDelay: 2, successes: 1, failures: 3}}",
    )),
    [
      "procs.yaml:2:34: processes.a.ready.period: a log probe takes no period: it passes on the first line that matches",
      "procs.yaml:2:46: processes.a.ready.timeout: a log probe takes no timeout: it passes on the first line that matches",
      "procs.yaml:3:39: processes.b.ready.initialDelay: a notify probe takes no initialDelay: it passes when the process sends READY=1",
      "procs.yaml:3:56: processes.b.ready.successes: a notify probe takes no successes: it passes when the process sends READY=1",
      "procs.yaml:3:70: processes.b.ready.failures: a notify probe takes no failures: it passes when the process sends READY=1",
    ],
  );
});

Deno.test("probe durations must be valid, and period and timeout above 0", () => {
  const malformed = "must be a number of seconds or a string like 500ms, 5s, 2m, 1h";
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a:",
      "    cmd: [x]",
      "    ready: {tcp: 1, initialDelay: -1s, period: 0, timeout: soon}",
      "    alive: {tcp: 1, period: 0ms, timeout: 0}",
    )),
    [
      "procs.yaml:4:35: processes.a.ready.initialDelay: must not be negative",
      "procs.yaml:4:48: processes.a.ready.period: must be more than 0",
      `procs.yaml:4:60: processes.a.ready.timeout: ${malformed}`,
      "procs.yaml:5:29: processes.a.alive.period: must be more than 0",
      "procs.yaml:5:43: processes.a.alive.timeout: must be more than 0",
    ],
  );
});

Deno.test("successes and failures must be whole numbers, 1 or more", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {tcp: 1, successes: 0, failures: 1.5}}",
      "  b: {cmd: [x], ready: {tcp: 1, successes: '2', failures: -3}}",
    )),
    [
      "procs.yaml:2:44: processes.a.ready.successes: must be a whole number, 1 or more",
      "procs.yaml:2:57: processes.a.ready.failures: must be a whole number, 1 or more",
      "procs.yaml:3:44: processes.b.ready.successes: must be a whole number, 1 or more",
      "procs.yaml:3:59: processes.b.ready.failures: must be a whole number, 1 or more",
    ],
  );
});

Deno.test("a liveness probe's successes must be 1, as in Kubernetes", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  a: {cmd: [x], alive: {tcp: 1, successes: 2}}")),
    [
      "procs.yaml:2:44: processes.a.alive.successes: must be 1 for a liveness probe: " +
      "a single pass ends a run of failures (as in Kubernetes)",
    ],
  );
});

Deno.test("every problem of a probe is reported at once, and the process is not half-read", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {http: 'ftp://x', tcp: 1, period: -1}}",
    )),
    [
      "procs.yaml:2:17: processes.a.ready: has both http and tcp; use one",
      "procs.yaml:2:58: processes.a.ready.period: must not be negative",
    ],
  );
});

// --- dependsOn --------------------------------------------------------------------------

Deno.test("dependsOn reads a mapping of conditions, or a list meaning started", () => {
  const specs = processes(
    "  db: {cmd: [x], ready: {tcp: 1}}",
    "  cache: {cmd: [x]}",
    "  migrate: {cmd: [x], restart: never}",
    "  api: {cmd: [x], dependsOn: {db: ready, cache: started, migrate: done}}",
    "  worker: {cmd: [x], dependsOn: [db, cache]}",
    "  lone: {cmd: [x], dependsOn: {}}",
  );
  assert.deepEqual(specs.api?.dependsOn, {
    db: "ready",
    cache: "started",
    migrate: "done",
  });
  assert.deepEqual(specs.worker?.dependsOn, { db: "started", cache: "started" });
  assert.deepEqual(specs.lone?.dependsOn, {});
});

Deno.test("dependsOn conditions get a did-you-mean with compose's and process-compose's names", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  db: {cmd: [x], ready: {tcp: 1}, restart: never}",
      "  a: {cmd: [x], dependsOn: {db: service_healthy}}",
      "  b: {cmd: [x], dependsOn: {db: process_completed_successfully}}",
      "  c: {cmd: [x], dependsOn: {db: redy}}",
      "  d: {cmd: [x], dependsOn: {db: whenever}}",
      "  e: {cmd: [x], dependsOn: {db: }}",
      "  f: {cmd: [x], dependsOn: {db: [ready]}}",
    )),
    [
      'procs.yaml:3:33: processes.a.dependsOn.db: unknown condition "service_healthy" (did you mean "ready"?)',
      'procs.yaml:4:33: processes.b.dependsOn.db: unknown condition "process_completed_successfully" (did you mean "done"?)',
      'procs.yaml:5:33: processes.c.dependsOn.db: unknown condition "redy" (did you mean "ready"?)',
      'procs.yaml:6:33: processes.d.dependsOn.db: unknown condition "whenever"; use started, ready or done',
      "procs.yaml:7:29: processes.e.dependsOn.db: must be started, ready or done",
      "procs.yaml:8:33: processes.f.dependsOn.db: must be started, ready or done",
    ],
  );
});

Deno.test("dependsOn must be a mapping or a list of distinct names", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  db: {cmd: [x]}",
      "  a: {cmd: [x], dependsOn: db}",
      "  b: {cmd: [x], dependsOn: [db, db]}",
      "  c: {cmd: [x], dependsOn: [[db]]}",
    )),
    [
      "procs.yaml:3:28: processes.a.dependsOn: must be a mapping of process names to started, " +
      "ready or done (or a list of names)",
      'procs.yaml:4:33: processes.b.dependsOn[1]: "db" is listed twice',
      "procs.yaml:5:29: processes.c.dependsOn[0]: must be a process name",
    ],
  );
});

Deno.test("a dependency on a process that is not defined is an error at its name, with a did-you-mean", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  migrate: {cmd: [x], restart: on-failure}",
      "  worker:",
      "    cmd: [x]",
      "    dependsOn:",
      "      mgirate: done",
      "      ghost: started",
      "  other: {cmd: [x], dependsOn: [migrat]}",
    )),
    [
      'procs.yaml:6:7: processes.worker.dependsOn.mgirate: unknown process "mgirate" (did you mean "migrate"?)',
      'procs.yaml:7:7: processes.worker.dependsOn.ghost: unknown process "ghost"',
      'procs.yaml:8:33: processes.other.dependsOn[0]: unknown process "migrat" (did you mean "migrate"?)',
    ],
  );
});

Deno.test("a dependency on an invalid process is not also called unknown", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  db: {cwd: /tmp}",
      "  api: {cmd: [x], dependsOn: {db: started}}",
    )),
    ["procs.yaml:2:3: processes.db: needs cmd or shell"],
  );
});

Deno.test("ready on a process without a ready probe is an error at the condition", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  db: {cmd: [x]}",
      "  cache: {cmd: [x], alive: {tcp: 1}}",
      "  api: {cmd: [x], dependsOn: {db: ready, cache: ready}}",
    )),
    [
      'procs.yaml:4:35: processes.api.dependsOn.db: "db" has no ready probe, so it is never ready; ' +
      "give it one, or use started",
      'procs.yaml:4:49: processes.api.dependsOn.cache: "cache" has no ready probe, so it is never ' +
      "ready; give it one, or use started",
    ],
  );
});

Deno.test("ready on a process whose ready probe is invalid reports only the probe", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  db: {cmd: [x], ready: {tcp: nope}}",
      "  api: {cmd: [x], dependsOn: {db: ready}}",
    )),
    ["procs.yaml:2:31: processes.db.ready.tcp: must be HOST:PORT, like 127.0.0.1:5432"],
  );
});

Deno.test("done on a process that restarts always is an error: it is never done", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  migrate: {shell: ./migrate.sh}",
      "  seed: {shell: ./seed.sh, restart: always}",
      "  ok1: {shell: x, restart: on-failure}",
      "  ok2: {shell: x, restart: never}",
      "  worker: {cmd: [x], dependsOn: {migrate: done, seed: done, ok1: done, ok2: done}}",
    )),
    [
      'procs.yaml:6:43: processes.worker.dependsOn.migrate: "migrate" has restart: always ' +
      "(the default), so it is never done; give it restart: on-failure or never",
      'procs.yaml:6:55: processes.worker.dependsOn.seed: "seed" has restart: always, so it is ' +
      "never done; give it restart: on-failure or never",
    ],
  );
});

Deno.test("a dependency cycle is an error naming its processes, at the first of them in the file", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web: {cmd: [x]}",
      "  a:",
      "    cmd: [x]",
      "    dependsOn: {web: started, b: started}",
      "  b:",
      "    cmd: [x]",
      "    dependsOn: [c]",
      "  c:",
      "    cmd: [x]",
      "    dependsOn: {a: started}",
    )),
    [
      "procs.yaml:5:31: processes.a.dependsOn.b: dependency cycle: a -> b -> c -> a",
    ],
  );
});

Deno.test("a process that depends on itself, and two separate cycles, are each reported", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  self: {cmd: [x], dependsOn: [self]}",
      "  a: {cmd: [x], dependsOn: [b]}",
      "  b: {cmd: [x], dependsOn: [a]}",
      "  c: {cmd: [x], dependsOn: {d: started}}",
      "  d: {cmd: [x], dependsOn: {c: started}}",
    )),
    [
      'procs.yaml:2:32: processes.self.dependsOn[0]: "self" depends on itself',
      "procs.yaml:3:29: processes.a.dependsOn[0]: dependency cycle: a -> b -> a",
      "procs.yaml:5:29: processes.c.dependsOn.d: dependency cycle: c -> d -> c",
    ],
  );
});

// --- tend check's listing ------------------------------------------------------------------

Deno.test("describeProcess() lists each process's probes and dependencies, resolved", () => {
  const config = parse(yaml(
    "processes:",
    "  db: {cmd: [x], ready: {tcp: 5432, period: 1s}}",
    "  api:",
    "    cmd: [x]",
    "    ready: {log: 'listening on \\d+'}",
    "    alive: {shell: 'curl -fs localhost:8000', timeout: 3s, failures: 5}",
    "    dependsOn: {db: ready}",
    "  worker: {cmd: [x], ready: {notify: true}, dependsOn: [api]}",
  ));
  const lines = (name: string) =>
    describeProcess(name, config.processes[name]!, config.timing).split("\n")
      .slice(-4, -1);
  assert.deepEqual(lines("db"), [
    "  ready:           tcp 127.0.0.1:5432 (initialDelay 0s, period 1s, timeout 1s, " +
    "successes 1, failures 3)",
    "  alive:           (none)",
    "  dependsOn:       (none)",
  ]);
  assert.deepEqual(lines("api"), [
    "  ready:           log /listening on \\d+/ (the first line that matches)",
    "  alive:           shell curl -fs localhost:8000 (initialDelay 0s, period 10s, " +
    "timeout 3s, successes 1, failures 5)",
    "  dependsOn:       db: ready",
  ]);
  assert.deepEqual(lines("worker"), [
    "  ready:           notify (READY=1 on NOTIFY_SOCKET)",
    "  alive:           (none)",
    "  dependsOn:       api: started",
  ]);
});

Deno.test("log must run in linear time: back-references and lookarounds are refused", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], ready: {log: '(a)\\1'}}",
      "  b: {cmd: [x], ready: {log: 'up(?=!)'}}",
      "  c: {cmd: [x], ready: {log: '^(a+)+$'}}",
    )),
    [
      "procs.yaml:2:30: processes.a.ready.log: cannot be matched in linear time (back-references and lookarounds are not allowed: a child's line could make it run for ever)",
      "procs.yaml:3:30: processes.b.ready.log: cannot be matched in linear time (back-references and lookarounds are not allowed: a child's line could make it run for ever)",
    ],
  );
});
