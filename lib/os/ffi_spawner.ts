/**
 * The {@linkcode Spawner} over glibc's `posix_spawn`, called through
 * Deno's FFI: what `tend run` uses when it may (`--allow-ffi`, Linux on
 * x86_64, glibc 2.29 or later, Linux 5.3 or later), with `DenoSpawner`
 * as the fallback, and for requests with a uid or gid.
 *
 * **Why.** `Deno.Command` with `detached: true` (how DenoSpawner makes
 * each child a session leader) needs a `pre_exec` hook for the
 * `setsid()`, and any such hook makes Rust's std `fork()` the whole Deno
 * process instead of spawning with `posix_spawn`'s vfork: page tables and
 * copy-on-write faults on V8's heap for every child, which is why 500
 * children took seconds. glibc's `posix_spawn` does the `setsid()` itself
 * (`POSIX_SPAWN_SETSID`) in a `clone(CLONE_VM | CLONE_VFORK)` child that
 * borrows tend's memory until it execs.
 *
 * **Per child:**
 * - the program is looked up as `Deno.Command` looks it up: a name with a
 *   slash is taken relative to the child's working directory, a bare name
 *   is looked up in the *child's* PATH (tend's when the child has none),
 *   and the child gets the resolved path as `argv[0]`;
 * - the environment is tend's (read from libc's `environ`, so no
 *   `--allow-env` is needed and `Deno.env.set` is seen) with `env`
 *   applied, or `env` alone with `clearEnv`, as `Deno.Command` builds it;
 * - two pipes from `pipe2(O_CLOEXEC)`: no other spawn can inherit an end
 *   and hold an end of file back;
 * - file actions: the pipes' write ends onto 1 and 2, `/dev/null` onto 0,
 *   `chdir` (`addchdir_np`);
 * - attributes: a new session (`setsid`, so pgid = sid = pid), every signal
 *   back to its default action and an empty signal mask. Deno ignores
 *   SIGPIPE, and an ignored signal stays ignored across exec: a child would
 *   not die writing to a closed pipe (`yes | head` would spin). (glibc
 *   keeps its two internal signals, 32 and 33, ignored in every
 *   `posix_spawn` child, Deno.Command's too: glibc programs set their own
 *   handlers for them.)
 *
 * A failed `chdir`, `open` or `exec` comes back as `posix_spawn`'s return
 * value, and is thrown as a {@linkcode SpawnError} worded as Deno words its
 * own: `Failed to spawn '/usr/bin/x': No such file or directory (os error
 * 2)`, `... No such cwd '/srv'`, `... cwd is not a directory '/srv'`. (For
 * a bare name found nowhere on PATH, Deno says `entity not found`; this
 * says `No such file or directory (os error 2)`, the OS's reason.)
 *
 * **Output and exits: one epoll set.** Each pipe's read end and each
 * child's pidfd (`pidfd_open`, readable once it has exited) go into one
 * epoll set. One `epoll_pwait` at a time waits for all of them on a
 * thread of Deno's blocking pool (an FFI call marked `nonblocking`), with
 * every signal blocked, so none interrupts it. When it returns, each ready
 * pipe is read once, without blocking, into one shared 64 KiB buffer (the
 * handlers take a chunk before they return, see `OutputHandler`), and each
 * exited child is reaped with `waitpid(pid, WNOHANG)`; then the next wait
 * goes out. So an idle tend makes no system call at all, a child costs
 * three file descriptors and no buffer of its own, and a read costs one
 * FFI call. A stream the log holds back (back-pressure) leaves the set
 * until the log takes more. While anything is in the set, the pending
 * wait keeps Deno's event loop alive, as a `Deno.Command` child's status
 * does; once nothing is, no wait is left out.
 *
 * Not `Deno.open("/proc/self/fd/N")`: each read of such a file blocks a
 * thread of that same pool, which Deno caps at 32, so 32 quiet children
 * would stall every other child's output and every file operation. Not
 * `node:net`'s `Socket({ fd })` either: it works, but loading node's
 * networking costs tend about 3 MB of private memory (measured).
 *
 * **Who reaps what.** These children are Deno's to know nothing of: tend
 * reaps each one itself, by its pid, and only those (`pids.ts`:
 * `adopt`, then `reaped` in the same turn as the `waitpid`). It never calls
 * `waitpid(-1)`, which would take `Deno.Command`'s children's statuses,
 * and the PID-1 reaper leaves these alone as it leaves Deno's.
 *
 * Needs `--allow-ffi`, scoped to libc's path or not (pointers travel as
 * integers and memory is read with `memcpy`, as in `libc.ts`), and
 * `--allow-run` for the group signals (`Deno.kill`).
 *
 * @module
 */

import { SpawnError, type SpawnRequest } from "../core/ports.ts";
import type { SignalName } from "../core/signals.ts";
import type { ExitStatus } from "../core/spec.ts";
import { commandLaunch } from "./deno_spawner.ts";
import { cString, ERRNO_SYMBOLS, errnoOf, libcUnavailable, openLibc } from "./libc.ts";
import { ownPids } from "./pids.ts";
import { signalName } from "./signals.ts";
import {
  type Pump,
  SpawnerBase,
  type SpawnerOptions,
  type Started,
} from "./spawner_base.ts";
import { canPeekExits } from "./wait.ts";

// ---------------------------------------------------------------------------
// glibc on x86_64 Linux. posix_spawnattr_t and posix_spawn_file_actions_t
// are opaque: buffers big enough (checked with sizeof in C on glibc 2.36),
// 8-byte aligned (an ArrayBuffer's storage is), that glibc fills in.

const SIZEOF_POSIX_SPAWNATTR_T = 336;
const SIZEOF_POSIX_SPAWN_FILE_ACTIONS_T = 80;
const SIZEOF_SIGSET_T = 128;
// struct epoll_event is packed on x86_64: events u32 @0, data u64 @4.
const SIZEOF_EPOLL_EVENT = 12;
// struct statx (the same on every architecture): stx_mode u16 @28.
const SIZEOF_STATX = 256;
const STATX_MODE_OFFSET = 28;

const POSIX_SPAWN_SETSIGDEF = 0x04;
const POSIX_SPAWN_SETSIGMASK = 0x08;
const POSIX_SPAWN_SETSID = 0x80;
const O_RDONLY = 0;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const F_DUPFD_CLOEXEC = 1030;
const F_SETFL = 4;
const EPOLL_CLOEXEC = O_CLOEXEC;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EPOLLIN = 0x001;
const EFD_CLOEXEC = O_CLOEXEC;
const EFD_NONBLOCK = O_NONBLOCK;
const SYS_PIDFD_OPEN = 434n;
const AT_FDCWD = -100;
const STATX_TYPE_AND_MODE = 0x3;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const X_OK = 1;
const WNOHANG = 1;
const SIGKILL = 9;
const EINTR = 4;
const EAGAIN = 11;
const ENOENT = 2;
const ENOTDIR = 20;
const EACCES = 13;
const ENOEXEC = 8;
// What execvp runs a script without "#!" with.
const SHELL = "/bin/sh";

// The glibc this needs: posix_spawn_file_actions_addchdir_np came in 2.29
// (POSIX_SPAWN_SETSID in 2.26). A libc without a symbol below fails the
// dlopen, and then this spawner is not used.
const GLIBC_MIN = [2, 29] as const;

// Pointers to memory tend owns go as "buffer"; addresses (argv and envp
// entries, libc's own memory) as plain integers ("usize"), read with
// memcpy: Deno.UnsafePointer and UnsafePointerView want an unscoped
// --allow-ffi, and scoped to libc's path this must work too.
const SYMBOLS = {
  // int posix_spawn(pid_t *pid, const char *path, const
  //   posix_spawn_file_actions_t *fa, const posix_spawnattr_t *attr,
  //   char *const argv[], char *const envp[]): returns an errno, not -1.
  posix_spawn: {
    parameters: ["buffer", "buffer", "buffer", "buffer", "usize", "usize"],
    result: "i32",
  },
  posix_spawnattr_init: { parameters: ["buffer"], result: "i32" },
  posix_spawnattr_setflags: { parameters: ["buffer", "i16"], result: "i32" },
  posix_spawnattr_setsigdefault: { parameters: ["buffer", "buffer"], result: "i32" },
  posix_spawnattr_setsigmask: { parameters: ["buffer", "buffer"], result: "i32" },
  sigfillset: { parameters: ["buffer"], result: "i32" },
  sigemptyset: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_init: { parameters: ["buffer"], result: "i32" },
  posix_spawn_file_actions_destroy: { parameters: ["buffer"], result: "i32" },
  // (fa, fd, path, oflag, mode)
  posix_spawn_file_actions_addopen: {
    parameters: ["buffer", "i32", "buffer", "i32", "u32"],
    result: "i32",
  },
  posix_spawn_file_actions_adddup2: {
    parameters: ["buffer", "i32", "i32"],
    result: "i32",
  },
  posix_spawn_file_actions_addchdir_np: {
    parameters: ["buffer", "buffer"],
    result: "i32",
  },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  // fcntl and syscall are variadic; on x86_64 integer arguments passed as
  // fixed ones are laid out the same way.
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  syscall: { parameters: ["i64", "i64", "i64"], result: "i64" },
  waitpid: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  kill: { parameters: ["i32", "i32"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  // Blocks until something in the set is ready: on a thread of Deno's
  // blocking pool, the JS thread going on meanwhile.
  epoll_pwait: {
    parameters: ["i32", "buffer", "i32", "i32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  access: { parameters: ["buffer", "i32"], result: "i32" },
  statx: { parameters: ["i32", "buffer", "i32", "u32", "buffer"], result: "i32" },
  getcwd: { parameters: ["buffer", "usize"], result: "usize" },
  // The XSI strerror_r, as Rust's std (and so Deno) words an errno.
  __xpg_strerror_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  gnu_get_libc_version: { parameters: [], result: "usize" },
  strlen: { parameters: ["usize"], result: "usize" },
  // memcpy(dst, src, n) returns dst: with n = 0, the address of a buffer.
  addressOf: {
    name: "memcpy",
    parameters: ["buffer", "buffer", "usize"],
    result: "usize",
  },
  // memcpy from the address of a static (what Deno gives for `environ`).
  copyFromStatic: {
    name: "memcpy",
    parameters: ["buffer", "pointer", "usize"],
    result: "usize",
  },
  // char **environ: Deno gives the static's address; it is read at every
  // spawn, because setenv may move the array.
  environ: { type: "pointer" },
  ...ERRNO_SYMBOLS,
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

// ---------------------------------------------------------------------------
// Memory handed to C: typed arrays over their own ArrayBuffer, whose
// storage is off V8's heap and never moves, kept referenced until the call
// that uses them returns (the vfork child reads argv and envp from tend's
// memory).

function alloc(n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(n));
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// A NUL-terminated copy of `bytes`.
function cBytes(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = alloc(bytes.length + 1);
  out.set(bytes);
  return out;
}

/** The C side: libc, the spawn attributes, and what reads it. */
class Libc {
  readonly lib: Lib;
  readonly s: Lib["symbols"];
  // Every signal back to SIG_DFL, an empty mask, a new session: the same
  // for every child, so built once.
  readonly attr: Uint8Array<ArrayBuffer>;
  // Every signal, for epoll_pwait's mask.
  readonly allSignals: Uint8Array<ArrayBuffer>;
  readonly devNull = cString("/dev/null");
  #word = new BigUint64Array(new ArrayBuffer(8));
  #wordBytes = new Uint8Array(this.#word.buffer);
  #stx = alloc(SIZEOF_STATX);
  #stxView = new DataView(this.#stx.buffer);
  #text = alloc(256);

  constructor(lib: Lib) {
    this.lib = lib;
    this.s = lib.symbols;
    const s = this.s;
    this.allSignals = alloc(SIZEOF_SIGSET_T);
    s.sigfillset(this.allSignals);
    const none = alloc(SIZEOF_SIGSET_T);
    s.sigemptyset(none);
    this.attr = alloc(SIZEOF_POSIX_SPAWNATTR_T);
    const ok = s.posix_spawnattr_init(this.attr) === 0 &&
      s.posix_spawnattr_setsigdefault(this.attr, this.allSignals) === 0 &&
      s.posix_spawnattr_setsigmask(this.attr, none) === 0 &&
      s.posix_spawnattr_setflags(
          this.attr,
          POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK,
        ) === 0;
    if (!ok) throw new Error("posix_spawnattr_* failed");
  }

  /** The calling thread's errno (right after the call that failed). */
  errno(): number {
    return errnoOf(this.lib);
  }

  /** The address of a buffer. */
  address(buffer: Uint8Array<ArrayBuffer>): bigint {
    return BigInt(this.s.addressOf(buffer, buffer, 0n));
  }

  /** The 8 bytes at `address`. */
  word(address: bigint): bigint {
    this.s.memcpy(this.#wordBytes, address, 8n);
    return this.#word[0]!;
  }

  /** The NUL-terminated bytes at `address` (without the NUL), copied. */
  bytesAt(address: bigint): Uint8Array<ArrayBuffer> {
    const length = this.s.strlen(address);
    const out = alloc(Number(length));
    if (length > 0n) this.s.memcpy(out, address, length);
    return out;
  }

  /** The current `environ`, as raw `KEY=value` entries. */
  environ(): Uint8Array<ArrayBuffer>[] {
    this.s.copyFromStatic(this.#wordBytes, this.s.environ, 8n);
    const base = this.#word[0]!;
    const entries: Uint8Array<ArrayBuffer>[] = [];
    if (base === 0n) return entries;
    // Bounded: an environment of a million entries is far past any limit.
    for (let i = 0n; i < 1_000_000n; i++) {
      const entry = this.word(base + 8n * i);
      if (entry === 0n) break;
      entries.push(this.bytesAt(entry));
    }
    return entries;
  }

  /** The address of the current `environ` array itself. */
  environAddress(): bigint {
    this.s.copyFromStatic(this.#wordBytes, this.s.environ, 8n);
    return this.#word[0]!;
  }

  /** `strerror` as Rust words it: `No such file or directory (os error 2)`. */
  reason(errno: number): string {
    const text =
      this.s.__xpg_strerror_r(errno, this.#text, BigInt(this.#text.length)) ===
          0
        ? decoder.decode(this.#text.subarray(0, this.#text.indexOf(0)))
        : `Unknown error ${errno}`;
    return `${text} (os error ${errno})`;
  }

  /** The file type bits of `path` (following links), or null when it cannot be had. */
  fileType(path: string): number | null {
    if (
      this.s.statx(AT_FDCWD, cString(path), 0, STATX_TYPE_AND_MODE, this.#stx) !== 0
    ) {
      return null;
    }
    return this.#stxView.getUint16(STATX_MODE_OFFSET, true) & S_IFMT;
  }

  /** Whether `path` is a regular file tend may execute. */
  isExecutable(path: string): boolean {
    return this.fileType(path) === S_IFREG && this.s.access(cString(path), X_OK) === 0;
  }

  /** tend's working directory. */
  cwd(): string {
    const buffer = alloc(4096);
    if (this.s.getcwd(buffer, BigInt(buffer.length)) === 0n) {
      throw new SpawnError(
        `Cannot read tend's working directory: ${this.reason(this.errno())}`,
      );
    }
    return decoder.decode(buffer.subarray(0, buffer.indexOf(0)));
  }

  /** A pipe whose two ends are close-on-exec and above 2. */
  pipe(): [read: number, write: number] {
    const fds = new Int32Array(new ArrayBuffer(8));
    if (this.s.pipe2(new Uint8Array(fds.buffer), O_CLOEXEC) !== 0) {
      throw new SpawnError(`Cannot create a pipe: ${this.reason(this.errno())}`);
    }
    return [this.#lift(fds[0]!), this.#lift(fds[1]!)];
  }

  // Moves an fd above 2. With tend's own stdin, stdout or stderr closed,
  // pipe2 can return 0, 1 or 2, and the child's file actions (dup2 onto 1
  // and 2, /dev/null onto 0) would then clobber one another.
  #lift(fd: number): number {
    if (fd > 2) return fd;
    const moved = this.s.fcntl(fd, F_DUPFD_CLOEXEC, 3);
    const errno = this.errno();
    this.s.close(fd);
    if (moved < 0) throw new SpawnError(`Cannot create a pipe: ${this.reason(errno)}`);
    return moved;
  }
}

// Why the FFI spawner cannot run here (null: it can), and libc once open.
let state: { libc: Libc; poller: Poller } | string | undefined;

function open(): { libc: Libc; poller: Poller } | string {
  if (state !== undefined) return state;
  const why = libcUnavailable();
  if (why !== null) return state = why;
  const lib = openLibc(SYMBOLS);
  if (lib === null) {
    return state = `libc lacks what posix_spawn needs (glibc ${
      GLIBC_MIN.join(".")
    } or later)`;
  }
  try {
    const libc = new Libc(lib);
    const version = decoder.decode(
      libc.bytesAt(BigInt(lib.symbols.gnu_get_libc_version())),
    );
    const [major = 0, minor = 0] = version.split(".").map(Number);
    if (major < GLIBC_MIN[0] || (major === GLIBC_MIN[0] && minor < GLIBC_MIN[1])) {
      return state = `needs glibc ${GLIBC_MIN.join(".")} or later, this is ${version}`;
    }
    // pidfd_open came with Linux 5.3: try it on tend itself.
    const self = Number(
      lib.symbols.syscall(SYS_PIDFD_OPEN, BigInt(lib.symbols.getpid()), 0n),
    );
    if (self < 0) {
      return state = `pidfd_open fails: ${
        libc.reason(libc.errno())
      } (Linux 5.3 or later)`;
    }
    lib.symbols.close(self);
    return state = { libc, poller: new Poller(libc) };
  } catch (error) {
    return state = `cannot set up posix_spawn: ${
      error instanceof Error ? error.message : error
    }`;
  }
}

/**
 * Why the FFI spawner cannot be used here (no `--allow-ffi`, not Linux on
 * x86_64, a libc older than glibc 2.29 or not glibc, a kernel without
 * `pidfd_open`), or `null` when it can. Asks without prompting.
 */
export function ffiSpawnerUnavailable(): string | null {
  const opened = open();
  return typeof opened === "string" ? opened : null;
}

// ---------------------------------------------------------------------------
// Exit statuses.

/**
 * Decodes a wait status (`WIFEXITED`, `WEXITSTATUS`, `WTERMSIG`) as tend
 * reports a `Deno.Command` child's: a code, a signal's name, or for a
 * signal Deno cannot name (the real-time ones) 128+N, as a shell shows it.
 */
export function decodeWaitStatus(status: number): ExitStatus {
  const signo = status & 0x7f;
  if (signo === 0) return { code: (status >> 8) & 0xff, signal: null };
  // (0x7f would be a stopped child, which waitpid without WUNTRACED never
  // reports; the core-dump bit 0x80 is left out.)
  const name = signalName(signo);
  return name === undefined
    ? { code: 128 + signo, signal: null }
    : { code: null, signal: name as SignalName };
}

// ---------------------------------------------------------------------------
// The epoll set: every pipe and pidfd of every FFI child, one wait at a time.

interface StreamEntry {
  kind: "stream";
  fd: number;
  pump: Pump;
  max: bigint;
  // In the kernel's set (not held back by the log).
  armed: boolean;
}

interface ExitEntry {
  kind: "exit";
  fd: number;
  pid: number;
  armed: boolean;
  resolve: (status: ExitStatus) => void;
  reject: (error: Error) => void;
}

type Entry = StreamEntry | ExitEntry;

// Events one wait returns at most; more ready ones come with the next.
const MAX_EVENTS = 128;
// The largest read; the buffer is shared by every stream.
const READ_BUFFER = 65536;
// Token 0 is the eventfd that wakes the wait.
const WAKE = 0n;

class Poller {
  #libc: Libc;
  #epfd: number;
  #wakefd: number;
  #entries = new Map<bigint, Entry>();
  #byPid = new Map<number, bigint>();
  #nextToken = 1n;
  // Entries in the kernel's set (the eventfd not counted).
  #armed = 0;
  // The loop runs; #inKernel: an epoll_pwait is out on the blocking pool.
  #running = false;
  #inKernel = false;
  #events = alloc(MAX_EVENTS * SIZEOF_EPOLL_EVENT);
  #eventsView = new DataView(this.#events.buffer);
  #buffer = alloc(READ_BUFFER);
  #ctl = alloc(SIZEOF_EPOLL_EVENT);
  #ctlView = new DataView(this.#ctl.buffer);
  #status = new Int32Array(new ArrayBuffer(4));
  #statusBytes = new Uint8Array(this.#status.buffer);
  #eight = alloc(8);

  constructor(libc: Libc) {
    this.#libc = libc;
    const s = libc.s;
    this.#epfd = s.epoll_create1(EPOLL_CLOEXEC);
    if (this.#epfd < 0) throw new Error(`epoll_create1: ${libc.reason(libc.errno())}`);
    this.#wakefd = s.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (this.#wakefd < 0) throw new Error(`eventfd: ${libc.reason(libc.errno())}`);
    if (!this.#add(this.#wakefd, WAKE)) {
      throw new Error(`epoll_ctl: ${libc.reason(libc.errno())}`);
    }
  }

  /** Reads `fd` (non-blocking, a pipe's read end) into `pump` until its end. */
  watchStream(fd: number, pump: Pump, max: number): void {
    const token = this.#nextToken++;
    const entry: StreamEntry = {
      kind: "stream",
      fd,
      pump,
      max: BigInt(Math.min(max, READ_BUFFER)),
      armed: false,
    };
    this.#entries.set(token, entry);
    // A cancel closes the pipe (and so takes it out of the set).
    pump.onCancel(() => this.#end(token, entry));
    this.#arm(token, entry);
  }

  /** Resolves with `pid`'s exit status once its pidfd says it exited. */
  watchExit(pid: number, pidfd: number): Promise<ExitStatus> {
    return new Promise((resolve, reject) => {
      const token = this.#nextToken++;
      const entry: ExitEntry = {
        kind: "exit",
        fd: pidfd,
        pid,
        armed: false,
        resolve,
        reject,
      };
      this.#entries.set(token, entry);
      this.#byPid.set(pid, token);
      this.#arm(token, entry);
    });
  }

  /**
   * Reaps `pid` now if it has exited (its status then settles on a later
   * turn); whether it has. For {@linkcode Started.exited}.
   */
  reapNow(pid: number): boolean {
    const token = this.#byPid.get(pid);
    if (token === undefined) return true; // reaped already
    const entry = this.#entries.get(token) as ExitEntry;
    return this.#reap(token, entry);
  }

  #add(fd: number, token: bigint): boolean {
    this.#ctlView.setUint32(0, EPOLLIN, true);
    this.#ctlView.setBigUint64(4, token, true);
    return this.#libc.s.epoll_ctl(this.#epfd, EPOLL_CTL_ADD, fd, this.#ctl) === 0;
  }

  #arm(token: bigint, entry: Entry): void {
    if (entry.armed) return;
    if (!this.#add(entry.fd, token)) {
      // Cannot happen with a live fd of ours (ENOMEM aside): say so loudly,
      // as a lost status would be.
      throw new Error(
        `epoll_ctl(ADD, ${entry.fd}): ${this.#libc.reason(this.#libc.errno())}`,
      );
    }
    entry.armed = true;
    this.#armed++;
    if (!this.#running) void this.#run();
  }

  // Takes an entry out of the kernel's set (closing its fd does that too).
  #disarm(entry: Entry, close: boolean): void {
    const s = this.#libc.s;
    if (close) s.close(entry.fd);
    else if (entry.armed) s.epoll_ctl(this.#epfd, EPOLL_CTL_DEL, entry.fd, this.#ctl);
    if (!entry.armed) return;
    entry.armed = false;
    this.#armed--;
    // Nothing left to wait for, and a wait is out: wake it, so that it does
    // not keep Deno's event loop alive for nothing.
    if (this.#armed === 0 && this.#inKernel) {
      new DataView(this.#eight.buffer).setBigUint64(0, 1n, true);
      s.write(this.#wakefd, this.#eight, 8n);
    }
  }

  async #run(): Promise<void> {
    this.#running = true;
    const s = this.#libc.s;
    let failures = 0;
    try {
      while (this.#armed > 0) {
        this.#inKernel = true;
        // Every signal blocked during the wait: none interrupts it (EINTR),
        // and none is handled on this pool thread meanwhile.
        const n = await s.epoll_pwait(
          this.#epfd,
          this.#events,
          MAX_EVENTS,
          -1,
          this.#libc.allSignals,
        );
        this.#inKernel = false;
        if (n < 0) {
          // errno is the pool thread's, out of reach; with every signal
          // blocked nothing but a bug (a closed epoll fd) makes it fail.
          if (++failures > 100) throw new Error("epoll_pwait keeps failing");
          continue;
        }
        failures = 0;
        for (let i = 0; i < n; i++) {
          const token = this.#eventsView.getBigUint64(i * SIZEOF_EPOLL_EVENT + 4, true);
          if (token === WAKE) {
            s.read(this.#wakefd, this.#eight, 8n);
            continue;
          }
          const entry = this.#entries.get(token);
          // Gone meanwhile (reaped by reapNow, ended): a stale event.
          if (entry === undefined || !entry.armed) continue;
          if (entry.kind === "stream") this.#readOnce(token, entry);
          else this.#reap(token, entry);
        }
      }
    } finally {
      this.#inKernel = false;
      this.#running = false;
    }
  }

  // One read of a ready pipe: the chunk goes to the pump at once.
  #readOnce(token: bigint, entry: StreamEntry): void {
    const s = this.#libc.s;
    const n = Number(s.read(entry.fd, this.#buffer, entry.max));
    if (n < 0) {
      const errno = this.#libc.errno();
      if (errno === EAGAIN || errno === EINTR) return; // nothing after all
      this.#end(token, entry); // a read error ends the stream like end of file
      return;
    }
    if (n === 0) {
      this.#end(token, entry);
      return;
    }
    let wait: Promise<void> | undefined;
    try {
      wait = entry.pump.write(this.#buffer.subarray(0, n));
    } catch {
      this.#end(token, entry);
      return;
    }
    if (wait === undefined) return;
    // The log holds the stream back: out of the set until it takes more.
    this.#disarm(entry, false);
    wait.then(
      () => {
        if (this.#entries.get(token) === entry) this.#arm(token, entry);
      },
      () => this.#end(token, entry),
    );
  }

  #end(token: bigint, entry: StreamEntry): void {
    if (this.#entries.get(token) !== entry) return;
    this.#entries.delete(token);
    this.#disarm(entry, true);
    entry.pump.finish();
  }

  // waitpid(pid, WNOHANG) for an exited child: whether it was reaped.
  #reap(token: bigint, entry: ExitEntry): boolean {
    const { pid } = entry;
    // Only a child tend adopted, which nothing has reaped yet: never one of
    // Deno's (pids.ts).
    if (!ownPids.reapsItself(pid)) {
      throw new Error(`ffi_spawner: pid ${pid} is not tend's to reap`);
    }
    const s = this.#libc.s;
    let r = -1;
    let errno = 0;
    for (let i = 0; i < 8; i++) {
      r = s.waitpid(pid, this.#statusBytes, WNOHANG);
      if (r !== -1) break;
      errno = this.#libc.errno();
      if (errno !== EINTR) break;
    }
    if (r === 0) return false; // still running
    // Reaped (or lost): from here on the kernel may hand the pid to anyone,
    // so it leaves the registry in this same turn.
    ownPids.reaped(pid);
    this.#entries.delete(token);
    this.#byPid.delete(pid);
    this.#disarm(entry, true);
    if (r === pid) entry.resolve(decodeWaitStatus(this.#status[0]!));
    else {
      // ECHILD: something else waited for any child (waitpid(-1)) or set
      // SIGCHLD to SIG_IGN; the status is gone. As with a status Deno loses,
      // this is tend's internal error.
      entry.reject(
        new Error(
          `waitpid(${pid}): ${this.#libc.reason(errno)}: its exit status is lost`,
        ),
      );
    }
    return true;
  }
}

// ---------------------------------------------------------------------------
// The spawn.

// Joins and tidies a path as Deno does for a program relative to its cwd:
// "." and empty segments go, ".." takes the one before.
function joinPath(base: string, path: string): string {
  const parts: string[] = [];
  for (const part of `${base}/${path}`.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") parts.pop();
    else parts.push(part);
  }
  return `/${parts.join("/")}`;
}

function hasNul(text: string): boolean {
  return text.includes("\0");
}

// Bytes as a string of the same length (one char per byte): a map key for
// an environment variable's name, whatever its encoding.
function byteKey(bytes: Uint8Array, end: number): string {
  let key = "";
  for (let i = 0; i < end; i++) key += String.fromCharCode(bytes[i]!);
  return key;
}

// Where `=` ends an entry's name (a leading `=` belongs to the name, as
// Rust's std reads the environment), or -1.
function nameEnd(entry: Uint8Array): number {
  return entry.indexOf(0x3d, 1);
}

/** The child's environment, and the PATH its program is looked up in. */
function childEnvironment(
  libc: Libc,
  request: SpawnRequest,
): { entries: Uint8Array[] | null; path: string | undefined } {
  const extra = Object.entries(request.env ?? {});
  const parentPath = () => {
    for (const entry of libc.environ()) {
      if (nameEnd(entry) === 4 && byteKey(entry, 4) === "PATH") {
        return decoder.decode(entry.subarray(5));
      }
    }
    return undefined;
  };
  if (extra.length === 0 && !request.clearEnv) {
    // Nothing changes: the child gets tend's own environ, uncopied.
    return { entries: null, path: parentPath() };
  }
  const merged = new Map<string, Uint8Array>();
  if (!request.clearEnv) {
    for (const entry of libc.environ()) {
      const end = nameEnd(entry);
      if (end > 0) merged.set(byteKey(entry, end), entry);
    }
  }
  for (const [name, value] of extra) {
    const bytes = encoder.encode(`${name}=${value}`);
    merged.set(byteKey(bytes, nameEnd(bytes)), bytes);
  }
  const own = merged.get("PATH");
  // A child without a PATH of its own has its program looked up in tend's,
  // as Deno.Command does.
  const path = own === undefined ? parentPath() : decoder.decode(own.subarray(5));
  return { entries: [...merged.values()], path };
}

// A NULL-terminated char *[] over one block of NUL-terminated strings; the
// block must stay referenced until the call returns.
function cArray(
  libc: Libc,
  items: Uint8Array[],
): { block: Uint8Array; ptrs: BigUint64Array<ArrayBuffer> } {
  let size = 0;
  for (const item of items) size += item.length + 1;
  const block = alloc(Math.max(size, 1));
  const ptrs = new BigUint64Array(new ArrayBuffer((items.length + 1) * 8));
  const base = libc.address(block);
  let at = 0;
  items.forEach((item, i) => {
    block.set(item, at);
    ptrs[i] = base + BigInt(at);
    at += item.length + 1;
  });
  ptrs[items.length] = 0n;
  return { block, ptrs };
}

// The program to exec, as Deno.Command finds it.
function resolveProgram(
  libc: Libc,
  program: string,
  path: string | undefined,
  cwd: () => string,
): string {
  if (program.includes("/")) {
    return program.startsWith("/") ? program : joinPath(cwd(), program);
  }
  let here: string | undefined;
  for (const dir of (path ?? "").split(":")) {
    // An empty entry does not mean the working directory (Deno's lookup
    // skips it); a relative one is taken from tend's working directory,
    // as Deno takes it.
    if (dir === "") continue;
    const absolute = dir.startsWith("/") ? dir : joinPath(here ??= libc.cwd(), dir);
    const candidate = joinPath(absolute, program);
    if (libc.isExecutable(candidate)) return candidate;
  }
  throw new SpawnError(`Failed to spawn '${program}': ${libc.reason(ENOENT)}`);
}

// posix_spawn reports a failed chdir and a failed exec alike; tell them
// apart the way Deno's messages do.
function spawnFailure(
  libc: Libc,
  program: string,
  errno: number,
  cwd: string | undefined,
): SpawnError {
  if (
    cwd !== undefined && (errno === ENOENT || errno === ENOTDIR || errno === EACCES)
  ) {
    const type = libc.fileType(cwd);
    if (type === null) {
      return new SpawnError(`Failed to spawn '${program}': No such cwd '${cwd}'`);
    }
    if (type !== S_IFDIR) {
      return new SpawnError(
        `Failed to spawn '${program}': cwd is not a directory '${cwd}'`,
      );
    }
  }
  return new SpawnError(`Failed to spawn '${program}': ${libc.reason(errno)}`);
}

function ffiLaunch(
  libc: Libc,
  poller: Poller,
  request: SpawnRequest,
  stdout: Pump,
  stderr: Pump,
  readSize: number,
): Started {
  const s = libc.s;
  const [program, ...args] = request.argv as [string, ...string[]];
  if (hasNul(program)) {
    throw new SpawnError(
      `Failed to spawn '${program}': nul byte found in provided data`,
    );
  }
  const { entries, path } = childEnvironment(libc, request);
  const cwd = request.cwd;
  // The child's working directory, absolute: only worked out when needed
  // (a program named relative to it, or to tell a bad cwd from a bad
  // program), since it costs a getcwd.
  const absoluteCwd = () =>
    cwd?.startsWith("/") ? cwd : joinPath(libc.cwd(), cwd ?? ".");
  const resolved = resolveProgram(libc, program, path, absoluteCwd);
  if (args.some(hasNul) || Object.entries(request.env ?? {}).flat().some(hasNul)) {
    throw new SpawnError(
      `Failed to spawn '${resolved}': nul byte found in provided data`,
    );
  }
  // Deno.Command gives the child the resolved path as argv[0]; so does this,
  // so that `ps` shows the same either way.
  const file = cBytes(encoder.encode(resolved));
  const argv = cArray(libc, [resolved, ...args].map((arg) => encoder.encode(arg)));
  const envp = entries === null ? null : cArray(libc, entries);
  // Relative to tend's working directory at the spawn, as Deno takes it.
  const dir = cwd === undefined ? null : cBytes(encoder.encode(cwd));

  const [outRead, outWrite] = libc.pipe();
  const fds = [outRead, outWrite];
  const actions = alloc(SIZEOF_POSIX_SPAWN_FILE_ACTIONS_T);
  let actionsLive = false;
  let pid = 0;
  try {
    const [errRead, errWrite] = libc.pipe();
    fds.push(errRead, errWrite);
    if (s.posix_spawn_file_actions_init(actions) !== 0) {
      throw new SpawnError(
        `Failed to spawn '${resolved}': ${libc.reason(libc.errno())}`,
      );
    }
    actionsLive = true;
    // dup2 clears close-on-exec on the copy; every other fd of tend's is
    // close-on-exec, the pipes' own ends too, so the child keeps 0, 1, 2
    // alone. The pipes are above 2 (Libc.pipe), so no action clobbers
    // another's fd.
    const ok = s.posix_spawn_file_actions_adddup2(actions, outWrite, 1) === 0 &&
      s.posix_spawn_file_actions_adddup2(actions, errWrite, 2) === 0 &&
      s.posix_spawn_file_actions_addopen(actions, 0, libc.devNull, O_RDONLY, 0) === 0 &&
      (dir === null || s.posix_spawn_file_actions_addchdir_np(actions, dir) === 0);
    if (!ok) {
      throw new SpawnError(
        `Failed to spawn '${resolved}': ${libc.reason(libc.errno())}`,
      );
    }
    const pidBuffer = new Int32Array(new ArrayBuffer(4));
    const envAddress = envp === null
      ? libc.environAddress()
      : libc.address(new Uint8Array(envp.ptrs.buffer));
    // Returns once the child has exec'ed or failed to: the vfork child
    // reports a failed chdir, open or exec back as the return value (and
    // glibc reaps a child that failed).
    let rc = s.posix_spawn(
      new Uint8Array(pidBuffer.buffer),
      file,
      actions,
      libc.attr,
      libc.address(new Uint8Array(argv.ptrs.buffer)),
      envAddress,
    );
    if (rc === ENOEXEC) {
      // A script without "#!": Deno.Command execs with execvp, which runs
      // such a file with /bin/sh (glibc's posix_spawn no longer does), so
      // this does too, as execvp builds it: /bin/sh FILE ARGS...
      const shell = cArray(
        libc,
        [SHELL, resolved, ...args].map((a) => encoder.encode(a)),
      );
      rc = s.posix_spawn(
        new Uint8Array(pidBuffer.buffer),
        cBytes(encoder.encode(SHELL)),
        actions,
        libc.attr,
        libc.address(new Uint8Array(shell.ptrs.buffer)),
        envAddress,
      );
      void shell;
      if (rc !== 0) rc = ENOEXEC; // the script's failure, not the shell's
    }
    if (rc !== 0) throw spawnFailure(libc, resolved, rc, cwd);
    pid = pidBuffer[0]!;
    // In the same turn as the spawn: the PID-1 reaper must never take it.
    ownPids.adopt(pid);
    // tend's copies of the write ends must go, or end of file never comes.
    s.close(outWrite);
    s.close(errWrite);
    fds.length = 0;
    fds.push(outRead, errRead);
  } catch (error) {
    for (const fd of fds) s.close(fd);
    throw error;
  } finally {
    if (actionsLive) s.posix_spawn_file_actions_destroy(actions);
    // Referenced until here: the vfork child read them.
    void [file, argv, envp, dir];
  }
  const errRead = fds[1]!;
  const pidfd = Number(s.syscall(SYS_PIDFD_OPEN, BigInt(pid), 0n));
  if (pidfd < 0) {
    // Out of file descriptors, most likely: a child whose exit tend could
    // not see must not live on.
    const errno = libc.errno();
    s.kill(-pid, SIGKILL);
    s.waitpid(pid, new Uint8Array(4), 0);
    ownPids.reaped(pid);
    s.close(outRead);
    s.close(errRead);
    throw new SpawnError(`Failed to spawn '${resolved}': ${libc.reason(errno)}`);
  }
  // Non-blocking on tend's side only: the child's write end is another
  // open file description, so the child still writes as to any pipe.
  s.fcntl(outRead, F_SETFL, O_NONBLOCK);
  s.fcntl(errRead, F_SETFL, O_NONBLOCK);
  poller.watchStream(outRead, stdout, readSize);
  poller.watchStream(errRead, stderr, readSize);
  const status = poller.watchExit(pid, pidfd);
  const leader = pid;
  return { pid, status, exited: () => poller.reapNow(leader) };
}

/** Tuning for {@linkcode FfiSpawner}. */
export type FfiSpawnerOptions = SpawnerOptions;

/**
 * Starts children with `posix_spawn` over FFI (see the module doc), each
 * the leader of its own session and process group, stdin from
 * `/dev/null`, stdout and stderr piped. A request with a uid or gid goes
 * to `Deno.Command`, as DenoSpawner starts it: `posix_spawn` cannot
 * change credentials.
 *
 * @example
 * ```ts ignore
 * import { ffiSpawnerUnavailable, FfiSpawner } from "./ffi_spawner.ts";
 * const spawner = ffiSpawnerUnavailable() === null ? new FfiSpawner() : new DenoSpawner();
 * ```
 */
export class FfiSpawner extends SpawnerBase {
  #libc: Libc;
  #poller: Poller;
  #peek: boolean;

  /**
   * Builds a spawner.
   *
   * @throws {Error} when it cannot run here (see {@linkcode ffiSpawnerUnavailable})
   */
  constructor(options: FfiSpawnerOptions = {}) {
    super(options);
    const opened = open();
    if (typeof opened === "string") {
      throw new Error(`the FFI spawner cannot run: ${opened}`);
    }
    this.#libc = opened.libc;
    this.#poller = opened.poller;
    this.#peek = canPeekExits();
  }

  /** Starts `request` with `posix_spawn`; see {@linkcode SpawnerBase.launch}. */
  protected launch(request: SpawnRequest, stdout: Pump, stderr: Pump): Started {
    if (request.uid !== undefined || request.gid !== undefined) {
      return commandLaunch(request, stdout, stderr, this.readSize, this.#peek);
    }
    return ffiLaunch(this.#libc, this.#poller, request, stdout, stderr, this.readSize);
  }
}
