/**
 * The HTTP listener (`--http ADDR`, `http: { listen }`): the control API
 * over TCP, behind a bearer token and a `Host` check (`auth.ts`), plus
 * the open, read-only routes operators' tools use: `/metrics` for
 * Prometheus, `/livez` and `/readyz` for Kubernetes, and `/`, the
 * dashboard.
 *
 * **Why `node:http` and not `Deno.serve`.** Anyone who can reach the port
 * can open connections, and `Deno.serve` (2.9.6, measured) has no header
 * or idle timeout and no cap on connections: a few thousand half-sent
 * requests hold a file descriptor each forever, and once tend runs out of
 * descriptors it can no longer start children (pipes need them), nor
 * answer its unix socket, and the listener itself fails for good. Deno's
 * `node:http` has the defences Node has, and they work under Deno
 * (measured): `headersTimeout` answers a request whose head is not in
 * within 10 s with 408 and closes it, `requestTimeout` does the same for a
 * body not in within 30 s, `keepAliveTimeout` closes idle connections
 * after 5 s, and past 128 connections the oldest one still without a whole
 * request head is closed to make room (else the newcomer). The
 * unix socket keeps `Deno.serve`: only tend's user can reach it. This
 * module is loaded only when the listener is asked for, so a tend without
 * it pays nothing for `node:http`.
 *
 * **Memory is bounded** by those caps: a request head is at most 16 KiB
 * (`maxHeaderSize`), a body at most 64 KiB (refused with 413 before it is
 * read, when its length says so, or as soon as it goes over), and only
 * after the token was checked; a streaming response holds at most its
 * 64 KiB queue (the API's streams drop or skip what a client does not
 * take) plus what the socket buffers, because this module writes the next
 * piece only once the socket has drained the last. At most 64 streams are
 * open on this listener, apart from the unix socket's own 64: a client of
 * the port cannot use up the socket's.
 *
 * **It watches itself.** An `accept` that fails (EMFILE, when every
 * descriptor is taken) ends Deno's `node:http` accept loop for good, and
 * no `error` is emitted: the kernel goes on queueing connections nobody
 * takes. So every 5 s the listener connects to itself and waits for the
 * server to see that connection; when it misses twice in a row, the
 * failure is reported (it never closes the port to listen again: another
 * local user could take it in between).
 *
 * **No CORS**: no `Access-Control-*` header is ever sent, so a page of
 * another origin cannot read an answer, and cannot send the
 * `Authorization` header at all (that needs a preflight, which fails).
 * Every answer says `nosniff`, `no-store`, no framing and no referrer; the
 * dashboard's Content-Security-Policy allows only its own inline script
 * and style, by hash.
 *
 * @module
 */

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import process from "node:process";
import type { ListenAddress } from "../config/http.ts";
import type { Supervisor } from "../supervisor.ts";
import { type Route, type RouteContext } from "./api.ts";
import { BearerCheck, hostAllowed } from "./auth.ts";
import { checkResponse, livenessChecks, readinessChecks } from "./checks.ts";
import { DASHBOARD_CSP, DASHBOARD_HTML } from "./dashboard.ts";
import { METRICS_CONTENT_TYPE, type ProcessMetrics, renderMetrics } from "./metrics.ts";
import { escapeText } from "../output/escape.ts";

/** How the listener bounds what clients can hold. */
export interface HttpLimits {
  /** Connections open at once; more are closed at once. @default 128 */
  maxConnections: number;
  /** Milliseconds for a request's head to arrive (408 after). @default 10000 */
  headersTimeoutMs: number;
  /** Milliseconds for a whole request, body included (408 after). @default 30000 */
  requestTimeoutMs: number;
  /** Milliseconds an idle keep-alive connection stays open. @default 5000 */
  keepAliveTimeoutMs: number;
  /** How often the timeouts above are checked, in milliseconds. @default 1000 */
  checkIntervalMs: number;
  /** Bytes of a request head. @default 16384 */
  maxHeaderSize: number;
  /** Bytes of a request body (413 beyond). @default 65536 */
  maxBody: number;
  /**
   * Requests one connection may have unanswered at once (pipelined
   * without reading the answers); a connection past it is closed.
   * @default 4
   */
  maxPipelined: number;
  /**
   * Milliseconds a client may take to read an answer, or, for a stream,
   * the next piece of it, once the socket's buffers are full; the
   * connection is closed after. @default 30000
   */
  writeTimeoutMs: number;
}

/** The limits tend listens with. */
export const DEFAULT_LIMITS: Readonly<HttpLimits> = Object.freeze({
  maxConnections: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  checkIntervalMs: 1_000,
  maxHeaderSize: 16 * 1024,
  maxBody: 64 * 1024,
  maxPipelined: 4,
  writeTimeoutMs: 30_000,
});

/** How {@linkcode listenHttp} listens and answers. */
export interface HttpOptions {
  /** Where. */
  address: ListenAddress;
  /** The token every request but the open routes must carry. */
  token: string;
  /**
   * Answers each request that passed the checks (the control API with
   * {@linkcode httpRoutes}); must not reject.
   */
  handler: (request: Request) => Promise<Response>;
  /** Called first by {@linkcode HttpServer.close}: end open streams. */
  beforeClose?: () => void;
  /** Called when the listener reports an error after it started. */
  onFailure?: (error: unknown) => void;
  /**
   * Called when the watchdog finds that the listener stopped accepting
   * connections (an `accept` that failed with EMFILE ends Deno's accept
   * loop for good, and nothing is emitted); it listens again, after a
   * back-off, until that works.
   */
  onStopped?: (error: Error) => void;
  /** Called when the listener accepts connections again after that. */
  onRecovered?: () => void;
  /**
   * How the listener watches itself: every `intervalMs` it connects to its
   * own address and waits `timeoutMs` for the server to see that
   * connection; `retryDelays` are the waits between checks once it has
   * failed, the last repeated. `intervalMs: 0` turns it off.
   * @default { intervalMs: 5000, timeoutMs: 3000, retryDelays: [100, 200, 500, 1000, 2000, 5000] }
   */
  watchdog?: Partial<WatchdogOptions>;
  /** Limits, each defaulting to {@linkcode DEFAULT_LIMITS}. */
  limits?: Partial<HttpLimits>;
  /** Longest wait for requests in flight at close. @default 2000 */
  graceMs?: number;
}

/** How the listener watches that it still accepts connections. */
export interface WatchdogOptions {
  /** Milliseconds between checks; 0 for none. */
  intervalMs: number;
  /** Milliseconds the server has to see the check's connection. */
  timeoutMs: number;
  /** Milliseconds before each new listen after a failure, the last repeated. */
  retryDelays: readonly number[];
}

const WATCHDOG: Readonly<WatchdogOptions> = Object.freeze({
  intervalMs: 5_000,
  timeoutMs: 3_000,
  retryDelays: Object.freeze([100, 200, 500, 1000, 2000, 5000]),
});

/** A listening HTTP server. */
export interface HttpServer {
  /** The address it listens on (the port it got, for port 0). */
  readonly hostname: string;
  /** The port it listens on. */
  readonly port: number;
  /** The dashboard's address, without the token: `http://127.0.0.1:9100/`. */
  readonly url: string;
  /** Connections open now. */
  readonly connections: number;
  /** Requests read so far, answered or not (a connection past a limit is not). */
  readonly requests: number;
  /** Ends open streams, stops listening, and closes every connection. */
  close(): Promise<void>;
}

/** The listener cannot be started (the port is taken, say). */
export class HttpListenError extends Error {
  /** @param message what went wrong, naming the address */
  constructor(message: string) {
    super(message);
    this.name = "HttpListenError";
  }
}

// Paths anyone who passes the Host check may read: everything else needs
// the token. A list of what is open, not of what is closed, so that a new
// route is protected by default.
const OPEN = /^\/(?:|metrics|livez(?:\/[^/]+)?|readyz(?:\/process\/[^/]+|\/[^/]+)?)$/;

// Headers on every answer: no sniffing, no caching, no framing, no referrer.
const COMMON_HEADERS: Readonly<Record<string, string>> = {
  "x-content-type-options": "nosniff",
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "cross-origin-resource-policy": "same-origin",
  "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
};

/**
 * Listens on `options.address` and serves until closed.
 *
 * @throws {HttpListenError} when it cannot listen there
 */
export async function listenHttp(options: HttpOptions): Promise<HttpServer> {
  const limits: HttpLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const http = await import("node:http");
  const bearer = new BearerCheck(options.token);
  const address = options.address;
  const server: Server = http.createServer({
    connectionsCheckingInterval: limits.checkIntervalMs,
    maxHeaderSize: limits.maxHeaderSize,
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
  });
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  // The cap is kept here, not by node:http's maxConnections, which refuses
  // the newcomer: a client holding the cap with half-sent heads would keep
  // everyone out (a slowloris). Here the oldest connection that has not
  // sent a whole request head yet makes room; the newcomer goes only when
  // every connection is in use.
  // Requests each connection has unanswered: node:http under Deno parses
  // and hands over pipelined requests without waiting for the answers to
  // be read, so a client that sends thousands and reads nothing would
  // have tend keep every answer (measured: 1 GB from one connection).
  const unanswered = new WeakMap<object, number>();
  const open = new Set<Socket>(); // oldest first
  const headed = new WeakSet<Socket>(); // sent a whole request head
  let watchdog: Watchdog | null = null;
  server.on("connection", (socket: Socket) => {
    watchdog?.accepted(socket);
    open.add(socket);
    socket.once("close", () => open.delete(socket));
    if (open.size > limits.maxConnections) {
      let evicted: Socket = socket;
      for (const other of open) {
        if (other !== socket && !headed.has(other)) {
          evicted = other;
          break;
        }
      }
      open.delete(evicted);
      evicted.destroy();
      if (evicted === socket) return;
    }
    meter(socket, () => unanswered.get(socket) ?? 0, limits.maxPipelined);
  });
  let requests = 0;
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    requests++;
    const socket = req.socket;
    headed.add(socket);
    const count = (unanswered.get(socket) ?? 0) + 1;
    unanswered.set(socket, count);
    if (count > limits.maxPipelined) {
      socket.destroy();
      return;
    }
    let done = false;
    const answered = () => {
      if (done) return;
      done = true;
      unanswered.set(socket, (unanswered.get(socket) ?? 1) - 1);
    };
    res.once("finish", answered);
    res.once("close", answered);
    answer(req, res, {
      address,
      bearer,
      limits,
      handler: options.handler,
    }).then(
      // Written: the last piece of an answer (at most PIECE_OUT bytes),
      // which a client that does not read would otherwise hold forever.
      () => {
        if (done) return;
        const timer = setTimeout(() => res.destroy(), limits.writeTimeoutMs);
        const clear = () => clearTimeout(timer);
        res.once("finish", clear);
        res.once("close", clear);
      },
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    const failed = (error: Error) => {
      reject(
        new HttpListenError(
          `cannot listen on ${address.text}: ${(error as Error).message}`,
        ),
      );
    };
    server.once("error", failed);
    try {
      server.listen({ host: address.hostname, port: address.port }, () => {
        server.off("error", failed);
        resolve();
      });
    } catch (error) {
      failed(error as Error);
    }
  });
  let closed = false;
  server.on("error", (error) => {
    if (!closed) options.onFailure?.(error);
  });
  const bound = server.address();
  const port = typeof bound === "object" && bound !== null ? bound.port : address.port;
  // Where this machine reaches the listener: for the dashboard's address,
  // and for the watchdog.
  const reach = address.wildcard
    ? (address.hostname === "::" ? "::1" : "127.0.0.1")
    : address.hostname;
  const host = reach.includes(":") ? `[${reach}]` : reach;
  const watch = { ...WATCHDOG, ...options.watchdog };
  if (watch.intervalMs > 0) {
    watchdog = new Watchdog(watch, { hostname: reach, port }, {
      stopped: (error: Error) => options.onStopped?.(error),
      recovered: () => options.onRecovered?.(),
    });
  }
  return {
    hostname: address.hostname,
    port,
    url: `http://${host}:${port}/`,
    get connections() {
      return open.size;
    },
    get requests() {
      return requests;
    },
    async close() {
      if (closed) return;
      closed = true;
      await watchdog?.stop();
      options.beforeClose?.();
      let timer: ReturnType<typeof setTimeout> | undefined;
      const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
      // Idle keep-alive connections would hold close() for their timeout.
      server.closeIdleConnections();
      await Promise.race([
        stopped,
        new Promise<void>((resolve) =>
          timer = setTimeout(resolve, options.graceMs ?? 2000)
        ),
      ]);
      clearTimeout(timer);
      server.closeAllConnections();
    },
  };
}

// What a check of the listener found: the server saw its connection (or
// closed it: at the connection cap), did not (or nothing listens), or
// cannot tell (tend has no descriptor for the connection, its event loop
// was held up, or the check was stopped).
type Verdict = "seen" | "unseen" | "unknown";

// The ports of connections accepted while a check runs are kept to match
// its own against; a flood past this many leaves the check undecided.
const MAX_NOTED = 1024;

// Checks in a row the server must miss before the listener counts as stopped.
const MISSES_TO_REPORT = 2;

/**
 * Watches that the listener accepts connections: Deno's `node:http` stops
 * accepting for good after an `accept` that fails (EMFILE, when tend's
 * children or clients hold every descriptor) and says nothing, so the
 * kernel queues connections that nobody takes. Every `intervalMs` it
 * connects to the listener and waits for the server's `connection` event
 * with that connection's port; when none comes twice in a row it
 * reports the failure, and when a check sees its connection again, the
 * recovery. It never closes the listening socket to listen again: in the
 * moment the port is free another local user could take it (and the
 * tokens clients send). Its timers and connections never keep tend alive.
 */
interface WatchdogHooks {
  stopped: (error: Error) => void;
  recovered: () => void;
}

class Watchdog {
  #options: WatchdogOptions;
  #target: { hostname: string; port: number };
  #hooks: WatchdogHooks;
  #abort = new AbortController();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #wake: (() => void) | null = null;
  #conn: Deno.TcpConn | null = null;
  #noted: Set<number> | null = null;
  #loop: Promise<void>;

  constructor(
    options: WatchdogOptions,
    target: { hostname: string; port: number },
    hooks: WatchdogHooks,
  ) {
    this.#options = options;
    this.#target = target;
    this.#hooks = hooks;
    this.#loop = this.#run();
  }

  /** Tells it about a connection the server accepted. */
  accepted(socket: Socket): void {
    const noted = this.#noted;
    if (noted === null || noted.size >= MAX_NOTED) return;
    if (socket.remotePort !== undefined) noted.add(socket.remotePort);
    this.#wake?.();
  }

  /** Stops watching; settles once its check (if one runs) has ended. */
  async stop(): Promise<void> {
    this.#abort.abort();
    clearTimeout(this.#timer);
    this.#wake?.();
    try {
      this.#conn?.close();
    } catch {
      // closed already
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal;
    const delays = this.#options.retryDelays;
    let broken = false;
    let attempt = 0;
    let misses = 0;
    while (!signal.aborted) {
      await this.#sleep(
        broken
          ? delays[Math.min(attempt, delays.length - 1)] ?? 1000
          : this.#options.intervalMs,
      );
      if (signal.aborted) return;
      const verdict = await this.#check();
      if (signal.aborted) return;
      if (verdict === "seen") {
        if (broken) this.#hooks.recovered();
        broken = false;
        attempt = 0;
        misses = 0;
      } else if (verdict === "unseen") {
        // Several in a row: one check that a flood held up proves nothing.
        misses++;
        if (!broken && misses >= MISSES_TO_REPORT) {
          broken = true;
          this.#hooks.stopped(
            new Error(
              `${misses} connections to it in a row were not accepted within ` +
                `${this.#options.timeoutMs / 1000}s, as after tend ran out of ` +
                `file descriptors`,
            ),
          );
        }
        if (broken) attempt++;
      } else if (broken) {
        attempt++;
      }
    }
  }

  // Waits `ms`, or less if stopped.
  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.#wake = resolve;
      this.#timer = setTimeout(resolve, ms);
      Deno.unrefTimer(this.#timer as unknown as number);
    }).then(() => {
      clearTimeout(this.#timer);
      this.#wake = null;
    });
  }

  // One check: connect, and see whether the server sees it.
  async #check(): Promise<Verdict> {
    const { timeoutMs } = this.#options;
    const noted = new Set<number>();
    this.#noted = noted;
    const deadline = performance.now() + timeoutMs;
    let conn: Deno.TcpConn;
    try {
      conn = await Deno.connect({
        hostname: this.#target.hostname,
        port: this.#target.port,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(timeoutMs)]),
      });
    } catch (error) {
      this.#noted = null;
      if (this.#abort.signal.aborted) return "unknown";
      // Refused: nothing listens. A connect that times out decides nothing:
      // a flood of connections fills the kernel's queue just as well.
      return error instanceof Deno.errors.ConnectionRefused ? "unseen" : "unknown";
    }
    this.#conn = conn;
    conn.unref();
    try {
      const port = conn.localAddr.port;
      // The server closes a connection past its cap at once: that too
      // means it accepts.
      let ended = false;
      conn.read(new Uint8Array(1)).then(
        (n) => {
          if (n === null) ended = true;
          this.#wake?.();
        },
        () => this.#wake?.(),
      );
      while (!noted.has(port) && !ended) {
        if (this.#abort.signal.aborted) return "unknown";
        const left = deadline - performance.now();
        if (left <= 0) break;
        const due = performance.now() + left;
        await this.#sleep(left);
        // A timer this late means the event loop was held up, and the
        // connection may be waiting behind it: no verdict.
        if (performance.now() - due > 1000 && !noted.has(port)) return "unknown";
      }
      if (noted.has(port) || ended) return "seen";
      return noted.size >= MAX_NOTED ? "unknown" : "unseen";
    } finally {
      this.#noted = null;
      this.#conn = null;
      try {
        conn.close();
      } catch {
        // closed by stop()
      }
    }
  }
}

// The bytes a connection sends, fed to node:http's parser in pieces of
// this size, so that a connection with too many requests unanswered is
// closed within one piece, not one read (64 KiB of pipelined requests is
// 1,600 of them, each costing a request and an answer object).
const PIECE = 1024;

// The pieces a whole answer is written in.
const PIECE_OUT = 64 * 1024;

// Deno's node:http has the parser read the socket itself (as Node does),
// all of each read at once; this gives the reads back to the socket's
// "data" event, and puts itself between that event and the parser. Where
// the internals differ (another Deno), it changes nothing, and the
// pipelining test says so.
function meter(socket: Socket, pending: () => number, max: number): void {
  // deno-lint-ignore no-explicit-any
  const s = socket as any;
  const parser = s.parser;
  const listeners = socket.listeners("data");
  if (
    parser === null || typeof parser !== "object" || listeners.length !== 1 ||
    (parser._consumed === true && typeof parser.unconsume !== "function")
  ) {
    return;
  }
  if (parser._consumed === true) {
    parser.unconsume();
    parser._consumed = false;
    if (s._handle) s._handle._consumed = false;
  }
  const parse = listeners[0] as (chunk: Uint8Array) => void;
  socket.removeListener("data", parse);
  socket.on("data", (chunk: Uint8Array) => {
    for (let at = 0; at < chunk.length; at += PIECE) {
      if (socket.destroyed || s.parser !== parser) return;
      if (pending() >= max) {
        socket.destroy();
        return;
      }
      parse.call(socket, chunk.subarray(at, at + PIECE));
    }
  });
}

interface Context {
  address: ListenAddress;
  bearer: BearerCheck;
  limits: HttpLimits;
  handler: (request: Request) => Promise<Response>;
}

// One request: the checks, the body (capped), the API, and the answer
// written with back-pressure.
async function answer(req: IncomingMessage, res: ServerResponse, ctx: Context) {
  const target = req.url ?? "";
  // Only origin-form ("/path?query"): an absolute URL would name a host
  // other than the one checked.
  if (!target.startsWith("/")) {
    return reply(res, 400, { error: "the request target must be a path" }, true);
  }
  if (!hostAllowed(req.headers.host, ctx.address)) {
    return reply(res, 403, {
      error: "the Host header does not name this tend's address, localhost or a " +
        "loopback address (DNS rebinding is refused)",
    }, true);
  }
  let url: URL;
  try {
    url = new URL(target, "http://tend");
  } catch {
    return reply(res, 400, { error: "the request target is not a valid path" }, true);
  }
  if (!OPEN.test(url.pathname) && !ctx.bearer.matches(req.headers.authorization)) {
    const given = req.headers.authorization !== undefined;
    return reply(
      res,
      401,
      {
        error: given
          ? "the token is wrong: send Authorization: Bearer TOKEN with tend's token"
          : "a token is needed: send Authorization: Bearer TOKEN (tend printed it at start)",
      },
      false,
      { "www-authenticate": 'Bearer realm="tend"' },
    );
  }
  let body: Uint8Array<ArrayBuffer> | undefined;
  if (req.method !== "GET" && req.method !== "HEAD") {
    const length = req.headers["content-length"];
    if (length !== undefined && !(Number(length) <= ctx.limits.maxBody)) {
      return reply(res, 413, {
        error: `the body is over ${ctx.limits.maxBody} bytes`,
      }, true);
    }
    const read = await readBody(req, ctx.limits.maxBody);
    if (read === null) {
      return reply(res, 413, {
        error: `the body is over ${ctx.limits.maxBody} bytes`,
      }, true);
    }
    body = read;
  }
  const headers = new Headers();
  for (const [key, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) { for (const v of value) headers.append(key, v); }
    else headers.set(key, value);
  }
  const request = new Request(url, {
    method: req.method ?? "GET",
    headers,
    ...(body !== undefined && body.length > 0 ? { body } : {}),
  });
  const response = await ctx.handler(request);
  await send(res, response, ctx.limits.writeTimeoutMs);
}

// The body, or null as soon as it goes over `max` (the rest is not read:
// the connection is closed after the 413).
function readBody(
  req: IncomingMessage,
  max: number,
): Promise<Uint8Array<ArrayBuffer> | null> {
  return new Promise((resolve, reject) => {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const onData = (chunk: Uint8Array) => {
      size += chunk.length;
      if (size > max) {
        req.off("data", onData);
        req.pause();
        resolve(null);
        return;
      }
      chunks.push(chunk);
    };
    req.on("data", onData);
    req.once("end", () => {
      const out = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        out.set(chunk, at);
        at += chunk.length;
      }
      resolve(out);
    });
    req.once("error", reject);
    req.once("aborted", () => resolve(null));
  });
}

// A JSON answer written here (not by the API); `close`: the connection
// is closed after it, when what is left of the request is not worth
// reading.
function reply(
  res: ServerResponse,
  status: number,
  body: unknown,
  close: boolean,
  extra: Record<string, string> = {},
): void {
  const text = JSON.stringify(body) + "\n";
  res.writeHead(status, {
    ...COMMON_HEADERS,
    ...extra,
    "content-type": "application/json; charset=utf-8",
    "content-length": String(new TextEncoder().encode(text).length),
    ...(close ? { connection: "close" } : {}),
  });
  res.end(text, () => {
    if (close) res.destroy();
  });
}

// Writes an API response: whole, or, for NDJSON streams, piece by piece,
// each once the socket has taken the one before (a client that takes
// nothing for `stallMs` is dropped).
async function send(
  res: ServerResponse,
  response: Response,
  stallMs: number,
): Promise<void> {
  const headers: Record<string, string> = { ...COMMON_HEADERS };
  response.headers.forEach((value, key) => headers[key] = value);
  const type = headers["content-type"] ?? "";
  let gone = false;
  let drained: (() => void) | null = null;
  // Writes one piece; once the socket holds too much, waits until it has
  // taken it, for at most `stallMs` (then the client is dropped).
  const write = async (piece: Uint8Array) => {
    if (res.write(piece)) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await new Promise<void>((resolve) => {
      drained = resolve;
      res.once("drain", resolve);
      timer = setTimeout(() => {
        res.destroy();
        resolve();
      }, stallMs);
    });
    clearTimeout(timer);
    drained = null;
  };
  if (response.body === null || !type.includes("ndjson")) {
    const bytes = new Uint8Array(await response.arrayBuffer());
    headers["content-length"] = String(bytes.length);
    res.on("close", () => {
      gone = true;
      drained?.();
    });
    res.writeHead(response.status, headers);
    // In pieces, so that a client that reads slowly, but reads, keeps
    // its connection, and one that stops reading loses it.
    let at = 0;
    for (; !gone && bytes.length - at > PIECE_OUT; at += PIECE_OUT) {
      await write(bytes.subarray(at, at + PIECE_OUT));
    }
    if (!gone) res.end(bytes.subarray(at));
    return;
  }
  const reader = response.body.getReader();
  res.on("close", () => {
    gone = true;
    drained?.();
    reader.cancel().catch(() => {});
  });
  res.writeHead(response.status, headers);
  res.flushHeaders();
  try {
    while (!gone) {
      const { done, value } = await reader.read();
      if (done) break;
      await write(value);
    }
  } catch {
    // the stream failed or was cancelled: end the answer
  }
  if (!gone) res.end();
}

/** What the open routes report about tend. */
export interface RouteInfo {
  /** The supervisor. */
  supervisor: Supervisor;
  /** tend's version. */
  version: string;
  /** Wall-clock milliseconds. @default Date.now */
  now?: () => number;
}

/**
 * The routes the TCP listener adds to the control API: `GET /metrics`,
 * `/livez`, `/readyz` (and `/readyz/process/NAME`), and `/`, the
 * dashboard.
 */
export function httpRoutes(info: RouteInfo): Route[] {
  const supervisor = info.supervisor;
  const now = info.now ?? Date.now;
  const text = (status: number, body: string, type = "text/plain; charset=utf-8") =>
    new Response(body, { status, headers: { "content-type": type } });
  const checked = (
    kind: "livez" | "readyz",
    { query }: RouteContext,
    only?: string,
  ): Response => {
    const checks = kind === "livez"
      ? livenessChecks()
      : readinessChecks(supervisor.status(), supervisor.stopping, supervisor.now());
    if (only !== undefined) {
      const check = checks.find((c) => c.name === only);
      if (check === undefined) {
        // The name is the client's, percent-decoded: escaped, as in a log.
        return text(404, `no check named ${escapeText(only.slice(0, 80))}\n`);
      }
      const r = checkResponse(kind, [check], {
        verbose: query.has("verbose"),
        exclude: [],
      });
      return text(r.status, r.body);
    }
    const r = checkResponse(kind, checks, {
      verbose: query.has("verbose"),
      exclude: query.getAll("exclude"),
    });
    return text(r.status, r.body);
  };
  return [
    {
      method: "GET",
      pattern: /^\/metrics$/,
      query: [],
      handle: () =>
        text(200, scrape(supervisor, info.version, now), METRICS_CONTENT_TYPE),
    },
    {
      method: "GET",
      pattern: /^\/livez$/,
      query: ["verbose", "exclude"],
      handle: (ctx) => checked("livez", ctx),
    },
    {
      method: "GET",
      pattern: /^\/livez\/(?<check>[^/]+)$/,
      query: ["verbose"],
      handle: (ctx) => checked("livez", ctx, ctx.params["check"]),
    },
    {
      method: "GET",
      pattern: /^\/readyz$/,
      query: ["verbose", "exclude"],
      handle: (ctx) => checked("readyz", ctx),
    },
    {
      method: "GET",
      pattern: /^\/readyz\/(?<check>process\/[^/]+|[^/]+)$/,
      query: ["verbose"],
      handle: (ctx) => {
        let name: string;
        try {
          name = decodeURIComponent(ctx.params["check"] ?? "");
        } catch {
          return text(400, "the check's name is not valid percent-encoding\n");
        }
        return checked("readyz", ctx, name);
      },
    },
    {
      method: "GET",
      pattern: /^\/$/,
      query: [],
      handle: () =>
        new Response(DASHBOARD_HTML, {
          headers: {
            "content-type": "text/html; charset=utf-8",
            "content-security-policy": DASHBOARD_CSP,
          },
        }),
    },
  ];
}

// One scrape: the status and counters now, in the text format.
function scrape(supervisor: Supervisor, version: string, now: () => number): string {
  const wall = now();
  const mono = supervisor.now();
  const processes: ProcessMetrics[] = supervisor.status().map((s) => ({
    name: s.name,
    state: s.state,
    ready: s.ready,
    held: s.held,
    restarts: s.restarts,
    startTime: s.startedAt === null || s.pid === null
      ? null
      : Math.round(wall + (s.startedAt - mono)) / 1000,
    counts: supervisor.counters.get(s.name),
  }));
  const cpu = process.cpuUsage();
  return renderMetrics({
    processes,
    version,
    deno: Deno.version.deno,
    startTime: Math.round(performance.timeOrigin) / 1000,
    residentMemory: Deno.memoryUsage().rss,
    cpuSeconds: (cpu.user + cpu.system) / 1e6,
  });
}
