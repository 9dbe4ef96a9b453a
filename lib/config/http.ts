/**
 * The HTTP listener's settings: the `http:` key of the file (`listen`,
 * `tokenFile`) and the address syntax it shares with `--http ADDR`.
 *
 * An address is `HOST:PORT` where HOST is an IP literal (`127.0.0.1`,
 * `[::1]`, `0.0.0.0`, `[::]`) or `localhost`; a bare `PORT` means
 * `127.0.0.1:PORT` (loopback is the default), and `:PORT` means every
 * interface, as Go programs and Prometheus exporters read it. tend does
 * not resolve other names: what a name resolves to can change after the
 * check that the address is loopback, and binding to "whatever `myhost`
 * means today" is rarely what anyone meant. Port 0 asks for any free
 * port (tend logs the one it got).
 *
 * @module
 */

import { isMap } from "./yaml_package.ts";
import type { JsonSchema } from "./keys.ts";
import type { ReadContext } from "./readers.ts";
import { type Checker, type Entry, quote, scalarText } from "./yaml.ts";
import { isAbsolute, join, normalize } from "../core/path.ts";

/** Where the HTTP listener listens, parsed and classified. */
export interface ListenAddress {
  /** What to bind: an IP literal (`127.0.0.1`, `::1`, `0.0.0.0`, `::`). */
  hostname: string;
  /** The port; 0 for any free one. */
  port: number;
  /** Whether only this machine can connect (127.0.0.0/8, ::1, localhost). */
  loopback: boolean;
  /** Whether it is every interface (`0.0.0.0`, `::`, `:PORT`). */
  wildcard: boolean;
  /** The address as given, for messages. */
  text: string;
}

/** The `http:` key as read from the file. */
export interface HttpSettings {
  /** `listen`: where to listen; absent when only `--http` says. */
  listen?: ListenAddress;
  /** `tokenFile`: an absolute path (relative ones are taken from the config's folder). */
  tokenFile?: string;
}

const HELP = "must be HOST:PORT (127.0.0.1:9100, [::1]:9100, localhost:9100, " +
  "0.0.0.0:9100), :PORT for every interface, or a PORT alone for 127.0.0.1";

/**
 * Parses a listen address; returns what is wrong, in words, when it is
 * not one.
 *
 * @example
 * ```ts
 * import { parseListen } from "./http.ts";
 * const a = parseListen("9100");
 * typeof a !== "string" && a.hostname; // "127.0.0.1"
 * const b = parseListen(":9100");
 * typeof b !== "string" && b.wildcard; // true
 * parseListen("example.com:80"); // a string: names are not resolved
 * ```
 */
export function parseListen(text: string): ListenAddress | string {
  if (text.length > 100) return `"${text.slice(0, 40)}..." is too long for an address`;
  const match = /^(?:(?:\[([^\]]*)\]|([^:\[\]]*)):)?(\d{1,5})$/.exec(text);
  if (match === null) return `"${text}" ${HELP}`;
  const [, v6, host, portText] = match;
  const port = Number(portText);
  if (port > 65535) return `"${text}": the port must be at most 65535`;
  if (v6 !== undefined) {
    const canonical = ipv6(v6);
    if (canonical === null) return `"${text}": [${v6}] is not an IPv6 address`;
    return {
      hostname: canonical,
      port,
      loopback: isLoopbackIp(canonical),
      wildcard: canonical === "::",
      text,
    };
  }
  if (host === undefined) {
    return { hostname: "127.0.0.1", port, loopback: true, wildcard: false, text };
  }
  if (host === "") {
    return { hostname: "0.0.0.0", port, loopback: false, wildcard: true, text };
  }
  if (host.toLowerCase() === "localhost") {
    // Bound as 127.0.0.1 rather than resolved: /etc/hosts may say ::1
    // first, or anything at all.
    return { hostname: "127.0.0.1", port, loopback: true, wildcard: false, text };
  }
  if (!isIpv4(host)) {
    return `"${text}": ${quote(host)} is not an IP address or localhost (tend does ` +
      `not resolve names: write the address it should listen on)`;
  }
  return {
    hostname: host,
    port,
    loopback: isLoopbackIp(host),
    wildcard: host === "0.0.0.0",
    text,
  };
}

/** Whether `text` is a dotted-quad IPv4 address (no leading zeros). */
export function isIpv4(text: string): boolean {
  const parts = text.split(".");
  return parts.length === 4 &&
    parts.every((p) => /^(?:0|[1-9]\d{0,2})$/.test(p) && Number(p) <= 255);
}

/** `text` as WHATWG URLs write an IPv6 address (`::1`), or null when it is not one. */
export function ipv6(text: string): string | null {
  if (!/^[0-9A-Fa-f:.]+$/.test(text) || !text.includes(":")) return null;
  try {
    const host = new URL(`http://[${text}]/`).hostname;
    return host.slice(1, -1);
  } catch {
    return null;
  }
}

/**
 * Whether an IP literal (IPv4, or IPv6 as {@linkcode ipv6} writes it) is a
 * loopback address: 127.0.0.0/8, `::1`, or 127.0.0.0/8 mapped into IPv6.
 */
export function isLoopbackIp(ip: string): boolean {
  if (isIpv4(ip)) return ip.startsWith("127.");
  if (ip === "::1") return true;
  // ::ffff:127.x.y.z, which URLs write as ::ffff:7fxx:yyzz.
  return /^::ffff:7f[0-9a-f]{2}:[0-9a-f]{1,4}$/.test(ip);
}

/** The schema of the `http:` key, as permissive as its reader. */
export const HTTP_SCHEMA: JsonSchema = {
  type: "object",
  properties: {
    listen: {
      description: "HOST:PORT to listen on (127.0.0.1:9100); :PORT is every " +
        "interface, a PORT alone 127.0.0.1",
      type: ["string", "integer"],
      pattern: "^(?:(?:\\[[0-9A-Fa-f:.]+\\]|[^:\\[\\]]*):)?\\d{1,5}$",
    },
    tokenFile: {
      description: "a file holding the bearer token for /v1 over HTTP (not " +
        "readable by others), relative to this file's folder",
      type: "string",
      minLength: 1,
    },
  },
  additionalProperties: false,
};

/** `http:`: a mapping with `listen` and `tokenFile`, each optional. */
export function readHttp(
  c: Checker,
  entry: Entry,
  ctx: ReadContext,
): HttpSettings | undefined {
  if (!isMap(entry.value)) {
    c.report(entry.at, entry.path, "must be a mapping with listen (and tokenFile)");
    return undefined;
  }
  const out: HttpSettings = {};
  let ok = true;
  for (const field of c.entries(entry.value, entry.path)) {
    if (field.key === "listen") {
      const text = scalarText(field.value);
      const parsed = text === undefined
        ? `must be a string: ${HELP}`
        : parseListen(text);
      if (typeof parsed === "string") {
        c.report(field.at, field.path, parsed);
        ok = false;
      } else out.listen = parsed;
    } else if (field.key === "tokenFile") {
      const text = scalarText(field.value);
      if (text === undefined || text === "") {
        c.report(field.at, field.path, "must be a file's path");
        ok = false;
      } else {
        out.tokenFile = isAbsolute(text) ? normalize(text) : join(ctx.baseDir, text);
      }
    } else {
      const guess = /^(addr|address|bind|port|host)$/i.test(field.key)
        ? ' (did you mean "listen"?)'
        : /token/i.test(field.key)
        ? ' (did you mean "tokenFile"? the token itself belongs in a file or TEND_TOKEN)'
        : "";
      c.report(field.keyAt, field.path, `unknown key ${quote(field.key)}${guess}`);
      ok = false;
    }
  }
  return ok ? out : undefined;
}
