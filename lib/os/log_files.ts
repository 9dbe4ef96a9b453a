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
    try {
      await Deno.mkdir(dirname(path), { recursive: true, mode: 0o755 });
    } catch (error) {
      if (!(error instanceof Deno.errors.AlreadyExists)) {
        throw failure("create the folder of", path, error);
      }
    }
    // Decided once the folders exist, on every folder from / down: where
    // they are tend's own, nobody else can change the path after this.
    let trust: Trust;
    try {
      trust = await folderTrust(path);
    } catch (error) {
      throw error instanceof LogFileRefused ? error : failure("open", path, error);
    }
    let file: Deno.FsFile;
    try {
      if (trust === "shared") await checkShared(path);
      file = await openAppend(path, trust);
    } catch (error) {
      throw error instanceof LogFileRefused ? error : failure("open", path, error);
    }
    let info: Deno.FileInfo;
    try {
      info = await file.stat();
      if (trust === "shared") await checkOpened(path, info);
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

/**
 * How far the folders on the way to a log can be trusted: `own` when every
 * one from `/` down (symlinks followed, each found in a trusted folder) is
 * root's or tend's user's and writable by nobody else; `shared` when the
 * log's own folder is a sticky one such as `/tmp` (others may add entries
 * there, but not rename or remove tend's). Anything else is refused: a
 * folder another user may change (a `user:` process's own log folder, or
 * one above it) lets that user repoint the path at root's files between
 * tend's checks and its writes.
 */
type Trust = "own" | "shared";

/** A log file tend will not write to, and why. */
class LogFileRefused extends Error {}

// The most symlinks followed on the way to a log's folder (Linux's limit).
const MAX_LINKS = 40;

// Whether root or tend's user owns it (without --allow-sys, only root).
function ownedByTend(info: Deno.FileInfo): boolean {
  if (info.uid === 0) return true;
  try {
    return info.uid === Deno.uid();
  } catch {
    return false;
  }
}

async function folderTrust(path: string): Promise<Trust> {
  const todo = dirname(path).split("/").filter((part) => part !== "");
  let dir = "/";
  let links = 0;
  let last: Trust = "own";
  const judge = async (folder: string): Promise<Trust> => {
    const info = await Deno.stat(folder);
    const mode = info.mode ?? 0;
    if (!info.isDirectory || !ownedByTend(info)) {
      if (!info.isDirectory) return "own"; // not a folder: the open fails
      throw new LogFileRefused(
        `cannot open ${path}: the folder ${folder} belongs to uid ${info.uid}, not to ` +
          `tend's user or root; tend writes log files only where no other user can ` +
          `change the path`,
      );
    }
    if ((mode & 0o022) === 0) return "own";
    if ((mode & 0o1000) !== 0) return "shared";
    throw new LogFileRefused(
      `cannot open ${path}: the folder ${folder} can be written by ` +
        `${(mode & 0o002) !== 0 ? "others" : "its group"} (mode ` +
        `${
          (mode & 0o7777).toString(8).padStart(4, "0")
        }); tend writes log files only ` +
        `where no other user can change the path`,
    );
  };
  last = await judge(dir);
  while (todo.length > 0) {
    const part = todo.shift()!;
    if (part === ".") continue;
    if (part === "..") {
      // Out of the folder just judged: the one it leads to is judged anew.
      dir = dirname(dir);
      last = await judge(dir);
      continue;
    }
    const next = dir === "/" ? `/${part}` : `${dir}/${part}`;
    const info = await Deno.lstat(next);
    if (info.isSymlink) {
      // Found in a folder checked already: in one of tend's own, its owner
      // made it; in a shared (sticky) one anyone may have, so it must be
      // root's or tend's (the rule of protected_symlinks, kept by tend
      // whatever the kernel's setting). Follow it, and check every folder
      // it leads through.
      if (last === "shared" && !ownedByTend(info)) {
        throw new LogFileRefused(
          `cannot open ${path}: ${next} is a symlink of uid ${info.uid}'s in a folder ` +
            `others can add to, and tend does not follow those`,
        );
      }
      if (++links > MAX_LINKS) {
        throw new LogFileRefused(`cannot open ${path}: too many symlinks`);
      }
      const target = await Deno.readLink(next);
      todo.unshift(...target.split("/").filter((p) => p !== ""));
      if (target.startsWith("/")) {
        dir = "/";
        last = await judge(dir);
      }
      continue;
    }
    // A folder inside a shared one must be tend's own (or shared) itself.
    dir = next;
    last = await judge(dir);
  }
  return last;
}

// In a shared (sticky) folder, what is at the path now must be a plain file
// of tend's user's with one name, or nothing; checked before opening, since
// opening a planted FIFO would block, and a device could act on the open.
async function checkShared(path: string): Promise<void> {
  let here: Deno.FileInfo;
  try {
    here = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return; // made with O_EXCL
    throw error;
  }
  const mine = ownedByTend(here);
  if (!here.isFile || !mine || (here.nlink ?? 1) > 1) {
    throw new LogFileRefused(
      `cannot open ${path}: in a folder others can add to (${dirname(path)}), it is ` +
        `${
          here.isSymlink
            ? "a symlink"
            : !here.isFile
            ? "not a plain file"
            : !mine
            ? `uid ${here.uid}'s, not tend's`
            : "a file with other names (a hard link)"
        }, and tend writes only to a plain file of its own there`,
    );
  }
}

// Never O_CREAT without O_EXCL in a shared folder: a new file is made with
// createNew, which does not follow a symlink planted at the path.
async function openAppend(path: string, trust: Trust): Promise<Deno.FsFile> {
  if (trust === "own") {
    return await Deno.open(path, { append: true, create: true, mode: LOG_FILE_MODE });
  }
  try {
    return await Deno.open(path, {
      append: true,
      createNew: true,
      mode: LOG_FILE_MODE,
    });
  } catch (error) {
    if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
  }
  // Something is there now: only tend's own plain file is opened, and as
  // nobody else can rename or remove tend's entry in a sticky folder, the
  // check holds until the open (a FIFO planted since checkShared, which
  // would block the open for ever, is refused here).
  await checkShared(path);
  return await Deno.open(path, { append: true });
}

// After opening in a shared folder: the path is still the file opened.
async function checkOpened(path: string, opened: Deno.FileInfo): Promise<void> {
  const here = await Deno.lstat(path);
  if (
    here.isSymlink || !opened.isFile || here.dev !== opened.dev ||
    here.ino !== opened.ino
  ) {
    throw new LogFileRefused(
      `cannot open ${path}: it was replaced while tend opened it (in a folder ` +
        `others can add to, ${dirname(path)})`,
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
