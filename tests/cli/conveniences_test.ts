/**
 * End to end, `main.ts` as a child with the `start` task's permissions:
 * the conveniences docker compose users expect (env files, `${VAR}`,
 * replicas, merge keys, the config's folder as the default cwd), `tend
 * check`'s warnings, `tend schema`, the `tend` command `deno install`
 * makes, and `deno task start` passing signals on to tend.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { schemaText } from "../../lib/config/schema.ts";
import {
  assertNothingLeft,
  EXAMPLE,
  MAIN,
  PERMISSIONS,
  readLines,
  stripAnsi,
  tempDir,
  tend,
  TIMEOUT,
  yaml,
} from "../_fakes/tend.ts";
import { groupMembers } from "../_fakes/proc.ts";
import { assertValidatesSchema } from "../_fakes/schema.ts";

const ROOT = fileURLToPath(new URL("../..", import.meta.url));

/** What process `name` printed on stdout, without its `[name] ` tag (JSON output). */
function said(t: ReturnType<typeof tend>, name: string): string[] {
  return t.recordsOf(name).filter((r) => r.stream === "stdout").map((r) =>
    r.message.slice(name.length + 3)
  );
}

Deno.test("a child sees its envFile values, its env expanded from tend's environment, and TEND_PROCESS", async () => {
  await using dir = await tempDir();
  await dir.write(
    ".env",
    "# the app's settings\nexport DB_URL='postgres://db/app'\nMODE=from-file\nEMPTY=\n",
  );
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        app: {
          cmd: [
            "sh",
            "-c",
            'echo "db=$DB_URL mode=$MODE empty=[$EMPTY] home=$APP_HOME me=$TEND_PROCESS"; ' +
            'echo "arg=$0"; exec sleep 1000',
            "${DB_URL}",
          ],
          envFile: ".env",
          env: { MODE: "from-env", APP_HOME: "${TEND_TEST_HOME}/app" },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file], {
    env: { TEND_TEST_HOME: "/home/tester" },
  });
  await t.said(
    "app",
    "db=postgres://db/app mode=from-env empty=[] home=/home/tester/app me=app",
  );
  await t.said("app", "arg=postgres://db/app");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assertNothingLeft(t);
});

Deno.test("three replicas run as NAME.1 ... NAME.3, each with its own port in argv", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        web: {
          replicas: 3,
          cmd: [
            "sh",
            "-c",
            'echo "serving on $0 as copy $TEND_REPLICA of $TEND_PROCESS"; exec sleep 1000',
            "80${TEND_REPLICA}",
          ],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  for (const i of [1, 2, 3]) {
    await t.said(`web.${i}`, `serving on 80${i} as copy ${i} of web.${i}`);
  }
  assert.deepEqual(
    t.records.filter((r) => r.event === "started").map((r) => r.process).sort(),
    ["web.1", "web.2", "web.3"],
  );
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  await assertNothingLeft(t);
});

Deno.test("a merge-key template from an x- key runs, with keys written beside it winning", async () => {
  await using dir = await tempDir();
  const text = `x-worker: &worker
  cmd: [sh, -c, 'echo "$TEND_PROCESS: $ROLE"; exec sleep 1000']
  env: { ROLE: worker }
  stopSignal: SIGINT
processes:
  one:
    <<: *worker
  two:
    <<: *worker
    env: { ROLE: special }
`;
  assertValidatesSchema(text);
  const file = await dir.write("procs.yaml", text);
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("one", "one: worker");
  await t.said("two", "two: special");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  // The template's stopSignal reached both.
  for (const name of ["one", "two"]) {
    const sent = t.recordsOf(name, "stop-signal")[0];
    assert.equal(sent?.signal, "SIGINT", t.transcript());
  }
  await assertNothingLeft(t);
});

Deno.test("a process without cwd runs in the config's folder wherever tend starts", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { where: { shell: "pwd -P", restart: "never" } } }),
  );
  const folder = await Deno.realPath(dir.path);
  for (const cwd of ["/", elsewhere.path, dir.path]) {
    await using t = tend(["run", "--log-format", "json", file], { cwd });
    assert.equal(await t.exit(), 0, t.transcript());
    assert.deepEqual(said(t, "where"), [folder], `tend started in ${cwd}`);
  }
  // tend run -- CMD keeps tend's working directory.
  await using t = tend([
    "run",
    "--log-format",
    "json",
    "--restart",
    "never",
    "--",
    "pwd",
    "-P",
  ], {
    cwd: elsewhere.path,
  });
  assert.equal(await t.exit(), 0, t.transcript());
  assert.deepEqual(said(t, "pwd"), [await Deno.realPath(elsewhere.path)]);
});

Deno.test("tend run -- CMD gives the child TEND_PROCESS too", async () => {
  await using t = tend([
    "run",
    "--log-format",
    "json",
    "--restart",
    "never",
    "--",
    "sh",
    "-c",
    'echo "me=$TEND_PROCESS"',
  ]);
  assert.equal(await t.exit(), 0, t.transcript());
  assert.deepEqual(said(t, "sh"), ["me=sh"]);
});

Deno.test("tend check warns about a missing program and a missing cwd with their places, and exits 0", async () => {
  await using dir = await tempDir();
  await dir.write(
    "procs.yaml",
    `processes:
  web:
    cmd: [pyhton3, -m, http.server]
  api:
    cmd: [sh, -c, "exit 0"]
    cwd: ./not-there
  spaced:
    cmd: ["sh -c true"]
  fine:
    shell: exit 0
`,
  );
  await using t = tend(["check", "procs.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 0, t.transcript());
  assert.equal(
    t.lines[0],
    "procs.yaml: valid, 4 processes (3 warnings)",
    t.transcript(),
  );
  const warnings = t.stderr.trimEnd().split("\n");
  assert.equal(warnings.length, 3, t.transcript());
  assert.match(
    warnings[0]!,
    /^procs\.yaml:3:11: warning: processes\.web\.cmd\[0\]: "pyhton3" is not found on tend's PATH \(.+\)$/,
  );
  assert.equal(
    warnings[1],
    `procs.yaml:6:10: warning: processes.api.cwd: "${
      join(await Deno.realPath(dir.path), "not-there")
    }" does not exist`,
  );
  assert.match(
    warnings[2]!,
    /^procs\.yaml:8:11: warning: processes\.spaced\.cmd\[0\]: is one item with spaces/,
  );

  // A file whose programs and folders are there has none.
  await using clean = tend(["check", EXAMPLE]);
  assert.equal(await clean.exit(), 0, clean.transcript());
  assert.equal(clean.stderr, "");
});

Deno.test("tend check reports a config problem in an env file with its place there", async () => {
  await using dir = await tempDir();
  await dir.write("app.env", "GOOD=1\nbroken line\n");
  await dir.write(
    "procs.yaml",
    "processes:\n  web:\n    cmd: [sh]\n    envFile: [app.env, missing.env]\n",
  );
  await using t = tend(["check", "procs.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 78, t.transcript());
  const real = await Deno.realPath(dir.path);
  assert.deepEqual(t.stderr.trimEnd().split("\n"), [
    'app.env:2:1: processes.web.envFile[0]: expected NAME=value, not "broken" alone',
    `procs.yaml:4:24: processes.web.envFile[1]: "missing.env": no such file ` +
    `(looked for ${join(real, "missing.env")})`,
  ]);
});

Deno.test("under a narrower --allow-env, a ${VAR} outside it is a config error saying so", async () => {
  await using dir = await tempDir();
  await dir.write(
    "procs.yaml",
    "processes:\n  a: {cmd: [sh, -c, 'exit 0', '${NO_COLOR:-x}']}\n" +
      "  b: {cmd: [sh, -c, 'exit 0', '${HOME}']}\n",
  );
  const narrow = PERMISSIONS.map((flag) =>
    flag === "--allow-env" ? "--allow-env=NO_COLOR,LOG_TOKENS,LOG_STREAM" : flag
  );
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...narrow, MAIN, "check", "procs.yaml"],
    cwd: dir.path,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 78, stderr);
  assert.equal(
    stderr,
    "procs.yaml: cannot read the variable HOME: tend runs without --allow-env for it " +
      "(give --allow-env, as the README's Permissions say)\n",
  );
});

Deno.test("tend schema prints the JSON Schema, the same as tend.schema.json", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, "schema"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  const printed = new TextDecoder().decode(out.stdout);
  assert.equal(printed, schemaText());
  assert.equal(printed, await Deno.readTextFile(join(ROOT, "tend.schema.json")));
  assert.equal(
    JSON.parse(printed).$schema,
    "https://json-schema.org/draft/2020-12/schema",
  );
});

// The README's install line, with the start task's permissions.
const INSTALL = [
  "install",
  "-g",
  "--config",
  "deno.json",
  ...PERMISSIONS,
  "-n",
  "tend",
  "main.ts",
];

Deno.test("the README's deno install makes a tend command that works offline", async () => {
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  const line = `deno ${INSTALL.join(" ")}`;
  assert.ok(readme.includes(line), `the README shows: ${line}`);

  await using root = await tempDir();
  // No network at all where unshare can take it away (root); the npm
  // packages come from the cache the tests already use.
  const unshare = await canUnshareNet();
  const [program, ...prefix] = unshare
    ? ["unshare", "-n", Deno.execPath()]
    : [Deno.execPath()];
  const installed = await new Deno.Command(program!, {
    args: [...prefix, ...INSTALL.slice(0, 2), "--root", root.path, ...INSTALL.slice(2)],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const log = new TextDecoder().decode(installed.stderr);
  assert.ok(installed.success, `deno install failed (offline: ${unshare}):\n${log}`);

  const bin = join(root.path, "bin", "tend");
  // PATH as a user's shell would have it after adding the root's bin.
  const env = {
    PATH: `${join(root.path, "bin")}:${Deno.env.get("PATH")}`,
    NO_COLOR: "1",
  };
  const run = async (...args: string[]) => {
    const out = await new Deno.Command(unshare ? "unshare" : "tend", {
      args: unshare ? ["-n", bin, ...args] : args,
      cwd: root.path,
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const dec = new TextDecoder();
    return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
  };
  const denoJson = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const version = await run("--version");
  assert.equal(version.out.trim(), `tend ${denoJson.version}`, version.err);
  const check = await run("check", EXAMPLE);
  assert.equal(check.code, 0, check.out + check.err);
  assert.match(check.out, /: valid, \d+ processes\n/);
});

async function canUnshareNet(): Promise<boolean> {
  try {
    const out = await new Deno.Command("unshare", {
      args: ["-n", "true"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success;
  } catch {
    return false;
  }
}

Deno.test("deno task start passes SIGUSR2, SIGHUP and SIGTERM on to tend", async () => {
  // Signals go to the task runner's pid only, not to its group.
  const task = new Deno.Command(Deno.execPath(), {
    args: ["task", "start"],
    cwd: ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    detached: true,
    env: { NO_COLOR: "1" },
  }).spawn();
  const lines: string[] = [];
  const reading = readLines(task.stdout, (line) => lines.push(stripAnsi(line)));
  const stderr = new Response(task.stderr).text();
  const waitFor = async (pattern: RegExp) => {
    const deadline = performance.now() + TIMEOUT;
    while (!lines.some((line) => pattern.test(line))) {
      if (performance.now() > deadline) {
        throw new Error(`no line matching ${pattern}:\n${lines.join("\n")}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  let tendPid: number | undefined;
  try {
    await waitFor(/starting \d+ processes from procs\.example\.yaml \(pid \d+\)/);
    tendPid = Number(lines.join("\n").match(/\(pid (\d+)\)/)![1]);
    assert.notEqual(tendPid, task.pid, "tend runs as the task runner's child");
    await waitFor(/\[clock\] tend: started/);
    Deno.kill(task.pid, "SIGUSR2");
    await waitFor(/\[clock\] tend: RUNNING, pid \d+/);
    Deno.kill(task.pid, "SIGHUP");
    await waitFor(/reloaded procs\.example\.yaml: 0 added, 0 removed, 0 changed/);
    Deno.kill(task.pid, "SIGTERM");
    await waitFor(/SIGTERM: stopping every process/);
    const status = await task.status;
    assert.equal(status.code, 0, lines.join("\n") + (await stderr));
  } finally {
    try {
      Deno.kill(-task.pid, "SIGKILL");
    } catch {
      // gone, as it should be
    }
    if (tendPid !== undefined) {
      try {
        Deno.kill(tendPid, "SIGKILL");
      } catch {
        // gone
      }
    }
    await reading;
    await stderr;
    await task.status;
  }
  // tend stopped every child it started before the task ended.
  for (const line of lines) {
    const pid = Number(line.match(/\] tend: started, pid (\d+)/)?.[1]);
    if (pid) {
      assert.deepEqual(await groupMembers(pid), [], `group ${pid} outlived tend`);
    }
  }
});
