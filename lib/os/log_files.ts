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
      await checkOpened(path, info);
    } catch (error) {
      file.close();
      throw error instanceof LogFileRefused ? error : failure("stat", path, error);
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

// Never O_CREAT without O_EXCL: a new file is made with createNew, which
// does not follow a symlink (one planted at the path, dangling or not, makes
// it fail), and an existing one is opened without create, then checked.
async function openAppend(path: string): Promise<Deno.FsFile> {
  try {
    return await Deno.open(path, {
      append: true,
      createNew: true,
      mode: LOG_FILE_MODE,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  try {
    return await Deno.open(path, { append: true });
  } catch (error) {
    // A dangling symlink: made by the operator (followed, and its target
    // created, as ever) only where nobody else can write.
    if (!(error instanceof Deno.errors.NotFound) || !await trustedFolder(path)) {
      throw error;
    }
    return await Deno.open(path, { append: true, create: true, mode: LOG_FILE_MODE });
  }
}

// Whether only tend's user (or root) may write the folder holding `path`.
async function trustedFolder(path: string): Promise<boolean> {
  const folder = await Deno.stat(dirname(path));
  let uid: number | null = null;
  try {
    uid = Deno.uid();
  } catch {
    // No --allow-sys: only root's folders count as tend's own.
  }
  return (folder.uid === 0 || folder.uid === uid) && ((folder.mode ?? 0) & 0o022) === 0;
}

/** A log file tend will not write to, and why. */
class LogFileRefused extends Error {}

/**
 * Refuses what was opened at `path` when someone other than tend's user
 * could have put it there: in a folder another user may write (a `user:`
 * child's own log folder, say), the path must be a plain file, the very
 * one opened. Otherwise a child could swap the log for a symlink to
 * root's `~/.bashrc` (at a rotation, say) and have tend, as root, append
 * lines it chose to it. In a folder only tend's user (or root) may write,
 * a symlink the operator made (`/dev/stderr`) is followed as ever.
 */
async function checkOpened(path: string, opened: Deno.FileInfo): Promise<void> {
  if (await trustedFolder(path)) return;
  const here = await Deno.lstat(path);
  if (here.isSymlink) {
    throw new LogFileRefused(
      `cannot open ${path}: it is a symlink in a folder others can write ` +
        `(${dirname(path)}), and tend does not follow those`,
    );
  }
  if ((opened.nlink ?? 1) > 1 && opened.isFile) {
    // A hard link to a file elsewhere (where protected_hardlinks is off).
    throw new LogFileRefused(
      `cannot open ${path}: it has other names (a hard link), in a folder others ` +
        `can write (${dirname(path)})`,
    );
  }
  if (here.dev !== opened.dev || here.ino !== opened.ino) {
    throw new LogFileRefused(
      `cannot open ${path}: it was replaced while tend opened it (in a folder ` +
        `others can write, ${dirname(path)})`,
    );
  }
}

// "cannot write /var/log/web.log: No space left on device (os error 28)":
// Deno's own message names the call and the path again at its end
// (`: open '/var/log/web.log'`), which is cut off here.
function failure(what: string, path: string, error: unknown, more = ""): Error {
  const reason = (error instanceof Error ? error.message : String(error))
    .replace(/, \w+ '.*'$|: \w+ '.*'$/s, "");
  return new Error(`cannot ${what} ${path}${more}: ${reason}`);
}
