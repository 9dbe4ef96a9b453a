/**
 * A local user racing for Deno's inspector: tries to reach one on
 * 127.0.0.1:9229 about every millisecond until its stdin closes.
 *
 *     deno run --allow-net=127.0.0.1:9229 inspector_racer.ts
 *
 * Each attempt is a TCP connect and, when one is accepted, an HTTP
 * `GET /json/version` on that connection, then `/json/list` to learn whose
 * inspector it is (its main module). One connect to a closed port takes
 * about a millisecond, so several loops run at once, each pausing 1 ms.
 *
 * Prints `started`, then `attempts N` after every 10th attempt (so a test
 * can wait for attempts instead of time), `accepted MS ANSWER` for each
 * connection an inspector accepts, and at the end one JSON summary line.
 *
 * @module
 */

const HOST = "127.0.0.1";
const PORT = 9229;
const LOOPS = 8;
// However long its stdin stays open, the racer stops after this.
const CAP_MS = 120_000;

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const say = (line: string) => Deno.stdout.writeSync(encoder.encode(`${line}\n`));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let stop = false;
const stdinClosed = (async () => {
  for await (const _ of Deno.stdin.readable) {
    // Only its end matters.
  }
  stop = true;
})();

// Resolves with what `promise` gave, or "timeout" after `ms`.
function within<T>(promise: Promise<T>, ms: number): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<"timeout">((resolve) =>
      timer = setTimeout(() => resolve("timeout"), ms)
    ),
  ]).finally(() => clearTimeout(timer));
}

const t0 = performance.now();
let attempts = 0;
let accepted = 0;
let maxGapMs = 0;
let last = t0;
const answers: string[] = [];
const targets = new Set<string>();

async function get(conn: Deno.TcpConn, path: string): Promise<string> {
  await conn.write(
    encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${HOST}:${PORT}\r\nConnection: close\r\n\r\n`,
    ),
  );
  let text = "";
  const buffer = new Uint8Array(16384);
  for (let i = 0; i < 64; i++) {
    const n = await within(conn.read(buffer), 1000);
    if (n === "timeout" || n === null) break;
    text += decoder.decode(buffer.subarray(0, n));
  }
  return text;
}

async function attempt(): Promise<void> {
  const now = performance.now();
  maxGapMs = Math.max(maxGapMs, now - last);
  last = now;
  if (++attempts % 10 === 0) say(`attempts ${attempts}`);
  let conn: Deno.TcpConn;
  try {
    conn = await Deno.connect({ hostname: HOST, port: PORT });
  } catch {
    return; // refused: nothing listens, as it should be
  }
  accepted++;
  const at = Math.round(performance.now() - t0);
  let answer: string;
  try {
    const reply = await get(conn, "/json/version");
    answer = reply.split("\r\n\r\n")[1] ?? reply;
  } catch (error) {
    answer = `(error: ${error})`;
  } finally {
    conn.close();
  }
  say(`accepted ${at} ${JSON.stringify(answer)}`);
  if (answers.length < 5) answers.push(answer);
  try {
    const list = await Deno.connect({ hostname: HOST, port: PORT });
    try {
      const body = (await get(list, "/json/list")).split("\r\n\r\n")[1] ?? "[]";
      for (const target of JSON.parse(body) as { url?: string }[]) {
        targets.add(String(target.url));
      }
    } finally {
      list.close();
    }
  } catch {
    // gone again, or not an inspector
  }
}

say("started");
await Promise.all(
  Array.from({ length: LOOPS }, async () => {
    while (!stop && performance.now() - t0 < CAP_MS) {
      await attempt();
      await sleep(1);
    }
  }),
);
say(JSON.stringify({
  attempts,
  durationMs: Math.round(performance.now() - t0),
  maxGapMs: Math.round(maxGapMs),
  accepted,
  answers,
  targets: [...targets],
}));
await stdinClosed;
