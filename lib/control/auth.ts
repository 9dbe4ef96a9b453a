/**
 * Who may use the HTTP listener: the bearer token every `/v1` request
 * must carry, where it comes from, and the `Host` check against DNS
 * rebinding.
 *
 * **The token** comes from `TEND_TOKEN`, else the file `http.tokenFile`
 * names, else tend makes one (32 random bytes, base64url) and prints it
 * once, in the dashboard's URL. A token given is at least 16 characters
 * of visible ASCII (it travels in a header). The file must be a regular
 * file (a symlink to one is fine, as Kubernetes mounts secrets) of at most
 * 4 KiB, owned by tend's user or root, that others can neither read nor
 * write and its group cannot write (`0600`, `0640` and `0400` are fine,
 * `0644` is not): as ssh says of a private key, a secret that others can
 * read is no secret. Tokens are compared through their SHA-256 digests
 * with a constant-time comparison, so neither the time taken nor an early
 * exit tells how much of a guess was right.
 *
 * **The Host check.** A web page on another site can make a browser send
 * requests to 127.0.0.1 by giving its own name a loopback address (DNS
 * rebinding); the browser then sends that name as `Host`. So a request is
 * answered only when its `Host` names the address tend listens on,
 * `localhost`, or a loopback address; when tend listens on every
 * interface, any IP literal (a rebinding attack always comes with a
 * name). The port in `Host` is not compared: an ssh tunnel
 * (`ssh -L 8000:localhost:9100`) rightly sends its own.
 *
 * @module
 */

import { sha256Hex } from "../core/sha256.ts";
import { ipv6, isIpv4, isLoopbackIp, type ListenAddress } from "../config/http.ts";

/** The shortest token tend accepts. */
export const MIN_TOKEN = 16;
/** The longest token tend accepts (and the largest token file it reads). */
export const MAX_TOKEN = 4096;

/** A token, or its file, cannot be used. */
export class TokenError extends Error {
  /** @param message what is wrong, naming where the token came from */
  constructor(message: string) {
    super(message);
    this.name = "TokenError";
  }
}

/** A new random token: 32 bytes from the OS's CSPRNG, base64url (43 characters). */
export function generateToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** What is wrong with a token given to tend, or null when it will do. */
export function tokenProblem(token: string): string | null {
  if (token.length < MIN_TOKEN) {
    return `is ${token.length} characters long; a token needs at least ${MIN_TOKEN} ` +
      `(make one with: head -c 32 /dev/urandom | base64)`;
  }
  if (token.length > MAX_TOKEN) return `is longer than ${MAX_TOKEN} characters`;
  if (!/^[\x21-\x7e]+$/.test(token)) {
    return "must be visible ASCII characters only (no spaces or control characters)";
  }
  return null;
}

/**
 * Reads the token from `path`, after checking the file (see the module
 * doc); one trailing newline (or any trailing white space) is dropped.
 *
 * @throws {TokenError} saying what is wrong with the file or its token
 */
export async function readTokenFile(path: string, uid: number): Promise<string> {
  // Checked by its path first (opening a FIFO would wait for a writer),
  // then opened, and checked again and read through that one handle: the
  // file checked is the file read, even if the path changes meanwhile.
  let first: Deno.FileInfo;
  try {
    first = await Deno.stat(path);
  } catch (error) {
    throw new TokenError(`cannot read the token file ${path}: ${reason(error)}`);
  }
  if (!first.isFile) {
    throw new TokenError(`the token file ${path} is not a regular file`);
  }
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (error) {
    throw new TokenError(`cannot read the token file ${path}: ${reason(error)}`);
  }
  let text: string;
  try {
    let info: Deno.FileInfo;
    try {
      info = await file.stat();
    } catch (error) {
      throw new TokenError(`cannot read the token file ${path}: ${reason(error)}`);
    }
    if (!info.isFile || info.ino !== first.ino || info.dev !== first.dev) {
      throw new TokenError(`the token file ${path} changed while it was read`);
    }
    if (info.size > MAX_TOKEN + 2) {
      throw new TokenError(`the token file ${path} is over ${MAX_TOKEN} bytes`);
    }
    const mode = (info.mode ?? 0) & 0o777;
    if ((mode & 0o026) !== 0) {
      throw new TokenError(
        `the token file ${path} has mode ${mode.toString(8).padStart(4, "0")}, so ` +
          `${
            (mode & 0o004) !== 0
              ? "anyone on this machine can read it"
              : "others can change it"
          }; ` +
          `make it private (chmod 600 ${path})`,
      );
    }
    if (info.uid !== null && info.uid !== uid && info.uid !== 0) {
      throw new TokenError(
        `the token file ${path} belongs to uid ${info.uid}, not to tend's user ` +
          `(uid ${uid}) or root`,
      );
    }
    // At most one byte past the largest allowed, however the file grows.
    const buf = new Uint8Array(MAX_TOKEN + 3);
    let size = 0;
    try {
      while (size < buf.length) {
        const n = await file.read(buf.subarray(size));
        if (n === null) break;
        size += n;
      }
      text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, size));
    } catch (error) {
      throw new TokenError(`cannot read the token file ${path}: ${reason(error)}`);
    }
    if (size > MAX_TOKEN + 2) {
      throw new TokenError(`the token file ${path} is over ${MAX_TOKEN} bytes`);
    }
  } finally {
    file.close();
  }
  const token = text.replace(/\s+$/, "");
  const problem = tokenProblem(token);
  if (problem !== null) throw new TokenError(`the token in ${path} ${problem}`);
  return token;
}

/**
 * Checks `Authorization: Bearer TOKEN` headers against one token, in
 * constant time.
 *
 * @example
 * ```ts
 * import { BearerCheck } from "./auth.ts";
 * const check = new BearerCheck("s3cret-s3cret-s3cret");
 * check.matches("Bearer s3cret-s3cret-s3cret"); // true
 * check.matches("Bearer s3cret"); // false
 * check.matches(null); // false
 * ```
 */
export class BearerCheck {
  #digest: string;

  /** @param token the token every request must carry */
  constructor(token: string) {
    this.#digest = sha256Hex(token);
  }

  /** Whether an `Authorization` header value carries the token. */
  matches(header: string | null | undefined): boolean {
    if (typeof header !== "string" || header.length > MAX_TOKEN + 64) return false;
    const match = /^Bearer +([^ ]+) *$/i.exec(header);
    // Digests of equal length: the comparison's time says nothing of the token.
    const given = sha256Hex(match?.[1] ?? "");
    return sameDigest(given, this.#digest) && match !== null;
  }
}

// Compares two hex digests of the same length in time that depends only on
// that length (no early exit), as timingSafeEqual does, without importing
// node:crypto (which would set up Deno's Node layer in every tend run).
function sameDigest(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < a.length && i < b.length; i++) {
    diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  }
  return diff === 0;
}

/**
 * Whether a request's `Host` header is one tend answers (see the module
 * doc): the listen address, `localhost`, a loopback address, or, when
 * listening on every interface, any IP literal.
 *
 * @example
 * ```ts
 * import { hostAllowed } from "./auth.ts";
 * import { parseListen } from "../config/http.ts";
 * const at = parseListen("127.0.0.1:9100");
 * if (typeof at !== "string") {
 *   hostAllowed("127.0.0.1:9100", at); // true
 *   hostAllowed("localhost:8000", at); // true
 *   hostAllowed("evil.example:9100", at); // false
 * }
 * ```
 */
export function hostAllowed(
  host: string | null | undefined,
  at: ListenAddress,
): boolean {
  if (typeof host !== "string" || host.length > 300) return false;
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+))(?::\d{1,5})?$/.exec(host);
  if (match === null) return false;
  const [, v6, name] = match;
  let ip: string | null;
  if (v6 !== undefined) {
    ip = ipv6(v6);
    if (ip === null) return false;
  } else {
    const lower = name!.toLowerCase().replace(/\.$/, "");
    if (lower === "localhost") return true;
    ip = isIpv4(lower) ? lower : null;
    if (ip === null) return false; // a name: what rebinding sends
  }
  return isLoopbackIp(ip) || ip === at.hostname || at.wildcard;
}

function reason(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
