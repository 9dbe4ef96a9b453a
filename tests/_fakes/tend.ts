/**
 * Running tend as users do: `main.ts` as a child process with the
 * permissions of the `start` task, its output read line by line, and
 * helpers for the end-to-end tests.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import denoJson from "../../deno.json" with { type: "json" };
import { groupMembers, NO_PS } from "./proc.ts";
import { assertValidatesSchema } from "./schema.ts";

/** How long any one wait may take before the test fails. */
export const TIMEOUT = 20_000;

export const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));
export const EXAMPLE = fileURLToPath(
  new URL("../../procs.example.yaml", import.meta.url),
);

/**
 * The permission and V8 flags of the `start` task, so tend runs as users run
 * it (the V8 flag gives log probes their linear-time regular expressions).
 */
export const PERMISSIONS = denoJson.tasks.start.split(/\s+/).filter((arg) =>
  arg.startsWith("--allow-") || arg.startsWith("--v8-flags=")
);

/** A child that says it is up, then sleeps until it is stopped. */
export const SLEEPER = ["sh", "-c", "echo ready; exec sleep 1000"];

/** Why the pseudo-terminal checks cannot run here, or null when they can. */
export const NO_SCRIPT: string | null = await (async () => {
  try {
    const out = await new Deno.Command("script", {
      args: ["--version"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (new TextDecoder().decode(out.stdout).includes("util-linux")) return null;
  } catch {
    // not installed
  }
  return "needs util-linux `script` to give tend a terminal";
})();

/** One line of `--log-format json` output. */
export interface LogRecord {
  time: string;
  level: string;
  process: string | null;
  stream: string;
  pid: number | null;
  message: string;
  event?: string;
  error?: string;
  [key: string]: unknown;
}

/** A tend started by a test: its output as it arrives, its children, its end. */
export class Tend implements AsyncDisposable {
  /** Every complete line tend has written to stdout so far. */
  readonly lines: string[] = [];
  /** All of stderr, once tend has exited. */
  stderr = "";
  #process: Deno.ChildProcess;
  #status: Deno.CommandStatus | null = null;
  #done: Promise<void>;

  /** Spawns `command`, which must pipe stdout and stderr. */
  constructor(command: Deno.Command) {
    this.#process = command.spawn();
    this.#done = Promise.all([
      readLines(this.#process.stdout, (line) => this.lines.push(line)),
      new Response(this.#process.stderr).text().then((text) => this.stderr = text),
      this.#process.status,
    ]).then(([, , status]) => void (this.#status = status));
  }

  /**
   * tend's pid, as its start line reports it: under `script` the spawned
   * process is `script`, not tend. Before that line, the spawned pid.
   */
  get pid(): number {
    // A warning may come first (SIGUSR1 is unsafe without --allow-ffi).
    for (const line of this.lines.slice(0, 5)) {
      const match = line.match(/ starting \d+ process.* \(pid (\d+)\)/);
      if (match) return Number(match[1]);
    }
    return this.#process.pid;
  }

  /** stdout parsed line by line (tend must run with `--log-format json`). */
  get records(): LogRecord[] {
    return this.lines.map((line) => JSON.parse(line) as LogRecord);
  }

  /** The pid of every child tend reported as started, in order (text or JSON). */
  get started(): number[] {
    return this.lines.flatMap((line) => {
      if (line.startsWith("{")) {
        const record = JSON.parse(line) as LogRecord;
        return record.event === "started" && record.pid !== null ? [record.pid] : [];
      }
      const match = stripAnsi(line).match(/\] tend: started, pid (\d+)/);
      return match ? [Number(match[1])] : [];
    });
  }

  /** The records of process `name` (null: tend itself), or of one event of it. */
  recordsOf(name: string | null, event?: string): LogRecord[] {
    return this.records.filter((r) =>
      r.process === name && (event === undefined || r.event === event)
    );
  }

  /** Sends `signal` to tend. */
  signal(signal: Deno.Signal): void {
    Deno.kill(this.pid, signal);
  }

  /** Waits for a stdout line matching `pattern` at index `from` or later. */
  line(pattern: RegExp, from = 0): Promise<number> {
    return this.#until(`a line matching ${pattern}`, () => {
      const index = this.lines.findIndex((line, i) => i >= from && pattern.test(line));
      return index === -1 ? undefined : index;
    });
  }

  /** Waits for a record matching `test` at line `from` or later (JSON output). */
  record(
    what: string,
    test: (record: LogRecord) => boolean,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    return this.#until(what, () => this.#find(test, from));
  }

  /**
   * Sends `signal` every 100 ms until a record matching `test` shows up at
   * line `from` or later (JSON output); returns that record.
   */
  signalUntil(
    signal: Deno.Signal,
    what: string,
    test: (record: LogRecord) => boolean,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    let sentAt = -Infinity;
    return this.#until(what, () => {
      const found = this.#find(test, from);
      if (found === undefined && performance.now() - sentAt >= 100) {
        sentAt = performance.now();
        try {
          this.signal(signal);
        } catch {
          // tend is gone; #until reports that
        }
      }
      return found;
    });
  }

  /** Waits for event `type` of process `name` at line `from` or later (JSON output). */
  event(
    name: string,
    type: string,
    from = 0,
  ): Promise<{ index: number; record: LogRecord }> {
    return this.record(
      `a "${type}" event of ${name}`,
      (r) => r.process === name && r.event === type,
      from,
    );
  }

  /** Waits for process `name` to print `text` on stdout (JSON output). */
  async said(name: string, text: string, from = 0): Promise<number> {
    const found = await this.record(
      `${name} to print "${text}"`,
      (r) =>
        r.process === name && r.stream === "stdout" &&
        r.message === `[${name}] ${text}`,
      from,
    );
    return found.index;
  }

  /** Waits for tend to exit and its output to end; returns its exit code. */
  async exit(): Promise<number> {
    return (await this.#until("tend to exit", () => this.#status ?? undefined)).code;
  }

  /** Everything tend printed, for failure messages. */
  transcript(): string {
    return `--- stdout\n${this.lines.join("\n")}\n--- stderr\n${this.stderr}`;
  }

  /** Kills tend if it still runs, then every group it started that is still alive. */
  async [Symbol.asyncDispose](): Promise<void> {
    if (this.#status === null) {
      // A test failed midway. What was spawned leads its own group (it was
      // spawned detached): kill that group, and tend itself when it is
      // elsewhere (in `script`'s session).
      for (const pid of new Set([-this.#process.pid, this.pid])) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    await this.#done;
    // Each child leads its own session, out of reach of the kill above.
    // Groups `ps` shows empty are left alone: their id may have been reused.
    for (const pid of this.started) {
      if (NO_PS === null && (await groupMembers(pid)).length === 0) continue;
      try {
        Deno.kill(-pid, "SIGKILL");
      } catch {
        // gone in the meantime
      }
    }
  }

  /** The first record matching `test` at line `from` or later, if any. */
  #find(
    test: (record: LogRecord) => boolean,
    from: number,
  ): { index: number; record: LogRecord } | undefined {
    for (let i = from; i < this.lines.length; i++) {
      const record = JSON.parse(this.lines[i]!) as LogRecord;
      if (test(record)) return { index: i, record };
    }
    return undefined;
  }

  /** Polls `find` until it finds something; fails once tend exits or at TIMEOUT. */
  async #until<T>(what: string, find: () => T | undefined): Promise<T> {
    const deadline = performance.now() + TIMEOUT;
    while (true) {
      // Read the flag before looking, so a last line is not missed.
      const ended = this.#status !== null;
      const found = find();
      if (found !== undefined) return found;
      if (ended) throw new Error(`tend exited before ${what}\n${this.transcript()}`);
      if (performance.now() > deadline) {
        throw new Error(`timed out waiting for ${what}\n${this.transcript()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
}

/** Options for {@linkcode tend}. */
export interface TendOptions {
  /** tend's working directory. */
  cwd?: string;
  /** Environment variables for tend. */
  env?: Record<string, string>;
  /** Give tend only `env`, not the test's environment. */
  clearEnv?: boolean;
  /** Run tend with at most this many file descriptors (util-linux's prlimit). */
  maxFiles?: number;
}

/** What a command that runs to its end printed, and its exit status. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `tend ARGS` (a client command, `check`, `--help`...) as users do,
 * to its end, killed after {@linkcode TIMEOUT} (so a hang fails the test).
 */
export async function tendOnce(
  args: string[],
  options: { cwd?: string; env?: Record<string, string> } = {},
): Promise<Ran> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...PERMISSIONS, MAIN, ...args],
    cwd: options.cwd,
    env: options.env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

/** Starts `main.ts` with `args`, as `deno task start` would run it. */
export function tend(args: string[], options: TendOptions = {}): Tend {
  const { maxFiles, ...rest } = options;
  const argv = ["run", ...PERMISSIONS, MAIN, ...args];
  const [program, programArgs] = maxFiles === undefined
    ? [Deno.execPath(), argv]
    : ["prlimit", [`--nofile=${maxFiles}:${maxFiles}`, Deno.execPath(), ...argv]];
  return new Tend(
    new Deno.Command(program, {
      args: programArgs,
      ...rest,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
}

/** Calls `onLine` with each line of `stream`, a last unterminated one included. */
export async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    const parts = (rest + text).split("\n");
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  }
  if (rest !== "") onLine(rest);
}

/** `text` without ANSI colour sequences. */
export function stripAnsi(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/\x1b\[[0-9;]*m/g, "");
}

/**
 * A config file's text from an object: JSON is YAML, and needs no quoting
 * care. The configs tests write this way are ones tend accepts, so each
 * must also validate against the JSON Schema.
 */
export function yaml(config: unknown): string {
  const text = JSON.stringify(config, null, 2) + "\n";
  assertValidatesSchema(text);
  return text;
}

/** A temporary folder for config files, removed on dispose. */
export async function tempDir(): Promise<
  { path: string; write(name: string, text: string): Promise<string> } & AsyncDisposable
> {
  const path = await Deno.makeTempDir({ prefix: "tend-e2e-" });
  return {
    path,
    async write(name, text) {
      const file = join(path, name);
      await Deno.writeTextFile(file, text);
      return file;
    },
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

/** Asserts that no group tend started has a live member left. */
export async function assertNothingLeft(t: Tend): Promise<void> {
  for (const pid of t.started) {
    assert.deepEqual(await groupMembers(pid), [], `group ${pid} outlived tend`);
  }
}

/** The pid of the first "started" event of `name`. */
export function pidOf(t: Tend, name: string): number {
  const pid = t.recordsOf(name, "started")[0]?.pid;
  assert.ok(typeof pid === "number", `${name} never started\n${t.transcript()}`);
  return pid;
}

/** The event types of process `name`, in order, leaving out its output lines. */
export function eventsOf(t: Tend, name: string): string[] {
  return t.recordsOf(name).flatMap((r) => r.event === undefined ? [] : [r.event]);
}

/** Quotes `arg` for `sh`. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}
