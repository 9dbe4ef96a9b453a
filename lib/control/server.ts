/**
 * The control socket: where it is, the instance lock that guards it, and
 * the HTTP listener on it.
 *
 * Where (SPEC, Control): `--socket PATH`, else `TEND_SOCKET`, else the
 * config's `socket:` key, else derived from the config file's absolute
 * path: `${XDG_RUNTIME_DIR:-/tmp}/tend-<uid>/<12 hex of sha256>.sock`.
 *
 * Who may use it: only tend's user. The socket's directory must be tend's
 * user's own and closed to everyone else (mode `0700`; it is created so
 * when missing), as tmux insists for `/tmp/tmux-UID`: another local user
 * must not be able to plant a socket or a symlink there, or reach the
 * socket. The socket is `0600` from the moment it exists (tend sets its
 * umask around the bind, before any child is started, and sets the mode
 * again after), and a socket path or lock file that is a symlink is
 * refused.
 *
 * One instance per socket: tend takes an exclusive `flock` on
 * `<socket>.lock` before it touches the socket (the kernel releases it
 * when tend dies, however it dies), and writes its pid there; a tend that
 * exits cleanly removes the file. A socket file found after taking the
 * lock was left by a tend that died, and is replaced.
 *
 * @module
 */

import { dirname, isAbsolute, join, resolve } from "../core/path.ts";
import { sha256Hex } from "../core/sha256.ts";

/** The longest unix socket path Linux takes (`sun_path` is 108 bytes). */
export const MAX_SOCKET_PATH = 107;

/** The socket, and how it was chosen (for messages: "derived from FILE"). */
export interface SocketChoice {
  /** Its absolute path. */
  path: string;
  /** How it was chosen, in words: `from --socket`, `derived from /srv/procs.yaml`. */
  how: string;
  /** Whether tend derived it (its directory is tend's to create). */
  derived: boolean;
}

/** What decides where the socket is. */
export interface SocketInputs {
  /** `--socket PATH`. */
  flag?: string | undefined;
  /** `TEND_SOCKET`. */
  env?: string | undefined;
  /** The config's `socket:` key, already absolute, and the file it is in. */
  config?: { socket: string; file: string } | undefined;
  /** What the path is derived from: a config file's absolute path, or a command. */
  derive: { file: string } | { cwd: string; argv: readonly string[] };
  /** `XDG_RUNTIME_DIR`. */
  runtimeDir?: string | undefined;
  /** tend's user id. */
  uid: number;
  /** The working directory, for a relative `--socket` or `TEND_SOCKET`. */
  cwd: string;
}

/** The socket cannot be used: its path or directory is refused. */
export class SocketError extends Error {
  /** @param message what is wrong, naming the path */
  constructor(message: string) {
    super(message);
    this.name = "SocketError";
  }
}

/** Another tend holds the instance lock. */
export class AlreadyRunningError extends Error {
  /** The other tend's pid, as its lock file says (null if unreadable). */
  readonly pid: number | null;
  /** The socket. */
  readonly socket: string;
  /**
   * @param pid the holder's pid, if known
   * @param socket the socket path
   */
  constructor(pid: number | null, socket: string) {
    super(`already running (pid ${pid ?? "unknown"}, socket ${socket})`);
    this.name = "AlreadyRunningError";
    this.pid = pid;
    this.socket = socket;
  }
}

/**
 * Where the socket is, by SPEC's order of precedence.
 *
 * @example
 * ```ts
 * import { chooseSocket } from "./server.ts";
 * const choice = chooseSocket({ derive: { file: "/srv/app/procs.yaml" }, uid: 1000, cwd: "/" });
 * choice.path; // "/tmp/tend-1000/" + 12 hex characters + ".sock"
 * choice.how; // "derived from /srv/app/procs.yaml"
 * ```
 *
 * @throws {SocketError} when the path is too long for a unix socket
 */
export function chooseSocket(inputs: SocketInputs): SocketChoice {
  let choice: SocketChoice;
  if (inputs.flag !== undefined && inputs.flag !== "") {
    choice = {
      path: resolve(inputs.cwd, inputs.flag),
      how: "from --socket",
      derived: false,
    };
  } else if (inputs.env !== undefined && inputs.env !== "") {
    choice = {
      path: resolve(inputs.cwd, inputs.env),
      how: "from TEND_SOCKET",
      derived: false,
    };
  } else if (inputs.config !== undefined) {
    choice = {
      path: inputs.config.socket,
      how: `from the socket: key of ${inputs.config.file}`,
      derived: false,
    };
  } else {
    const derive = inputs.derive;
    const [key, what] = "file" in derive
      ? [derive.file, `derived from ${derive.file}`]
      : [
        // NUL cannot occur in a path or an argument, so this is unambiguous.
        [derive.cwd, ...derive.argv].join("\0"),
        `derived from the command and ${derive.cwd}`,
      ];
    const hash = sha256Hex(key).slice(0, 12);
    const base = inputs.runtimeDir && isAbsolute(inputs.runtimeDir)
      ? inputs.runtimeDir
      : "/tmp";
    choice = {
      path: join(base, `tend-${inputs.uid}`, `${hash}.sock`),
      how: what,
      derived: true,
    };
  }
  const bytes = new TextEncoder().encode(choice.path).length;
  if (bytes > MAX_SOCKET_PATH) {
    throw new SocketError(
      `socket path ${choice.path} (${choice.how}) is ${bytes} bytes long; a unix ` +
        `socket's path can be at most ${MAX_SOCKET_PATH}: choose a shorter one with --socket`,
    );
  }
  return choice;
}

/** The instance lock, held: tend is the one tend at this socket. */
export interface Instance {
  /** The socket this instance owns. */
  readonly socket: SocketChoice;
  /**
   * Removes the lock file and lets go of the lock (if tend dies instead,
   * the kernel lets go of it, and the file stays for the next tend).
   */
  release(): void;
}

/**
 * Checks (or creates) the socket's directory, takes the instance lock and
 * clears a stale socket, so that {@linkcode listen} can bind.
 *
 * @throws {AlreadyRunningError} when another tend holds the lock
 * @throws {SocketError} when the directory, the lock or the socket path is refused
 */
export async function claimInstance(
  socket: SocketChoice,
  uid: number,
): Promise<Instance> {
  const dir = dirname(socket.path);
  await privateDir(dir, uid, socket);
  const lockPath = `${socket.path}.lock`;
  const lock = await takeLock(lockPath, socket);
  try {
    await lock.truncate(0);
    await lock.write(new TextEncoder().encode(`${Deno.pid}\n`));
    const info = await lstat(socket.path);
    if (info?.isSymlink) {
      throw new SocketError(
        `${socket.path} is a symlink; refusing to use it as tend's socket`,
      );
    }
    if (info !== null && !info.isSocket) {
      throw new SocketError(
        `${socket.path} exists and is not a socket; not replacing it`,
      );
    }
    // With the lock held, a socket here was left by a tend that died.
    if (info !== null) await Deno.remove(socket.path);
  } catch (error) {
    lock.close();
    if (error instanceof SocketError) throw error;
    throw new SocketError(`cannot prepare ${socket.path}: ${reason(error)}`);
  }
  let held = true;
  return {
    socket,
    release: () => {
      if (!held) return;
      held = false;
      // The file goes first, the lock after: a tend that opened the file
      // meanwhile finds, once it has the lock, that the file is no longer
      // the one at the path, and tries again (see takeLock).
      try {
        Deno.removeSync(lockPath);
      } catch {
        // gone already, or not ours to remove: the lock still goes
      }
      lock.close();
    },
  };
}

// Opens and locks `<socket>.lock`, or throws AlreadyRunningError. The lock
// must be on the file that is at the path once it is held: a tend on its
// way out removes its lock file before it lets go of the lock.
async function takeLock(lockPath: string, socket: SocketChoice): Promise<Deno.FsFile> {
  for (let attempt = 0; attempt < 10; attempt++) {
    await refuseSymlink(lockPath, "lock file");
    let lock: Deno.FsFile;
    try {
      lock = await Deno.open(lockPath, {
        read: true,
        write: true,
        create: true,
        mode: 0o600,
      });
    } catch (error) {
      throw new SocketError(`cannot open the lock file ${lockPath}: ${reason(error)}`);
    }
    if (!(await lock.tryLock(true))) {
      const pid = await holderPid(lock);
      lock.close();
      throw new AlreadyRunningError(pid, socket.path);
    }
    const held = await lock.stat();
    const there = await lstat(lockPath);
    if (there !== null && there.ino === held.ino && there.dev === held.dev) return lock;
    lock.close();
  }
  throw new SocketError(`cannot lock ${lockPath}: it keeps being replaced`);
}

/**
 * Checks, before a client connects, that the socket is one only tend's
 * user could have made, as tmux's client does: its directory is a real
 * directory of that user's that nobody else can enter, and the socket (if
 * it is there yet) is a socket of that user's, not a symlink. Another
 * local user could otherwise plant a directory and a server of their own,
 * and answer tend's commands with whatever they like.
 *
 * @throws {SocketError} saying what is wrong and where
 */
export async function checkClientSocket(
  socket: SocketChoice,
  uid: number,
): Promise<void> {
  const dir = dirname(socket.path);
  const info = await lstat(dir);
  if (info === null) return; // no tend there: connecting says so
  checkPrivate(info, dir, uid, socket);
  const file = await lstat(socket.path);
  if (file === null) return;
  const where = `the socket ${socket.path} (${socket.how})`;
  if (file.isSymlink) throw new SocketError(`${where} is a symlink; refusing it`);
  if (!file.isSocket) throw new SocketError(`${where} is not a socket`);
  if (file.uid !== null && file.uid !== uid) {
    throw new SocketError(
      `${where} belongs to uid ${file.uid}, not to this user (uid ${uid}); refusing it`,
    );
  }
}

// A directory nobody but `uid` may have put anything in.
function checkPrivate(
  info: Deno.FileInfo,
  dir: string,
  uid: number,
  socket: SocketChoice,
): void {
  const where = `the socket's directory ${dir} (${socket.how})`;
  if (info.isSymlink) throw new SocketError(`${where} is a symlink; refusing it`);
  if (!info.isDirectory) throw new SocketError(`${where} is not a directory`);
  if (info.uid !== null && info.uid !== uid) {
    throw new SocketError(
      `${where} belongs to uid ${info.uid}, not to tend's user (uid ${uid}); ` +
        `another user could have planted it`,
    );
  }
  const mode = (info.mode ?? 0) & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new SocketError(
      `${where} has mode ${
        mode.toString(8).padStart(4, "0")
      }, so others can enter it; ` +
        `it must be 0700 (chmod 700 ${dir})`,
    );
  }
}

// The socket's directory: created 0700 when missing; otherwise it must be
// a real directory, tend's user's, that nobody else can enter.
async function privateDir(
  dir: string,
  uid: number,
  socket: SocketChoice,
): Promise<void> {
  let info = await lstat(dir);
  if (info === null) {
    try {
      await Deno.mkdir(dir, { mode: 0o700 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) {
        throw new SocketError(
          `cannot create the socket's directory ${dir} (${socket.how}): ${
            reason(error)
          }`,
        );
      }
    }
    info = await lstat(dir);
    if (info === null) {
      throw new SocketError(`cannot create the socket's directory ${dir}`);
    }
  }
  checkPrivate(info, dir, uid, socket);
}

async function refuseSymlink(path: string, what: string): Promise<void> {
  if ((await lstat(path))?.isSymlink) {
    throw new SocketError(`the ${what} ${path} is a symlink; refusing it`);
  }
}

async function lstat(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw new SocketError(`cannot look at ${path}: ${reason(error)}`);
  }
}

// The pid the lock's holder wrote (it may not have written it yet).
async function holderPid(lock: Deno.FsFile): Promise<number | null> {
  try {
    await lock.seek(0, Deno.SeekMode.Start);
    const buf = new Uint8Array(32);
    const n = await lock.read(buf);
    const text = new TextDecoder().decode(buf.subarray(0, n ?? 0)).trim();
    return /^\d{1,10}$/.test(text) ? Number(text) : null;
  } catch {
    return null;
  }
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The listener on the control socket. */
export interface ControlServer {
  /** The socket's path. */
  readonly path: string;
  /**
   * Stops listening: `beforeClose` first (it must end the streams, which
   * the server's graceful shutdown would otherwise wait for), then the
   * shutdown, for at most `graceMs`. Deno removes the socket file.
   */
  close(): Promise<void>;
}

/** How {@linkcode listen} serves. */
export interface ListenOptions {
  /** Answers each request; must not reject. */
  handler: (request: Request) => Promise<Response>;
  /** Called first by {@linkcode ControlServer.close}: end open streams. */
  beforeClose?: () => void;
  /**
   * Called when the listener fails (Deno's server ends on an `accept` error
   * such as EMFILE, and takes the socket file with it); `listen` binds
   * again after a back-off, until that works.
   */
  onFailure?: (error: unknown) => void;
  /** Called when the socket works again after a failure. */
  onRecovered?: () => void;
  /**
   * Waits before each new bind after a failure, the last repeated.
   * @default [100, 200, 500, 1000, 2000, 5000] (ms)
   */
  retryDelays?: readonly number[];
  /** Longest wait for requests in flight at close. @default 2000 */
  graceMs?: number;
}

const RETRY_DELAYS = [100, 200, 500, 1000, 2000, 5000] as const;

/**
 * Listens on the instance's socket, mode 0600 from its first moment. When
 * the listener dies (an `accept` that fails with EMFILE when tend's
 * children or clients hold every descriptor), it listens again after a
 * back-off: the control plane comes back once descriptors are free, rather
 * than being gone for the rest of the run.
 *
 * @throws {SocketError} when the socket cannot be bound
 */
export function listen(instance: Instance, options: ListenOptions): ControlServer {
  const path = instance.socket.path;
  const delays = options.retryDelays ?? RETRY_DELAYS;
  let server = bind(instance, options.handler);
  let closed = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const rebind = (attempt: number) => {
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      try {
        // The instance lock is held, so a file at the path is ours, from
        // the server that died.
        removeStaleSocket(path);
        server = bind(instance, options.handler);
      } catch {
        rebind(attempt + 1);
        return;
      }
      watch(server);
      options.onRecovered?.();
    }, delays[Math.min(attempt, delays.length - 1)] ?? 1000);
  };
  const watch = (watched: Deno.HttpServer<Deno.UnixAddr>) => {
    const ended = (error: unknown) => {
      if (closed || watched !== server) return;
      options.onFailure?.(error);
      rebind(0);
    };
    watched.finished.then(
      () => ended(new Error("the listener ended")),
      ended,
    );
  };
  watch(server);
  return {
    path,
    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(timer);
      options.beforeClose?.();
      let wait: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        server.shutdown().catch(() => {}),
        new Promise<void>((resolve) =>
          wait = setTimeout(resolve, options.graceMs ?? 2000)
        ),
      ]);
      clearTimeout(wait);
    },
  };
}

// Binds the socket with mode 0600 from its first moment (umask, then chmod).
function bind(
  instance: Instance,
  handler: (request: Request) => Promise<Response>,
): Deno.HttpServer<Deno.UnixAddr> {
  const path = instance.socket.path;
  let server: Deno.HttpServer<Deno.UnixAddr>;
  const umask = setUmask(0o177);
  try {
    server = Deno.serve({ path, onListen: () => {} }, handler);
  } catch (error) {
    throw new SocketError(
      `cannot listen on ${path} (${instance.socket.how}): ${reason(error)}`,
    );
  } finally {
    if (umask !== null) setUmask(umask);
  }
  try {
    Deno.chmodSync(path, 0o600);
  } catch (error) {
    void server.shutdown();
    throw new SocketError(`cannot make ${path} private (chmod 600): ${reason(error)}`);
  }
  return server;
}

// Removes a socket left at `path`; anything else there is left for bind to
// refuse.
function removeStaleSocket(path: string): void {
  try {
    if (Deno.lstatSync(path).isSocket) Deno.removeSync(path);
  } catch {
    // Gone already (Deno removes it when its server ends).
  }
}

// Sets the process's umask, returning the old one, or null when tend may
// not (Deno asks for all of --allow-sys): then only the chmod after the
// bind, inside the 0700 directory, keeps others out.
function setUmask(mask: number): number | null {
  try {
    return Deno.umask(mask);
  } catch {
    return null;
  }
}
