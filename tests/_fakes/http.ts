/**
 * Raw HTTP/1.1 over TCP for tests that must send what no well-behaved
 * client sends: half a request, a wrong Host, a huge body, no Host at all.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** A TCP connection to 127.0.0.1:`port` and what came back on it. */
export class RawConnection implements Disposable {
  readonly conn: Deno.TcpConn;
  /** Everything read so far. */
  received = "";
  /** Settles when the server closed the connection (or it failed). */
  readonly closed: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.closed = (async () => {
      const buf = new Uint8Array(16 * 1024);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) return;
          this.received += decoder.decode(buf.subarray(0, n));
        }
      } catch {
        // reset by the server
      }
    })();
  }

  /** Opens a connection. */
  static async open(port: number): Promise<RawConnection> {
    return new RawConnection(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends `text` (or bytes); false when the server has closed the connection. */
  async send(data: string | Uint8Array): Promise<boolean> {
    try {
      const bytes = typeof data === "string" ? encoder.encode(data) : data;
      let at = 0;
      while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
      return true;
    } catch {
      return false;
    }
  }

  /** The status code of the first response, once its status line is in. */
  get status(): number | null {
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received);
    return match ? Number(match[1]) : null;
  }

  [Symbol.dispose](): void {
    try {
      this.conn.close();
    } catch {
      // closed already
    }
  }
}

/** Resolves with `value` after `ms`, or with `fallback` if `promise` settles first. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), ms)
    ),
  ]);
}

/** Where a tend started with `--http` listens, and the token it printed. */
export interface Listening {
  /** `http://127.0.0.1:PORT`, no slash at the end. */
  base: string;
  /** The port. */
  port: number;
  /** The token from the dashboard's address (null when tend was given one). */
  token: string | null;
  /** The log record that said so. */
  message: string;
}

/**
 * Waits for the record in which a tend (run with `--log-format json`)
 * says where it listens for HTTP, and reads the address and token from it.
 */
export async function listening(
  t: {
    record(
      what: string,
      test: (r: { message: string }) => boolean,
    ): Promise<{ record: { message: string } }>;
  },
): Promise<Listening> {
  const { record } = await t.record(
    "the HTTP listener's address",
    (r) => r.message.startsWith("HTTP on "),
  );
  const match = /dashboard (http:\/\/127\.0\.0\.1:(\d+))\/(?:#token=([A-Za-z0-9_-]+))?/
    .exec(
      record.message,
    );
  if (match === null) throw new Error(`no dashboard address in: ${record.message}`);
  return {
    base: match[1]!,
    port: Number(match[2]),
    token: match[3] ?? null,
    message: record.message,
  };
}

/**
 * Polls `find` (every 50 ms, up to `timeoutMs`) until it returns
 * something; fails saying `what` it waited for.
 */
export async function until<T>(
  what: string,
  find: () => Promise<T | undefined>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = performance.now() + timeoutMs;
  while (true) {
    const found = await find();
    if (found !== undefined) return found;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
