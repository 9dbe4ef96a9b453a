/**
 * Who a process runs as: `user:`, `uid:` and `gid:`, looked up in a user
 * table parsed from passwd(5) text, and `loadConfig` reading a real one.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type Config,
  ConfigError,
  formatProblem,
  loadConfig,
  parseConfig,
} from "../../lib/config/load.ts";
import { UserTable } from "../../lib/config/users.ts";
import type { ProcessSpec } from "../../lib/core/spec.ts";
import { assertValidatesSchema } from "../_fakes/schema.ts";

const PASSWD = [
  "# a comment, skipped",
  "root:x:0:0:root:/root:/bin/bash",
  "www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin",
  "app:x:1000:1001:App,,,:/home/app:/bin/sh",
  "dup:x:1000:9:second entry for uid 1000:/:/bin/sh",
  "+nis-user::::::",
  "broken:x:abc:1:::",
  "huge:x:4294967295:1:::",
  "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
].join("\n");

const USERS = UserTable.parse(PASSWD);

function yaml(...lines: string[]): string {
  return lines.join("\n") + "\n";
}

function parse(text: string, users = USERS): Config {
  const config = parseConfig(text, "procs.yaml", "/srv", { users });
  assertValidatesSchema(text);
  return config;
}

/** A spec without what every process gets (its folder, TEND_PROCESS): who it runs as. */
function ids(spec: ProcessSpec | undefined): Partial<ProcessSpec> | undefined {
  if (spec === undefined) return undefined;
  const { cwd: _cwd, env: _env, ...rest } = spec;
  return rest;
}

function problems(text: string, users = USERS): string[] {
  try {
    parse(text, users);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.map(formatProblem);
    throw error;
  }
  assert.fail("expected a ConfigError");
}

Deno.test("UserTable.parse() skips comments, NIS and malformed lines, and the first entry wins", () => {
  assert.deepEqual(USERS.byName("app"), { name: "app", uid: 1000, gid: 1001 });
  assert.deepEqual(USERS.byUid(1000), { name: "app", uid: 1000, gid: 1001 });
  assert.equal(USERS.byName("dup")?.gid, 9);
  for (const name of ["# a comment, skipped", "+nis-user", "broken", "huge"]) {
    assert.equal(USERS.byName(name), undefined, name);
  }
  assert.equal(USERS.byUid(4294967295), undefined);
});

Deno.test("a uid without gid runs with that user's primary group from /etc/passwd", () => {
  // Before, the child kept tend's group: root's group 0.
  const { processes } = parse(yaml(
    "processes:",
    "  a: {cmd: [x], uid: 1000}",
    "  b: {cmd: [x], uid: 65534}",
    "  c: {cmd: [x], uid: 0}",
  ));
  assert.deepEqual(ids(processes.a), { argv: ["x"], uid: 1000, gid: 1001 });
  assert.deepEqual(ids(processes.b), { argv: ["x"], uid: 65534, gid: 65534 });
  assert.deepEqual(ids(processes.c), { argv: ["x"], uid: 0, gid: 0 });
});

Deno.test("a uid without gid and with no /etc/passwd entry is an error at the uid", () => {
  assert.deepEqual(
    problems(
      yaml(
        "processes:",
        "  a: {cmd: [x], uid: 4242}",
        "  b: {cmd: [x], uid: 4242, gid: 7}",
      ),
    ),
    [
      "procs.yaml:2:22: processes.a.uid: uid 4242 is not in /etc/passwd, so its group is " +
      "unknown; add gid:",
    ],
  );
  assert.deepEqual(
    ids(parse(yaml("processes:", "  b: {cmd: [x], uid: 4242, gid: 7}")).processes.b),
    {
      argv: ["x"],
      uid: 4242,
      gid: 7,
    },
  );
});

Deno.test("user: NAME runs as that user's uid and primary group", () => {
  assert.deepEqual(
    ids(parse(yaml("processes:", "  a: {cmd: [x], user: www-data}")).processes.a),
    { argv: ["x"], uid: 33, gid: 33 },
  );
});

Deno.test("user: with a number is a uid, as supervisord takes it", () => {
  const { processes } = parse(yaml(
    "processes:",
    "  a: {cmd: [x], user: 1000}",
    '  b: {cmd: [x], user: "33"}',
  ));
  assert.deepEqual(ids(processes.a), { argv: ["x"], uid: 1000, gid: 1001 });
  assert.deepEqual(ids(processes.b), { argv: ["x"], uid: 33, gid: 33 });
});

Deno.test("gid wins over the primary group of user: and uid:", () => {
  const { processes } = parse(yaml(
    "processes:",
    "  a: {cmd: [x], user: app, gid: 5}",
    "  b: {cmd: [x], uid: 1000, gid: 0}",
  ));
  assert.deepEqual(ids(processes.a), { argv: ["x"], uid: 1000, gid: 5 });
  assert.deepEqual(ids(processes.b), { argv: ["x"], uid: 1000, gid: 0 });
});

Deno.test("user and uid together must name the same uid", () => {
  assert.deepEqual(
    ids(parse(yaml("processes:", "  a: {cmd: [x], user: app, uid: 1000}")).processes.a),
    { argv: ["x"], uid: 1000, gid: 1001 },
  );
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], user: app, uid: 33}",
      "  b: {cmd: [x], user: 33, uid: 34, gid: 1}",
    )),
    [
      'procs.yaml:2:33: processes.a.uid: does not match user "app" (uid 1000); give one ' +
      "of user and uid",
      "procs.yaml:3:32: processes.b.uid: does not match user 33; give one of user and uid",
    ],
  );
});

Deno.test("an unknown user or a user that is not a name is an error at its place", () => {
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], user: bob}",
      "  b: {cmd: [x], user: [app]}",
      '  c: {cmd: [x], user: ""}',
      "  d: {cmd: [x], user: 4294967295}",
    )),
    [
      'procs.yaml:2:23: processes.a.user: unknown user "bob" (not in /etc/passwd)',
      "procs.yaml:3:23: processes.b.user: must be a user name or a numeric uid",
      "procs.yaml:4:23: processes.c.user: must be a user name or a numeric uid",
      "procs.yaml:5:23: processes.d.user: must be at most 4294967294 (ids are 32 bits, " +
      'and 4294967295 means "unchanged")',
    ],
  );
});

Deno.test("uid and gid above 4294967294 are errors where they are written", () => {
  // 5000000000 passed check and failed every spawn with EINVAL.
  const tooBig =
    'must be at most 4294967294 (ids are 32 bits, and 4294967295 means "unchanged")';
  assert.deepEqual(
    problems(yaml(
      "processes:",
      "  a: {cmd: [x], uid: 5000000000, gid: 4294967295}",
      "  b: {cmd: [x], uid: 4294967294, gid: 4294967294}",
    )),
    [
      `procs.yaml:2:22: processes.a.uid: ${tooBig}`,
      `procs.yaml:2:39: processes.a.gid: ${tooBig}`,
    ],
  );
});

Deno.test("without a user table, user: and a lone uid: say why they cannot be looked up", () => {
  const none = UserTable.failed("/etc/passwd", "permission denied");
  assert.deepEqual(
    problems(
      yaml(
        "processes:",
        "  a: {cmd: [x], user: app}",
        "  b: {cmd: [x], uid: 1000}",
        "  c: {cmd: [x], uid: 1000, gid: 1000}",
      ),
      none,
    ),
    [
      'procs.yaml:2:23: processes.a.user: cannot look up user "app": /etc/passwd: ' +
      "permission denied",
      "procs.yaml:3:22: processes.b.uid: cannot look up the group of uid 1000 " +
      "(/etc/passwd: permission denied); add gid:",
    ],
  );
});

Deno.test("loadConfig() looks users up in a real passwd file, and one it cannot read fails only configs that need it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const passwd = await write(dir, "passwd", PASSWD);
    const file = await write(
      dir,
      "procs.yaml",
      yaml("processes:", "  a: {cmd: [x], user: app}"),
    );
    assert.deepEqual(ids((await loadConfig(file, { passwd })).processes.a), {
      argv: ["x"],
      uid: 1000,
      gid: 1001,
    });
    const missing = join(dir, "no-passwd");
    await assert.rejects(loadConfig(file, { passwd: missing }), {
      name: "ConfigError",
      message:
        `${file}:2:23: processes.a.user: cannot look up user "app": ${missing}: ` +
        "no such file",
    });
    const plain = await write(dir, "plain.yaml", yaml("processes:", "  a: {cmd: [x]}"));
    assert.deepEqual(ids((await loadConfig(plain, { passwd: missing })).processes.a), {
      argv: ["x"],
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

async function write(dir: string, name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await Deno.writeTextFile(path, text);
  return path;
}
