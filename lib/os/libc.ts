/**
 * libc through Deno's FFI, for what Deno has no API for (signal
 * dispositions, waiting without reaping, child subreapers, datagram
 * sockets). Every user goes through {@linkcode openLibc}, which answers
 * `null` instead of throwing or prompting when FFI is not permitted or the
 * platform is not one tend knows the struct layouts of (Linux on x86_64,
 * with glibc).
 *
 * @module
 */

// Deno checks a scoped --allow-ffi=PATH against the path given to
// Deno.dlopen as written (a bare "libc.so.6" would be taken relative to the
// working directory, and symlinks are not followed), so with a scoped
// permission the library is opened by that exact absolute path.
const LIBC_PATHS = [
  "/lib/x86_64-linux-gnu/libc.so.6", // Debian, Ubuntu
  "/usr/lib/x86_64-linux-gnu/libc.so.6",
  "/lib64/libc.so.6", // Fedora, RHEL, Arch (/usr/lib64 linked)
  "/usr/lib64/libc.so.6",
  "/usr/lib/libc.so.6",
];

/** Why libc cannot be had here, or `null` when it can. */
export function libcUnavailable(): string | null {
  if (Deno.build.os !== "linux") {
    return `FFI layouts are Linux's; this is ${Deno.build.os}`;
  }
  if (Deno.build.arch !== "x86_64") {
    return `FFI layouts are x86_64's; this is ${Deno.build.arch}`;
  }
  return libcPath() === undefined ? "needs --allow-ffi" : null;
}

function libcPath(): string | undefined {
  // Ask without prompting: Deno.dlopen without the permission would prompt
  // on a terminal.
  const granted = (path?: string) =>
    Deno.permissions.querySync(
      path === undefined ? { name: "ffi" } : { name: "ffi", path },
    )
      .state === "granted";
  if (granted()) return "libc.so.6";
  return LIBC_PATHS.find((path) => granted(path));
}

/**
 * Opens libc with `symbols`, or returns `null` when it cannot be had (see
 * {@linkcode libcUnavailable}). The library stays open for the life of
 * tend; opening it again is cheap (the loader counts references).
 */
export function openLibc<S extends Deno.ForeignLibraryInterface>(
  symbols: S,
): Deno.DynamicLibrary<S> | null {
  if (libcUnavailable() !== null) return null;
  try {
    return Deno.dlopen(libcPath()!, symbols);
  } catch {
    return null;
  }
}

/** A C string: `text` and a NUL. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(`${text}\0`);
}

/**
 * The symbols {@linkcode errnoOf} needs; spread them into a library's
 * symbols. The address travels as a plain integer and is read with
 * `memcpy`: `Deno.UnsafePointerView` would need `--allow-ffi` for every
 * path, not only the libc one a scoped `--allow-ffi=PATH` grants.
 */
export const ERRNO_SYMBOLS = {
  __errno_location: { parameters: [], result: "usize" },
  memcpy: { parameters: ["buffer", "usize", "usize"], result: "usize" },
} as const;

/**
 * The calling thread's `errno`, read through `__errno_location`; call it
 * right after the call that failed (FFI calls run on the JS thread).
 */
export function errnoOf(lib: Deno.DynamicLibrary<typeof ERRNO_SYMBOLS>): number {
  const out = new Int32Array(1);
  lib.symbols.memcpy(new Uint8Array(out.buffer), lib.symbols.__errno_location(), 4n);
  return out[0]!;
}
