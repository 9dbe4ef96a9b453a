/**
 * The HTTP listener's gate: tokens (made, given, read from a file that
 * must be private), the constant-time bearer check, and the Host check
 * against DNS rebinding.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type ListenAddress, parseListen } from "../../lib/config/http.ts";
import {
  BearerCheck,
  generateToken,
  hostAllowed,
  readTokenFile,
  TokenError,
  tokenProblem,
} from "../../lib/control/auth.ts";

function at(text: string): ListenAddress {
  const a = parseListen(text);
  assert.ok(typeof a !== "string", a as string);
  return a;
}

Deno.test("generated tokens are 43 base64url characters, and differ", () => {
  const a = generateToken();
  const b = generateToken();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, b);
  assert.equal(tokenProblem(a), null);
});

Deno.test("a token given must be 16 to 4096 visible ASCII characters", () => {
  assert.match(tokenProblem("short")!, /at least 16/);
  assert.match(tokenProblem("with a space in the middle")!, /visible ASCII/);
  assert.match(tokenProblem("é".repeat(20))!, /visible ASCII/);
  assert.match(tokenProblem("x".repeat(4097))!, /longer than 4096/);
  assert.equal(tokenProblem("0123456789abcdef"), null);
});

Deno.test("the bearer check takes exactly the token, with the scheme in any case", () => {
  const check = new BearerCheck("correct-horse-battery");
  assert.equal(check.matches("Bearer correct-horse-battery"), true);
  assert.equal(check.matches("bearer correct-horse-battery"), true);
  for (
    const wrong of [
      undefined,
      null,
      "",
      "correct-horse-battery",
      "Basic correct-horse-battery",
      "Bearer correct-horse-batter",
      "Bearer correct-horse-battery2",
      "Bearer ",
      "Bearer correct-horse-battery extra",
      "Bearer " + "x".repeat(10_000),
    ]
  ) {
    assert.equal(check.matches(wrong), false, String(wrong).slice(0, 40));
  }
});

Deno.test("Host: the listen address, localhost and loopback pass; names and other addresses do not", () => {
  const local = at("127.0.0.1:9100");
  for (
    const ok of [
      "127.0.0.1:9100",
      "127.0.0.1",
      "localhost:9100",
      "LOCALHOST",
      "localhost.:8000",
      "127.5.6.7:1",
      "[::1]:9100",
    ]
  ) {
    assert.equal(hostAllowed(ok, local), true, ok);
  }
  for (
    const bad of [
      undefined,
      "",
      "evil.example:9100",
      "127.0.0.1.nip.io:9100",
      "localhost.evil.example",
      "10.0.0.5:9100",
      "[::2]:9100",
      "127.0.0.1:9100@evil",
      "127.0.0.1/x",
      "1.2.3",
    ]
  ) {
    assert.equal(hostAllowed(bad, local), false, String(bad));
  }
  assert.equal(hostAllowed("10.0.0.5:9100", at("10.0.0.5:9100")), true);
  assert.equal(hostAllowed("10.0.0.6:9100", at("10.0.0.5:9100")), false);
  // Every interface: any IP literal (rebinding always comes with a name).
  assert.equal(hostAllowed("10.0.0.5:9100", at(":9100")), true);
  assert.equal(hostAllowed("[fd00::5]:9100", at("[::]:9100")), true);
  assert.equal(hostAllowed("myhost:9100", at(":9100")), false);
});

Deno.test("the token file must be regular, private, small, and hold a good token", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const file = join(dir, "token");
    await Deno.writeTextFile(file, "0123456789abcdef-token\n", { mode: 0o600 });
    await Deno.chmod(file, 0o600);
    assert.equal(await readTokenFile(file, Deno.uid()!), "0123456789abcdef-token");
    await Deno.chmod(file, 0o640);
    assert.equal(await readTokenFile(file, Deno.uid()!), "0123456789abcdef-token");
    const link = join(dir, "link");
    await Deno.symlink(file, link);
    assert.equal(await readTokenFile(link, Deno.uid()!), "0123456789abcdef-token");
    for (const mode of [0o644, 0o660, 0o602]) {
      await Deno.chmod(file, mode);
      await assert.rejects(
        readTokenFile(file, Deno.uid()!),
        (e) => e instanceof TokenError && /chmod 600/.test(e.message),
        mode.toString(8),
      );
    }
    await Deno.chmod(file, 0o600);
    await Deno.writeTextFile(file, "short\n");
    await assert.rejects(readTokenFile(file, Deno.uid()!), /at least 16/);
    await Deno.writeTextFile(file, "x".repeat(5000));
    await assert.rejects(readTokenFile(file, Deno.uid()!), /over 4096 bytes/);
    await assert.rejects(readTokenFile(dir, Deno.uid()!), /not a regular file/);
    // A FIFO is refused at once: opening it would wait for a writer.
    const fifo = join(dir, "fifo");
    const made = await new Deno.Command("mkfifo", { args: ["-m", "600", fifo] })
      .output();
    assert.ok(made.success);
    await assert.rejects(readTokenFile(fifo, Deno.uid()!), /not a regular file/);
    // A token near the limit is read whole (the read is bounded by the
    // limit, not by what stat said).
    await Deno.writeTextFile(file, "y".repeat(4000));
    assert.equal((await readTokenFile(file, Deno.uid()!)).length, 4000);
    await assert.rejects(readTokenFile(join(dir, "none"), Deno.uid()!), /cannot read/);
    if (Deno.uid() === 0) {
      // Owned by someone other than tend's user or root.
      await Deno.writeTextFile(file, "0123456789abcdef-token\n");
      await Deno.chown(file, 1234, 1234);
      await assert.rejects(readTokenFile(file, 4321), /belongs to uid 1234/);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
