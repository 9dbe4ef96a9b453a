/**
 * End-to-end tests of the config loader's hardening: `main.ts` as a child,
 * given files that used to hang it (a FIFO, /dev/zero), freeze it (a
 * mapping of 100,000 keys, thousands of aliases) or run children with the
 * wrong group, and judged by what it prints and how it exits.
 *
 * Every wait is for a line or an exit, with the helpers' generous timeout
 * as the only clock: code that hangs fails the test when it runs out.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { only } from "../_fakes/proc.ts";
import {
  MAIN,
  PERMISSIONS,
  SLEEPER,
  tempDir,
  Tend,
  tend,
  yaml,
} from "../_fakes/tend.ts";

async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(success, `mkfifo ${path}`);
}

/** Writes `text` next to `file` and renames it over `file`, as editors save. */
async function replace(file: string, text: string): Promise<void> {
  await Deno.writeTextFile(`${file}.new`, text);
  await Deno.rename(`${file}.new`, file);
}

Deno.test("tend check refuses a FIFO at once, naming it, without a made-up line and column", async () => {
  await using dir = await tempDir();
  const fifo = join(dir.path, "procs.yaml");
  await mkfifo(fifo);
  // Before, open(2) waited for a writer forever.
  await using t = tend(["check", fifo]);
  assert.equal(await t.exit(), 78, t.transcript());
  assert.equal(t.stderr, `${fifo}: is a FIFO, not a regular file\n`);
});

Deno.test("tend check refuses /dev/zero at once instead of reading it without end", async () => {
  // Before, tend read it into memory until it was killed (10 GB in 35 s).
  await using t = tend(["check", "/dev/zero"]);
  assert.equal(await t.exit(), 78, t.transcript());
  assert.equal(t.stderr, "/dev/zero: is a character device, not a regular file\n");
});

Deno.test("a reload of a FIFO fails at once, and the next SIGHUP, with a file back, reloads", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { one: { cmd: SLEEPER } } }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("one", "ready");

  const fifo = join(dir.path, "fifo");
  await mkfifo(fifo);
  await Deno.rename(fifo, file);
  t.signal("SIGHUP");
  // Before, this reload hung in open(2), and every later one queued behind it.
  const failed = await t.record(
    "the reload of the FIFO to fail",
    (r) => r.process === null && r.message === `${file}: is a FIFO, not a regular file`,
  );

  await replace(
    file,
    yaml({ processes: { one: { cmd: SLEEPER }, two: { cmd: SLEEPER } } }),
  );
  t.signal("SIGHUP");
  await t.record(
    "the next reload to succeed",
    (r) => r.message === `reloaded ${file}: 1 added, 0 removed, 0 changed, 1 unchanged`,
    failed.index,
  );
  await t.said("two", "ready");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});

Deno.test("tend run and tend check without procs.yaml say so with a hint, without a made-up line and column", async () => {
  await using dir = await tempDir();
  for (const command of ["run", "check"]) {
    await using t = tend([command], { cwd: dir.path });
    assert.equal(await t.exit(), 78, t.transcript());
    assert.equal(
      t.stderr,
      "procs.yaml: no procs.yaml here: name a file, or copy procs.example.yaml\n",
    );
  }
});

Deno.test("tend check of a mapping with 100,000 keys finishes, and a duplicate at its end is reported", async () => {
  // yaml's uniqueKeys compared each key with every earlier one: 154 s here.
  await using dir = await tempDir();
  const keys = Array.from({ length: 100_000 }, (_, i) => `  k${i}: ${i}\n`).join("");
  await dir.write(
    "big.yaml",
    `processes: {a: {cmd: [x]}}\nextra:\n${keys}  k0: again\n`,
  );
  await using t = tend(["check", "big.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 78, t.transcript());
  assert.equal(
    t.stderr,
    'big.yaml:2:1: extra: unknown key "extra"\n' +
      'big.yaml:100003:3: duplicate key "k0"\n',
  );
});

Deno.test("tend check of a file with 20,000 aliases finishes: each alias is looked up once", async () => {
  // Each alias used to search the whole document for its anchor, twice.
  await using dir = await tempDir();
  const aliases = Array.from({ length: 20_000 }, () => "*w").join(", ");
  await dir.write(
    "aliases.yaml",
    `processes:\n  a:\n    cmd: [echo, &w word, ${aliases}]\n`,
  );
  await using t = tend(["check", "aliases.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 0, t.transcript());
  assert.equal(t.lines[0], "aliases.yaml: valid, 1 process");
  assert.ok(
    t.lines.some((line) => line.endsWith(" word".repeat(20_001))),
    t.transcript(),
  );
});

Deno.test("tend check of 10 MiB of list items is refused as too much YAML instead of running out of memory", async () => {
  // Before, yaml built a tree of 5 million items: 84 s, then out of memory.
  await using dir = await tempDir();
  const head = "processes: {a: {cmd: [x]}}\nx: [";
  const items = "1,".repeat((10 * 1024 * 1024 - head.length - 3) / 2);
  await dir.write("items.yaml", `${head}${items}]\n`);
  await using t = tend(["check", "items.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 78, t.transcript());
  assert.match(
    t.stderr,
    /^items\.yaml:2:\d+: too much YAML: more than 1000000 tokens \(keys, values, punctuation\); a config needs far fewer\n$/,
  );
});

/** nobody's ids from /etc/passwd, or why the test cannot use them. */
const NOBODY: { uid: number; gid: number } | string = await (async () => {
  if (Deno.uid() !== 0) return "needs root to run a child as another user";
  const python = await new Deno.Command("python3", {
    args: ["--version"],
    stdout: "null",
  })
    .output().then((out) => out.success, () => false);
  if (!python) return "needs python3 to give tend supplementary groups";
  const passwd = await Deno.readTextFile("/etc/passwd").catch(() => "");
  const entry = passwd.split("\n").find((line) => line.startsWith("nobody:"));
  const [, , uid, gid] = entry?.split(":") ?? [];
  if (uid === undefined || gid === undefined) {
    return "needs a nobody user in /etc/passwd";
  }
  if (uid === "0" || gid === "0") return "needs a nobody that is not root";
  return { uid: Number(uid), gid: Number(gid) };
})();

// Runs a command with supplementary groups 4 and 27 (as root), so a test
// sees whether tend's groups reach its children.
const WITH_GROUPS = [
  "python3",
  "-c",
  "import os, sys; os.setgroups([4, 27]); os.execvp(sys.argv[1], sys.argv[1:])",
];

async function withGroups(argv: string[]): Promise<string> {
  const [program, ...args] = [...WITH_GROUPS, ...argv];
  const out = await new Deno.Command(program!, { args, stdout: "piped" }).output();
  assert.ok(out.success, `${argv.join(" ")} with groups`);
  return new TextDecoder().decode(out.stdout);
}

/**
 * Runs the process `settings` describe (under tend run, itself started with
 * supplementary groups 4 and 27), and returns the Uid, Gid and Groups
 * lines of the child's /proc/self/status, split into ids.
 */
async function childIds(
  settings: Record<string, unknown>,
): Promise<Map<string, string[]>> {
  // The wrapper works: what it starts has groups 4 and 27.
  assert.match(
    await withGroups(["grep", "^Groups:", "/proc/self/status"]),
    /^Groups:\s+4 27\s*$/m,
  );
  await using dir = await tempDir();
  // The child starts in the config's folder: its user must be able to
  // enter it, as in /etc/tend (a temporary folder is 0700).
  await Deno.chmod(dir.path, 0o755);
  const ids = ["grep", "-E", "^(Uid|Gid|Groups):", "/proc/self/status"];
  const file = await dir.write(
    "procs.yaml",
    yaml({ processes: { ids: { cmd: ids, restart: "never", ...settings } } }),
  );
  const [program, ...args] = [
    ...WITH_GROUPS,
    Deno.execPath(),
    "run",
    ...PERMISSIONS,
    MAIN,
    "run",
    "--log-format",
    "json",
    file,
  ];
  await using t = new Tend(
    new Deno.Command(program!, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  // The child exits 0 under restart: never, and then tend does.
  assert.equal(await t.exit(), 0, t.transcript());
  return new Map(
    t.recordsOf("ids").filter((r) => r.stream === "stdout").map((r) => {
      const [field, value] = r.message.slice("[ids] ".length).split(":");
      return [field!, value!.trim().split(/\s+/).filter((id) => id !== "")];
    }),
  );
}

const AS_ROOT = typeof NOBODY === "string" ? NOBODY : null;

Deno.test(
  only(
    "as root, a child given uid: alone runs with that user's primary group, not root's, and no supplementary groups",
    AS_ROOT,
  ),
  async () => {
    const { uid, gid } = NOBODY as { uid: number; gid: number };
    const ids = await childIds({ uid });
    assert.deepEqual(ids.get("Uid"), [uid, uid, uid, uid].map(String));
    // Before, it kept tend's group: root's 0.
    assert.deepEqual(ids.get("Gid"), [gid, gid, gid, gid].map(String));
    // Deno's spawn (Rust's Command) calls setgroups(0) when it sets a uid as
    // root; tend relies on that to drop its own groups.
    assert.deepEqual(ids.get("Groups"), []);
  },
);

Deno.test(
  only(
    "as root, a child given user: NAME runs with that user's uid and primary group, and no supplementary groups",
    AS_ROOT,
  ),
  async () => {
    const { uid, gid } = NOBODY as { uid: number; gid: number };
    const ids = await childIds({ user: "nobody" });
    assert.deepEqual(ids.get("Uid"), [uid, uid, uid, uid].map(String));
    assert.deepEqual(ids.get("Gid"), [gid, gid, gid, gid].map(String));
    assert.deepEqual(ids.get("Groups"), []);
  },
);

Deno.test(
  only(
    "as root, a child given gid: alone keeps uid 0 but none of tend's supplementary groups",
    AS_ROOT,
  ),
  async () => {
    const { gid } = NOBODY as { uid: number; gid: number };
    const ids = await childIds({ gid });
    assert.deepEqual(ids.get("Uid"), ["0", "0", "0", "0"]);
    assert.deepEqual(ids.get("Gid"), [gid, gid, gid, gid].map(String));
    // Deno's spawn drops them when it sets a gid too, not only with a uid.
    assert.deepEqual(ids.get("Groups"), []);
  },
);
