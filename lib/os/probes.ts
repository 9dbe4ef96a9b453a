/**
 * The real {@linkcode Prober}: `http`, `tcp` and `exec` checks against the
 * OS, each bounded by its timeout and leaving nothing behind.
 *
 * - `tcp`: a connection is accepted (then closed at once).
 * - `http`: a `GET` over a connection of its own (HTTP/1.1,
 *   `Connection: close`), answered with a 2xx or 3xx status within the
 *   timeout. A redirect is a pass and is not followed (as Kubernetes
 *   counts it); no proxy is used whatever `HTTP_PROXY` says, and no
 *   connection is pooled. At most 16 KiB of the answer are read (the
 *   status line and headers), plus a little of the body of a failing
 *   answer for its message; the rest is never read. `https:` URLs verify
 *   the server's certificate (unlike Kubernetes, which skips that).
 * - `exec`: the command runs in a process group of its own (a new
 *   session), with stdin from `/dev/null`, in the process's working
 *   directory, environment and user. Its output never reaches the
 *   process's log: stdout and stderr are read into one buffer that keeps
 *   the last 4 KiB, quoted in the result. At the timeout (or when the
 *   caller aborts) the whole group gets SIGKILL; after the command exits,
 *   members it left behind in its group get SIGKILL too, so a check never
 *   leaves a process behind.
 *
 * Results never reject: every failure is a `{ ok: false, message }`.
 *
 * @module
 */

import { formatDuration } from "../core/duration.ts";
import { describeExit } from "../core/exit.ts";
import type { Prober, ProbeResult, ProbeTarget } from "../core/ports.ts";
import type { SignalName } from "../core/signals.ts";
import type { ProbeCheck } from "../core/spec.ts";
import { spawnOwn } from "./pids.ts";

/** Tuning for {@linkcode DenoProber}. */
export interface DenoProberOptions {
  /** Bytes of an `exec` check's output kept for its message (the last ones). @default 4096 */
  outputLimit?: number;
  /** Bytes of an HTTP answer read for its status line and headers. @default 16384 */
  headerLimit?: number;
  /**
   * Milliseconds to keep reading an `exec` check's output after its group
   * is gone (something outside the group may hold the pipes). @default 100
   */
  outputGrace?: number;
}

// The longest message a result carries, in characters.
const MESSAGE_MAX = 300;
// Bytes of a failing HTTP answer's body quoted in its message.
const BODY_QUOTE = 512;
// How long a failing HTTP answer's body is waited for, at most.
const BODY_WAIT_MS = 50;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Runs `http`, `tcp` and `exec` probe checks; see the module doc.
 *
 * @example
 * ```ts ignore
 * import { DenoProber } from "./probes.ts";
 * const prober = new DenoProber();
 * await prober.check({ kind: "tcp", host: "127.0.0.1", port: 5432 }, { name: "db", pid: 1 }, 1000);
 * // { ok: false, message: "Connection refused" }
 * ```
 */
export class DenoProber implements Prober {
  #outputLimit: number;
  #headerLimit: number;
  #outputGrace: number;

  /** Builds a prober. */
  constructor(options: DenoProberOptions = {}) {
    this.#outputLimit = options.outputLimit ?? 4096;
    this.#headerLimit = options.headerLimit ?? 16384;
    this.#outputGrace = options.outputGrace ?? 100;
  }

  /** Runs one check; see {@linkcode Prober.check}. */
  async check(
    check: ProbeCheck,
    target: ProbeTarget,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ProbeResult> {
    const deadline = new Deadline(timeoutMs, signal);
    try {
      switch (check.kind) {
        case "tcp":
          return await this.#tcp(check.host, check.port, deadline);
        case "http":
          return await this.#http(check.url, deadline);
        case "exec":
          return await this.#exec(check.argv, target, deadline);
        case "log":
        case "notify":
          return {
            ok: false,
            message: `a ${check.kind} probe is fed by tend, not run`,
          };
      }
    } catch (error) {
      return deadline.failure(error);
    } finally {
      deadline.dispose();
    }
  }

  async #tcp(host: string, port: number, deadline: Deadline): Promise<ProbeResult> {
    const conn = await Deno.connect({ hostname: host, port, signal: deadline.signal });
    conn.close();
    return { ok: true, message: "connected" };
  }

  async #http(url: string, deadline: Deadline): Promise<ProbeResult> {
    const target = new URL(url);
    const tls = target.protocol === "https:";
    if (!tls && target.protocol !== "http:") {
      return { ok: false, message: `cannot GET a ${target.protocol} URL` };
    }
    const hostname = target.hostname.replace(/^\[(.*)\]$/, "$1");
    const port = target.port === "" ? (tls ? 443 : 80) : Number(target.port);
    let conn: Deno.Conn = await Deno.connect({
      hostname,
      port,
      signal: deadline.signal,
    });
    // Closing the connection is how a read or write in flight is given up.
    const closeOnce = once(() => {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
    });
    const off = deadline.onAbort(closeOnce);
    try {
      if (tls) conn = await Deno.startTls(conn as Deno.TcpConn, { hostname });
      await writeAll(conn, encoder.encode(request(target)));
      const head = await readHead(conn, this.#headerLimit);
      const answer = parseHead(head);
      if (answer === null) {
        return {
          ok: false,
          message: head.length === 0 ? "no answer" : "not an HTTP answer",
        };
      }
      const status = `HTTP ${answer.code}${answer.reason ? ` ${answer.reason}` : ""}`;
      if (answer.code >= 200 && answer.code < 300) return { ok: true, message: status };
      if (answer.code >= 300 && answer.code < 400) {
        const to = answer.headers.get("location");
        return {
          ok: true,
          message: to ? `${status} (to ${to}, not followed)` : status,
        };
      }
      const body = await readBody(conn, answer, head);
      return { ok: false, message: clip(body === "" ? status : `${status}: ${body}`) };
    } finally {
      off();
      closeOnce();
    }
  }

  async #exec(
    argv: string[],
    target: ProbeTarget,
    deadline: Deadline,
  ): Promise<ProbeResult> {
    const [program, ...args] = argv;
    if (program === undefined || program === "") {
      return { ok: false, message: "cannot run a command: its argv is empty" };
    }
    let child: Deno.ChildProcess;
    try {
      child = spawnOwn(program, {
        args,
        cwd: target.cwd,
        env: target.env,
        clearEnv: target.clearEnv,
        uid: target.uid,
        gid: target.gid,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        // A new session: the check leads its own process group.
        detached: true,
      });
    } catch (error) {
      // Deno's message names the program and the OS's reason.
      return { ok: false, message: clip(`cannot start: ${errorText(error)}`) };
    }
    const pid = child.pid;
    const tail = new Tail(this.#outputLimit);
    const pumps = [pump(child.stdout, tail), pump(child.stderr, tail)];
    let killed = false;
    const off = deadline.onAbort(() => {
      killed = true;
      killGroup(pid);
    });
    const status = await child.status;
    off();
    // Members of its group it left behind (a background job) go with it.
    killGroup(pid);
    // Something outside the group may hold the pipes open: stop reading soon.
    await settleWithin(Promise.all(pumps.map((p) => p.done)), this.#outputGrace);
    await Promise.all(pumps.map((p) => p.cancel()));
    const output = tail.text();
    const said = output === "" ? "" : `: ${output}`;
    if (killed) {
      const why = deadline.timedOut
        ? `timed out after ${formatDuration(deadline.ms / 1000)}, killed`
        : "cancelled, killed";
      return { ok: false, message: clip(`${why}${said}`) };
    }
    const exit = status.signal === null
      ? { code: status.code, signal: null }
      : { code: null, signal: status.signal as SignalName };
    return { ok: status.success, message: clip(`${describeExit(exit)}${said}`) };
  }
}

// The time a check may take, and the caller's wish to give it up, as one
// signal; it tells which of the two ended it.
class Deadline {
  readonly ms: number;
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #outer: AbortSignal | undefined;
  readonly #onOuter = () => this.#controller.abort();
  timedOut = false;

  constructor(ms: number, outer: AbortSignal | undefined) {
    this.ms = ms;
    this.#outer = outer;
    this.#timer = setTimeout(() => {
      this.timedOut = true;
      this.#controller.abort();
    }, Math.min(ms, MAX_TIMER_MS));
    if (outer?.aborted) this.#controller.abort();
    else outer?.addEventListener("abort", this.#onOuter, { once: true });
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  // Calls `fn` once when the check is to be given up (now, if it is); returns
  // a function that cancels that.
  onAbort(fn: () => void): () => void {
    const signal = this.#controller.signal;
    if (signal.aborted) {
      fn();
      return () => {};
    }
    signal.addEventListener("abort", fn, { once: true });
    return () => signal.removeEventListener("abort", fn);
  }

  // The result for an error thrown while checking.
  failure(error: unknown): ProbeResult {
    if (this.timedOut) {
      return {
        ok: false,
        message: `timed out after ${formatDuration(this.ms / 1000)}`,
      };
    }
    if (this.#controller.signal.aborted) return { ok: false, message: "cancelled" };
    return { ok: false, message: clip(errorText(error)) };
  }

  dispose(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onOuter);
  }
}

// Deno's messages end with "(os error 111)", which tells a user nothing.
function errorText(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\(os error \d+\)$/, "");
}

// One line of at most MESSAGE_MAX characters: line breaks become " | ",
// and a long text keeps its end, where failures are usually told.
function clip(text: string): string {
  const line = text.trim().replace(/\s*[\r\n]+\s*/g, " | ");
  return line.length <= MESSAGE_MAX ? line : `…${line.slice(-(MESSAGE_MAX - 1))}`;
}

function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

// --- HTTP ---------------------------------------------------------------------------

function request(url: URL): string {
  const lines = [
    `GET ${url.pathname || "/"}${url.search} HTTP/1.1`,
    `Host: ${url.host}`,
    "User-Agent: tend-probe",
    "Accept: */*",
    "Connection: close",
  ];
  if (url.username !== "" || url.password !== "") {
    const credentials = `${decodeURIComponent(url.username)}:${
      decodeURIComponent(url.password)
    }`;
    lines.push(`Authorization: Basic ${base64(encoder.encode(credentials))}`);
  }
  return `${lines.join("\r\n")}\r\n\r\n`;
}

function base64(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) at += await conn.write(bytes.subarray(at));
}

// Reads until the end of the headers, the end of the answer, or `limit`
// bytes, whichever comes first.
async function readHead(conn: Deno.Conn, limit: number): Promise<Uint8Array> {
  const buffer = new Uint8Array(limit);
  let length = 0;
  while (length < limit) {
    const n = await conn.read(buffer.subarray(length));
    if (n === null) break;
    length += n;
    if (headEnd(buffer.subarray(0, length)) !== -1) break;
  }
  return buffer.subarray(0, length);
}

// Where the body starts (after the blank line), or -1 before it is read.
function headEnd(bytes: Uint8Array): number {
  for (let i = 3; i < bytes.length; i++) {
    if (
      bytes[i] === 0x0a && bytes[i - 1] === 0x0d && bytes[i - 2] === 0x0a &&
      bytes[i - 3] === 0x0d
    ) return i + 1;
  }
  return -1;
}

interface Head {
  code: number;
  reason: string;
  headers: Map<string, string>;
  // Where the body starts in the bytes read, or the end when not reached.
  bodyAt: number;
}

function parseHead(bytes: Uint8Array): Head | null {
  const end = headEnd(bytes);
  const text = decoder.decode(end === -1 ? bytes : bytes.subarray(0, end));
  const [statusLine = "", ...lines] = text.split("\r\n");
  const match = /^HTTP\/\d(?:\.\d)? (\d{3})(?: (.*))?$/.exec(statusLine);
  if (match === null) return null;
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    if (colon > 0) {
      headers.set(
        line.slice(0, colon).trim().toLowerCase(),
        line.slice(colon + 1).trim(),
      );
    }
  }
  return {
    code: Number(match[1]),
    reason: (match[2] ?? "").trim(),
    headers,
    bodyAt: end === -1 ? bytes.length : end,
  };
}

// A little of a failing answer's body, as text, for its message: what came
// with the headers, plus one more short wait when more is due.
async function readBody(
  conn: Deno.Conn,
  head: Head,
  bytes: Uint8Array,
): Promise<string> {
  let body: Uint8Array = bytes.slice(head.bodyAt);
  const length = Number(head.headers.get("content-length") ?? NaN);
  const chunked = /chunked/i.test(head.headers.get("transfer-encoding") ?? "");
  const want = Number.isFinite(length) ? Math.min(length, BODY_QUOTE) : BODY_QUOTE;
  if (body.length < want && !(chunked && body.length > 0)) {
    const more = new Uint8Array(BODY_QUOTE);
    const n = await settleWithin(conn.read(more), BODY_WAIT_MS).catch(() => null);
    if (typeof n === "number") {
      const joined = new Uint8Array(body.length + n);
      joined.set(body);
      joined.set(more.subarray(0, n), body.length);
      body = joined;
    }
  }
  if (chunked) body = dechunk(body);
  return decoder.decode(body.subarray(0, BODY_QUOTE)).trim();
}

// The data of the complete chunks at the start of a chunked body.
function dechunk(bytes: Uint8Array): Uint8Array {
  const parts: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    let eol = -1;
    for (let i = at; i + 1 < bytes.length; i++) {
      if (bytes[i] === 0x0d && bytes[i + 1] === 0x0a) {
        eol = i;
        break;
      }
    }
    if (eol === -1) break;
    const size = parseInt(decoder.decode(bytes.subarray(at, eol)).split(";")[0]!, 16);
    if (!(size > 0)) break;
    const start = eol + 2;
    parts.push(bytes.subarray(start, Math.min(start + size, bytes.length)));
    at = start + size + 2;
  }
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

// --- exec ------------------------------------------------------------------------------

// Keeps the last `limit` bytes written to it.
class Tail {
  readonly #buffer: Uint8Array;
  #length = 0;

  constructor(limit: number) {
    this.#buffer = new Uint8Array(limit);
  }

  push(chunk: Uint8Array): void {
    const limit = this.#buffer.length;
    if (chunk.length >= limit) {
      this.#buffer.set(chunk.subarray(chunk.length - limit));
      this.#length = limit;
      return;
    }
    if (this.#length + chunk.length > limit) {
      const keep = limit - chunk.length;
      this.#buffer.copyWithin(0, this.#length - keep, this.#length);
      this.#length = keep;
    }
    this.#buffer.set(chunk, this.#length);
    this.#length += chunk.length;
  }

  text(): string {
    return decoder.decode(this.#buffer.subarray(0, this.#length)).trim();
  }
}

interface Pump {
  done: Promise<void>;
  cancel(): Promise<void>;
}

// Reads a stream into the tail to its end, or until cancelled.
function pump(stream: ReadableStream<Uint8Array>, tail: Tail): Pump {
  const reader = stream.getReader();
  const done = (async () => {
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        tail.push(value);
      }
    } catch {
      // A read error ends the capture like the end of the stream does.
    }
  })();
  return {
    done,
    cancel: async () => {
      await reader.cancel().catch(() => {});
      await done;
    },
  };
}

// SIGKILL to every member of the group; a group already gone is fine.
function killGroup(pgid: number): void {
  try {
    Deno.kill(-pgid, "SIGKILL");
  } catch {
    // ESRCH: nobody is left; the leader was tend's own child, started as
    // the check's user, so a refusal has nothing tend could do about it.
  }
}

// The longest delay setTimeout takes (about 24.8 days); a longer one would
// fire at once, so a check given a timeout of weeks is given 24.8 days.
const MAX_TIMER_MS = 2 ** 31 - 1;

// Resolves with the promise's value if it settles within `ms`, else with undefined.
function settleWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<undefined>((resolve) =>
      timer = setTimeout(() => resolve(undefined), Math.min(ms, MAX_TIMER_MS))
    ),
  ]).finally(() => clearTimeout(timer));
}
