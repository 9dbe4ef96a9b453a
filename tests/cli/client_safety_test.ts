/**
 * The client commands against what another local user, or a hostile
 * child, can put in their way: a planted socket directory and server, a
 * child's control characters in `tend logs`, a config path that is a FIFO
 * or /dev/zero.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, tend, tendOnce, yaml } from "../_fakes/tend.ts";
import { only } from "../_fakes/proc.ts";

const NOT_ROOT = Deno.uid() === 0
  ? null
  : "planting another user's directory needs root";

/** Runs a client command (`tend ARGS`) to its end, with `env` added. */
function client(args: string[], env: Record<string, string> = {}, cwd?: string) {
  return tendOnce(args, { env, cwd });
}

/**
 * A server on a unix socket that answers anything with a fake status and
 * counts the requests it got: what another user would plant.
 */
function plantServer(
  path: string,
): { requests: () => number; close: () => Promise<void> } {
  let requests = 0;
  const server = Deno.serve({ path, onListen() {} }, () => {
    requests++;
    return Response.json({
      tend: { pid: 1, version: "evil", socket: path },
      processes: [{ name: "web\x1b]0;owned\x07\r\x1b[2K", state: "RUNNING", pid: 1 }],
    });
  });
  return { requests: () => requests, close: () => server.shutdown() };
}

Deno.test(
  only(
    "a client refuses a socket directory another user planted, and sends it nothing",
    NOT_ROOT,
  ),
  async () => {
    // Regression: the client trusted whatever answered at the derived path.
    await using dir = await tempDir();
    const runtime = join(dir.path, "run");
    await Deno.mkdir(runtime, { mode: 0o1777 });
    await Deno.chmod(runtime, 0o1777);
    const planted = join(runtime, `tend-${Deno.uid()}`);
    await Deno.mkdir(planted, { mode: 0o755 });
    await Deno.chown(planted, 65534, 65534); // nobody's
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { a: { cmd: ["true"] } } }),
    );
    const derived = await client(["status", "-c", file], { XDG_RUNTIME_DIR: runtime });
    assert.equal(derived.code, 69, derived.stderr);
    assert.match(derived.stderr, /belongs to uid 65534, not to tend's user .*planted/);
    // Even with a server of its own in there, nothing reaches it.
    const sockPath = join(planted, "x.sock");
    const server = plantServer(sockPath);
    try {
      const named = await client(["status", "--socket", sockPath]);
      assert.equal(named.code, 69, named.stderr);
      assert.equal(server.requests(), 0);
    } finally {
      await server.close();
    }
  },
);

Deno.test("a client refuses a socket directory that others can enter", async () => {
  await using dir = await tempDir();
  const open = join(dir.path, "open");
  await Deno.mkdir(open);
  await Deno.chmod(open, 0o755);
  const sockPath = join(open, "t.sock");
  const server = plantServer(sockPath);
  try {
    const out = await client(["status", "--socket", sockPath]);
    assert.equal(out.code, 69, out.stderr);
    assert.match(out.stderr, /has mode 0755, so others can enter it/);
    assert.equal(server.requests(), 0);
  } finally {
    await server.close();
  }
});

Deno.test("tend logs shows a child's control characters escaped, one line per record", async () => {
  // Regression: tend's own log escaped them, but `tend logs` printed the
  // messages as they came, so a child could forge lines on the terminal.
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        evil: {
          cmd: [
            "sh",
            "-c",
            "printf 'a\\rXX\\033[2K\\033[1A12:00:00.000 [victim] FORGED\\342\\200\\250next\\n'; " +
            "printf 'err \\033]0;owned\\007\\r\\n' >&2; printf 'done\\n'; exec sleep 1000",
          ],
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("evil", "done");
  await t.record(
    "evil's line on stderr",
    (r) => r.process === "evil" && r.stream === "stderr",
  );
  const out = await client(["logs", "-c", file]);
  assert.equal(out.code, 0, out.stderr);
  const lines = out.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 3, out.stdout);
  // A line from stderr is marked, and escaped as well.
  assert.equal(
    lines.filter((l) => / 2> \[evil\] err \\x1b\]0;owned\\x07$/.test(l)).length,
    1,
    out.stdout,
  );
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(out.stdout, /[\r\x1b\u2028]/);
  assert.match(
    lines[0]!,
    /\[evil\] a\\rXX\\x1b\[2K\\x1b\[1A12:00:00\.000 \[victim\] FORGED\\u2028next$/,
  );
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});

Deno.test("a client given a FIFO or /dev/zero as its config answers at once, without reading it all", async () => {
  // Regression: the client read the config whole to find its socket: key,
  // hanging on a FIFO and growing without bound on /dev/zero.
  await using dir = await tempDir();
  const fifo = join(dir.path, "fifo.yaml");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.ok(made.success);
  for (const config of [fifo, "/dev/zero"]) {
    const out = await client(["status", "-c", config], {
      XDG_RUNTIME_DIR: dir.path,
    });
    // No tend runs there: 69, at once.
    assert.equal(out.code, 69, `${config}: ${out.stderr}`);
  }
});

Deno.test("a deploy that repoints a symlinked release folder keeps one instance and one socket", async () => {
  // Regression: the socket was hashed from the config's path with symlinks
  // resolved, so once /srv/app/current pointed at a new release, clients
  // could not find the running tend and a second one could start.
  await using dir = await tempDir();
  const config = yaml({
    processes: { a: { cmd: ["sh", "-c", "echo up; exec sleep 1000"] } },
  });
  for (const release of ["1", "2"]) {
    await Deno.mkdir(join(dir.path, "releases", release), { recursive: true });
    await Deno.writeTextFile(join(dir.path, "releases", release, "procs.yaml"), config);
  }
  const current = join(dir.path, "current");
  await Deno.symlink(join(dir.path, "releases", "1"), current);
  // Started as a shell would after `cd current`: PWD is the logical path.
  await using t = tend(["run", "--log-format", "json", "-c", "procs.yaml"], {
    cwd: current,
    env: { PWD: current, XDG_RUNTIME_DIR: dir.path },
  });
  await t.said("a", "up");
  await Deno.remove(current);
  await Deno.symlink(join(dir.path, "releases", "2"), current);
  const status = await client(
    ["status", "-c", join(current, "procs.yaml")],
    { XDG_RUNTIME_DIR: dir.path },
  );
  assert.equal(status.code, 0, status.stderr);
  assert.match(status.stdout, /^a\s+RUNNING/m);
  const second = await client(["run", "-c", "procs.yaml"], {
    PWD: current,
    XDG_RUNTIME_DIR: dir.path,
  }, current);
  assert.equal(second.code, 75, `the instance lock holds: ${second.stderr}`);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0);
});
