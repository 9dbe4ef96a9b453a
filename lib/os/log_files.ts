/**
 * The file system under tend's log files (`output/files.ts` does the
 * rotation over it): open for appending with the folders on the way,
 * rename, remove, each failure a one-line `Error` naming what was done to
 * which path and the OS's reason.
 *
 * Every call is asynchronous (Deno runs file calls on its blocking pool),
 * so a slow or stuck disk holds up only the file's own writer, never the
 * event loop, the children or the other files.
 *
 * @module
 */

import { dirname } from "../core/path.ts";

/** An open log file, appending (structurally `output/files.ts`'s `LogFileHandle`). */
export interface DenoLogFileHandle {
  /** Its size when it was opened, in bytes. */
  readonly size: number;
  /** Whether it is a regular file (only those are rotated). */
  readonly regular: boolean;
  /** Appends some of `p`, resolving with how many bytes were written. */
  write(p: Uint8Array): Promise<number>;
  /** Cuts the file back to `size` bytes. */
  truncate(size: number): Promise<void>;
  /** Closes it. */
  close(): void;
}

/**
 * Log files' permissions: what children print may hold secrets, so the
 * owner writes, the group reads (Debian's `adm` convention for
 * `/var/log`), others nothing; the umask may take more away.
 */
export const LOG_FILE_MODE = 0o640;

/**
 * The real file system for log files (structurally `output/files.ts`'s
 * `LogFileSystem`, which `os/` may not import).
 *
 * @example
 * ```ts ignore
 * const file = await denoLogFiles.open("/var/log/tend/web.log");
 * await file.write(new TextEncoder().encode("hello\n"));
 * file.close();
 * ```
 */
export const denoLogFiles = {
  /** Opens `path` for appending, creating it and the folders on the way to it. */
  async open(path: string): Promise<DenoLogFileHandle> {
    let file: Deno.FsFile;
    try {
      file = await openAppend(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw failure("open", path, error);
      try {
        await Deno.mkdir(dirname(path), { recursive: true });
      } catch (error) {
        throw failure("create the folder of", path, error);
      }
      try {
        file = await openAppend(path);
      } catch (error) {
        throw failure("open", path, error);
      }
    }
    let info: Deno.FileInfo;
    try {
      info = await file.stat();
    } catch (error) {
      file.close();
      throw failure("stat", path, error);
    }
    return {
      size: info.size,
      regular: info.isFile,
      async write(p) {
        try {
          return await file.write(p);
        } catch (error) {
          throw failure("write", path, error);
        }
      },
      async truncate(size) {
        try {
          await file.truncate(size);
        } catch (error) {
          throw failure("truncate", path, error);
        }
      },
      close() {
        try {
          file.close();
        } catch {
          // closed already
        }
      },
    };
  },

  /** Renames `from` to `to`, replacing `to`; `false` when `from` does not exist. */
  async rename(from: string, to: string): Promise<boolean> {
    try {
      await Deno.rename(from, to);
      return true;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return false;
      throw failure("rename", from, error, ` to ${to}`);
    }
  },

  /** Removes `path`; one that does not exist is fine. */
  async remove(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) {
        throw failure("remove", path, error);
      }
    }
  },
};

function openAppend(path: string): Promise<Deno.FsFile> {
  return Deno.open(path, { append: true, create: true, mode: LOG_FILE_MODE });
}

// "cannot write /var/log/web.log: No space left on device (os error 28)":
// Deno's own message names the call and the path again at its end
// (`: open '/var/log/web.log'`), which is cut off here.
function failure(what: string, path: string, error: unknown, more = ""): Error {
  const reason = (error instanceof Error ? error.message : String(error))
    .replace(/, \w+ '.*'$|: \w+ '.*'$/s, "");
  return new Error(`cannot ${what} ${path}${more}: ${reason}`);
}
