/**
 * Opening a file for reading without blocking in `open(2)`, through libc:
 * what the config loader uses where it may (`--allow-ffi`, Linux on
 * x86_64), instead of `node:fs`.
 *
 * The loader refuses anything but a regular file by what `stat` says
 * before it opens the path, and checks the open file again after; the
 * open must not block meanwhile (a FIFO put in the file's place would
 * block a blocking open until something writes to it), so it is
 * `O_NONBLOCK` (and `O_NOCTTY`: a terminal put there must not become
 * tend's). Deno's own `Deno.open` takes no such flags, and `node:fs`,
 * which does, costs Deno its Node-compatibility layer: about 3.5 MB of
 * private memory here, for the one open at start.
 *
 * The open, the `fstat` (statx) and the reads run on Deno's blocking pool
 * (FFI calls marked `nonblocking`), as Deno's own file calls do, so that a
 * file on a dead network mount holds a pool thread, not tend (the loader
 * bounds the wait). The price: errno is that thread's, out of reach. So an
 * open that fails is tried again with `Deno.open`, which fails the same way
 * at once and says why in Deno's words (a path that could block does not
 * fail a non-blocking open); a read that fails says only that it failed.
 *
 * @module
 */

import { openLibc } from "./libc.ts";

const O_RDONLY = 0;
const O_NOCTTY = 0o400;
const O_NONBLOCK = 0o4000;
const O_CLOEXEC = 0o2000000;
const AT_EMPTY_PATH = 0x1000;
const STATX_BASIC_STATS = 0x7ff;
// struct statx (the same on every architecture): stx_mode u16 @28,
// stx_ino u64 @32, stx_size u64 @40, stx_dev_major u32 @136,
// stx_dev_minor u32 @140; 256 bytes.
const SIZEOF_STATX = 256;
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
// The most one read asks for.
const READ_CHUNK = 1 << 16;

const SYMBOLS = {
  // open is variadic (its mode); without O_CREAT two arguments do.
  open: { parameters: ["buffer", "i32"], result: "i32", nonblocking: true },
  statx: {
    parameters: ["i32", "buffer", "i32", "u32", "buffer"],
    result: "i32",
    nonblocking: true,
  },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
} as const;

type Lib = Deno.DynamicLibrary<typeof SYMBOLS>;

/** What an open file tells of itself (`fstat`). */
export interface OpenedStat {
  /** Whether it is a regular file. */
  isFile: boolean;
  /** Its device, encoded as `st_dev` is (glibc's `makedev`). */
  dev: bigint;
  /** Its inode. */
  ino: bigint;
  /** Its size in bytes. */
  size: bigint;
}

/** A file open for reading. */
export interface OpenedFile {
  /** What the open file is (not what the path names now). */
  stat(): Promise<OpenedStat>;
  /** Reads at most `length` bytes into `buffer` at `offset`; 0 at the end. */
  read(buffer: Uint8Array, offset: number, length: number): Promise<number>;
  /** Closes it. */
  close(): Promise<void>;
}

/** `st_dev` from a device's major and minor numbers, as glibc's `makedev`. */
export function makedev(major: bigint, minor: bigint): bigint {
  return ((major & 0xfffff000n) << 32n) | ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) | (minor & 0xffn);
}

let opened: Lib | null | undefined;

/**
 * An opener that opens without blocking (see the module doc), or `null`
 * where libc cannot be had (no `--allow-ffi`, not Linux on x86_64).
 */
export function nonBlockingOpener(): ((path: string) => Promise<OpenedFile>) | null {
  if (opened === undefined) opened = openLibc(SYMBOLS);
  const lib = opened;
  return lib === null ? null : (path) => openFile(lib, path);
}

// Memory a pool thread writes or reads while JavaScript goes on: over an
// ArrayBuffer of its own, off V8's heap, where the garbage collector never
// moves it.
function alloc(n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array(new ArrayBuffer(n));
}

async function openFile(lib: Lib, path: string): Promise<OpenedFile> {
  const encoded = new TextEncoder().encode(path);
  const name = alloc(encoded.length + 1);
  name.set(encoded);
  const fd = await lib.symbols.open(name, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
  if (fd < 0) {
    // Deno.open says why (and throws); should it open after all (the file
    // changed meanwhile), its file does as well, since it opened.
    return denoFile(await Deno.open(path, { read: true }));
  }
  let closed = false;
  return {
    async stat() {
      const buffer = alloc(SIZEOF_STATX);
      const empty = alloc(1);
      if (
        await lib.symbols.statx(fd, empty, AT_EMPTY_PATH, STATX_BASIC_STATS, buffer) !==
          0
      ) {
        throw new Error("fstat of the open file failed");
      }
      const view = new DataView(buffer.buffer);
      return {
        isFile: (view.getUint16(28, true) & S_IFMT) === S_IFREG,
        ino: view.getBigUint64(32, true),
        size: view.getBigUint64(40, true),
        dev: makedev(
          BigInt(view.getUint32(136, true)),
          BigInt(view.getUint32(140, true)),
        ),
      };
    },
    async read(buffer, offset, length) {
      const scratch = alloc(Math.min(length, READ_CHUNK));
      const n = Number(await lib.symbols.read(fd, scratch, BigInt(scratch.length)));
      if (n < 0) throw new Error("read(2) failed");
      buffer.set(scratch.subarray(0, n), offset);
      return n;
    },
    close() {
      if (!closed) lib.symbols.close(fd);
      closed = true;
      return Promise.resolve();
    },
  };
}

// A file Deno opened, in the same shape.
function denoFile(file: Deno.FsFile): OpenedFile {
  return {
    async stat() {
      const info = await file.stat();
      return {
        isFile: info.isFile,
        dev: BigInt(info.dev),
        ino: BigInt(info.ino ?? 0),
        size: BigInt(info.size),
      };
    },
    async read(buffer, offset, length) {
      return await file.read(buffer.subarray(offset, offset + length)) ?? 0;
    },
    close() {
      file.close();
      return Promise.resolve();
    },
  };
}
