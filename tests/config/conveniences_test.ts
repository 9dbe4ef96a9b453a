/**
 * The conveniences docker compose and process-compose users expect, as
 * steps of the config pipeline: envFile, `${VAR}` expansion, replicas,
 * merge keys and `x-` keys, TEND_PROCESS, the config's folder as the
 * default cwd; each rule and each of its problems, with its place.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Config,
  ConfigError,
  type EnvFileText,
  formatProblem,
  loadConfig,
  MAX_ENV_FILE_BYTES,
  parseConfig,
  type ParseOptions,
  prepareConfig,
} from "../../lib/config/load.ts";
import { expandReplicaDependencies } from "../../lib/config/mutators.ts";
import { MAX_MERGED_KEYS } from "../../lib/config/yaml.ts";
import type { ProcessSpec } from "../../lib/core/spec.ts";
import { assertValidatesSchema } from "../_fakes/schema.ts";

const FILE = "procs.yaml";
const BASE = "/srv/app";
const ENV: Record<string, string> = { HOME: "/home/u", PORT: "8000", APP: "/opt/app" };

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

/** Env files by their path from BASE, as ParseOptions takes them. */
function files(texts: Record<string, string | EnvFileText>): Map<string, EnvFileText> {
  return new Map(
    Object.entries(texts).map((
      [path, text],
    ) => [join(BASE, path), typeof text === "string" ? { text } : text]),
  );
}

function parse(text: string, options: ParseOptions = {}): Config {
  const config = parseConfig(text, FILE, BASE, { env: ENV, ...options });
  assertValidatesSchema(text);
  return config;
}

function problems(text: string, options: ParseOptions = {}): string[] {
  try {
    parseConfig(text, FILE, BASE, { env: ENV, ...options });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

// --- TEND_PROCESS and the default cwd ----------------------------------------------

Deno.test("every process gets TEND_PROCESS, and runs in the config's folder unless it names one", () => {
  const { processes } = parse(yaml(
    "processes:",
    "  web: {cmd: [x]}",
    "  api: {shell: exit 0, clearEnv: true, env: {A: b}}",
    "  other: {cmd: [x], cwd: sub}",
  ));
  assert.deepEqual(processes.web, {
    argv: ["x"],
    cwd: BASE,
    env: { TEND_PROCESS: "web" },
  });
  // Under clearEnv too: it is part of what tend gives the child.
  assert.deepEqual(processes.api?.env, { A: "b", TEND_PROCESS: "api" });
  assert.equal(processes.api?.cwd, BASE);
  assert.equal(processes.other?.cwd, join(BASE, "sub"));
});

Deno.test("env may not set TEND_PROCESS or TEND_REPLICA, which tend sets", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web:",
      "    cmd: [x]",
      "    env: {TEND_PROCESS: me, TEND_REPLICA: '1'}",
    )),
    [
      "procs.yaml:4:11: processes.web.env.TEND_PROCESS: TEND_PROCESS is set by tend, " +
      "to the process's name",
      "procs.yaml:4:29: processes.web.env.TEND_REPLICA: TEND_REPLICA is set by tend, " +
      "to the copy's number (with replicas)",
    ],
  );
});

// --- ${VAR} -------------------------------------------------------------------------

Deno.test("${VAR} is expanded in cmd items, cwd and env values, from tend's environment", () => {
  const spec = parse(yaml(
    "processes:",
    "  web:",
    "    cmd: [serve, '--port=${PORT}', '${HOST:-0.0.0.0}', cost $$5, $HOME]",
    "    cwd: ${APP}/site",
    "    env: {DATA: '${HOME}/data', LITERAL: 'a$$b'}",
  )).processes.web!;
  // A $ not followed by { is left as written (for sh -c).
  assert.deepEqual(spec.argv, ["serve", "--port=8000", "0.0.0.0", "cost $5", "$HOME"]);
  assert.equal(spec.cwd, "/opt/app/site");
  assert.deepEqual(spec.env, {
    DATA: "/home/u/data",
    LITERAL: "a$b",
    TEND_PROCESS: "web",
  });
});

Deno.test("shell: is not expanded by tend: the shell expands it with the child's environment", () => {
  const spec = parse(yaml(
    "processes:",
    "  sh: {shell: 'echo ${PORT} ${NOT_SET} $$'}",
  )).processes.sh!;
  assert.deepEqual(spec.argv, ["/bin/sh", "-c", "echo ${PORT} ${NOT_SET} $$"]);
});

Deno.test("env names and keys are not expanded, and an env value does not see env", () => {
  const spec = parse(yaml(
    "processes:",
    "  web:",
    "    cmd: [x]",
    "    env: {A: one, B: '${A:-no A in env}'}",
  )).processes.web!;
  assert.equal(spec.env?.B, "no A in env");
});

Deno.test("an unset variable without a default is a problem naming it, at its ${", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web:",
      "    cmd: [serve, '--port=${NOPE}', \"${HOST\"]",
      "    cwd: ${MISSING_DIR}/x",
      "    env: {A: 'x ${ALSO_NOPE}'}",
    )),
    [
      'procs.yaml:3:26: processes.web.cmd[1]: variable "NOPE" is not set ' +
      "(write ${NOPE:-value} to give a default)",
      'procs.yaml:3:37: processes.web.cmd[2]: unclosed "${" (write $$ for a literal $)',
      'procs.yaml:4:10: processes.web.cwd: variable "MISSING_DIR" is not set ' +
      "(write ${MISSING_DIR:-value} to give a default)",
      'procs.yaml:5:17: processes.web.env.A: variable "ALSO_NOPE" is not set ' +
      "(write ${ALSO_NOPE:-value} to give a default)",
    ],
  );
});

Deno.test("a problem inside a folded or escaped string is reported at the string", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web:",
      '    cmd: [x, "tab\\t${NOPE}"]',
    )),
    [
      'procs.yaml:3:14: processes.web.cmd[1]: variable "NOPE" is not set ' +
      "(write ${NOPE:-value} to give a default)",
    ],
  );
});

Deno.test("cwd that expands to nothing, or to ~, is a problem", () => {
  assert.deepEqual(
    problems(
      yaml(
        "processes:",
        "  a: {cmd: [x], cwd: '${EMPTY}'}",
        "  b: {cmd: [x], cwd: '${TILDE}/app'}",
      ),
      { env: { EMPTY: "", TILDE: "~" } },
    ),
    [
      "procs.yaml:2:22: processes.a.cwd: is empty once ${...} is expanded",
      'procs.yaml:3:22: processes.b.cwd: "~" is not expanded; write the full path (or ${HOME})',
    ],
  );
});

Deno.test("without an environment given, parseConfig knows no variable", () => {
  assert.throws(
    () => parseConfig(yaml("processes:", "  a: {cmd: ['${HOME}']}"), FILE, BASE),
    /variable "HOME" is not set/,
  );
});

// --- envFile --------------------------------------------------------------------------

Deno.test("envFile adds its variables; env wins over the file, a later file over an earlier one", () => {
  const spec = parse(
    yaml(
      "processes:",
      "  web:",
      "    cmd: [x]",
      "    envFile: [.env, conf/web.env]",
      "    env: {B: from env}",
    ),
    {
      envFiles: files({
        ".env": "A=from .env\nB=from .env\nC=from .env\n",
        "conf/web.env": "export C=from web.env\n",
      }),
    },
  ).processes.web!;
  assert.deepEqual(spec.env, {
    A: "from .env",
    B: "from env",
    C: "from web.env",
    TEND_PROCESS: "web",
  });
});

Deno.test("a process's env file values are variables for ${VAR}, over tend's environment", () => {
  const spec = parse(
    yaml(
      "processes:",
      "  web:",
      "    cmd: [serve, '--port=${PORT}', '--db=${DB_URL}']",
      "    envFile: .env",
      "    env: {URL: 'http://localhost:${PORT}'}",
    ),
    { envFiles: files({ ".env": "PORT=9000\nDB_URL=postgres://db\n" }) },
  ).processes.web!;
  assert.deepEqual(spec.argv, ["serve", "--port=9000", "--db=postgres://db"]);
  assert.equal(spec.env?.URL, "http://localhost:9000");
});

Deno.test("envFile paths are expanded and taken from the config's folder; absolute ones as they are", () => {
  const prepared = prepareConfig(
    yaml(
      "processes:",
      "  a: {cmd: [x], envFile: '${STAGE:-dev}.env'}",
      "  b: {cmd: [x], envFile: [/etc/app.env, ../shared.env, dev.env]}",
    ),
    "conf/procs.yaml",
    "/srv/conf",
    { env: {} },
  );
  // Each once, for loadConfig to read.
  assert.deepEqual(prepared.envFiles, [
    "/srv/conf/dev.env",
    "/etc/app.env",
    "/srv/shared.env",
  ]);
});

Deno.test("an env file that cannot be read is a problem where the config names it", () => {
  assert.deepEqual(
    problems(
      yaml(
        "processes:",
        "  a: {cmd: [x], envFile: missing.env}",
        "  b: {cmd: [x], envFile: [ok.env, dir.env]}",
        "  c: {cmd: [x], envFile: /abs/missing.env}",
      ),
      {
        envFiles: files({
          "ok.env": "A=1\n",
          "missing.env": { problem: "no such file", missing: true },
          "dir.env": { problem: "is a directory, not a regular file" },
        }),
      },
    ),
    [
      'procs.yaml:2:26: processes.a.envFile: "missing.env": no such file ' +
      "(looked for /srv/app/missing.env)",
      'procs.yaml:3:35: processes.b.envFile[1]: "dir.env": is a directory, not a regular file',
      'procs.yaml:4:26: processes.c.envFile: "/abs/missing.env": no such file',
    ],
  );
});

Deno.test("a bad line of an env file is a problem at its line there, naming the config's key", () => {
  assert.deepEqual(
    problems(
      yaml("processes:", "  web:", "    cmd: [x]", "    envFile: [.env]"),
      { envFiles: files({ ".env": "A=1\nnot a line\nTEND_PROCESS=x\nB='open\n" }) },
    ),
    [
      '.env:2:1: processes.web.envFile[0]: expected NAME=value, not "not" alone',
      ".env:4:3: processes.web.envFile[0]: unclosed single quote",
      ".env:3:1: processes.web.envFile[0]: TEND_PROCESS is set by tend, to the process's name",
    ],
  );
});

Deno.test("envFile must be a path or a non-empty list of paths", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], envFile: []}",
      "  b: {cmd: [x], envFile: {a: 1}}",
      "  c: {cmd: [x], envFile: [ok, '', [x]]}",
      "  d: {cmd: [x], envFile: '${NOPE}.env'}",
    )),
    [
      "procs.yaml:2:26: processes.a.envFile: must list at least one file",
      "procs.yaml:3:26: processes.b.envFile: must be a path, or a list of paths",
      "procs.yaml:4:31: processes.c.envFile[1]: must be a path",
      "procs.yaml:4:35: processes.c.envFile[2]: must be a path",
      'procs.yaml:5:27: processes.d.envFile: variable "NOPE" is not set ' +
      "(write ${NOPE:-value} to give a default)",
    ],
  );
});

Deno.test("loadConfig() reads the env files the config names, bounded as the config is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "conf"));
    await Deno.mkdir(join(dir, "conf", "dir.env"));
    await Deno.writeTextFile(join(dir, "conf", "app.env"), "GREETING='hello world'\n");
    await Deno.writeFile(
      join(dir, "conf", "latin1.env"),
      new Uint8Array([0x41, 0x3d, 0xe9, 0x0a]),
    );
    await Deno.writeFile(join(dir, "conf", "big.env"), new Uint8Array());
    await Deno.truncate(join(dir, "conf", "big.env"), MAX_ENV_FILE_BYTES + 1);
    const file = join(dir, "conf", "procs.yaml");
    await Deno.writeTextFile(
      file,
      yaml("processes:", "  ok: {cmd: [x], envFile: app.env}"),
    );
    const config = await loadConfig(file, { env: {} });
    assert.equal(config.processes.ok?.env?.GREETING, "hello world");

    await Deno.writeTextFile(
      file,
      yaml(
        "processes:",
        "  a: {cmd: [x], envFile: [missing.env, dir.env, big.env, latin1.env]}",
      ),
    );
    const conf = join(dir, "conf");
    await assert.rejects(loadConfig(file, { env: {} }), (error: ConfigError) => {
      assert.deepEqual(error.problems.map(formatProblem), [
        `${file}:2:27: processes.a.envFile[0]: "${conf}/missing.env": no such file`,
        `${file}:2:40: processes.a.envFile[1]: "${conf}/dir.env": is a directory, not a regular file`,
        `${file}:2:49: processes.a.envFile[2]: "${conf}/big.env": is larger than 1 MiB ` +
        `(${MAX_ENV_FILE_BYTES + 1} bytes)`,
        `${conf}/latin1.env:1:3: processes.a.envFile[3]: invalid UTF-8: byte 0xe9 at offset 2 ` +
        "(save the file as UTF-8)",
      ]);
      return true;
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("loadConfig() expands from tend's own environment by default", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "procs.yaml");
    await Deno.writeTextFile(file, yaml("processes:", "  a: {cmd: [x, '${PATH}']}"));
    const config = await loadConfig(file);
    assert.equal(config.processes.a?.argv[1], Deno.env.get("PATH"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- replicas -------------------------------------------------------------------------

Deno.test("replicas: N runs N copies NAME.1 ... NAME.N, each with TEND_REPLICA and its own ${TEND_REPLICA}", () => {
  const { processes } = parse(yaml(
    "processes:",
    "  first: {cmd: [x]}",
    "  web:",
    "    replicas: 3",
    "    cmd: [serve, --port, '80${TEND_REPLICA}', '${TEND_PROCESS}']",
    "    cwd: data/${TEND_REPLICA}",
    "    env: {NAME: 'web-${TEND_REPLICA}'}",
    "  last: {cmd: [x]}",
  ));
  // In file order, the copies where the process is.
  assert.deepEqual(Object.keys(processes), [
    "first",
    "web.1",
    "web.2",
    "web.3",
    "last",
  ]);
  for (const i of [1, 2, 3]) {
    assert.deepEqual(processes[`web.${i}`], {
      argv: ["serve", "--port", `80${i}`, `web.${i}`],
      cwd: `${BASE}/data/${i}`,
      env: { NAME: `web-${i}`, TEND_PROCESS: `web.${i}`, TEND_REPLICA: String(i) },
    });
  }
  // One copy is still a copy: names do not change with the count.
  assert.deepEqual(
    Object.keys(parse(yaml("processes:", "  w: {cmd: [x], replicas: 1}")).processes),
    ["w.1"],
  );
});

Deno.test("each copy's env file path may use ${TEND_REPLICA}", () => {
  const config = parse(
    yaml("processes:", "  w: {cmd: [x], replicas: 2, envFile: 'w${TEND_REPLICA}.env'}"),
    { envFiles: files({ "w1.env": "PORT=1\n", "w2.env": "PORT=2\n" }) },
  );
  assert.equal(config.processes["w.1"]?.env?.PORT, "1");
  assert.equal(config.processes["w.2"]?.env?.PORT, "2");
});

Deno.test("a problem in a replicated process is reported once, not once per copy", () => {
  assert.deepEqual(
    problems(yaml("processes:", "  w: {cmd: ['${NOPE}'], replicas: 5}")),
    [
      'procs.yaml:2:14: processes.w.cmd[0]: variable "NOPE" is not set ' +
      "(write ${NOPE:-value} to give a default)",
    ],
  );
});

Deno.test("replicas must be a whole number from 1 up", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], replicas: 0}",
      "  b: {cmd: [x], replicas: -2}",
      "  c: {cmd: [x], replicas: 1.5}",
      "  d: {cmd: [x], replicas: '3'}",
      "  e: {cmd: [x], replicas: 10001}",
      "  f: {cmd: [x], scale: 2}",
    )),
    [
      "procs.yaml:2:27: processes.a.replicas: must be a whole number, 1 or more " +
      "(to define a process without starting it, use autostart: false)",
      "procs.yaml:3:27: processes.b.replicas: must be a whole number, 1 or more",
      "procs.yaml:4:27: processes.c.replicas: must be a whole number, 1 or more",
      "procs.yaml:5:27: processes.d.replicas: must be a whole number, 1 or more",
      "procs.yaml:6:27: processes.e.replicas: must be at most 10000",
      'procs.yaml:7:17: processes.f.scale: unknown key "scale" (did you mean "replicas"?)',
    ],
  );
});

Deno.test("a name replicas makes that another process has is a problem at the replicas", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web: {cmd: [x], replicas: 3}",
      "  web.2: {cmd: [y]}",
      "  web.3: {cmd: [z]}",
      "  api.1: {cmd: [x]}",
      "  api: {cmd: [x], replicas: 1}",
      // Copies of copies do not collide: web.2.1 is not web.2.
      "  other: {cmd: [x], replicas: 2}",
      "  other.1.1: {cmd: [x]}",
    )),
    [
      'procs.yaml:2:29: processes.web.replicas: makes "web.2", "web.3", already the name ' +
      "of another process (copies are named web.1 ... web.3)",
      'procs.yaml:6:29: processes.api.replicas: makes "api.1", already the name of ' +
      "another process (copies are named api.1 ... api.1)",
    ],
  );
});

Deno.test("a dependency on a replicated process is one on each of its copies", () => {
  // On the spec level, where dependsOn lands once its key is read.
  const processes: Record<string, ProcessSpec> = {
    "db": { argv: ["db"] },
    "web.1": { argv: ["web"], dependsOn: { db: "ready" } },
    "web.2": { argv: ["web"], dependsOn: { db: "ready" } },
    "proxy": { argv: ["proxy"], dependsOn: { web: "started", db: "ready" } },
    "one": { argv: ["x"], dependsOn: { "web.2": "done" } },
  };
  expandReplicaDependencies(processes, new Map([["web", ["web.1", "web.2"]]]));
  assert.deepEqual(processes.proxy?.dependsOn, {
    "web.1": "started",
    "web.2": "started",
    db: "ready",
  });
  assert.deepEqual(processes["web.1"]?.dependsOn, { db: "ready" });
  assert.deepEqual(processes.one?.dependsOn, { "web.2": "done" });
});

// --- merge keys and x- ------------------------------------------------------------------

Deno.test("x- top-level keys are ignored, and merge keys bring a template in; keys written beside it win", () => {
  const { processes } = parse(yaml(
    "x-base: &base",
    "  restart: on-failure",
    "  env: {MODE: base}",
    "  killTime: 2",
    "x-more: &more {stopSignal: SIGINT, killTime: 9}",
    "processes:",
    "  web:",
    "    <<: *base",
    "    cmd: [web]",
    "    killTime: 3",
    "  api:",
    "    killTime: 4",
    "    <<: [*base, *more]",
    "    shell: exit 0",
    "  inline:",
    "    <<: {cmd: [inline], restart: never}",
  ));
  assert.deepEqual(processes.web, {
    argv: ["web"],
    cwd: BASE,
    env: { MODE: "base", TEND_PROCESS: "web" },
    restart: "on-failure",
    killTime: 3,
  });
  // Written before the merge, and still winning; of two templates, the first.
  assert.equal(processes.api?.killTime, 4);
  assert.equal(processes.api?.stopSignal, "SIGINT");
  assert.equal(processes.api?.restart, "on-failure");
  assert.deepEqual(processes.inline?.argv, ["inline"]);
  assert.equal(processes.inline?.restart, "never");
});

Deno.test("processes can be merged in too, in the place of the merge key", () => {
  const { processes } = parse(yaml(
    "x-common: &common",
    "  logger: {cmd: [logger]}",
    "  metrics: {cmd: [metrics]}",
    "processes:",
    "  first: {cmd: [first]}",
    "  <<: *common",
    "  metrics: {cmd: [mine]}",
  ));
  assert.deepEqual(Object.keys(processes), ["first", "logger", "metrics"]);
  assert.deepEqual(processes.metrics?.argv, ["mine"]);
});

Deno.test("a problem in a merged template is reported where the template writes it, for each process", () => {
  assert.deepEqual(
    problems(yaml(
      "x-base: &base",
      "  cmd: not a list",
      "  restrat: always",
      "processes:",
      "  a:",
      "    <<: *base",
      "  b:",
      "    <<: *base",
      "    cmd: [fine]",
    )),
    [
      "procs.yaml:2:8: processes.a.cmd: is a string; use a list (argv), or shell: for a " +
      "command line",
      'procs.yaml:3:3: processes.a.restrat: unknown key "restrat" (did you mean "restart"?)',
      'procs.yaml:3:3: processes.b.restrat: unknown key "restrat" (did you mean "restart"?)',
    ],
  );
});

Deno.test("duplicate keys still count beside merges: explicit ones twice, << twice, and inside a template", () => {
  assert.deepEqual(
    problems(yaml(
      "x-a: &a {restart: never}",
      "x-b: &b {cmd: [b], cmd: [again]}",
      "processes:",
      "  web:",
      "    <<: *a",
      "    <<: *b",
      "    cmd: [x]",
      "    cmd: [y]",
    )),
    [
      'procs.yaml:2:20: duplicate key "cmd"',
      'procs.yaml:6:5: processes.web: duplicate key "<<" (merge several mappings with ' +
      "<<: [*a, *b])",
      'procs.yaml:8:5: processes.web: duplicate key "cmd"',
    ],
  );
  // A quoted "<<" is an ordinary key, and unknown.
  assert.deepEqual(
    problems(yaml("processes:", "  web:", "    cmd: [x]", '    "<<": {a: 1}')),
    ['procs.yaml:4:5: processes.web["<<"]: unknown key "<<"'],
  );
});

Deno.test("a merge key must name mappings, and a mapping cannot merge itself", () => {
  assert.deepEqual(
    problems(yaml(
      "x-s: &s just text",
      "x-loop: &loop",
      "  cmd: [x]",
      "  <<: *loop",
      "processes:",
      "  a: {cmd: [x], <<: *s}",
      "  b: {cmd: [x], <<: [*s, {restart: never}]}",
      "  c:",
      "    <<: *loop",
    )),
    [
      "procs.yaml:4:7: processes.c: <<: merges a mapping into itself",
      "procs.yaml:6:21: processes.a: <<: must be an alias of a mapping (<<: *base), or a " +
      "list of them",
      "procs.yaml:7:22: processes.b: <<: must be an alias of a mapping (<<: *base), or a " +
      "list of them",
    ],
  );
});

Deno.test("merges that would bring in more than MAX_MERGED_KEYS keys stop with one problem", () => {
  // Each level merges the one before twice: 2^21 merged keys from 40 lines.
  const lines = ["x-l0: &l0 {a: 1}"];
  for (let i = 1; i <= 21; i++) {
    lines.push(`x-l${i}: &l${i} {<<: [*l${i - 1}, *l${i - 1}], k${i}: 1}`);
  }
  lines.push("processes:", "  web:", "    cmd: [x]", "    env: {<<: *l21}");
  const found = problems(yaml(...lines));
  assert.ok(
    found.some((p) =>
      p.includes(`too many merged keys: merges bring in more than ${MAX_MERGED_KEYS}`)
    ),
    found.join("\n"),
  );
});

Deno.test("a dependency may name one copy of a replicated process, checked like its process", () => {
  // Regression: `dependsOn: {web.2: ...}` was an unknown process.
  const { processes } = parse(yaml(
    "processes:",
    "  web: {cmd: [web], replicas: 2, ready: {tcp: 8000}}",
    "  one: {cmd: [x], dependsOn: {web.2: ready}}",
  ));
  assert.deepEqual(processes.one?.dependsOn, { "web.2": "ready" });
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  web: {cmd: [web], replicas: 2}",
      "  one: {cmd: [x], dependsOn: {web.2: ready, web.3: started}}",
    )),
    [
      'procs.yaml:3:38: processes.one.dependsOn["web.2"]: "web.2" has no ready probe, so it is never ready; give it one, or use started',
      'procs.yaml:3:45: processes.one.dependsOn["web.3"]: unknown process "web.3" (did you mean "web.1"?)',
    ],
  );
});
