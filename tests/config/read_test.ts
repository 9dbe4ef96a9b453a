/**
 * Reading the config file: only a regular file of at most 10 MiB, in
 * strict UTF-8, on real files, links, FIFOs and devices; and the guard
 * that bounds reads which never return.
 */

import assert from "node:assert/strict";
import { constants, promises as fsp } from "node:fs";
import { join, relative } from "node:path";
import {
  ConfigError,
  firstInvalidUtf8,
  loadConfig,
  MAX_CONFIG_BYTES,
  type Problem,
} from "../../lib/config/load.ts";
import { ReadGuard, ReadTimeout } from "../../lib/config/read_guard.ts";
import { only } from "../_fakes/proc.ts";

const VALID = "processes:\n  a: {cmd: [x]}\n";

/** A temporary folder, removed on dispose. */
async function folder(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tend-read-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** The problems loadConfig reports for `file`. */
async function problemsOf(file: string, missing?: string): Promise<Problem[]> {
  const error = await loadConfig(file, { missing }).then(
    () => assert.fail("expected a ConfigError"),
    (error: unknown) => error,
  );
  assert.ok(error instanceof ConfigError, String(error));
  return error.problems;
}

async function mkfifo(path: string): Promise<void> {
  const { success } = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(success, `mkfifo ${path}`);
}

/**
 * Settles with what `promise` settles with, or fails the test once
 * `ms` pass first: a read of a FIFO used to wait for a writer forever.
 */
async function within<T>(ms: number, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, limit]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Opens `fifo` for writing without blocking and closes it again, which
 * lets any reader stuck opening it go (a failed test must not leave one).
 */
async function releaseReaders(fifo: string): Promise<void> {
  try {
    const handle = await fsp.open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    await handle.close();
  } catch {
    // ENXIO: nobody is waiting to read it
  }
}

Deno.test("a FIFO as the config is refused at once, by name, without a line and column", async () => {
  await using dir = await folder();
  const fifo = join(dir.path, "procs.yaml");
  await mkfifo(fifo);
  const link = join(dir.path, "link.yaml");
  await Deno.symlink(fifo, link);
  try {
    for (const file of [fifo, link]) {
      assert.deepEqual(await within(10_000, problemsOf(file)), [
        { file, path: "", message: "is a FIFO, not a regular file" },
      ]);
    }
  } finally {
    await releaseReaders(fifo);
  }
});

Deno.test("a device as the config is refused at once, not read", async () => {
  // /dev/null, not /dev/zero, so the code before the fix ends (in "the file
  // is empty") instead of filling memory; tests/cli covers /dev/zero.
  assert.deepEqual(await within(10_000, problemsOf("/dev/null")), [
    {
      file: "/dev/null",
      path: "",
      message: "is a character device, not a regular file",
    },
  ]);
});

Deno.test("a file larger than 10 MiB is refused before it is read, and 10 MiB exactly is read", async () => {
  await using dir = await folder();
  const big = join(dir.path, "big.yaml");
  // Sparse: its size is what matters, not its bytes.
  await Deno.writeFile(big, new Uint8Array());
  await Deno.truncate(big, MAX_CONFIG_BYTES + 1);
  assert.deepEqual(await problemsOf(big), [
    { file: big, path: "", message: "is larger than 10 MiB (10485761 bytes)" },
  ]);
  const exact = join(dir.path, "exact.yaml");
  const padding = MAX_CONFIG_BYTES - VALID.length - 2;
  await Deno.writeTextFile(exact, `${VALID}#${"x".repeat(padding)}\n`);
  assert.equal((await Deno.stat(exact)).size, MAX_CONFIG_BYTES);
  assert.deepEqual((await loadConfig(exact)).processes.a?.argv, ["x"]);
});

Deno.test("a missing file gets the hint it is given, and a dangling link is named as one", async () => {
  await using dir = await folder();
  const file = join(dir.path, "procs.yaml");
  const hint = "no procs.yaml here: name a file, or copy procs.example.yaml";
  assert.deepEqual(await problemsOf(file, hint), [{ file, path: "", message: hint }]);
  await Deno.symlink(join(dir.path, "gone.yaml"), file);
  assert.deepEqual(await problemsOf(file, hint), [{
    file,
    path: "",
    message: `is a symbolic link to "${
      join(dir.path, "gone.yaml")
    }", which does not exist`,
  }]);
});

Deno.test("a relative missing file says where tend looked", async () => {
  await using dir = await folder();
  const file = join(dir.path, "nope.yaml");
  const given = relative(Deno.cwd(), file);
  assert.deepEqual(await problemsOf(given), [
    { file: given, path: "", message: `no such file (looked for ${file})` },
  ]);
});

Deno.test(
  only(
    "a file tend may not read is reported with the OS's reason",
    Deno.uid() === 0 ? "root may read any file" : null,
  ),
  async () => {
    await using dir = await folder();
    const file = join(dir.path, "procs.yaml");
    await Deno.writeTextFile(file, VALID, { mode: 0o000 });
    await Deno.chmod(file, 0o000);
    assert.deepEqual(await problemsOf(file), [
      { file, path: "", message: "cannot read the file: permission denied" },
    ]);
  },
);

Deno.test("invalid UTF-8 is reported at its first bad byte, with the byte, not turned into U+FFFD", async () => {
  await using dir = await folder();
  const cases: [string, Uint8Array, number, number, string, number][] = [
    // [name, bytes, line, col, byte, offset]
    ["latin1.yaml", bin("processes:\n  a", [0xff], ": {cmd: [x]}\n"), 2, 4, "ff", 14],
    ["first.yaml", bin([0xfe], VALID), 1, 1, "fe", 0],
    // Columns count UTF-16 units before the byte, as the YAML positions do:
    // "é" is one, "😀" two.
    [
      "after-wide.yaml",
      bin("processes:\n  é😀", [0xe9], ": {cmd: [x]}\n"),
      2,
      6,
      "e9",
      19,
    ],
    ["truncated.yaml", bin(VALID, "# ", [0xf0, 0x9f, 0x98]), 3, 3, "f0", 29],
    ["surrogate.yaml", bin(VALID, "# ", [0xed, 0xa0, 0x80], "\n"), 3, 3, "ed", 29],
    ["overlong.yaml", bin(VALID, "# ", [0xc0, 0x80], "\n"), 3, 3, "c0", 29],
  ];
  for (const [name, content, line, col, byte, offset] of cases) {
    const file = join(dir.path, name);
    await Deno.writeFile(file, content);
    assert.deepEqual(await problemsOf(file), [{
      file,
      line,
      col,
      path: "",
      message:
        `invalid UTF-8: byte 0x${byte} at offset ${offset} (save the file as UTF-8)`,
    }], name);
  }
});

Deno.test("a UTF-8 byte order mark is dropped and positions stay right", async () => {
  await using dir = await folder();
  const file = join(dir.path, "bom.yaml");
  await Deno.writeFile(file, bin([0xef, 0xbb, 0xbf], VALID, "  b: {cmd: 5}\n"));
  assert.deepEqual(await problemsOf(file), [{
    file,
    line: 3,
    col: 12,
    path: "processes.b.cmd",
    message: "must be a list of strings",
  }]);
});

Deno.test("firstInvalidUtf8() finds the first byte that starts no valid sequence", () => {
  assert.equal(firstInvalidUtf8(bin("plain ascii")), 11);
  assert.equal(firstInvalidUtf8(bin("é😀\u{10FFFF}")), 10);
  assert.equal(firstInvalidUtf8(bin("ab", [0x80])), 2);
  assert.equal(firstInvalidUtf8(bin([0xe0, 0x9f, 0x80])), 0); // overlong
  assert.equal(firstInvalidUtf8(bin([0xf4, 0x90, 0x80, 0x80])), 0); // above U+10FFFF
  assert.equal(firstInvalidUtf8(bin("\uFFFD", [0xc0])), 3); // a real U+FFFD first
  assert.equal(firstInvalidUtf8(bin("x", [0xe2, 0x82])), 1); // cut short
});

Deno.test("ReadGuard: a read that never returns times out, the next read still runs, and stuck reads are bounded", async () => {
  const guard = new ReadGuard({ timeoutMs: 1, maxStuck: 2 });
  const releases: (() => void)[] = [];
  const never = () =>
    new Promise<string>((resolve) => releases.push(() => resolve("late")));
  await assert.rejects(guard.run(never), {
    name: "ReadTimeout",
    message: "cannot read the file: no answer within 0.001 s",
  });
  assert.equal(await guard.run(() => Promise.resolve("ok")), "ok");
  await assert.rejects(guard.run(never), ReadTimeout);
  assert.equal(guard.stuck, 2);
  // Two threads are held: a third read is not even tried.
  let tried = false;
  await assert.rejects(
    guard.run(() => {
      tried = true;
      return Promise.resolve("x");
    }),
    { message: "cannot read the file: 2 earlier reads have not returned yet" },
  );
  assert.equal(tried, false);
  // Once a stuck read comes back, reads are tried again.
  releases[0]!();
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(guard.stuck, 1);
  assert.equal(await guard.run(() => Promise.resolve("again")), "again");
  releases[1]!();
});

/** Bytes from parts: strings as UTF-8, arrays as raw bytes (invalid UTF-8 too). */
function bin(...parts: (string | number[])[]): Uint8Array {
  return new Uint8Array(
    parts.flatMap((part) =>
      typeof part === "string" ? [...new TextEncoder().encode(part)] : part
    ),
  );
}
