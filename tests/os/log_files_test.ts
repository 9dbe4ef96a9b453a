/**
 * The real file system under log files: what a `user:` child can do to
 * the folder of its own log must not make a root tend write elsewhere.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { denoLogFiles } from "../../lib/os/log_files.ts";
import { only } from "../_fakes/proc.ts";

const NOT_ROOT = Deno.uid() === 0 ? null : "a folder of another user's needs root";

async function tempDir(): Promise<string> {
  return await Deno.makeTempDir({ prefix: "tend-logfiles-" });
}

Deno.test(
  only(
    "in a folder another user can write, a symlink at the log's path is refused and its target untouched",
    NOT_ROOT,
  ),
  async () => {
    // Regression: a user: child swapped its log for a symlink to a
    // root-owned file (at a rotation), and tend appended its lines there.
    const dir = await tempDir();
    try {
      const victim = join(dir, "bashrc");
      await Deno.writeTextFile(victim, "# root's\n");
      const logs = join(dir, "logs");
      await Deno.mkdir(logs);
      await Deno.chown(logs, 65534, 65534);
      const log = join(logs, "web.log");
      await Deno.symlink(victim, log);
      await assert.rejects(
        () => denoLogFiles.open(log),
        /web\.log: it is a symlink in a folder others can write/,
      );
      // A dangling one creates nothing where it points.
      const dangling = join(logs, "api.log");
      await Deno.symlink(join(dir, "nologin"), dangling);
      await assert.rejects(() => denoLogFiles.open(dangling));
      await assert.rejects(
        () => Deno.lstat(join(dir, "nologin")),
        Deno.errors.NotFound,
      );
      // Nor a hard link to it.
      const hard = join(logs, "hard.log");
      await Deno.link(victim, hard);
      await assert.rejects(() => denoLogFiles.open(hard), /hard link/);
      assert.equal(await Deno.readTextFile(victim), "# root's\n");
      // A plain file there is fine.
      const plain = await denoLogFiles.open(join(logs, "db.log"));
      await plain.write(new TextEncoder().encode("ok\n"));
      plain.close();
      assert.equal(await Deno.readTextFile(join(logs, "db.log")), "ok\n");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

Deno.test("in tend's own folder, a symlink the operator made is followed", async () => {
  const dir = await tempDir();
  try {
    await Deno.chmod(dir, 0o755);
    const target = join(dir, "real.log");
    const link = join(dir, "web.log");
    await Deno.writeTextFile(target, "");
    await Deno.symlink(target, link);
    const file = await denoLogFiles.open(link);
    await file.write(new TextEncoder().encode("through the link\n"));
    file.close();
    const again = await denoLogFiles.open(link);
    await again.write(new TextEncoder().encode("and again\n"));
    again.close();
    assert.equal(await Deno.readTextFile(target), "through the link\nand again\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
