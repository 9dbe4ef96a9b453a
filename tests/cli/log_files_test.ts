/**
 * End to end, `main.ts` as a child with the `start` task's permissions:
 * log files. A flood rotated into exactly F, F.1 and F.2 with every line
 * whole and none lost; a file that cannot be made, reported once while
 * the process runs on; a full disk (a small tmpfs, as root) that drops
 * records, says so once, and writes again with the count once there is
 * room; a reload that moves a running process to another file.
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { only } from "../_fakes/proc.ts";
import {
  type LogRecord,
  MAIN,
  PERMISSIONS,
  tempDir,
  Tend,
  tend,
  yaml,
} from "../_fakes/tend.ts";

// One text record of a child's line in a log file.
const LINE = /^\d\d:\d\d:\d\d\.\d{3} \[(\S+)\] (.*)$/;

/** The lines a process printed, as its log file holds them, in order. */
function printed(text: string, name: string): string[] {
  return text.split("\n").flatMap((line) => {
    const match = line.match(LINE);
    return match && match[1] === name && !match[2]!.startsWith("tend:")
      ? [match[2]!]
      : [];
  });
}

async function readOr(path: string): Promise<string | null> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** tend's records about log files (its notices), from JSON output. */
function notices(records: LogRecord[], about: RegExp): LogRecord[] {
  return records.filter((r) => r.process === null && about.test(r.message));
}

Deno.test("a flood with maxBytes: 64KB, backups: 2 leaves exactly F, F.1 and F.2, each within 64 KB, the latest lines in order, none split or lost", async () => {
  await using dir = await tempDir();
  // The folder does not exist yet: tend makes it.
  const F = join(dir.path, "logs", "deep", "flood.log");
  // 25,000 records of about 35 bytes: 13 rotations or so. They are fewer
  // bytes than a file may hold back before it drops (8 MiB), so however
  // slow the disk, none may be missing.
  const lines = 25_000;
  const file = await dir.write(
    "procs.yaml",
    yaml({
      log: { dir: "unused" },
      processes: {
        flood: {
          cmd: ["seq", "-f", "line %06g", "1", String(lines)],
          restart: "never",
          log: { file: F, maxBytes: "64KB", backups: 2 },
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  assert.equal(await t.exit(), 0, t.transcript());
  const names = (await Array.fromAsync(Deno.readDir(join(dir.path, "logs", "deep"))))
    .map((e) => e.name).sort();
  assert.deepEqual(names, ["flood.log", "flood.log.1", "flood.log.2"]);
  const texts = [`${F}.2`, `${F}.1`, F].map((path) => Deno.readTextFileSync(path));
  for (const text of texts) {
    assert.ok(new TextEncoder().encode(text).length <= 64_000, `${text.length} bytes`);
    // Whole records only: each line a record, the file ending with a line end.
    assert.ok(text.endsWith("\n"));
    for (const line of text.slice(0, -1).split("\n")) assert.match(line, LINE);
  }
  const got = texts.flatMap((text) => printed(text, "flood"));
  const numbers = got.map((line) => Number(line.slice("line ".length)));
  // The latest lines, consecutive across the three files, ending with the last.
  assert.equal(numbers.at(-1), lines);
  assert.ok(numbers.length > 3 * 1800, `${numbers.length} lines kept`);
  numbers.forEach((n, i) =>
    assert.equal(n, lines - numbers.length + 1 + i, `line ${i}`)
  );
  // The files carry tend's records about the process too, and no loss.
  assert.match(texts[2]!, /\[flood\] tend: exited with exit code 0 after /);
  assert.doesNotMatch(texts.join(""), /lost/);
  // stdout still got everything.
  assert.equal(t.recordsOf("flood").filter((r) => r.stream === "stdout").length, lines);
  // The top-level dir was not used by a process that names its own file.
  assert.equal(await readOr(join(dir.path, "unused", "flood.log")), null);
});

Deno.test("a log file that cannot be made is reported once, and the process runs on", async () => {
  await using dir = await tempDir();
  // A file where a folder should be: not even root can make it a folder.
  await dir.write("blocker", "a file\n");
  const file = await dir.write(
    "procs.yaml",
    yaml({
      log: { dir: "blocker/logs" },
      processes: {
        ticker: {
          shell: "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done",
        },
      },
    }),
  );
  await using t = tend(["run", "--log-format", "json", file]);
  const found = await t.record(
    "a notice about the log file",
    (r) => r.process === null && /ticker's log file: cannot write/.test(r.message),
  );
  assert.equal(found.record.level, "warn");
  assert.match(
    found.record.message,
    /^ticker's log file: cannot write the log \(cannot create the folder of .*\/blocker\/logs\/ticker\.log: Not a directory \(os error 20\)\); records are dropped, and counted, until it works again$/,
  );
  // It runs on, past a few retries of the file (one a second).
  await t.said("ticker", "tick 50", found.index);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.equal(notices(t.records, /log file/).length, 1, t.transcript());
  assert.equal(t.recordsOf("ticker", "started").length, 1);
});

/** Why the full-disk test cannot run here, or null. */
const NO_TMPFS: string | null = await (async () => {
  if (Deno.build.os !== "linux") return "needs Linux's tmpfs";
  if (Deno.uid() !== 0) return "needs root to mount a small tmpfs";
  const probe = await Deno.makeTempDir({ prefix: "tend-tmpfs-probe-" });
  try {
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!mount.success) return "mount -t tmpfs is not permitted here";
    await new Deno.Command("umount", { args: [probe] }).output();
    return null;
  } catch {
    return "no mount command";
  } finally {
    await Deno.remove(probe).catch(() => {});
  }
})();

Deno.test(
  only(
    "on a full disk a log file's records are dropped and reported once, and written again with the count once there is room",
    NO_TMPFS,
  ),
  async () => {
    await using dir = await tempDir();
    const disk = join(dir.path, "disk");
    await Deno.mkdir(disk);
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=256k", "tmpfs", disk],
    }).output();
    assert.ok(mount.success, "mount");
    try {
      // Fill the disk to the last byte.
      const filler = join(disk, "filler");
      await new Deno.Command("dd", {
        args: ["if=/dev/zero", `of=${filler}`, "bs=4k"],
        stdout: "null",
        stderr: "null",
      }).output();
      const F = join(disk, "ticker.log");
      const file = await dir.write(
        "procs.yaml",
        yaml({
          processes: {
            ticker: {
              shell: "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.02; done",
              log: { file: F, maxBytes: 0 },
            },
          },
        }),
      );
      await using t = tend(["run", "--log-format", "json", file]);
      const full = await t.record(
        "a notice that the log file cannot be written",
        (r) => r.process === null && /ticker's log file: cannot write/.test(r.message),
      );
      assert.match(full.record.message, /No space left on device \(os error 28\)/);
      // Lines keep coming (and are dropped from the file) while it is full.
      await t.said("ticker", "tick 60", full.index);
      await Deno.remove(filler);
      const again = await t.record(
        "a notice that the log file is written again",
        (r) =>
          r.process === null &&
          /ticker's log file: the log is written again/.test(r.message),
        full.index,
      );
      const lost = Number(
        again.record.message.match(/up to (\d+) records were lost/)![1],
      );
      assert.ok(lost >= 30, `${lost} lost`);
      const resumed = t.recordsOf("ticker").filter((r) => r.stream === "stdout").length;
      await t.said("ticker", `tick ${resumed + 20}`, again.index);
      t.signal("SIGTERM");
      assert.equal(await t.exit(), 0, t.transcript());
      // Reported once: the retries while it was full said nothing more.
      assert.equal(notices(t.records, /cannot write/).length, 1, t.transcript());
      const text = await Deno.readTextFile(F);
      const [head, ...rest] = text.trimEnd().split("\n");
      // The file starts with the count of what is missing from it, and the
      // lines after it are whole and in order.
      assert.match(
        head!,
        new RegExp(
          `^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} tend up to ${lost} log records were lost: cannot write ${F}: No space left on device \\(os error 28\\)$`,
        ),
      );
      const ticks = printed(rest.join("\n"), "ticker").map((line) =>
        Number(line.slice("tick ".length))
      );
      assert.ok(ticks.length >= 20, `${ticks.length} ticks`);
      ticks.forEach((n, i) => assert.equal(n, ticks[0]! + i));
    } finally {
      await new Deno.Command("umount", { args: ["-l", disk] }).output();
    }
  },
);

Deno.test("a reload that changes only a process's log moves its records to the new file without restarting it", async () => {
  await using dir = await tempDir();
  const config = (log: string) =>
    yaml({
      processes: {
        ticker: {
          shell: "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.05; done",
          log,
        },
      },
    });
  const file = await dir.write("procs.yaml", config("a.log"));
  await using t = tend(["run", "--log-format", "json", file]);
  await t.said("ticker", "tick 3");
  await dir.write("procs.yaml", config("b.log"));
  t.signal("SIGHUP");
  const reloaded = await t.record(
    "the reload",
    (r) => r.process === null && r.message.startsWith("reloaded "),
  );
  assert.match(reloaded.record.message, /0 added, 0 removed, 0 changed, 1 unchanged$/);
  const next = t.recordsOf("ticker").filter((r) => r.stream === "stdout").length;
  await t.said("ticker", `tick ${next + 3}`, reloaded.index);
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
  assert.equal(t.recordsOf("ticker", "started").length, 1, "not restarted");
  const a = printed(await Deno.readTextFile(join(dir.path, "a.log")), "ticker");
  const b = printed(await Deno.readTextFile(join(dir.path, "b.log")), "ticker");
  assert.ok(a.length >= 4 && b.length >= 3, `${a.length} and ${b.length} lines`);
  // Together, every line once, in order: the move lost none.
  const ticks = [...a, ...b].map((line) => Number(line.slice("tick ".length)));
  ticks.forEach((n, i) => assert.equal(n, i));
  assert.match(
    await Deno.readTextFile(join(dir.path, "b.log")),
    /\[ticker\] tend: exited/,
  );
});

/**
 * Runs one process that writes hostile output (escape sequences, CR, NUL,
 * invalid UTF-8, U+2028, a line longer than 64 KiB, among plain lines
 * written at once, so that WebAssembly frames what it can) to stdout and
 * stderr, with a log file, and returns its records from stdout and from
 * the file, without their times. `denoFlags` go to `deno run`.
 */
async function hostileRun(
  denoFlags: string[],
): Promise<{ stdout: string[]; file: string[]; transcript: string }> {
  await using dir = await tempDir();
  const F = join(dir.path, "hostile.log");
  const plain = Array.from({ length: 40 }, (_, i) => `plain line ${i}\\n`).join("");
  const script = [
    `printf '${plain}esc \\033[2K\\033[1A12:00:00.000 [victim] FORGED\\n` +
    `cr a\\rb\\nnul a\\000b\\nbad \\377\\376 utf8\\nsep \\342\\200\\250 next\\n` +
    `split \\342\\202\\254 euro\\n${plain}'`,
    `printf '${plain}err \\033]0;title\\007 line\\n${plain}' >&2`,
    `head -c 70000 /dev/zero | tr '\\0' x`,
    "echo",
  ].join("; ");
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        hostile: { shell: script, restart: "never", log: { file: F } },
      },
    }),
  );
  await using t = new Tend(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...denoFlags,
        ...PERMISSIONS,
        MAIN,
        "run",
        "--color",
        "never",
        file,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  assert.equal(await t.exit(), 0, t.transcript());
  const untimed = (lines: string[]) =>
    lines.flatMap((line) => {
      const match = line.match(/^\d\d:\d\d:\d\d\.\d{3} ((?:2> )?\[hostile\] (.*))$/);
      return match && !match[2]!.startsWith("tend:") ? [match[1]!] : [];
    });
  return {
    stdout: untimed(t.lines),
    file: untimed((await Deno.readTextFile(F)).split("\n")),
    transcript: t.transcript(),
  };
}

// stdout and stderr are read apart, so how their lines interleave varies:
// each stream's lines in order.
function byStream(records: string[]): [string[], string[]] {
  return [
    records.filter((r) => !r.startsWith("2> ")),
    records.filter((r) => r.startsWith("2> ")),
  ];
}

Deno.test("a child's hostile output reaches stdout and its log file as the same records, escaped and marked, with WebAssembly and without it (--jitless)", async () => {
  const wasm = await hostileRun([]);
  // V8 without a JIT has no WebAssembly: tend frames and encodes in JS.
  const js = await hostileRun(["--v8-flags=--jitless"]);
  for (const [run, what] of [[wasm, "wasm"], [js, "jitless"]] as const) {
    assert.deepEqual(
      byStream(run.file),
      byStream(run.stdout),
      `${what}: ${run.transcript}`,
    );
    const [out, err] = byStream(run.stdout);
    assert.equal(out.length, 40 + 6 + 40 + 2, `${what}: ${run.transcript}`);
    assert.equal(err.length, 81, `${what}: ${run.transcript}`);
    for (const record of run.stdout) {
      // deno-lint-ignore no-control-regex
      assert.doesNotMatch(record, /[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]/);
    }
    assert.ok(out.includes("[hostile] plain line 39"));
    assert.ok(
      out.includes(
        "[hostile] esc \\x1b[2K\\x1b[1A12:00:00.000 [victim] FORGED",
      ),
      `${what}: ${out.join("\n")}`,
    );
    assert.ok(out.includes("[hostile] cr a\\rb"));
    assert.ok(out.includes("[hostile] nul a\\x00b"), `${what}: ${out.join("\n")}`);
    assert.ok(out.includes("[hostile] bad \\xff\\xfe utf8"));
    assert.ok(out.includes("[hostile] sep \\u2028 next"));
    assert.ok(out.includes("[hostile] split € euro"));
    assert.ok(err.includes("2> [hostile] err \\x1b]0;title\\x07 line"));
    // The long line, in 64 KiB pieces.
    assert.deepEqual(
      out.slice(-2).map((r) => r.length - "[hostile] ".length),
      [65536, 70000 - 65536],
    );
  }
  assert.deepEqual(byStream(js.stdout), byStream(wasm.stdout));
});
