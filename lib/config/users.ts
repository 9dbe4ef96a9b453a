/**
 * The user table `user:` and a lone `uid:` are looked up in: the entries of
 * `/etc/passwd`, parsed from its text. Reading the file is `load.ts`'s job;
 * this module only parses, so the readers stay pure.
 *
 * Only the file is consulted, not NSS (LDAP, sssd, systemd's dynamic
 * users): tend has no way to call getpwnam(3) without FFI, and a user that
 * lives only there can still be given as `uid:` and `gid:`.
 *
 * @module
 */

/** One user: a name and the ids a process started as it runs with. */
export interface User {
  /** The login name. */
  name: string;
  /** The user id. */
  uid: number;
  /** The primary group id. */
  gid: number;
}

/** The largest valid user or group id: 2^32 - 2, since (uid_t)-1 means "unchanged". */
export const MAX_ID = 2 ** 32 - 2;

/** Users by name and by uid, or the reason there are none to look up. */
export class UserTable {
  /** Where the users came from, for messages: `/etc/passwd`. */
  readonly source: string;
  /** Why the table could not be read; `undefined` when it was. */
  readonly unavailable: string | undefined;
  #byName = new Map<string, User>();
  #byUid = new Map<number, User>();

  private constructor(source: string, unavailable: string | undefined) {
    this.source = source;
    this.unavailable = unavailable;
  }

  /**
   * Parses passwd(5) text. Lines that are not `name:password:uid:gid:...`
   * with valid ids (comments, NIS `+`/`-` lines, damage) are skipped; the
   * first entry for a name or a uid wins, as getpwnam(3) and getpwuid(3)
   * return the first match.
   *
   * @example
   * ```ts
   * import { UserTable } from "./users.ts";
   * const users = UserTable.parse("www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin\n");
   * users.byName("www-data"); // { name: "www-data", uid: 33, gid: 33 }
   * users.byUid(33)?.name; // "www-data"
   * ```
   *
   * @param text the file's contents
   * @param source the file's path, for messages
   */
  static parse(text: string, source = "/etc/passwd"): UserTable {
    const table = new UserTable(source, undefined);
    for (const line of text.split("\n")) {
      const [name, , uidText, gidText] = line.split(":");
      if (name === undefined || name === "" || /^[+-]/.test(name)) continue;
      const uid = parseId(uidText);
      const gid = parseId(gidText);
      if (uid === undefined || gid === undefined) continue;
      const user = { name, uid, gid };
      if (!table.#byName.has(name)) table.#byName.set(name, user);
      if (!table.#byUid.has(uid)) table.#byUid.set(uid, user);
    }
    return table;
  }

  /**
   * A table that knows nobody, because `source` could not be read; lookups
   * that need it report `reason`.
   *
   * @param source the file that could not be read
   * @param reason why, as a user should read it: `permission denied`
   */
  static failed(source: string, reason: string): UserTable {
    return new UserTable(source, reason);
  }

  /** The first user called `name`, if any. */
  byName(name: string): User | undefined {
    return this.#byName.get(name);
  }

  /** The first user whose uid is `uid`, if any. */
  byUid(uid: number): User | undefined {
    return this.#byUid.get(uid);
  }
}

// A decimal id in range, or undefined.
function parseId(text: string | undefined): number | undefined {
  if (text === undefined || !/^\d{1,10}$/.test(text)) return undefined;
  const id = Number(text);
  return id <= MAX_ID ? id : undefined;
}
