/**
 * The real file system under log files: what a `user:` child (or any
 * other local user) can do to the folders on the way to a log must not
 * make a root tend write anywhere else.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { denoLogFiles } from "../../lib/os/log_files.ts";
import { only } from "../_fakes/proc.ts";

const NOT_ROOT = Deno.uid() === 0 ? null : "a folder of another user's needs root";
const enc = new TextEncoder();

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "tend-logfiles-" });
}

Deno.test(
  only(
    "a log in, or under, a folder another user owns is refused, whatever is at its path, and nothing is written elsewhere",
    NOT_ROOT,
  ),
  async () => {
    // Regression: a user: child swapped its log for a symlink to a
    // root-owned file (at a rotation), or its own folder above the log's
    // for a symlink to a root-only folder, and tend appended there.
    const dir = await tempDir();
    try {
      const victim = join(dir, "bashrc");
      await Deno.writeTextFile(victim, "# root's\n");
      const home = join(dir, "home");
      await Deno.mkdir(join(home, "logs"), { recursive: true });
      await Deno.chown(home, 65534, 65534);
      // The log's own folder is the other user's.
      const logs = join(dir, "logs");
      await Deno.mkdir(logs);
      await Deno.chown(logs, 65534, 65534);
      await Deno.symlink(victim, join(logs, "web.log"));
      for (const name of ["web.log", "new.log"]) {
        await assert.rejects(
          () => denoLogFiles.open(join(logs, name)),
          /belongs to uid 65534, not to tend's user or root/,
        );
      }
      // A folder above it is: its logs/ (root's) could be swapped at will.
      await assert.rejects(
        () => denoLogFiles.open(join(home, "logs", "web.log")),
        /the folder .*home belongs to uid 65534/,
      );
      // A folder others may write, without the sticky bit.
      const open = join(dir, "open");
      await Deno.mkdir(open);
      await Deno.chmod(open, 0o777);
      await assert.rejects(
        () => denoLogFiles.open(join(open, "web.log")),
        /can be written by others \(mode 0777\)/,
      );
      assert.equal(await Deno.readTextFile(victim), "# root's\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("in a sticky folder like /tmp, only a plain file of tend's own is opened: not a symlink, a FIFO or a hard link", async () => {
  const dir = await tempDir();
  try {
    await Deno.chmod(dir, 0o1777);
    const victim = join(dir, "victim");
    await Deno.writeTextFile(victim, "kept\n");
    await Deno.symlink(victim, join(dir, "link.log"));
    await Deno.link(victim, join(dir, "hard.log"));
    const mkfifo = await new Deno.Command("mkfifo", { args: [join(dir, "fifo.log")] })
      .output();
    assert.ok(mkfifo.success);
    for (
      const [name, why] of [["link.log", /a symlink/], ["hard.log", /hard link/], [
        "fifo.log",
        /not a plain file/,
      ]] as const
    ) {
      // The FIFO is refused before it is opened: opening it would block.
      await assert.rejects(() => denoLogFiles.open(join(dir, name)), why);
    }
    assert.equal(await Deno.readTextFile(victim), "kept\n");
    const file = await denoLogFiles.open(join(dir, "web.log"));
    await file.write(enc.encode("ok\n"));
    file.close();
    const again = await denoLogFiles.open(join(dir, "web.log"));
    await again.write(enc.encode("again\n"));
    again.close();
    assert.equal(await Deno.readTextFile(join(dir, "web.log")), "ok\nagain\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("in tend's own folders, a symlink the operator made is followed, folders on the way made", async () => {
  const dir = await tempDir();
  try {
    await Deno.chmod(dir, 0o755);
    const target = join(dir, "real.log");
    await Deno.writeTextFile(target, "");
    const link = join(dir, "web.log");
    await Deno.symlink(target, link);
    const file = await denoLogFiles.open(link);
    await file.write(enc.encode("through the link\n"));
    file.close();
    assert.equal(await Deno.readTextFile(target), "through the link\n");
    // A symlinked folder of tend's own, and folders made on the way.
    await Deno.mkdir(join(dir, "real"));
    await Deno.symlink(join(dir, "real"), join(dir, "logs"));
    const deep = await denoLogFiles.open(join(dir, "logs", "a", "b", "web.log"));
    deep.close();
    assert.ok((await Deno.stat(join(dir, "real", "a", "b", "web.log"))).isFile);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test(
  only(
    "a symlink another user made in a sticky folder is not followed, nor a '..' that leads back into one",
    NOT_ROOT,
  ),
  async () => {
    // Regression: a symlink in /tmp was taken for its folder owner's, so
    // any user could send a root tend's log into a root-only folder; and a
    // '..' in a symlink's target kept the trust of the folder it left.
    const dir = await tempDir();
    try {
      await Deno.chmod(dir, 0o755);
      const sticky = join(dir, "tmp");
      await Deno.mkdir(sticky);
      await Deno.chmod(sticky, 0o1777);
      const secret = join(dir, "secret");
      await Deno.mkdir(secret, { mode: 0o700 });
      const link = join(sticky, "x");
      await Deno.symlink(secret, link);
      const lchown = await new Deno.Command("chown", {
        args: ["-h", "65534:65534", link],
      })
        .output();
      assert.ok(lchown.success);
      await assert.rejects(
        () => denoLogFiles.open(join(link, "web.log")),
        /is a symlink of uid 65534's in a folder others can add to/,
      );
      assert.deepEqual([...Deno.readDirSync(secret)], []);
      // '..': own/lg -> tmp/own/.. is tmp, a shared folder, where a planted
      // symlink at the log's path must be refused.
      await Deno.mkdir(join(sticky, "own"));
      await Deno.symlink(join(sticky, "own", ".."), join(dir, "lg"));
      const victim = join(dir, "victim");
      await Deno.writeTextFile(victim, "kept\n");
      await Deno.symlink(victim, join(sticky, "web.log"));
      await assert.rejects(
        () => denoLogFiles.open(join(dir, "lg", "web.log")),
        /a symlink/,
      );
      assert.equal(await Deno.readTextFile(victim), "kept\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
