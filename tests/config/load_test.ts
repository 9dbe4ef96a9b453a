import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { describeProcess } from "../../lib/config/describe.ts";
import {
  type Config,
  ConfigError,
  formatProblem,
  loadConfig,
  parseConfig,
} from "../../lib/config/load.ts";
import { DEFAULT_TIMING, type ProcessSpec, sameSpec } from "../../lib/core/spec.ts";
import { assertValidatesSchema } from "../_fakes/schema.ts";

const FILE = "procs.yaml";
const BASE = "/srv/app";

/** Joins lines into YAML text, so a test's line numbers can be read off its array. */
function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

/** Parses `text`; every file tend accepts must also validate against the schema. */
function parse(text: string): Config {
  const config = parseConfig(text, FILE, BASE);
  assertValidatesSchema(text);
  return config;
}

/** Every problem parseConfig reports for `text`, formatted. */
function problems(text: string): string[] {
  try {
    parse(text);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

/** The processes of a file whose top level is valid, one line each. */
function processes(...lines: string[]): Record<string, ProcessSpec> {
  return parse(yaml("processes:", ...lines)).processes;
}

// --- valid files --------------------------------------------------------------

const SPEC_EXAMPLE = yaml(
  "# monitor-wide timing (seconds); these are procmon's defaults",
  "threshold: 1          # a run at least this long counts as healthy",
  "killTime: 5           # grace between the stop signal and SIGKILL",
  "minRestartDelay: 1",
  "maxRestartDelay: 3600",
  "",
  "processes:",
  "  web:",
  '    cmd: [python3, -m, http.server, "8000"]   # argv, no shell',
  "    cwd: ./site                               # relative to this file's folder",
  '    env: { PYTHONUNBUFFERED: "1" }            # added to tend\'s environment',
  "  ticker:",
  "    shell: while true; do date; sleep 5; done # /bin/sh -c, by explicit choice",
  "    restart: on-failure                       # always (default) | on-failure | never",
  "    stopSignal: SIGINT                        # default SIGTERM",
  "    killTime: 10                              # any timing key can be set per process",
);

Deno.test("parseConfig() reads the spec's example into the exact config", () => {
  const { places, ...config } = parse(SPEC_EXAMPLE);
  assert.deepEqual(config, {
    file: FILE,
    timing: { threshold: 1, killTime: 5, minRestartDelay: 1, maxRestartDelay: 3600 },
    processes: {
      web: {
        argv: ["python3", "-m", "http.server", "8000"],
        cwd: "/srv/app/site",
        env: { PYTHONUNBUFFERED: "1", TEND_PROCESS: "web" },
      },
      ticker: {
        argv: ["/bin/sh", "-c", "while true; do date; sleep 5; done"],
        // A process without cwd runs in the config's folder.
        cwd: BASE,
        env: { TEND_PROCESS: "ticker" },
        restart: "on-failure",
        stopSignal: "SIGINT",
        killTime: 10,
      },
    },
  });
  // Where the settings are, for what `tend check` says about them later.
  assert.deepEqual(places, {
    web: {
      name: { line: 8, col: 3, path: "processes.web" },
      program: { line: 9, col: 11, path: "processes.web.cmd[0]" },
      cwd: { line: 10, col: 10, path: "processes.web.cwd" },
    },
    ticker: { name: { line: 12, col: 3, path: "processes.ticker" } },
  });
});

Deno.test("parseConfig() keeps the processes in file order", () => {
  const names = Object.keys(
    processes("  zeta: {cmd: [a]}", "  alpha: {cmd: [b]}", "  mid: {cmd: [c]}"),
  );
  assert.deepEqual(names, ["zeta", "alpha", "mid"]);
});

Deno.test("parseConfig() fills in procmon's timing defaults", () => {
  const config = parse(yaml("processes:", "  a: {cmd: [x]}"));
  assert.deepEqual(config.timing, { ...DEFAULT_TIMING });
});

Deno.test("parseConfig() sets only the keys a process gives, and the folder and TEND_PROCESS", () => {
  const spec = processes("  a: {cmd: [x]}").a!;
  assert.deepEqual(spec, { argv: ["x"], cwd: BASE, env: { TEND_PROCESS: "a" } });
  assert.ok(sameSpec(spec, JSON.parse(JSON.stringify(spec))));
});

Deno.test("parseConfig() reads every per-process key", () => {
  const spec = processes(
    "  a:",
    "    cmd: [x]",
    "    cwd: /opt/a",
    "    env: {A: b}",
    "    clearEnv: true",
    "    uid: 1000",
    "    gid: 0",
    "    restart: never",
    "    stopSignal: SIGQUIT",
    "    threshold: 2",
    "    killTime: 3",
    "    minRestartDelay: 4",
    "    maxRestartDelay: 5",
  ).a;
  assert.deepEqual(spec, {
    argv: ["x"],
    cwd: "/opt/a",
    env: { A: "b", TEND_PROCESS: "a" },
    clearEnv: true,
    uid: 1000,
    gid: 0,
    restart: "never",
    stopSignal: "SIGQUIT",
    threshold: 2,
    killTime: 3,
    minRestartDelay: 4,
    maxRestartDelay: 5,
  });
});

Deno.test("parseConfig() turns shell into /bin/sh -c with the script", () => {
  assert.deepEqual(processes("  a:", "    shell: echo 'hi' && sleep 1").a, {
    argv: ["/bin/sh", "-c", "echo 'hi' && sleep 1"],
    cwd: BASE,
    env: { TEND_PROCESS: "a" },
  });
});

Deno.test("parseConfig() keeps numbers and booleans in cmd and env as written", () => {
  const spec = processes(
    "  a:",
    "    cmd: [python3, -m, http.server, 8000, 0x10, 1.0, true]",
    "    env: {PORT: 8000, DEBUG: TRUE, RATIO: 0.50}",
  ).a;
  assert.deepEqual(spec?.argv, [
    "python3",
    "-m",
    "http.server",
    "8000",
    "0x10",
    "1.0",
    "true",
  ]);
  assert.deepEqual(spec?.env, {
    PORT: "8000",
    DEBUG: "TRUE",
    RATIO: "0.50",
    TEND_PROCESS: "a",
  });
});

Deno.test("parseConfig() resolves cwd against the config's folder and normalizes it", () => {
  const specs = processes(
    "  a: {cmd: [x], cwd: ./site}",
    "  b: {cmd: [x], cwd: site/}",
    "  c: {cmd: [x], cwd: ../shared}",
    "  d: {cmd: [x], cwd: .}",
    "  e: {cmd: [x], cwd: /var//lib/../www/}",
  );
  assert.deepEqual(
    Object.values(specs).map((spec) => spec.cwd),
    ["/srv/app/site", "/srv/app/site", "/srv/shared", "/srv/app", "/var/www"],
  );
});

Deno.test("parseConfig() reads durations in every unit, as numbers and strings", () => {
  const config = parse(yaml(
    "threshold: 500ms",
    "killTime: 1.5s",
    "minRestartDelay: 2m",
    "maxRestartDelay: 1h",
    "processes:",
    '  a: {cmd: [x], threshold: 0.25, killTime: "5", minRestartDelay: 3m, maxRestartDelay: 2h}',
  ));
  assert.deepEqual(config.timing, {
    threshold: 0.5,
    killTime: 1.5,
    minRestartDelay: 120,
    maxRestartDelay: 3600,
  });
  assert.deepEqual(config.processes.a, {
    argv: ["x"],
    cwd: BASE,
    env: { TEND_PROCESS: "a" },
    threshold: 0.25,
    killTime: 5,
    minRestartDelay: 180,
    maxRestartDelay: 7200,
  });
});

Deno.test("parseConfig() normalizes stopSignal names", () => {
  const specs = processes(
    "  a: {cmd: [x], stopSignal: term}",
    "  b: {cmd: [x], stopSignal: SIGHUP}",
    "  c: {cmd: [x], stopSignal: sigusr2}",
  );
  assert.deepEqual(
    Object.values(specs).map((spec) => spec.stopSignal),
    ["SIGTERM", "SIGHUP", "SIGUSR2"],
  );
});

Deno.test("parseConfig() follows YAML anchors and aliases", () => {
  const specs = processes(
    "  a: {cmd: [x], env: &common {A: '1'}}",
    "  b: {cmd: [y], env: *common}",
  );
  assert.deepEqual(specs.b?.env, { A: "1", TEND_PROCESS: "b" });
});

Deno.test("parseConfig() stores a process named __proto__ as a plain key", () => {
  const specs = processes("  __proto__: {cmd: [x]}");
  assert.deepEqual(Object.keys(specs), ["__proto__"]);
  assert.equal(Object.getPrototypeOf(specs), Object.prototype);
});

// --- the top level ------------------------------------------------------------

Deno.test("an empty file is reported at its start", () => {
  assert.deepEqual(problems(""), [
    'procs.yaml:1:1: the file is empty; it needs a "processes" mapping',
  ]);
  assert.deepEqual(problems("# only a comment\n"), [
    'procs.yaml:1:1: the file is empty; it needs a "processes" mapping',
  ]);
});

Deno.test("a top level that is not a mapping is an error", () => {
  assert.deepEqual(problems(yaml("- web", "- ticker")), [
    'procs.yaml:1:1: the top level must be a mapping with "processes"',
  ]);
});

Deno.test("processes is required", () => {
  assert.deepEqual(problems(yaml("threshold: 1")), [
    'procs.yaml:1:1: missing key "processes"',
  ]);
});

Deno.test("processes must be a non-empty mapping", () => {
  assert.deepEqual(problems(yaml("processes:")), [
    "procs.yaml:1:1: processes: must be a mapping of process names to settings",
  ]);
  assert.deepEqual(problems(yaml("processes: [web]")), [
    "procs.yaml:1:12: processes: must be a mapping of process names to settings",
  ]);
  assert.deepEqual(problems(yaml("processes: {}")), [
    "procs.yaml:1:12: processes: must list at least one process",
  ]);
});

Deno.test("unknown top-level keys get a did-you-mean", () => {
  assert.deepEqual(
    problems(yaml(
      "kill_time: 5",
      "killtime: 5",
      "Threshold: 1",
      "maxRestartDely: 9",
      "stopwaitsecs: 10",
      "proceses:",
      "  a: {cmd: [x]}",
    )),
    [
      'procs.yaml:1:1: kill_time: unknown key "kill_time" (did you mean "killTime"?)',
      'procs.yaml:1:1: missing key "processes"',
      'procs.yaml:2:1: killtime: unknown key "killtime" (did you mean "killTime"?)',
      'procs.yaml:3:1: Threshold: unknown key "Threshold" (did you mean "threshold"?)',
      'procs.yaml:4:1: maxRestartDely: unknown key "maxRestartDely" ' +
      '(did you mean "maxRestartDelay"?)',
      'procs.yaml:5:1: stopwaitsecs: unknown key "stopwaitsecs" (did you mean "killTime"?)',
      'procs.yaml:6:1: proceses: unknown key "proceses" (did you mean "processes"?)',
    ],
  );
});

Deno.test("an unknown key with nothing close has no suggestion", () => {
  assert.deepEqual(problems(yaml("colour: auto", "processes: {a: {cmd: [x]}}")), [
    'procs.yaml:1:1: colour: unknown key "colour"',
  ]);
});

Deno.test("a process written outside processes: is pointed there", () => {
  assert.deepEqual(problems(yaml("web:", "  cmd: [x]", "processes: {a: {cmd: [x]}}")), [
    'procs.yaml:1:1: web: unknown key "web" (processes go under "processes:")',
  ]);
});

// --- process names and shapes ---------------------------------------------------

Deno.test("process names must match NAME_PATTERN", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  my web: {cmd: [x]}", "  ok.name-1_2: {cmd: [x]}")),
    [
      'procs.yaml:2:3: processes["my web"]: process name must use only letters, ' +
      'digits, ".", "_" and "-"',
    ],
  );
});

Deno.test("a process must be a mapping", () => {
  assert.deepEqual(problems(yaml("processes:", "  web:", "  api: python3 app.py")), [
    "procs.yaml:2:3: processes.web: must be a mapping with cmd or shell",
    "procs.yaml:3:8: processes.api: must be a mapping with cmd or shell",
  ]);
});

Deno.test("a process with both cmd and shell is an error", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  web:", "    cmd: [x]", "    shell: x")),
    [
      "procs.yaml:2:3: processes.web: has both cmd and shell; use one",
    ],
  );
});

Deno.test("a process with neither cmd nor shell is an error", () => {
  assert.deepEqual(problems(yaml("processes:", "  web:", "    cwd: /tmp")), [
    "procs.yaml:2:3: processes.web: needs cmd or shell",
  ]);
});

Deno.test("unknown process keys get a did-you-mean, common aliases included", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web:",
      "    cmd: [x]",
      "    command: x",
      "    args: [x]",
      "    environment: {}",
      "    directory: /",
      "    workdir: /",
      "    working_dir: /",
      "    autorestart: true",
      "    stop_signal: TERM",
      "    kill_time: 1",
      "    cwdd: /",
      "    nice: 5",
    )),
    [
      'procs.yaml:4:5: processes.web.command: unknown key "command" (did you mean "cmd"?)',
      'procs.yaml:5:5: processes.web.args: unknown key "args" (did you mean "cmd"?)',
      'procs.yaml:6:5: processes.web.environment: unknown key "environment" ' +
      '(did you mean "env"?)',
      'procs.yaml:7:5: processes.web.directory: unknown key "directory" ' +
      '(did you mean "cwd"?)',
      'procs.yaml:8:5: processes.web.workdir: unknown key "workdir" (did you mean "cwd"?)',
      'procs.yaml:9:5: processes.web.working_dir: unknown key "working_dir" ' +
      '(did you mean "cwd"?)',
      'procs.yaml:10:5: processes.web.autorestart: unknown key "autorestart" ' +
      '(did you mean "restart"?)',
      'procs.yaml:11:5: processes.web.stop_signal: unknown key "stop_signal" ' +
      '(did you mean "stopSignal"?)',
      'procs.yaml:12:5: processes.web.kill_time: unknown key "kill_time" ' +
      '(did you mean "killTime"?)',
      'procs.yaml:13:5: processes.web.cwdd: unknown key "cwdd" (did you mean "cwd"?)',
      'procs.yaml:14:5: processes.web.nice: unknown key "nice"',
    ],
  );
});

// --- cmd and shell ---------------------------------------------------------------

Deno.test("cmd as a plain string is an error that points to a list or shell", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  web:", "    cmd: python3 -m http.server")),
    [
      "procs.yaml:3:10: processes.web.cmd: is a string; use a list (argv), " +
      "or shell: for a command line",
    ],
  );
});

Deno.test("cmd must be a list of strings", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: {x: 1}}",
      "  b: {cmd: 5}",
      "  c: {cmd: [x, [y], {z: 1}, null]}",
    )),
    [
      "procs.yaml:2:12: processes.a.cmd: must be a list of strings",
      "procs.yaml:3:12: processes.b.cmd: must be a list of strings",
      "procs.yaml:4:16: processes.c.cmd[1]: must be a string",
      "procs.yaml:4:21: processes.c.cmd[2]: must be a string",
      "procs.yaml:4:29: processes.c.cmd[3]: must be a string",
    ],
  );
});

Deno.test("an empty cmd is an error", () => {
  assert.deepEqual(problems(yaml("processes:", "  a:", "    cmd: []")), [
    "procs.yaml:3:10: processes.a.cmd: must not be empty",
  ]);
});

Deno.test("an empty program name in cmd is an error, an empty argument is not", () => {
  assert.deepEqual(
    problems(yaml("processes:", '  a: {cmd: ["", x]}', '  b: {cmd: [x, ""]}')),
    [
      "procs.yaml:2:13: processes.a.cmd[0]: must not be empty",
    ],
  );
});

Deno.test("shell must be a non-empty string", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {shell: [echo, hi]}",
      "  b: {shell: {x: 1}}",
      '  c: {shell: "  "}',
      "  d: {shell: }",
    )),
    [
      "procs.yaml:2:14: processes.a.shell: must be a string (for a list of arguments use cmd:)",
      "procs.yaml:3:14: processes.b.shell: must be a string",
      "procs.yaml:4:14: processes.c.shell: must not be empty",
      "procs.yaml:5:7: processes.d.shell: must be a string",
    ],
  );
});

// --- the other keys ---------------------------------------------------------------

Deno.test("cwd must be a non-empty string and ~ is refused", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], cwd: [/tmp]}",
      '  b: {cmd: [x], cwd: ""}',
      "  c: {cmd: [x], cwd: ~/app}",
    )),
    [
      "procs.yaml:2:22: processes.a.cwd: must be a string",
      "procs.yaml:3:22: processes.b.cwd: must not be empty",
      'procs.yaml:4:22: processes.c.cwd: "~" is not expanded; write the full path (or ${HOME})',
    ],
  );
});

Deno.test("env must map names to strings", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], env: [A=1]}",
      "  b:",
      "    cmd: [x]",
      "    env:",
      "      EMPTY:",
      "      LIST: [1]",
      "      MAP: {x: 1}",
      '      "A=B": x',
      '      "": x',
    )),
    [
      "procs.yaml:2:22: processes.a.env: must be a mapping of variable names to strings",
      'procs.yaml:6:7: processes.b.env.EMPTY: must be a string (write "" for an empty value)',
      "procs.yaml:7:13: processes.b.env.LIST: must be a string",
      "procs.yaml:8:12: processes.b.env.MAP: must be a string",
      'procs.yaml:9:7: processes.b.env["A=B"]: must be a name without "="',
      'procs.yaml:10:7: processes.b.env[""]: must be a name without "="',
    ],
  );
});

Deno.test("clearEnv must be a boolean", () => {
  assert.deepEqual(problems(yaml("processes:", "  a: {cmd: [x], clearEnv: yes}")), [
    "procs.yaml:2:27: processes.a.clearEnv: must be true or false",
  ]);
});

Deno.test("uid and gid must be non-negative integers", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], uid: -1, gid: 1.5}",
      '  b: {cmd: [x], uid: "1000", gid: www-data}',
    )),
    [
      "procs.yaml:2:22: processes.a.uid: must be a non-negative integer",
      "procs.yaml:2:31: processes.a.gid: must be a non-negative integer",
      "procs.yaml:3:22: processes.b.uid: must be a non-negative integer",
      "procs.yaml:3:35: processes.b.gid: must be a non-negative integer",
    ],
  );
});

Deno.test("restart must be a known policy, with a did-you-mean", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], restart: on_failure}",
      "  b: {cmd: [x], restart: onfailure}",
      "  c: {cmd: [x], restart: no}",
      "  d: {cmd: [x], restart: alway}",
      "  e: {cmd: [x], restart: sometimes}",
      "  f: {cmd: [x], restart: [always]}",
    )),
    [
      'procs.yaml:2:26: processes.a.restart: unknown restart policy "on_failure" ' +
      '(did you mean "on-failure"?)',
      'procs.yaml:3:26: processes.b.restart: unknown restart policy "onfailure" ' +
      '(did you mean "on-failure"?)',
      'procs.yaml:4:26: processes.c.restart: unknown restart policy "no" ' +
      '(did you mean "never"?)',
      'procs.yaml:5:26: processes.d.restart: unknown restart policy "alway" ' +
      '(did you mean "always"?)',
      'procs.yaml:6:26: processes.e.restart: unknown restart policy "sometimes"; ' +
      "use always, on-failure or never",
      "procs.yaml:7:26: processes.f.restart: must be always, on-failure or never",
    ],
  );
});

Deno.test("stopSignal must be a known signal, with a did-you-mean", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], stopSignal: SIGTREM}",
      "  b: {cmd: [x], stopSignal: SIGFOO}",
      "  c: {cmd: [x], stopSignal: 15}",
      "  d: {cmd: [x], stopSignal: {}}",
    )),
    [
      'procs.yaml:2:29: processes.a.stopSignal: unknown signal "SIGTREM" ' +
      '(did you mean "SIGTERM"?)',
      'procs.yaml:3:29: processes.b.stopSignal: unknown signal "SIGFOO"; ' +
      "use a name like SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGKILL",
      'procs.yaml:4:29: processes.c.stopSignal: unknown signal "15"; ' +
      "use a name like SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGKILL",
      "procs.yaml:5:29: processes.d.stopSignal: must be a signal name like SIGTERM",
    ],
  );
});

// --- durations --------------------------------------------------------------------

Deno.test("negative and malformed durations are errors at top level and per process", () => {
  const malformed = "must be a number of seconds or a string like 500ms, 5s, 2m, 1h";
  assert.deepEqual(
    problems(yaml(
      "threshold: -1",
      "killTime: 5 s",
      "processes:",
      "  a:",
      "    cmd: [x]",
      "    threshold: -500ms",
      "    killTime: fast",
      "    minRestartDelay: [1]",
      "    maxRestartDelay: .inf",
      "  b:",
      "    cmd: [x]",
      "    killTime:",
    )),
    [
      "procs.yaml:1:12: threshold: must not be negative",
      `procs.yaml:2:11: killTime: ${malformed}`,
      "procs.yaml:6:16: processes.a.threshold: must not be negative",
      `procs.yaml:7:15: processes.a.killTime: ${malformed}`,
      `procs.yaml:8:22: processes.a.minRestartDelay: ${malformed}`,
      "procs.yaml:9:22: processes.a.maxRestartDelay: must be finite",
      `procs.yaml:12:5: processes.b.killTime: ${malformed}`,
    ],
  );
});

Deno.test("minRestartDelay above maxRestartDelay at top level is reported at minRestartDelay", () => {
  assert.deepEqual(
    problems(
      yaml("minRestartDelay: 2h", "maxRestartDelay: 1h", "processes: {a: {cmd: [x]}}"),
    ),
    ["procs.yaml:1:18: minRestartDelay: must not be above maxRestartDelay (1h)"],
  );
});

Deno.test("a top-level maxRestartDelay below the default minimum is reported at maxRestartDelay", () => {
  assert.deepEqual(
    problems(yaml("maxRestartDelay: 500ms", "processes: {a: {cmd: [x]}}")),
    [
      "procs.yaml:1:18: maxRestartDelay: must not be below minRestartDelay (1s)",
    ],
  );
});

Deno.test("per-process delays are compared with the values that apply to the process", () => {
  assert.deepEqual(
    problems(yaml(
      "minRestartDelay: 10",
      "maxRestartDelay: 60",
      "processes:",
      "  a: {cmd: [x], minRestartDelay: 2m}",
      "  b: {cmd: [x], maxRestartDelay: 5}",
      "  c: {cmd: [x], minRestartDelay: 2m, maxRestartDelay: 3m}",
      "  d: {cmd: [x], minRestartDelay: 1s, maxRestartDelay: 5}",
      "  e: {cmd: [x], killTime: 1}",
    )),
    [
      "procs.yaml:4:34: processes.a.minRestartDelay: must not be above maxRestartDelay (1m)",
      "procs.yaml:5:34: processes.b.maxRestartDelay: must not be below minRestartDelay (10s)",
    ],
  );
});

Deno.test("an invalid delay is not also compared with the other one", () => {
  assert.deepEqual(
    problems(
      yaml("processes:", "  a: {cmd: [x], minRestartDelay: -5, maxRestartDelay: 0.5}"),
    ),
    ["procs.yaml:2:34: processes.a.minRestartDelay: must not be negative"],
  );
});

// --- YAML-level problems ------------------------------------------------------------

Deno.test("duplicate keys are reported where the second one is", () => {
  assert.deepEqual(
    problems(yaml(
      "threshold: 1",
      "threshold: 2",
      "processes:",
      "  web:",
      "    cmd: [x]",
      "    cmd: [y]",
      "    env: {A: '1', A: '2'}",
      "  web: {cmd: [z]}",
    )),
    [
      'procs.yaml:2:1: duplicate key "threshold"',
      'procs.yaml:6:5: processes.web: duplicate key "cmd"',
      'procs.yaml:7:19: processes.web.env: duplicate key "A"',
      'procs.yaml:8:3: processes: duplicate key "web"',
    ],
  );
});

Deno.test("duplicate keys inside a mapping tend does not read are still reported", () => {
  assert.deepEqual(
    problems(yaml("extra: {a: 1, a: 2}", "processes: {a: {cmd: [x]}}")),
    [
      'procs.yaml:1:1: extra: unknown key "extra"',
      'procs.yaml:1:15: duplicate key "a"',
    ],
  );
});

Deno.test("duplicate keys are found in every mapping, nested in lists, flow or block, and through alias keys", () => {
  assert.deepEqual(
    problems(yaml(
      "processes: {a: {cmd: [x]}}",
      "extra:",
      "  - {b: 1, b: 2}",
      "  - c: 1",
      "    c: 2",
      "  - ? [list, key]",
      "    : {d: 1, d: 2}",
      "k: &k key",
      "other: {*k : 1, key: 2}",
    )),
    [
      'procs.yaml:2:1: extra: unknown key "extra"',
      'procs.yaml:3:12: duplicate key "b"',
      'procs.yaml:5:5: duplicate key "c"',
      'procs.yaml:7:14: duplicate key "d"',
      'procs.yaml:8:1: k: unknown key "k"',
      'procs.yaml:9:1: other: unknown key "other"',
      'procs.yaml:9:17: duplicate key "key"',
    ],
  );
});

Deno.test("nesting deeper than 100 levels is reported where it goes too deep, not as a stack overflow", () => {
  // 1000 levels overflowed yaml's stack: "Maximum call stack size exceeded".
  const deep = 1000;
  assert.deepEqual(
    problems(
      yaml("processes: {a: {cmd: [x]}}", `x: ${"[".repeat(deep)}${"]".repeat(deep)}`),
    ),
    // The top-level mapping is level 1, so the 100th "[" is level 101.
    ["procs.yaml:2:103: nesting is too deep (more than 100 levels)"],
  );
  assert.deepEqual(
    problems(yaml("processes: {a: {cmd: [x]}}", "x:", `  ${"- ".repeat(deep)}x`)),
    ["procs.yaml:3:201: nesting is too deep (more than 100 levels)"],
  );
  assert.deepEqual(
    problems(yaml(
      "processes: {a: {cmd: [x]}}",
      `x: ${"{a: ".repeat(deep)}${"}".repeat(deep)}`,
      `y: ${"[".repeat(deep)}${"]".repeat(deep)}`,
    )),
    ["procs.yaml:2:400: nesting is too deep (more than 100 levels)"],
    "the first place is reported",
  );
  assert.deepEqual(
    problems(
      yaml("processes: {a: {cmd: [x]}}", `x: ${"[".repeat(99)}${"]".repeat(99)}`),
    ),
    ['procs.yaml:2:1: x: unknown key "x"'],
    "100 levels are fine",
  );
});

Deno.test("more than 1,000,000 YAML tokens is an error where the limit is crossed, not a tree of them", () => {
  // A plain scalar is two tokens (a marker and its text), a comma one: 333,334
  // items of "1," cross the limit inside the list. 10 MiB of them took 84 s
  // and ran out of memory.
  const items = "1,".repeat(333_334);
  const found = problems(yaml("processes: {a: {cmd: [x]}}", `x: [${items}]`));
  assert.equal(found.length, 1, found.join("\n"));
  assert.match(
    found[0]!,
    /^procs\.yaml:2:\d+: too much YAML: more than 1000000 tokens \(keys, values, punctuation\); a config needs far fewer$/,
  );
  const col = Number(found[0]!.split(":")[2]);
  assert.ok(col > 600_000 && col < items.length, `column ${col}`);
  // Under the limit, files parse as usual: tests/cli checks 100,000 keys
  // (800,000 tokens).
});

Deno.test("a key of megabytes costs no more than its length and is quoted cut short", () => {
  // The did-you-mean compared it with every key through a table of its
  // length times the key's: 3 MB took 20 s and 1.6 GB.
  const key = "k".repeat(3_000_000);
  const found = problems(yaml("processes: {a: {cmd: [x]}}", `? ${key}`, ": 1"));
  const cut = `"${"k".repeat(80)}"...`;
  assert.deepEqual(found, [`procs.yaml:2:3: [${cut}]: unknown key ${cut}`]);
});

Deno.test("a syntax error is reported at its position, without follow-on problems", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  web:", '    cmd: ["python3, -m]', "  api: {}")),
    // The string runs on to the end of the file, where yaml notices.
    [
      'procs.yaml:5:1: Missing closing "quote',
      "procs.yaml:5:1: Flow sequence in block collection must be sufficiently indented " +
      "and end with a ]",
    ],
  );
  assert.deepEqual(problems(yaml("processes:", "\tweb: {cmd: [x]}")), [
    "procs.yaml:2:1: Tabs are not allowed as indentation",
  ]);
  assert.deepEqual(
    problems(yaml("processes:", "  web:", "    cmd: [x]", "   shell: y")),
    ["procs.yaml:4:1: All mapping items must start at the same column"],
  );
});

Deno.test("YAML warnings are problems too", () => {
  assert.deepEqual(problems(yaml("processes:", "  a: {cmd: [!path x]}")), [
    "procs.yaml:2:13: Unresolved tag: !path",
  ]);
});

Deno.test("a file with several documents is an error", () => {
  assert.deepEqual(
    problems(yaml("processes: {a: {cmd: [x]}}", "---", "threshold: 1")),
    [
      "procs.yaml:2:1: the file must hold one YAML document, not several",
    ],
  );
});

Deno.test("an alias to an undefined anchor is an error", () => {
  assert.deepEqual(problems(yaml("processes:", "  a: {cmd: *argv}")), [
    'procs.yaml:2:12: unknown alias "*argv"',
  ]);
});

Deno.test("keys must be plain strings", () => {
  assert.deepEqual(problems(yaml("processes:", "  ? [a, b]", "  : {cmd: [x]}")), [
    "procs.yaml:2:5: processes: keys must be strings",
  ]);
});

Deno.test("paths quote process names that contain dots", () => {
  assert.deepEqual(problems(yaml("processes:", "  my.app: {cmd: x}")), [
    'procs.yaml:2:17: processes["my.app"].cmd: is a string; use a list (argv), ' +
    "or shell: for a command line",
  ]);
});

// --- reporting --------------------------------------------------------------------------

Deno.test("every problem in a file is reported in one ConfigError, in file order", () => {
  const text = yaml(
    "killtime: 5",
    "processes:",
    "  web:",
    "    cmd: python3 -m http.server",
    "    restart: sometimes",
    "  worker:",
    "    shell: ./work",
    "    cmd: [./work]",
    "    stopSignal: SIGNOPE",
  );
  let error: unknown;
  try {
    parse(text);
  } catch (thrown) {
    error = thrown;
  }
  assert.ok(error instanceof ConfigError);
  assert.ok(error instanceof SyntaxError);
  assert.equal(error.name, "ConfigError");
  assert.equal(error.problems.length, 5);
  assert.equal(
    error.message,
    [
      'procs.yaml:1:1: killtime: unknown key "killtime" (did you mean "killTime"?)',
      "procs.yaml:4:10: processes.web.cmd: is a string; use a list (argv), " +
      "or shell: for a command line",
      'procs.yaml:5:14: processes.web.restart: unknown restart policy "sometimes"; ' +
      "use always, on-failure or never",
      "procs.yaml:6:3: processes.worker: has both cmd and shell; use one",
      'procs.yaml:9:17: processes.worker.stopSignal: unknown signal "SIGNOPE"; ' +
      "use a name like SIGTERM, SIGINT, SIGQUIT, SIGHUP, SIGUSR1 or SIGKILL",
    ].join("\n"),
  );
  assert.deepEqual(error.problems[1], {
    file: FILE,
    line: 4,
    col: 10,
    path: "processes.web.cmd",
    message: "is a string; use a list (argv), or shell: for a command line",
  });
});

Deno.test("formatProblem() prints FILE: message for a problem with no place", () => {
  assert.equal(
    formatProblem({
      file: "a.yaml",
      path: "",
      message: "is a FIFO, not a regular file",
    }),
    "a.yaml: is a FIFO, not a regular file",
  );
  assert.equal(
    formatProblem({ file: "a.yaml", path: "processes.a", message: "oops" }),
    "a.yaml: processes.a: oops",
  );
});

Deno.test("formatProblem() leaves the path out when it is empty", () => {
  const problem = { file: "a.yaml", line: 3, col: 7, path: "", message: "oops" };
  assert.equal(formatProblem(problem), "a.yaml:3:7: oops");
  assert.equal(
    formatProblem({ ...problem, path: "processes.a" }),
    "a.yaml:3:7: processes.a: oops",
  );
});

// --- loadConfig ---------------------------------------------------------------------------

Deno.test("loadConfig() resolves cwd against the folder of the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "procs.yaml");
    await Deno.writeTextFile(file, yaml("processes:", "  a: {cmd: [x], cwd: site}"));
    const given = relative(Deno.cwd(), file);
    const config = await loadConfig(given);
    assert.equal(config.file, given);
    assert.equal(config.processes.a?.cwd, join(dir, "site"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() reports a missing file without a made-up line and column", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "missing.yaml");
    const error = await loadConfig(file).then(
      () => assert.fail("expected a ConfigError"),
      (error: unknown) => error,
    );
    assert.ok(error instanceof ConfigError);
    assert.equal((error.cause as { code?: string }).code, "ENOENT");
    assert.deepEqual(error.problems, [{ file, path: "", message: "no such file" }]);
    assert.equal(error.message, `${file}: no such file`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() reports a folder given as the file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(loadConfig(dir), {
      name: "ConfigError",
      message: `${dir}: is a directory, not a regular file`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() reports problems with the path as given", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "procs.yaml");
    await Deno.writeTextFile(file, yaml("processes:", "  a: {shell: [x]}"));
    await assert.rejects(loadConfig(file), {
      name: "ConfigError",
      message:
        `${file}:2:14: processes.a.shell: must be a string (for a list of arguments use cmd:)`,
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- describeProcess --------------------------------------------------------------------

Deno.test("describeProcess() lists every resolved setting, defaults included", () => {
  const config = parse(SPEC_EXAMPLE);
  assert.equal(
    describeProcess("web", config.processes.web!, config.timing),
    [
      "web",
      "  argv:            python3 -m http.server 8000",
      "  cwd:             /srv/app/site",
      "  env:             PYTHONUNBUFFERED, TEND_PROCESS",
      "  clearEnv:        false",
      "  uid:             (tend's)",
      "  gid:             (tend's)",
      "  restart:         always (default)",
      "  autostart:       true (default)",
      "  maxRestarts:     unlimited (default)",
      "  stopSignal:      SIGTERM (default)",
      "  threshold:       1s",
      "  killTime:        5s",
      "  minRestartDelay: 1s",
      "  maxRestartDelay: 1h",
      "  ready:           (none)",
      "  alive:           (none)",
      "  dependsOn:       (none)",
      "  log:             (none: tend's log only)",
    ].join("\n"),
  );
  assert.equal(
    describeProcess("ticker", config.processes.ticker!, config.timing),
    [
      "ticker",
      "  argv:            /bin/sh -c 'while true; do date; sleep 5; done'",
      "  cwd:             /srv/app",
      "  env:             TEND_PROCESS",
      "  clearEnv:        false",
      "  uid:             (tend's)",
      "  gid:             (tend's)",
      "  restart:         on-failure",
      "  autostart:       true (default)",
      "  maxRestarts:     unlimited (default)",
      "  stopSignal:      SIGINT",
      "  threshold:       1s",
      "  killTime:        10s",
      "  minRestartDelay: 1s",
      "  maxRestartDelay: 1h",
      "  ready:           (none)",
      "  alive:           (none)",
      "  dependsOn:       (none)",
      "  log:             (none: tend's log only)",
    ].join("\n"),
  );
});

Deno.test("describeProcess() shell-quotes arguments that need it", () => {
  const spec: ProcessSpec = {
    argv: ["echo", "it's", "", "a b", "$HOME", "--x=1"],
    uid: 0,
  };
  const text = describeProcess("q", spec, DEFAULT_TIMING);
  assert.match(text, /^ {2}argv: +echo 'it'\\''s' '' 'a b' '\$HOME' --x=1$/m);
  assert.match(text, /^ {2}uid: +0$/m);
});

Deno.test("autostart and maxRestarts are read, and checked", () => {
  assert.deepEqual(processes("  a: {cmd: [x], autostart: false, maxRestarts: 3}"), {
    a: {
      argv: ["x"],
      cwd: BASE,
      env: { TEND_PROCESS: "a" },
      autostart: false,
      maxRestarts: 3,
    },
  });
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], autostart: no, maxRestarts: -1}",
      "  b: {cmd: [x], maxRestarts: 1.5, startretries: 3}",
    )),
    [
      "procs.yaml:2:28: processes.a.autostart: must be true or false",
      "procs.yaml:2:45: processes.a.maxRestarts: must be a whole number, 0 or more",
      "procs.yaml:3:30: processes.b.maxRestarts: must be a whole number, 0 or more",
      'procs.yaml:3:35: processes.b.startretries: unknown key "startretries" (did you mean "maxRestarts"?)',
    ],
  );
});
