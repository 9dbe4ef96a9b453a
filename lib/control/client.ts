/**
 * What the command-line client calls: HTTP over the control socket with
 * `fetch` and a unix-socket `Deno.HttpClient`, and the errors a user can
 * act on ("no tend is running at SOCKET (derived from FILE)").
 *
 * @module
 */

import type { SocketChoice } from "./server.ts";

/** No tend answers at the socket: the message names it and how it was chosen. */
export class NoTendError extends Error {
  /** The socket tried. */
  readonly socket: SocketChoice;
  /**
   * @param socket the socket tried
   * @param why what happened, in words
   */
  constructor(socket: SocketChoice, why: string) {
    super(`no tend is running at ${socket.path} (${socket.how}): ${why}`);
    this.name = "NoTendError";
    this.socket = socket;
  }
}

/** A response that is not a success, with the API's `error` text. */
export class ApiFailure extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** The whole body, parsed (`{error, problems, ...}`). */
  readonly body: Record<string, unknown>;
  /**
   * @param status the HTTP status
   * @param body the body, parsed
   */
  constructor(status: number, body: Record<string, unknown>) {
    super(typeof body["error"] === "string" ? body["error"] : `HTTP ${status}`);
    this.name = "ApiFailure";
    this.status = status;
    this.body = body;
  }
}

/** A response: its status and its body, parsed as JSON. */
export interface Reply<T = unknown> {
  /** The HTTP status. */
  status: number;
  /** The body. */
  body: T;
}

/**
 * Talks to one tend through its control socket.
 *
 * @example
 * ```ts ignore
 * using client = new ControlClient(socket);
 * const { body } = await client.get("/v1/status");
 * ```
 */
export class ControlClient implements Disposable {
  /** The socket. */
  readonly socket: SocketChoice;
  #http: Deno.HttpClient;
  #closed = false;

  /** Builds a client for `socket`; nothing is connected yet. */
  constructor(socket: SocketChoice) {
    this.socket = socket;
    try {
      this.#http = Deno.createHttpClient({
        proxy: { transport: "unix", path: socket.path },
      });
    } catch (error) {
      throw new NoTendError(socket, reasonOf(error));
    }
  }

  /**
   * `GET path`; resolves with a 2xx reply.
   *
   * @throws {NoTendError} when nothing answers
   * @throws {ApiFailure} for any other status
   */
  get<T = unknown>(path: string, timeoutMs = 30_000): Promise<Reply<T>> {
    return this.request<T>("GET", path, undefined, timeoutMs);
  }

  /**
   * `POST path` with an optional JSON body; resolves with a 2xx reply.
   *
   * @throws {NoTendError} when nothing answers
   * @throws {ApiFailure} for any other status
   */
  post<T = unknown>(
    path: string,
    body?: unknown,
    timeoutMs = 30_000,
  ): Promise<Reply<T>> {
    return this.request<T>("POST", path, body, timeoutMs);
  }

  /** Sends a request; see {@linkcode get}. */
  async request<T>(
    method: string,
    path: string,
    body: unknown,
    timeoutMs: number,
  ): Promise<Reply<T>> {
    const response = await this.#fetch(path, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: body === undefined ? {} : { "content-type": "application/json" },
      signal: AbortSignal.timeout(timeoutMs),
    });
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new NoTendError(this.socket, `the connection broke: ${reasonOf(error)}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new ApiFailure(response.status, {
        error: `not a JSON answer: ${text.slice(0, 200)}`,
      });
    }
    if (response.status >= 300) {
      throw new ApiFailure(
        response.status,
        typeof parsed === "object" && parsed !== null
          ? parsed as Record<string, unknown>
          : { error: String(parsed) },
      );
    }
    return { status: response.status, body: parsed as T };
  }

  /**
   * `GET path` as NDJSON: calls `onLines` with the lines of each chunk as
   * they come, and resolves when the stream ends (tend closed it, or exited).
   *
   * @throws {NoTendError} when nothing answers
   * @throws {ApiFailure} for a status that is not 2xx
   */
  async stream(path: string, onLines: (lines: string[]) => void): Promise<void> {
    const response = await this.#fetch(path, {});
    if (response.status >= 300) {
      const text = await response.text();
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(text);
      } catch {
        body = { error: text };
      }
      throw new ApiFailure(response.status, body);
    }
    let rest = "";
    try {
      for await (const text of response.body!.pipeThrough(new TextDecoderStream())) {
        const parts = (rest + text).split("\n");
        rest = parts.pop()!;
        const lines = parts.filter((line) => line !== "");
        if (lines.length > 0) onLines(lines);
      }
    } catch (error) {
      // tend went away mid-stream: what came is all there is. (A failing
      // onLines is the caller's to hear about.)
      if (!(error instanceof TypeError)) throw error;
    }
    if (rest !== "") onLines([rest]);
  }

  /** Closes the connection pool (again: nothing). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#http.close();
  }

  /** See {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }

  async #fetch(path: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(`http://tend${path}`, { ...init, client: this.#http });
    } catch (error) {
      if (error instanceof DOMException && error.name === "TimeoutError") {
        throw new NoTendError(this.socket, "it did not answer in time");
      }
      throw new NoTendError(this.socket, reasonOf(error));
    }
  }
}

// The reason behind a failed fetch, in words: Deno wraps it as
// TypeError("fetch failed") with the OS's words in `cause`.
function reasonOf(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error
    ? error.cause.message
    : error instanceof Error
    ? error.message
    : String(error);
  if (/os error 2\)/.test(cause)) return "there is no socket there";
  if (/os error 111\)/.test(cause)) {
    return "nothing listens on it (a tend that was killed left it behind)";
  }
  if (/os error 13\)/.test(cause)) {
    return "permission denied (is it another user's tend?)";
  }
  if (error instanceof Deno.errors.NotCapable) {
    return `Deno refused: ${cause} (run with --allow-net, --allow-read and --allow-write)`;
  }
  return cause;
}

/**
 * Resolves `true` once the tend at `socket` has exited (its instance lock
 * is free, or, if the lock file cannot be read, its socket no longer
 * answers), or `false` after `timeoutMs`.
 */
export async function waitGone(
  socket: SocketChoice,
  timeoutMs: number,
): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  let lock: Deno.FsFile | null = null;
  try {
    // Only a regular file: a FIFO would block the open for good (the
    // directory was checked to be tend's user's own before connecting).
    const path = `${socket.path}.lock`;
    if ((await Deno.lstat(path)).isFile) lock = await Deno.open(path, { read: true });
  } catch {
    lock = null;
  }
  try {
    while (performance.now() < deadline) {
      if (lock !== null) {
        if (await lock.tryLock(true)) {
          await lock.unlock();
          return true;
        }
      } else if (!(await answers(socket.path))) {
        return true;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return false;
  } finally {
    lock?.close();
  }
}

async function answers(path: string): Promise<boolean> {
  try {
    const conn = await Deno.connect({ transport: "unix", path });
    conn.close();
    return true;
  } catch {
    return false;
  }
}
