/**
 * `tend check`'s warnings: what is valid but will fail at run time, looked
 * up the way Deno's spawn looks programs up, each with its place.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  checkRuntime,
  formatProblem,
  loadConfig,
  parseConfig,
} from "../../lib/config/load.ts";
import { type FileKind, runtimeWarnings } from "../../lib/config/warnings.ts";

const BASE = "/srv/app";

/** A file system of a few paths; anything else is missing. */
function probe(paths: Record<string, FileKind>) {
  return { kind: (path: string) => Promise.resolve(paths[path] ?? "missing") };
}

const FS = probe({
  "/srv/app": "directory",
  "/srv/app/site": "directory",
  "/srv/app/notes.txt": "file",
  "/srv/app/bin/tool": "executable",
  "/srv/app/bin": "directory",
  "/srv/app/run.sh": "file",
  "/usr/bin/python3": "executable",
  "/usr/bin/sh": "executable",
  "/opt/bin/mine": "executable",
  "/usr/local/bin/noexec": "file",
});

async function warnings(
  lines: string[],
  options: { path?: string; fs?: ReturnType<typeof probe> } = {},
): Promise<string[]> {
  const config = parseConfig(lines.join("\n") + "\n", "procs.yaml", BASE, { env: {} });
  const found = await runtimeWarnings(config, {
    probe: options.fs ?? FS,
    path: options.path ?? "/usr/local/bin:/usr/bin",
  });
  return found.map(formatProblem);
}

Deno.test("a valid file whose programs and folders are there has no warnings", async () => {
  assert.deepEqual(
    await warnings([
      "processes:",
      "  a: {cmd: [python3, -m, http.server]}",
      "  b: {cmd: [./bin/tool], cwd: .}",
      "  c: {cmd: [/usr/bin/sh], cwd: site}",
      "  d: {cmd: [mine], env: {PATH: /opt/bin}}",
      "  e: {shell: whatever-is-not-there}",
    ]),
    [],
  );
});

Deno.test("a program not on PATH is a warning at cmd[0], naming the PATH looked in", async () => {
  assert.deepEqual(
    await warnings([
      "processes:",
      "  web:",
      "    cmd: [pyhton3, -m, http.server]",
      "  own:",
      "    cmd: [python3]",
      "    env: {PATH: /opt/bin}",
      "  none:",
      "    cmd: [python3]",
      "    env: {PATH: ''}",
    ]),
    [
      'procs.yaml:3:11: warning: processes.web.cmd[0]: "pyhton3" is not found on ' +
      "tend's PATH (/usr/local/bin:/usr/bin)",
      'procs.yaml:5:11: warning: processes.own.cmd[0]: "python3" is not found on the ' +
      "PATH its env sets (/opt/bin)",
      'procs.yaml:8:11: warning: processes.none.cmd[0]: "python3" is not found on the ' +
      "PATH its env sets (empty)",
    ],
  );
});

Deno.test("clearEnv without a PATH of its own still searches tend's PATH, as Deno's spawn does", async () => {
  assert.deepEqual(
    await warnings(["processes:", "  a: {cmd: [python3], clearEnv: true}"]),
    [],
  );
});

Deno.test("relative PATH entries and programs with a slash are taken from the process's cwd", async () => {
  assert.deepEqual(
    await warnings([
      "processes:",
      "  a: {cmd: [tool], env: {PATH: 'bin:'}}",
      "  b: {cmd: [bin/tool]}",
      "  c: {cmd: [./missing]}",
      "  d: {cmd: [./run.sh]}",
      "  e: {cmd: [./site]}",
      "  f: {cmd: [noexec]}",
    ]),
    [
      'procs.yaml:4:13: warning: processes.c.cmd[0]: "./missing" does not exist ' +
      "(looked for /srv/app/missing)",
      'procs.yaml:5:13: warning: processes.d.cmd[0]: "./run.sh" is not executable ' +
      "(looked for /srv/app/run.sh)",
      'procs.yaml:6:13: warning: processes.e.cmd[0]: "./site" is a folder, not a program ' +
      "(looked for /srv/app/site)",
      'procs.yaml:7:13: warning: processes.f.cmd[0]: "noexec" is on tend\'s PATH but not ' +
      "executable: /usr/local/bin/noexec",
    ],
  );
});

Deno.test("a cmd of one item with spaces is a warning, and its program is not looked up", async () => {
  assert.deepEqual(
    await warnings(["processes:", '  web: {cmd: ["python3 -m http.server"]}']),
    [
      "procs.yaml:2:15: warning: processes.web.cmd[0]: is one item with spaces, " +
      '"python3 -m http.server", so it names a program called that; give each ' +
      "argument its own item, or use shell:",
    ],
  );
});

Deno.test("a cwd that does not exist, or is a file, is a warning at the cwd", async () => {
  assert.deepEqual(
    await warnings([
      "processes:",
      "  a: {cmd: [python3], cwd: gone}",
      "  b: {shell: exit 0, cwd: notes.txt}",
      "  c: {cmd: [./missing-too], cwd: /nowhere}",
    ]),
    [
      'procs.yaml:2:28: warning: processes.a.cwd: "/srv/app/gone" does not exist',
      'procs.yaml:3:27: warning: processes.b.cwd: "/srv/app/notes.txt" is not a folder',
      // The program is not looked up in a folder that is not there.
      'procs.yaml:4:34: warning: processes.c.cwd: "/nowhere" does not exist',
    ],
  );
});

Deno.test("the copies of a replicated process are warned about once", async () => {
  assert.deepEqual(
    await warnings(["processes:", "  w: {cmd: [nope], replicas: 4}"]),
    [
      'procs.yaml:2:13: warning: processes.w.cmd[0]: "nope" is not found on tend\'s ' +
      "PATH (/usr/local/bin:/usr/bin)",
    ],
  );
});

Deno.test("checkRuntime() looks at the real file system with tend's PATH", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(dir, "plain.sh"), "echo hi\n");
    const file = join(dir, "procs.yaml");
    await Deno.writeTextFile(
      file,
      [
        "processes:",
        "  ok: {cmd: [sh, -c, 'exit 0']}",
        "  typo: {cmd: [definitely-not-a-program-tend]}",
        "  plain: {cmd: [./plain.sh]}",
        "  gone: {cmd: [sh], cwd: missing}",
        "",
      ].join("\n"),
    );
    const found = (await checkRuntime(await loadConfig(file))).map(formatProblem);
    assert.deepEqual(found, [
      `${file}:3:16: warning: processes.typo.cmd[0]: "definitely-not-a-program-tend" ` +
      `is not found on tend's PATH (${Deno.env.get("PATH")})`,
      `${file}:4:17: warning: processes.plain.cmd[0]: "./plain.sh" is not executable ` +
      `(looked for ${join(dir, "plain.sh")})`,
      `${file}:5:26: warning: processes.gone.cwd: "${
        join(dir, "missing")
      }" does not exist`,
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
