/**
 * The control API: HTTP requests in, the Supervisor's operations, HTTP
 * responses out. Nothing here listens; `server.ts` puts it on the unix
 * socket, and a TCP listener (with its token and Host checks) can put the
 * same routes on a port.
 *
 * Everything in a request is treated as hostile: names are checked
 * against the process name pattern and then against the processes that
 * exist, query parameters against each route's list, bodies are capped and
 * parsed strictly. A request that is wrong in any way gets a 4xx with
 * `{"error": "..."}` and changes nothing.
 *
 * Times go out as ISO 8601 UTC: the monitor counts on a monotonic clock,
 * so each response converts with the wall clock read at that moment.
 *
 * Streams (`/v1/logs?follow=1`, `/v1/events`) hold no more than a queue
 * of 64 KiB each: log followers read from the output ring only when their
 * client has taken what was sent (and lose lines, with a count, when the
 * ring moves on without them); event followers drop what their client
 * does not take and say how many they dropped.
 *
 * @module
 */

import { parseDuration } from "../core/duration.ts";
import {
  NotRunningError,
  type ProcessStatus,
  UnknownProcessError,
} from "../core/monitor.ts";
import { normalizeSignal } from "../core/signals.ts";
import { NAME_PATTERN, type ProcessSpec } from "../core/spec.ts";
import type { FollowItem } from "../output/ring.ts";
import type { Supervisor } from "../supervisor.ts";

/** A request's path parameters and query, as a route handler gets them. */
export interface RouteContext {
  /** The request. */
  request: Request;
  /** Path parameters (`name`, `action`). */
  params: Record<string, string>;
  /** The query, checked against the route's parameter list. */
  query: URLSearchParams;
}

/** One route: a method, a path pattern and its handler. */
export interface Route {
  /** The HTTP method. */
  method: "GET" | "POST";
  /** The path, with named groups for parameters. */
  pattern: RegExp;
  /** The query parameters it takes; any other is a 400. */
  query: readonly string[];
  /** Builds the response. */
  handle(ctx: RouteContext): Response | Promise<Response>;
}

/** What a {@linkcode ControlApi} reports about tend and how it bounds streams. */
export interface ApiOptions {
  /** The supervisor to control. */
  supervisor: Supervisor;
  /** tend's pid. */
  pid: number;
  /** tend's version. */
  version: string;
  /** The control socket's path, for the status. */
  socket: string;
  /** Wall-clock milliseconds. @default Date.now */
  now?: () => number;
  /** When tend started, in wall-clock milliseconds. @default now() */
  startedAt?: number;
  /** Streams open at once at most; more get a 503. @default 64 */
  maxStreams?: number;
  /** Bytes a request body may have. @default 65536 */
  maxBody?: number;
  /** Routes to add (a TCP listener's `/metrics`, say); they are tried first. */
  routes?: readonly Route[];
}

/** `lastExit` in the API: how and when the last child ended. */
export interface LastExitJson {
  /** Its exit code, or null when a signal ended it. */
  code: number | null;
  /** The signal that ended it, or null. */
  signal: string | null;
  /** When, ISO 8601 UTC. */
  at: string | null;
}

/** A process's status as the API shows it. */
export interface ProcessStatusJson {
  /** The process's name. */
  name: string;
  /** Its state (supervisord's names). */
  state: ProcessStatus["state"];
  /** The pid while a child exists. */
  pid: number | null;
  /** When the current child started, ISO 8601 UTC. */
  startedAt: string | null;
  /** Seconds the current child has run. */
  uptime: number | null;
  /** Starts after the first. */
  restarts: number;
  /** Kept stopped until started by name. */
  held: boolean;
  /** How the last child ended. */
  lastExit: LastExitJson | null;
  /** When a pending start is due, ISO 8601 UTC. */
  nextStartAt: string | null;
  /** When a pending SIGKILL is due, ISO 8601 UTC. */
  killAt: string | null;
  /** The back-off the next early death waits, in seconds. */
  delay: number;
  /** Why the last start failed, if it did. */
  spawnError: string | null;
  /**
   * Whether it runs and is ready: its readiness probe passed (one without
   * a probe is ready once started); false while it does not run.
   */
  ready: boolean;
  /**
   * The last probe result, as `CHECK: RESULT`
   * (`tcp 127.0.0.1:5432: Connection refused`), or null without probes.
   */
  probe: string | null;
  /** Why it waits instead of starting (`waiting for db: ready`), or null. */
  waiting: string | null;
  /** Whether what it waits for can never happen (a dependency is FATAL, say). */
  blocked: boolean;
  /** Its grace between the stop signal and SIGKILL, in seconds. */
  killTime: number;
  /** The program and its arguments (absent for a `shell` process). */
  argv?: string[];
  /** Its command line, for a `shell` process. */
  shell?: string;
}

/** The body of `GET /v1/status`. */
export interface StatusJson {
  /** tend itself. */
  tend: {
    pid: number;
    version: string;
    config: string | null;
    socket: string;
    startedAt: string;
    uptime: number;
  };
  /** Every process (or those asked for), in config order. */
  processes: ProcessStatusJson[];
}

/** Lines of a process `GET /v1/logs` sends by default. */
export const DEFAULT_LINES = 100;

const encoder = new TextEncoder();
// Each stream's queue, in bytes, before it counts as not keeping up.
const STREAM_QUEUE = 64 * 1024;
// Lines a log follower reads from the ring at once.
const READ_BATCH = 512;
const ACTIONS = ["start", "stop", "restart", "signal"] as const;
type Action = typeof ACTIONS[number];

/** An error that becomes a 4xx (or 5xx) response. */
export class ApiError extends Error {
  /** The HTTP status. */
  readonly status: number;
  /** Extra fields of the body. */
  readonly extra: Record<string, unknown>;
  /**
   * @param status the HTTP status
   * @param message what is wrong, for `{"error": ...}`
   * @param extra more fields of the body
   */
  constructor(status: number, message: string, extra: Record<string, unknown> = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.extra = extra;
  }
}

/** A JSON response (with a newline at the end, for curl). */
export function json(
  status: number,
  body: unknown,
  headers: HeadersInit = {},
): Response {
  return new Response(JSON.stringify(body) + "\n", {
    status,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
  });
}

/**
 * Routes requests to the Supervisor.
 *
 * @example
 * ```ts ignore
 * const api = new ControlApi({ supervisor, pid: Deno.pid, version, socket });
 * const response = await api.handle(new Request("http://tend/v1/status"));
 * ```
 */
export class ControlApi {
  #supervisor: Supervisor;
  #options: ApiOptions;
  #now: () => number;
  #startedAt: number;
  #maxStreams: number;
  #maxBody: number;
  #routes: Route[];
  #streams = new Set<() => void>();
  #closed = false;

  /** Builds the API over a supervisor. */
  constructor(options: ApiOptions) {
    this.#supervisor = options.supervisor;
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#startedAt = options.startedAt ?? this.#now();
    this.#maxStreams = options.maxStreams ?? 64;
    this.#maxBody = options.maxBody ?? 65536;
    this.#routes = [...(options.routes ?? []), ...this.#builtin()];
  }

  /** Streaming responses open now. */
  get streams(): number {
    return this.#streams.size;
  }

  /**
   * Ends every open stream, normally (its client sees the end of the
   * body), and refuses new ones: call it before the server's shutdown,
   * which otherwise waits for them.
   */
  close(): void {
    this.#closed = true;
    for (const end of [...this.#streams]) end();
  }

  /** Answers one request; never rejects. */
  async handle(request: Request): Promise<Response> {
    try {
      return await this.#dispatch(request);
    } catch (error) {
      if (error instanceof ApiError) {
        return json(error.status, { error: error.message, ...error.extra });
      }
      if (error instanceof UnknownProcessError) {
        return json(404, { error: `no process named "${error.process}"` });
      }
      const message = error instanceof Error ? error.message : String(error);
      return json(500, { error: `internal error: ${message}` });
    }
  }

  async #dispatch(request: Request): Promise<Response> {
    const url = new URL(request.url);
    if (url.pathname.length > 1024) throw new ApiError(404, "no such endpoint");
    const length = request.headers.get("content-length");
    if (length !== null && !(Number(length) <= this.#maxBody)) {
      throw new ApiError(413, `the body is over ${this.#maxBody} bytes`);
    }
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const match = route.pattern.exec(url.pathname);
      if (match === null) continue;
      if (route.method !== request.method) {
        allowed.push(route.method);
        continue;
      }
      for (const key of url.searchParams.keys()) {
        if (!route.query.includes(key)) {
          throw new ApiError(
            400,
            `unknown parameter "${key}"` +
              (route.query.length
                ? ` (this endpoint takes ${route.query.join(", ")})`
                : ""),
          );
        }
      }
      const params: Record<string, string> = {};
      for (const [key, value] of Object.entries(match.groups ?? {})) {
        params[key] = value;
      }
      return await route.handle({ request, params, query: url.searchParams });
    }
    if (allowed.length > 0) {
      return json(405, {
        error: `${request.method} is not allowed on ${url.pathname}; use ${
          allowed.join(" or ")
        }`,
      }, { allow: allowed.join(", ") });
    }
    throw new ApiError(404, `no such endpoint: ${request.method} ${url.pathname}`);
  }

  #builtin(): Route[] {
    const name = "(?<name>[^/]+)";
    return [
      {
        method: "GET",
        pattern: /^\/v1\/status\/?$/,
        query: ["process"],
        handle: ({ query }) => this.#status(query),
      },
      {
        method: "GET",
        pattern: new RegExp(`^/v1/processes/${name}/?$`),
        query: [],
        handle: ({ params }) => json(200, this.#processJson(this.#name(params))),
      },
      {
        method: "POST",
        pattern: new RegExp(
          `^/v1/processes/${name}/(?<action>${ACTIONS.join("|")})/?$`,
        ),
        query: ["wait", "timeout"],
        handle: (ctx) => this.#action(ctx),
      },
      {
        method: "GET",
        pattern: /^\/v1\/logs\/?$/,
        query: ["process", "lines", "follow"],
        handle: ({ query }) => this.#logs(query),
      },
      {
        method: "GET",
        pattern: /^\/v1\/events\/?$/,
        query: [],
        handle: () => this.#events(),
      },
      {
        method: "POST",
        pattern: /^\/v1\/reload\/?$/,
        query: [],
        handle: () => this.#reload(),
      },
      {
        method: "POST",
        pattern: /^\/v1\/shutdown\/?$/,
        query: [],
        handle: () => this.#shutdown(),
      },
    ];
  }

  /** Every process's status, in API form (times in ISO 8601 UTC). */
  statusJson(names: readonly string[] | null = null): ProcessStatusJson[] {
    const toIso = this.#clockToIso();
    const statuses = this.#supervisor.status();
    const wanted = names === null ? null : new Set(names);
    // The specs once, not once per process: status stays linear.
    const specs = this.#supervisor.monitor.processes;
    return statuses
      .filter((s) => wanted === null || wanted.has(s.name))
      .map((s) => this.#toJson(s, toIso, specs));
  }

  #status(query: URLSearchParams): Response {
    const names = this.#names(query.get("process"));
    const now = this.#now();
    const body: StatusJson = {
      tend: {
        pid: this.#options.pid,
        version: this.#options.version,
        config: this.#supervisor.canReload ? this.#supervisor.config.file : null,
        socket: this.#options.socket,
        startedAt: new Date(this.#startedAt).toISOString(),
        uptime: Math.max(0, (now - this.#startedAt) / 1000),
      },
      processes: this.statusJson(names),
    };
    return json(200, body);
  }

  // Converts the monitor clock's milliseconds to ISO 8601, from the wall
  // clock read now (so a wall-clock step shows at once, as `date` would).
  #clockToIso(): (ms: number | null) => string | null {
    const wall = this.#now();
    const mono = this.#supervisor.now();
    return (ms) => ms === null ? null : new Date(wall + (ms - mono)).toISOString();
  }

  #toJson(
    s: ProcessStatus,
    toIso: (ms: number | null) => string | null,
    specs: Record<string, ProcessSpec> = this.#supervisor.monitor.processes,
  ): ProcessStatusJson {
    const spec = Object.hasOwn(specs, s.name) ? specs[s.name] : undefined;
    const argv = spec?.argv ?? [];
    const isShell = argv.length === 3 && argv[0] === "/bin/sh" && argv[1] === "-c";
    return {
      name: s.name,
      state: s.state,
      pid: s.pid,
      startedAt: toIso(s.startedAt),
      uptime: s.uptime,
      restarts: s.restarts,
      held: s.held,
      lastExit: s.lastExit === null ? null : {
        code: s.lastExit.code,
        signal: s.lastExit.signal,
        at: toIso(s.lastExitAt),
      },
      nextStartAt: toIso(s.nextStartAt),
      killAt: toIso(s.killAt),
      delay: s.delay,
      spawnError: s.spawnError,
      ready: s.ready,
      probe: s.probe,
      waiting: s.waiting,
      blocked: s.blocked,
      killTime: this.#supervisor.monitor.timingOf(s.name).killTime,
      ...(isShell ? { shell: argv[2]! } : { argv: [...argv] }),
    };
  }

  #processJson(name: string): ProcessStatusJson {
    return this.#toJson(this.#supervisor.processStatus(name), this.#clockToIso());
  }

  // A name from the path (percent-encoded): well-formed, and a process's.
  #name(params: Record<string, string>): string {
    let name: string;
    try {
      name = decodeURIComponent(params["name"] ?? "");
    } catch {
      throw new ApiError(400, "the process name is not valid percent-encoding");
    }
    return this.#known(name);
  }

  // A name that is well-formed and a process's (404 if not a process's).
  #known(name: string): string {
    if (!NAME_PATTERN.test(name) || name.length > 256) {
      throw new ApiError(
        400,
        `"${name.slice(0, 64)}" is not a process name (letters, digits, ".", "_", "-")`,
      );
    }
    this.#supervisor.processStatus(name); // throws UnknownProcessError: 404
    return name;
  }

  // `process=a,b`: every name well-formed and known; null when absent.
  #names(param: string | null): string[] | null {
    if (param === null || param === "") return null;
    return [...new Set(param.split(","))].map((name) => this.#known(name));
  }

  async #action({ request, params, query }: RouteContext): Promise<Response> {
    const name = this.#name(params);
    const action = params["action"] as Action;
    if (action === "signal") return await this.#signal(request, name);
    const wait = flag(query, "wait");
    const before = this.#supervisor.processStatus(name);
    const timeout = query.has("timeout")
      ? seconds(query.get("timeout")!, "timeout")
      : this.#supervisor.monitor.timingOf(name).killTime + 5;
    if (this.#supervisor.stopping) throw new ApiError(409, "tend is shutting down");
    if (action === "start") this.#supervisor.startProcesses([name]);
    else if (action === "stop") this.#supervisor.stopProcesses([name]);
    else this.#supervisor.restartProcesses([name]);
    if (!wait) return json(200, this.#processJson(name));
    const outcome = await this.#supervisor.waitFor(
      name,
      (s) => waitOver(action, s, before.pid),
      timeout * 1000,
    );
    const reached = outcome !== null && reachedGoal(action, outcome, before.pid);
    // The process may have been removed by a reload meanwhile: 404 then.
    return json(reached ? 200 : 202, this.#processJson(name));
  }

  async #signal(request: Request, name: string): Promise<Response> {
    const body = await this.#readJson(request);
    if (typeof body !== "object" || body === null || Array.isArray(body)) {
      throw new ApiError(400, 'the body must be an object: {"signal": "SIGUSR1"}');
    }
    const given = (body as Record<string, unknown>)["signal"];
    const extra = Object.keys(body).filter((key) => key !== "signal");
    if (extra.length > 0) throw new ApiError(400, `unknown field "${extra[0]}"`);
    if (typeof given !== "string") {
      throw new ApiError(400, 'the body must name a signal: {"signal": "SIGUSR1"}');
    }
    const signal = normalizeSignal(given);
    if (signal === null) {
      throw new ApiError(400, `unknown signal "${given.slice(0, 32)}"`);
    }
    const status = this.#supervisor.processStatus(name);
    if (status.pid === null) {
      throw new ApiError(409, new NotRunningError(name, status.state).message);
    }
    const [problem] = this.#supervisor.signalProcesses(signal, [name]);
    if (problem !== null && problem !== undefined) {
      const now = this.#supervisor.processStatus(name);
      throw new ApiError(now.pid === null ? 409 : 500, problem);
    }
    return json(200, this.#processJson(name));
  }

  // Reads a JSON body of at most maxBody bytes.
  async #readJson(request: Request): Promise<unknown> {
    const bytes = await readCapped(request, this.#maxBody);
    const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
    if (text.trim() === "") {
      throw new ApiError(400, "the body is empty; it must be JSON");
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw new ApiError(400, `invalid JSON: ${(error as Error).message}`);
    }
  }

  #logs(query: URLSearchParams): Response {
    const names = this.#names(query.get("process"));
    const lines = query.has("lines")
      ? count(query.get("lines")!, "lines")
      : DEFAULT_LINES;
    const follow = flag(query, "follow");
    const ring = this.#supervisor.ring;
    this.#checkStreams();
    let wakeUp: (() => void) | null = null;
    let done = false;
    const wake = () => {
      const resolve = wakeUp;
      wakeUp = null;
      resolve?.();
    };
    // Without follow, a reader of what the rings hold now, sent in pieces
    // as the client takes them (a thousand processes' lines are not built
    // into one string); with it, a follower that goes on.
    const follower = follow
      ? ring.follow(names, lines, wake)
      : ring.reader(names, lines);
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const end = () => {
      if (done) return;
      done = true;
      follower.close();
      this.#streams.delete(end);
      wake();
      try {
        controller.close();
      } catch {
        // already closed or cancelled
      }
    };
    this.#streams.add(end);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
      },
      // Called when the client has taken what was queued: read what the
      // ring has (lost lines counted), or wait for it to have something.
      pull: async (c) => {
        while (!done) {
          const items = follower.take(READ_BATCH);
          if (items.length > 0) {
            c.enqueue(
              encoder.encode(items.map((i) => logRecord(i, this.#now)).join("")),
            );
            return;
          }
          if (follower.done) {
            end();
            return;
          }
          await new Promise<void>((resolve) => wakeUp = resolve);
        }
      },
      cancel: () => end(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: STREAM_QUEUE }));
    return new Response(body, { headers: NDJSON });
  }

  #events(): Response {
    this.#checkStreams();
    const supervisor = this.#supervisor;
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    let lost = 0;
    let done = false;
    const dirty = new Set<string>();
    let queued = false;
    // Sends a line if the client keeps up; else drops it and counts it.
    const send = (value: unknown) => {
      if (done) return;
      if ((controller.desiredSize ?? 0) <= 0) {
        lost++;
        return;
      }
      if (lost > 0) {
        controller.enqueue(encoder.encode(JSON.stringify({ lost }) + "\n"));
        lost = 0;
      }
      controller.enqueue(encoder.encode(JSON.stringify(value) + "\n"));
    };
    // The changes of one turn are sent together, each process once.
    const flush = () => {
      queued = false;
      if (done) return;
      const names = [...dirty];
      dirty.clear();
      const known = new Map(this.statusJson().map((s) => [s.name, s]));
      for (const name of names) send(known.get(name) ?? { name, removed: true });
    };
    const offState = supervisor.events.on((event) => {
      if (event.type !== "state" || done) return;
      dirty.add(event.name);
      if (!queued) {
        queued = true;
        queueMicrotask(flush);
      }
    });
    const offReload = supervisor.onReload((report) => {
      if (!report.ok || done) return;
      for (const name of report.removed) dirty.add(name);
      if (!queued && dirty.size > 0) {
        queued = true;
        queueMicrotask(flush);
      }
    });
    const end = () => {
      if (done) return;
      done = true;
      offState();
      offReload();
      this.#streams.delete(end);
      try {
        controller.close();
      } catch {
        // already closed or cancelled
      }
    };
    this.#streams.add(end);
    const body = new ReadableStream<Uint8Array>({
      start: (c) => {
        controller = c;
        // The first picture is sent whole, however many processes: it is
        // as big as the status, and a dashboard needs all of it.
        for (const status of this.statusJson()) {
          c.enqueue(encoder.encode(JSON.stringify(status) + "\n"));
        }
      },
      cancel: () => end(),
    }, new ByteLengthQueuingStrategy({ highWaterMark: STREAM_QUEUE }));
    return new Response(body, { headers: NDJSON });
  }

  #checkStreams(): void {
    if (this.#closed) throw new ApiError(503, "tend is shutting down");
    if (this.#streams.size >= this.#maxStreams) {
      throw new ApiError(503, `too many open streams (${this.#maxStreams}); try later`);
    }
  }

  async #reload(): Promise<Response> {
    const supervisor = this.#supervisor;
    if (!supervisor.canReload) {
      throw new ApiError(409, "nothing to reload: tend runs a single command (run --)");
    }
    if (supervisor.stopping) throw new ApiError(409, "tend is shutting down");
    const report = await supervisor.reload("tend reload");
    if (report.ok) {
      const { added, removed, changed, unchanged } = report;
      return json(200, { added, removed, changed, unchanged });
    }
    if (supervisor.stopping) throw new ApiError(409, "tend is shutting down");
    const n = report.problems.length;
    throw new ApiError(
      422,
      `the config has ${n} problem${n === 1 ? "" : "s"}; the running config is kept`,
      { problems: report.problems },
    );
  }

  #shutdown(): Response {
    void this.#supervisor.requestShutdown("tend shutdown");
    return json(202, { stopping: true, pid: this.#options.pid });
  }
}

const NDJSON = { "content-type": "application/x-ndjson; charset=utf-8" };

// One NDJSON line in the JSON log format: a child's line, or a notice of
// lines this reader lost.
function logRecord(item: FollowItem, now: () => number): string {
  if (item.kind === "lost") {
    const n = item.count;
    return JSON.stringify({
      time: new Date(now()).toISOString(),
      level: "warn",
      process: item.process,
      stream: "tend",
      pid: null,
      message: `[${item.process}] tend: ${n} line${
        n === 1 ? "" : "s"
      } lost (this reader fell behind)`,
      event: "lost",
      lost: n,
    }) + "\n";
  }
  return JSON.stringify({
    time: new Date(item.time).toISOString(),
    level: "info",
    process: item.process,
    stream: item.stream,
    pid: item.pid,
    message: `[${item.process}] ${item.text}`,
  }) + "\n";
}

// Whether a wait after `action` is over (reached, or failed for good).
function waitOver(action: Action, s: ProcessStatus, oldPid: number | null): boolean {
  if (reachedGoal(action, s, oldPid)) return true;
  if (action === "stop") return false;
  // A start that failed, or a process stopped or given up meanwhile.
  return (s.spawnError !== null && s.state !== "STOPPING") ||
    s.state === "FATAL" || s.state === "EXITED" || s.state === "STOPPED";
}

function reachedGoal(action: Action, s: ProcessStatus, oldPid: number | null): boolean {
  switch (action) {
    case "start":
      return s.state === "RUNNING";
    case "restart":
      return s.state === "RUNNING" && s.pid !== oldPid;
    default:
      return s.state === "STOPPED";
  }
}

// `wait=1`: 1/true/yes or 0/false/no (an empty value counts as yes).
function flag(query: URLSearchParams, key: string): boolean {
  const value = query.get(key);
  if (value === null) return false;
  if (["", "1", "true", "yes"].includes(value)) return true;
  if (["0", "false", "no"].includes(value)) return false;
  throw new ApiError(400, `${key} must be 1 or 0, not "${value.slice(0, 32)}"`);
}

// `timeout=S`: a duration (`10`, `1.5`, `500ms`, `2m`) up to a day.
function seconds(value: string, key: string): number {
  let s: number;
  try {
    s = parseDuration(value);
  } catch (error) {
    throw new ApiError(400, `${key} ${(error as Error).message}`);
  }
  if (s > 86400) throw new ApiError(400, `${key} must be at most a day (86400)`);
  return s;
}

// `lines=N`: a whole number (more than a ring keeps means all of it).
function count(value: string, key: string): number {
  if (!/^\d{1,9}$/.test(value)) {
    throw new ApiError(
      400,
      `${key} must be a whole number, not "${value.slice(0, 32)}"`,
    );
  }
  return Number(value);
}

/**
 * Reads a request's body, refusing (413) one over `max` bytes without
 * reading further.
 */
export async function readCapped(request: Request, max: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.length;
    if (size > max) {
      await reader.cancel().catch(() => {});
      throw new ApiError(413, `the body is over ${max} bytes`);
    }
    chunks.push(value);
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    out.set(chunk, at);
    at += chunk.length;
  }
  return out;
}
