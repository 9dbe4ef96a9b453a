/**
 * The sd_notify protocol, both ways, through libc (`--allow-ffi` only):
 *
 * - {@linkcode Notifier} sends tend's own state to the service manager
 *   (`NOTIFY_SOCKET` set by systemd for `Type=notify`);
 * - {@linkcode NotifySockets} and {@linkcode NotifyListener} receive the
 *   state of a child given its own `NOTIFY_SOCKET` (the `notify` readiness
 *   probe).
 *
 * **Why FFI and not `Deno.listenDatagram`.** Deno 2.9's unix datagram
 * sockets (`transport: "unixpacket"`) are still unstable (`--unstable-net`);
 * sending to a path needs `--allow-write` and `--allow-net` for that path,
 * and to an abstract address (`@name`, common under systemd) an unscoped
 * `--allow-net`. When the receiver's queue is full its `send()` retries in
 * a busy loop (measured: 920 ms of CPU in a second) and never gives up.
 * `RELOADING=1` wants `MONOTONIC_USEC` on CLOCK_MONOTONIC, which Deno has no
 * clock for. And on the receiving side only `recvmsg` with `SO_PASSCRED`
 * tells which process sent a datagram. Through libc all of that is a few
 * calls, needing only the `--allow-ffi` the reaper needs anyway; a send
 * waits with a bounded back-off and never spins.
 *
 * **Receiving without blocking the event loop.** Sockets are non-blocking.
 * One shared poller waits in `poll(2)`, declared `nonblocking: true` (Deno
 * runs it on a worker thread and returns a promise); an eventfd wakes it
 * when sockets come or go, and datagrams are read on the JavaScript thread.
 * The poller runs only while a socket is open.
 *
 * @module
 */

import { cString, ERRNO_SYMBOLS, errnoOf, openLibc } from "./libc.ts";

// Linux x86_64 constants.
const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const MSG_DONTWAIT = 0x40;
const MSG_NOSIGNAL = 0x4000;
const MSG_TRUNC = 0x20;
const MSG_CMSG_CLOEXEC = 0x40000000;
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const SO_PASSCRED = 16;
const SCM_RIGHTS = 1;
const SCM_CREDENTIALS = 2;
const EINTR = 4;
const EAGAIN = 11;
const ENOENT = 2;
const POLLIN = 1;
const POLLNVAL = 0x20;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;
const CLOCK_MONOTONIC = 1;

/** systemd ignores a notify datagram longer than this (NOTIFY_BUFFER_MAX). */
export const NOTIFY_MAX_BYTES = 4096;

// struct sockaddr_un (110 bytes): sun_family u16 @0, sun_path[108] @2.
const SOCKADDR_UN_SIZE = 110;
const SUN_PATH_MAX = 108;
// struct msghdr (56 bytes): msg_name @0, msg_namelen u32 @8, msg_iov @16,
// msg_iovlen u64 @24, msg_control @32, msg_controllen u64 @40, msg_flags
// i32 @48. struct iovec: base @0, len @8. struct cmsghdr: cmsg_len u64 @0,
// level i32 @8, type i32 @12, data @16, the next at align8(cmsg_len).
// struct ucred {pid, uid, gid}: CMSG_SPACE 32. struct pollfd: fd i32 @0,
// events i16 @4, revents i16 @6. struct timespec: sec i64 @0, nsec i64 @8.
const MSGHDR_SIZE = 56;
// Credentials, and room for up to SCM_MAX_FD (253) descriptors, which are
// closed at once (systemd-notify's BARRIER=1 waits for that).
const CONTROL_SIZE = 32 + 1032;

const SYMBOLS = {
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  sendto: {
    parameters: ["i32", "buffer", "usize", "i32", "buffer", "u32"],
    result: "isize",
  },
  recvmsg: { parameters: ["i32", "buffer", "i32"], result: "isize" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  unlink: { parameters: ["buffer"], result: "i32" },
  chmod: { parameters: ["buffer", "u32"], result: "i32" },
  chown: { parameters: ["buffer", "u32", "u32"], result: "i32" },
  mkdtemp: { parameters: ["buffer"], result: "pointer" },
  rmdir: { parameters: ["buffer"], result: "i32" },
  getpgid: { parameters: ["i32"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  ...ERRNO_SYMBOLS,
  // On a worker thread; returns a promise.
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32", nonblocking: true },
} as const;

type Libc = Deno.DynamicLibrary<typeof SYMBOLS>;

let opened: Libc | null | undefined;

/** libc, opened once; throws when it cannot be had (see `notifyUnavailable`). */
function lib(): Libc {
  if (opened === undefined) opened = openLibc(SYMBOLS);
  if (opened === null) throw new Error("sd_notify needs --allow-ffi");
  return opened;
}

function errno(): number {
  return errnoOf(lib());
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function addressOf(buffer: Uint8Array<ArrayBuffer>): bigint {
  return BigInt(Deno.UnsafePointer.value(Deno.UnsafePointer.of(buffer)));
}

function setIntOption(fd: number, option: number, value: number): void {
  const v = new Int32Array([value]);
  lib().symbols.setsockopt(fd, SOL_SOCKET, option, new Uint8Array(v.buffer), 4);
}

/** A `struct sockaddr_un` and the length to pass with it. */
export interface SockaddrUn {
  /** The 110 bytes of the struct. */
  buffer: Uint8Array<ArrayBuffer>;
  /** The address length: every byte counts for an abstract name. */
  length: number;
}

/**
 * Encodes a `NOTIFY_SOCKET` address as libsystemd reads it: `/absolute/path`
 * (length with the NUL, as systemd passes it) or `@abstract` (the `@` is
 * the leading NUL; the length is exact, with no NUL after).
 *
 * @throws {RangeError} for a relative path, `vsock:` (systemd 253 and
 * later) or an address too long for `sun_path`
 */
export function encodeSockaddrUn(address: string): SockaddrUn {
  const buffer = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(buffer.buffer).setUint16(0, AF_UNIX, true);
  if (address.startsWith("@")) {
    const name = encoder.encode(address.slice(1));
    if (name.length === 0 || name.length + 1 > SUN_PATH_MAX) {
      throw new RangeError(`bad abstract socket name "${address}"`);
    }
    buffer.set(name, 3);
    return { buffer, length: 2 + 1 + name.length };
  }
  if (address.startsWith("/")) {
    const path = encoder.encode(address);
    if (path.length + 1 > SUN_PATH_MAX) {
      throw new RangeError(`socket path too long: "${address}"`);
    }
    buffer.set(path, 2);
    return { buffer, length: 2 + path.length + 1 };
  }
  throw new RangeError(
    `unsupported NOTIFY_SOCKET "${address}": tend takes an absolute path or @name`,
  );
}

/** CLOCK_MONOTONIC in microseconds, as `MONOTONIC_USEC=` wants it. */
export function monotonicUsec(): bigint {
  const ts = new BigInt64Array(2);
  if (lib().symbols.clock_gettime(CLOCK_MONOTONIC, new Uint8Array(ts.buffer)) !== 0) {
    throw new Error(`clock_gettime failed (errno ${errno()})`);
  }
  return (ts[0] ?? 0n) * 1_000_000n + (ts[1] ?? 0n) / 1000n;
}

/** The sd_notify variables tend was started with, taken out of its environment. */
export interface NotifyEnvironment {
  /** `NOTIFY_SOCKET`, or null when unset or empty. */
  socket: string | null;
  /**
   * `WATCHDOG_USEC` when it is meant for tend (`WATCHDOG_PID` unset or
   * tend's pid) and not 0, else null.
   */
  watchdogUsec: bigint | null;
  /** The variables tend had no permission to read (nor to remove). */
  unreadable: string[];
}

const NOTIFY_VARIABLES = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] as const;

/**
 * Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` and removes
 * them from tend's environment, so that its children, which inherit it, do
 * not talk to systemd in tend's name (what `sd_notify`'s
 * `unset_environment` does). Needs `--allow-env` for the three; it asks
 * without prompting, and a variable it may not read is reported instead.
 */
export function takeNotifyEnvironment(): NotifyEnvironment {
  const values: Partial<Record<(typeof NOTIFY_VARIABLES)[number], string>> = {};
  const unreadable: string[] = [];
  for (const name of NOTIFY_VARIABLES) {
    if (
      Deno.permissions.querySync({ name: "env", variable: name }).state !== "granted"
    ) {
      unreadable.push(name);
      continue;
    }
    const value = Deno.env.get(name);
    if (value === undefined) continue;
    values[name] = value;
    Deno.env.delete(name);
  }
  const socket = values.NOTIFY_SOCKET === "" ? undefined : values.NOTIFY_SOCKET;
  return {
    socket: socket ?? null,
    watchdogUsec: watchdogUsec(values.WATCHDOG_USEC, values.WATCHDOG_PID, Deno.pid),
    unreadable,
  };
}

/**
 * `WATCHDOG_USEC` as a number when it is set, not 0, and meant for `pid`
 * (`WATCHDOG_PID` unset or equal), else null (sd_watchdog_enabled(3)).
 */
export function watchdogUsec(
  usec: string | undefined,
  forPid: string | undefined,
  pid: number,
): bigint | null {
  if (usec === undefined || !/^\d+$/.test(usec) || BigInt(usec) === 0n) return null;
  if (forPid !== undefined && forPid !== "" && Number(forPid) !== pid) return null;
  return BigInt(usec);
}

/** One line for `STATUS=`: a newline would start another field. */
export function oneLine(text: string): string {
  return text.replace(/[\r\n]+/g, " ");
}

/** How long a send waits, in all, while the receiver's queue is full. */
const SEND_TIMEOUT_MS = 2000;

/**
 * Sends notify datagrams to one address, in order, from one unbound
 * non-blocking socket.
 *
 * @example
 * ```ts ignore
 * const notifier = new Notifier("/run/systemd/notify");
 * await notifier.send("READY=1\nSTATUS=3 running");
 * notifier.close();
 * ```
 */
export class Notifier {
  /** The address, as `NOTIFY_SOCKET` gave it. */
  readonly address: string;
  #address: SockaddrUn;
  #fd: number;
  #queue: Promise<void> = Promise.resolve();

  /**
   * Opens the socket (`--allow-ffi`).
   *
   * @throws {RangeError} for an address tend cannot use
   * @throws {Error} when the socket cannot be made, or without libc
   */
  constructor(address: string) {
    this.address = address;
    this.#address = encodeSockaddrUn(address);
    const fd = lib().symbols.socket(
      AF_UNIX,
      SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
      0,
    );
    if (fd < 0) throw new Error(`socket() failed (errno ${errno()})`);
    this.#fd = fd;
    setIntOption(fd, SO_SNDBUF, 1 << 20);
  }

  /**
   * Sends one datagram after every earlier one. While the receiver's queue
   * is full (`net.unix.max_dgram_qlen`) it tries again after 1, 2, 4 ... 32
   * ms, for 2 s at most, then rejects.
   *
   * @throws {RangeError} for a message longer than {@linkcode NOTIFY_MAX_BYTES}
   */
  send(message: string): Promise<void> {
    const data = encoder.encode(message);
    if (data.length > NOTIFY_MAX_BYTES) {
      return Promise.reject(
        new RangeError(`notify message of ${data.length} bytes > ${NOTIFY_MAX_BYTES}`),
      );
    }
    const sent = this.#queue.then(() => this.#send(data));
    this.#queue = sent.catch(() => {});
    return sent;
  }

  /** Resolves once every message sent so far was sent or given up. */
  flush(): Promise<void> {
    return this.#queue;
  }

  /** Closes the socket; later sends reject. */
  close(): void {
    if (this.#fd >= 0) lib().symbols.close(this.#fd);
    this.#fd = -1;
  }

  async #send(data: Uint8Array<ArrayBuffer>): Promise<void> {
    const deadline = performance.now() + SEND_TIMEOUT_MS;
    for (let wait = 1; !this.#trySend(data); wait = Math.min(wait * 2, 32)) {
      if (performance.now() >= deadline) {
        throw new Error(`${this.address}: the receiver's queue stayed full`);
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }

  // One sendto; false when the receiver's queue is full.
  #trySend(data: Uint8Array<ArrayBuffer>): boolean {
    if (this.#fd < 0) throw new Error(`${this.address}: the notifier is closed`);
    for (let i = 0; i < 8; i++) {
      const n = Number(
        lib().symbols.sendto(
          this.#fd,
          data,
          BigInt(data.length),
          MSG_NOSIGNAL | MSG_DONTWAIT,
          this.#address.buffer,
          this.#address.length,
        ),
      );
      if (n === data.length) return true;
      const e = errno();
      if (n < 0 && e === EINTR) continue;
      if (n < 0 && e === EAGAIN) return false;
      throw new Error(`sendto ${this.address} failed (errno ${e})`);
    }
    return false;
  }
}

// ---- receiving: a socket per child ---------------------------------------

/** One datagram a child sent to its notify socket. */
export interface NotifyMessage {
  /** The sender's pid, as the kernel vouches for it (SCM_CREDENTIALS). */
  pid: number;
  /** The sender's uid. */
  uid: number;
  /** The sender's gid. */
  gid: number;
  /** Its `KEY=VALUE` lines; a later duplicate wins. */
  fields: ReadonlyMap<string, string>;
  /** Whether it says `READY=1`. */
  ready: boolean;
  /** Its `STATUS=`, if any. */
  status: string | null;
  /**
   * How the sender relates to {@linkcode NotifyListener.group}: `"group"`
   * a member, `"gone"` it exited before tend could look (its message is
   * taken: the socket is the child's alone), `"unchecked"` no group set.
   * Messages from outside the group never arrive here.
   */
  sender: "group" | "gone" | "unchecked";
}

/** Parses `KEY=VALUE` lines; lines without `=` are ignored. */
export function parseNotify(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    if (eq > 0) fields.set(line.slice(0, eq), line.slice(eq + 1));
  }
  return fields;
}

// One poll(2) on a worker thread for every notify socket.
class Poller {
  #handlers = new Map<number, () => void>();
  #closeLater: number[] = [];
  #eventfd = -1;
  #running = false;
  wakeups = 0;

  add(fd: number, onReadable: () => void): void {
    if (!this.#running) {
      const L = lib().symbols;
      this.#eventfd = L.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      if (this.#eventfd < 0) throw new Error(`eventfd() failed (errno ${errno()})`);
      this.#handlers.set(fd, onReadable);
      this.#running = true;
      void this.#run();
    } else {
      this.#handlers.set(fd, onReadable);
      this.#wake();
    }
  }

  // The fd is closed once poll() no longer watches it, so a new socket
  // that reuses its number is never polled by mistake.
  removeAndClose(fd: number): void {
    this.#handlers.delete(fd);
    if (this.#running) {
      this.#closeLater.push(fd);
      this.#wake();
    } else {
      lib().symbols.close(fd);
    }
  }

  #wake(): void {
    const one = new BigUint64Array([1n]);
    lib().symbols.write(this.#eventfd, new Uint8Array(one.buffer), 8n);
  }

  async #run(): Promise<void> {
    const L = lib().symbols;
    const drain = new Uint8Array(8);
    try {
      while (this.#handlers.size > 0) {
        const fds = [this.#eventfd, ...this.#handlers.keys()];
        const pollfds = new Uint8Array(8 * fds.length);
        const view = new DataView(pollfds.buffer);
        fds.forEach((fd, i) => {
          view.setInt32(i * 8, fd, true);
          view.setInt16(i * 8 + 4, POLLIN, true);
        });
        // The timeout is only a safety net: the eventfd wakes it for changes.
        const r = await L.poll(pollfds, BigInt(fds.length), 5000);
        this.wakeups++;
        for (const fd of this.#closeLater.splice(0)) L.close(fd);
        if (r <= 0) continue; // a timeout, or EINTR
        for (let i = 0; i < fds.length; i++) {
          const revents = view.getInt16(i * 8 + 6, true);
          if (revents === 0) continue;
          const fd = fds[i]!;
          if (fd === this.#eventfd) L.read(fd, drain, 8n);
          else if ((revents & POLLNVAL) !== 0) this.#handlers.delete(fd);
          else this.#handlers.get(fd)?.();
        }
      }
    } finally {
      for (const fd of this.#closeLater.splice(0)) L.close(fd);
      L.close(this.#eventfd);
      this.#eventfd = -1;
      this.#running = false;
    }
  }
}

const poller = new Poller();

/** How many times the shared poller woke up (tests show it does not spin). */
export function pollerWakeups(): number {
  return poller.wakeups;
}

/** Options for {@linkcode NotifyListener}. */
export interface NotifyListenerOptions {
  /**
   * The process group whose members may send (the child's pid, once it is
   * spawned); null takes any sender. @default null
   */
  group?: number | null;
  /**
   * The user the child runs as, when not tend's: the socket file is given
   * to it (mode 0600), since sending needs write access to the socket.
   */
  owner?: { uid: number; gid: number };
  /** Called with each message dropped because its sender is outside the group. */
  onRejected?: (pid: number) => void;
}

/**
 * A child's notify socket: bound at `path`, with `SO_PASSCRED` so that each
 * datagram comes with its sender's pid, read without blocking the event
 * loop. Give the child `NOTIFY_SOCKET` set to {@linkcode path} (see
 * {@linkcode env}); set {@linkcode group} to the child's pid once it is
 * spawned. Datagrams from outside that process group are dropped; a
 * truncated one (longer than 4096 bytes) too, as systemd does.
 */
export class NotifyListener {
  /** The socket's path. */
  readonly path: string;
  /** The process group whose members may send; null takes any sender. */
  group: number | null;
  /** Messages handed to `onMessage`. */
  received = 0;
  /** Messages dropped (sender outside the group, or truncated). */
  rejected = 0;
  #fd: number;
  #closed = false;
  #onMessage: (message: NotifyMessage) => void;
  #onRejected: ((pid: number) => void) | undefined;
  #data = new Uint8Array(NOTIFY_MAX_BYTES + 1);
  #iov = new Uint8Array(16);
  #control = new Uint8Array(CONTROL_SIZE);
  #msg = new Uint8Array(MSGHDR_SIZE);

  /**
   * Binds `path` (absolute; a stale socket file there is removed first, so
   * use a directory of tend's own, as {@linkcode NotifySockets} makes).
   *
   * @throws {Error} when the socket cannot be bound, or without libc
   */
  constructor(
    path: string,
    onMessage: (message: NotifyMessage) => void,
    options: NotifyListenerOptions = {},
  ) {
    if (!path.startsWith("/")) throw new RangeError("a notify socket path is absolute");
    const L = lib().symbols;
    this.path = path;
    this.group = options.group ?? null;
    this.#onMessage = onMessage;
    this.#onRejected = options.onRejected;
    const address = encodeSockaddrUn(path);
    const fd = L.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) throw new Error(`socket() failed (errno ${errno()})`);
    const file = cString(path);
    const fail = (what: string) => {
      const e = errno();
      L.close(fd);
      return new Error(`${what} ${path} failed (errno ${e})`);
    };
    if (L.unlink(file) !== 0 && errno() !== ENOENT) throw fail("unlink");
    if (L.bind(fd, address.buffer, address.length) !== 0) throw fail("bind");
    if (options.owner !== undefined) {
      if (L.chown(file, options.owner.uid, options.owner.gid) !== 0) {
        throw fail("chown");
      }
    }
    // 0600 whatever tend's umask (0 is common as PID 1): only the child's
    // user may send, even when the folder is searchable for a user: child.
    if (L.chmod(file, 0o600) !== 0) throw fail("chmod");
    setIntOption(fd, SO_PASSCRED, 1);
    setIntOption(fd, SO_RCVBUF, 1 << 20);
    const iov = new DataView(this.#iov.buffer);
    iov.setBigUint64(0, addressOf(this.#data), true);
    iov.setBigUint64(8, BigInt(this.#data.length), true);
    this.#fd = fd;
    try {
      poller.add(fd, () => this.#drain());
    } catch (error) {
      L.close(fd);
      L.unlink(file);
      throw error;
    }
  }

  /** The environment to give the child. */
  get env(): { NOTIFY_SOCKET: string } {
    return { NOTIFY_SOCKET: this.path };
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Stops receiving, closes the socket and removes its file. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    poller.removeAndClose(this.#fd);
    lib().symbols.unlink(cString(this.path));
  }

  #drain(): void {
    const L = lib().symbols;
    const msg = new DataView(this.#msg.buffer);
    const control = new DataView(this.#control.buffer);
    // Bounded: poll() reports the rest.
    for (let i = 0; i < 1024 && !this.#closed; i++) {
      this.#msg.fill(0);
      msg.setBigUint64(16, addressOf(this.#iov), true);
      msg.setBigUint64(24, 1n, true);
      msg.setBigUint64(32, addressOf(this.#control), true);
      msg.setBigUint64(40, BigInt(this.#control.length), true);
      // MSG_CMSG_CLOEXEC: a descriptor received must not leak into a child
      // spawned before tend closes it.
      const n = Number(L.recvmsg(this.#fd, this.#msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC));
      if (n < 0) {
        if (errno() === EINTR) continue;
        return; // EAGAIN: drained
      }
      let pid = -1, uid = -1, gid = -1;
      const length = Math.min(Number(msg.getBigUint64(40, true)), this.#control.length);
      for (let at = 0, k = 0; at + 16 <= length && k < 64; k++) {
        const len = Number(control.getBigUint64(at, true));
        if (len < 16 || at + len > length) break;
        const level = control.getInt32(at + 8, true);
        const type = control.getInt32(at + 12, true);
        if (level === SOL_SOCKET && type === SCM_CREDENTIALS && len >= 28) {
          pid = control.getInt32(at + 16, true);
          uid = control.getUint32(at + 20, true);
          gid = control.getUint32(at + 24, true);
        } else if (level === SOL_SOCKET && type === SCM_RIGHTS) {
          // tend keeps no descriptors; closing them is what releases a
          // systemd-notify waiting on BARRIER=1.
          for (let p = at + 16; p + 4 <= at + len; p += 4) {
            L.close(control.getInt32(p, true));
          }
        }
        at += (len + 7) & ~7;
      }
      const truncated = (msg.getInt32(48, true) & MSG_TRUNC) !== 0 ||
        n >= this.#data.length;
      const sender = this.#check(pid);
      if (truncated || sender === "other") {
        this.rejected++;
        if (sender === "other") this.#onRejected?.(pid);
        continue;
      }
      const fields = parseNotify(decoder.decode(this.#data.subarray(0, n)));
      this.received++;
      this.#onMessage({
        pid,
        uid,
        gid,
        fields,
        ready: fields.get("READY") === "1",
        status: fields.get("STATUS") ?? null,
        sender,
      });
    }
  }

  // Whether the sender is a member of the group. A sender that has exited
  // (and been reaped) cannot be looked up; the socket is the child's alone
  // (a private directory), so its message is taken.
  #check(pid: number): "group" | "gone" | "unchecked" | "other" {
    if (this.group === null) return "unchecked";
    if (pid <= 0) return "other";
    const pgid = lib().symbols.getpgid(pid);
    if (pgid < 0) return "gone";
    return pgid === this.group ? "group" : "other";
  }
}

/**
 * A private directory (mode 0700, made with `mkdtemp`) for the children's
 * notify sockets, and the sockets in it.
 *
 * @example
 * ```ts ignore
 * const sockets = NotifySockets.create();
 * const listener = sockets.listen((m) => m.ready && markReady(m.status));
 * const child = spawn({ ...request, env: { ...request.env, ...listener.env } });
 * listener.group = child.pid;
 * // ... when the process is removed, or at shutdown:
 * listener.close();
 * sockets.close();
 * ```
 */
export class NotifySockets {
  /** The directory. */
  readonly path: string;
  #listeners = new Set<NotifyListener>();
  #next = 0;
  #closed = false;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Makes the directory in `base` (`--allow-ffi` only: libc makes it).
   *
   * @throws {Error} when it cannot be made, or without libc
   */
  static create(base = "/tmp"): NotifySockets {
    const template = cString(`${base.replace(/\/+$/, "")}/tend-notify-XXXXXX`);
    if (lib().symbols.mkdtemp(template) === null) {
      throw new Error(`cannot make a directory in ${base} (errno ${errno()})`);
    }
    return new NotifySockets(decoder.decode(template.subarray(0, -1)));
  }

  /**
   * A new socket in the directory; see {@linkcode NotifyListener}. A child
   * running as another user (`options.owner`) gets its socket file, and the
   * directory becomes searchable (0711, still not listable) so that it can
   * reach it.
   */
  listen(
    onMessage: (message: NotifyMessage) => void,
    options: NotifyListenerOptions = {},
  ): NotifyListener {
    if (this.#closed) throw new Error(`${this.path} is closed`);
    if (options.owner !== undefined) lib().symbols.chmod(cString(this.path), 0o711);
    // Forget the ones closed already, so a child restarted all day long
    // does not grow the set.
    for (const old of this.#listeners) if (old.closed) this.#listeners.delete(old);
    const listener = new NotifyListener(
      `${this.path}/${this.#next++}.sock`,
      onMessage,
      options,
    );
    this.#listeners.add(listener);
    return listener;
  }

  /** Closes every socket and removes the directory. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const listener of [...this.#listeners]) listener.close();
    lib().symbols.rmdir(cString(this.path));
  }
}
