/**
 * The control socket in-process: where it is, the directory and socket
 * modes (even under a umask that lets everyone in), the lock, stale
 * sockets, refused directories and paths, and a request through the
 * client.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ControlClient, NoTendError, waitGone } from "../../lib/control/client.ts";
import {
  AlreadyRunningError,
  chooseSocket,
  claimInstance,
  listen,
  MAX_SOCKET_PATH,
  type SocketChoice,
  SocketError,
} from "../../lib/control/server.ts";

const uid = Deno.uid() ?? 0;

async function scratch() {
  const path = await Deno.makeTempDir({ prefix: "tend-sock-" });
  return {
    path,
    choice(name = "t.sock", derived = false): SocketChoice {
      return { path: join(path, name), how: "from a test", derived };
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

const mode = async (path: string) => ((await Deno.lstat(path)).mode ?? 0) & 0o777;

Deno.test("chooseSocket: --socket, then TEND_SOCKET, then socket:, then derived from the file", () => {
  const base = { derive: { file: "/srv/app/procs.yaml" }, uid: 1000, cwd: "/home/me" };
  const derived = chooseSocket(base);
  assert.match(derived.path, /^\/tmp\/tend-1000\/[0-9a-f]{12}\.sock$/);
  assert.equal(derived.how, "derived from /srv/app/procs.yaml");
  assert.equal(derived.derived, true);
  assert.equal(chooseSocket(base).path, derived.path, "the same file, the same socket");
  assert.notEqual(
    chooseSocket({ ...base, derive: { file: "/srv/other/procs.yaml" } }).path,
    derived.path,
  );
  assert.match(
    chooseSocket({ ...base, runtimeDir: "/run/user/1000" }).path,
    /^\/run\/user\/1000\/tend-1000\/[0-9a-f]{12}\.sock$/,
  );
  assert.match(chooseSocket({ ...base, runtimeDir: "relative" }).path, /^\/tmp\//);
  const config = { socket: "/srv/app/run/tend.sock", file: "/srv/app/procs.yaml" };
  assert.deepEqual(chooseSocket({ ...base, config }), {
    path: "/srv/app/run/tend.sock",
    how: "from the socket: key of /srv/app/procs.yaml",
    derived: false,
  });
  assert.deepEqual(chooseSocket({ ...base, config, env: "t.sock" }), {
    path: "/home/me/t.sock",
    how: "from TEND_SOCKET",
    derived: false,
  });
  assert.deepEqual(
    chooseSocket({ ...base, config, env: "t.sock", flag: "/x/f.sock" }),
    {
      path: "/x/f.sock",
      how: "from --socket",
      derived: false,
    },
  );
});

Deno.test("chooseSocket: run -- CMD derives from the directory and the argv", () => {
  const a = chooseSocket({
    derive: { cwd: "/a", argv: ["sleep", "1"] },
    uid: 0,
    cwd: "/a",
  });
  const b = chooseSocket({
    derive: { cwd: "/a", argv: ["sleep", "2"] },
    uid: 0,
    cwd: "/a",
  });
  const c = chooseSocket({
    derive: { cwd: "/b", argv: ["sleep", "1"] },
    uid: 0,
    cwd: "/b",
  });
  assert.equal(new Set([a.path, b.path, c.path]).size, 3);
  assert.equal(a.how, "derived from the command and /a");
});

Deno.test("chooseSocket refuses a path too long for a unix socket", () => {
  const flag = "/" + "x".repeat(MAX_SOCKET_PATH);
  assert.throws(
    () => chooseSocket({ flag, derive: { file: "/f" }, uid: 0, cwd: "/" }),
    (e: Error) => e instanceof SocketError && /can be at most 107/.test(e.message),
  );
});

Deno.test("the socket is 0600 in a 0700 directory even under umask 000, and the lock holds tend's pid", async () => {
  await using dir = await scratch();
  const choice = dir.choice(join("made", "t.sock"), true);
  const old = Deno.umask(0o000);
  try {
    const instance = await claimInstance(choice, uid);
    const server = listen(instance, {
      handler: () => Promise.resolve(Response.json({ ok: 1 })),
    });
    try {
      assert.equal(await mode(join(dir.path, "made")), 0o700);
      assert.equal(await mode(choice.path), 0o600);
      assert.ok((await Deno.lstat(choice.path)).isSocket);
      assert.equal(await mode(`${choice.path}.lock`), 0o600);
      assert.equal(await Deno.readTextFile(`${choice.path}.lock`), `${Deno.pid}\n`);
      using client = new ControlClient(choice);
      assert.deepEqual((await client.get("/v1/status")).body, { ok: 1 });
    } finally {
      await server.close();
      instance.release();
    }
    await assert.rejects(Deno.lstat(choice.path), Deno.errors.NotFound);
  } finally {
    Deno.umask(old);
  }
});

Deno.test("a second claim of the same socket is refused with the holder's pid; after release it succeeds", async () => {
  await using dir = await scratch();
  const choice = dir.choice();
  const first = await claimInstance(choice, uid);
  await assert.rejects(
    claimInstance(choice, uid),
    (e: Error) =>
      e instanceof AlreadyRunningError && e.pid === Deno.pid &&
      e.message === `already running (pid ${Deno.pid}, socket ${choice.path})`,
  );
  first.release();
  await assert.rejects(
    Deno.lstat(`${choice.path}.lock`),
    Deno.errors.NotFound,
    "removed",
  );
  const second = await claimInstance(choice, uid);
  assert.equal(await Deno.readTextFile(`${choice.path}.lock`), `${Deno.pid}\n`);
  second.release();
});

Deno.test("a lock still held on a removed lock file does not keep the next tend out", async () => {
  await using dir = await scratch();
  const choice = dir.choice();
  const first = await claimInstance(choice, uid);
  // A second tend opened the file just before the first one let go of it.
  const stale = await Deno.open(`${choice.path}.lock`, { read: true });
  first.release();
  assert.equal(await stale.tryLock(true), true, "the old file's lock is free");
  // The stale handle holds a lock on a file no longer at the path: a new
  // claim is not fooled by it, and takes the lock on a new file.
  const next = await claimInstance(choice, uid);
  assert.ok((await Deno.lstat(`${choice.path}.lock`)).isFile);
  next.release();
  stale.close();
});

Deno.test("a socket left by a killed tend is replaced once the lock is taken", async () => {
  await using dir = await scratch();
  const choice = dir.choice();
  // A process that listens and dies without cleaning up.
  const killed = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `Deno.listen({ transport: "unix", path: ${JSON.stringify(choice.path)} }); ` +
      `Deno.kill(Deno.pid, "SIGKILL");`,
    ],
  }).output();
  assert.equal(killed.signal, "SIGKILL");
  assert.ok((await Deno.lstat(choice.path)).isSocket, "the stale socket is there");
  using client = new ControlClient(choice);
  await assert.rejects(
    client.get("/v1/status"),
    (e: Error) => e instanceof NoTendError && /nothing listens on it/.test(e.message),
  );
  const instance = await claimInstance(choice, uid);
  const server = listen(instance, { handler: () => Promise.resolve(Response.json(1)) });
  using fresh = new ControlClient(choice);
  assert.equal((await fresh.get("/v1/status")).body, 1);
  await server.close();
  instance.release();
});

Deno.test("refused: a directory others can enter, another user's, a symlinked one; a symlink or a file at the socket path", async () => {
  await using dir = await scratch();
  const open = join(dir.path, "open");
  await Deno.mkdir(open);
  await Deno.chmod(open, 0o755);
  await assert.rejects(
    claimInstance(
      { path: join(open, "t.sock"), how: "from --socket", derived: false },
      uid,
    ),
    (e: Error) =>
      e instanceof SocketError && /mode 0755, so others can enter it/.test(e.message),
  );
  if (uid === 0) {
    const theirs = join(dir.path, "theirs");
    await Deno.mkdir(theirs, { mode: 0o700 });
    await Deno.chown(theirs, 65534, 65534);
    await assert.rejects(
      claimInstance({ path: join(theirs, "t.sock"), how: "x", derived: true }, uid),
      (e: Error) => e instanceof SocketError && /belongs to uid 65534/.test(e.message),
    );
  }
  const real = join(dir.path, "real");
  await Deno.mkdir(real, { mode: 0o700 });
  const link = join(dir.path, "link");
  await Deno.symlink(real, link);
  await assert.rejects(
    claimInstance({ path: join(link, "t.sock"), how: "x", derived: true }, uid),
    (e: Error) => e instanceof SocketError && /is a symlink/.test(e.message),
  );
  await Deno.symlink("/etc/passwd", join(real, "s.sock"));
  await assert.rejects(
    claimInstance({ path: join(real, "s.sock"), how: "x", derived: false }, uid),
    (e: Error) => e instanceof SocketError && /s\.sock is a symlink/.test(e.message),
  );
  await Deno.symlink("/etc/passwd", join(real, "l.sock.lock"));
  await assert.rejects(
    claimInstance({ path: join(real, "l.sock"), how: "x", derived: false }, uid),
    (e: Error) =>
      e instanceof SocketError && /lock file .* is a symlink/.test(e.message),
  );
  await Deno.writeTextFile(join(real, "f.sock"), "not a socket");
  await assert.rejects(
    claimInstance({ path: join(real, "f.sock"), how: "x", derived: false }, uid),
    (e: Error) =>
      e instanceof SocketError && /exists and is not a socket/.test(e.message),
  );
  assert.equal(
    await Deno.readTextFile(join(real, "f.sock")),
    "not a socket",
    "left alone",
  );
});

Deno.test("no socket, or nothing at it, is a NoTendError naming the socket and how it was chosen", async () => {
  await using dir = await scratch();
  using client = new ControlClient(dir.choice("none.sock"));
  await assert.rejects(
    client.get("/v1/status"),
    (e: Error) =>
      e instanceof NoTendError &&
      e.message ===
        `no tend is running at ${
          join(dir.path, "none.sock")
        } (from a test): there is no socket there`,
  );
});

Deno.test("close() ends open streams first, so the shutdown does not wait for them", async () => {
  await using dir = await scratch();
  const choice = dir.choice();
  const instance = await claimInstance(choice, uid);
  let controller: ReadableStreamDefaultController<Uint8Array> | null = null;
  const server = listen(instance, {
    handler: () =>
      Promise.resolve(
        new Response(new ReadableStream({ start: (c) => void (controller = c) })),
      ),
    beforeClose: () => controller?.close(),
  });
  using client = new ControlClient(choice);
  const lines: string[] = [];
  const streaming = client.stream("/v1/logs?follow=1", (l) => lines.push(...l));
  while (controller === null) await new Promise((r) => setTimeout(r, 5));
  (controller as ReadableStreamDefaultController<Uint8Array>).enqueue(
    new TextEncoder().encode('{"a":1}\n'),
  );
  await server.close();
  await streaming;
  assert.deepEqual(lines, ['{"a":1}']);
  assert.equal(await waitGone(choice, 1000), false, "the lock is still held");
  instance.release();
  assert.equal(await waitGone(choice, 1000), true);
});
