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
