/**
 * The output ring: its bounds (1,000 lines, 1 MiB per process), the batch
 * path storing what the line path stores, merging in the order lines
 * came, and followers that fall behind losing lines and being told how
 * many, on a fake wall clock.
 */

import assert from "node:assert/strict";
import { LineFramer, teeLines } from "../../lib/output/framer.ts";
import {
  type FollowItem,
  OutputRing,
  RING_BYTES,
  RING_LINES,
} from "../../lib/output/ring.ts";

const enc = new TextEncoder();

/** A fake wall clock the test moves by hand. */
function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

/** Feeds `text` to the ring through a framer, as the supervisor does. */
function feed(ring: OutputRing, name: string, text: string, pid = 1, stdout = true) {
  const framer = new LineFramer(ring.lines(name, pid, stdout ? "stdout" : "stderr"));
  framer.push(enc.encode(text));
  framer.end();
}

function numbered(from: number, to: number, width = 0): string {
  let text = "";
  for (let i = from; i < to; i++) text += `line ${i}`.padEnd(width, ".") + "\n";
  return text;
}

const texts = (items: FollowItem[]) =>
  items.map((i) => i.kind === "line" ? i.text : `lost ${i.count} of ${i.process}`);

Deno.test("the ring keeps the last 1,000 lines of a process", () => {
  const ring = new OutputRing();
  feed(ring, "web", numbered(0, 2500));
  const kept = ring.tail(["web"], Infinity);
  assert.equal(kept.length, RING_LINES);
  assert.equal(kept[0]!.text, "line 1500");
  assert.equal(kept.at(-1)!.text, "line 2499");
  assert.deepEqual(ring.tail(["web"], 3).map((l) => l.text), [
    "line 2497",
    "line 2498",
    "line 2499",
  ]);
});

Deno.test("the ring keeps at most 1 MiB of a process, however long its lines", () => {
  const ring = new OutputRing();
  // 4,000 lines of 1,000 bytes: 4 MB, of which the last ~1,048 lines fit.
  feed(ring, "big", numbered(0, 4000, 999));
  const r = ring.ring("big");
  assert.ok(r.bytes <= RING_BYTES, `holds ${r.bytes} bytes`);
  assert.equal(r.capacity, RING_BYTES);
  const kept = ring.tail(["big"], Infinity);
  // 1,000 lines of 999 bytes and their line endings are under 1 MiB, so
  // here the line limit is the one that binds; with longer lines, bytes.
  assert.equal(kept.length, 1000);
  assert.equal(kept.at(-1)!.text, "line 3999".padEnd(999, "."));

  const long = new OutputRing();
  feed(long, "x", numbered(0, 200, 20_000)); // 20 KB lines: 52 fit in 1 MiB
  const lines = long.tail(["x"], Infinity);
  // As many as fit (each batch in one piece, so a little may go unused).
  assert.ok(lines.length >= 50 && lines.length <= 52, `${lines.length} lines`);
  assert.ok(long.ring("x").bytes <= RING_BYTES);
  assert.equal(lines.at(-1)!.text, "line 199".padEnd(20_000, "."));
  for (const line of lines) assert.equal(line.text.length, 20_000);
});

Deno.test("an idle process's ring starts small and grows only as it fills", () => {
  const ring = new OutputRing();
  feed(ring, "quiet", "hello\n");
  assert.equal(ring.ring("quiet").capacity, 4096);
  feed(ring, "quiet", numbered(0, 1000, 100));
  assert.ok(ring.ring("quiet").capacity > 4096);
});

Deno.test("lines that wrap around the buffer's end read back whole", () => {
  const ring = new OutputRing({ maxBytes: 64, maxLines: 100 });
  feed(ring, "w", "0123456789abcdefghij\n".repeat(7));
  const kept = ring.tail(["w"], Infinity);
  assert.ok(kept.length >= 2);
  for (const line of kept) assert.equal(line.text, "0123456789abcdefghij");
  assert.ok(ring.ring("w").bytes <= 64);
});

Deno.test("the batch path stores the same lines as the line path, with empty and CRLF lines", () => {
  const text = "a\r\n\nbé\n" + numbered(0, 50) + "last";
  const batch = new OutputRing({ maxLines: 20, maxBytes: 200 });
  feed(batch, "p", text);
  const one = new OutputRing({ maxLines: 20, maxBytes: 200 });
  // A sink without the batch path gets every line through line().
  const sink = one.lines("p", 1, "stdout");
  const framer = new LineFramer({ line: sink.line });
  framer.push(enc.encode(text));
  framer.end();
  const a = batch.tail(null, Infinity).map((l) => l.text);
  assert.deepEqual(a, one.tail(null, Infinity).map((l) => l.text));
  assert.equal(a.at(-1), "last");
  const small = new OutputRing();
  feed(small, "p", "a\r\n\nbé\n");
  assert.deepEqual(small.tail(null, 10).map((l) => l.text), ["a", "", "bé"]);
});

Deno.test("each line keeps its capture time, stream and pid; invalid UTF-8 is escaped", () => {
  const c = clock();
  const ring = new OutputRing({ now: c.now });
  feed(ring, "p", "out\n", 7, true);
  c.t += 1500;
  const framer = new LineFramer(ring.lines("p", 8, "stderr"));
  framer.push(new Uint8Array([0xff, 0x68, 0x69, 0x0a]));
  assert.deepEqual(
    ring.tail(["p"], 10).map(({ text, stream, pid, time }) => ({
      text,
      stream,
      pid,
      time,
    })),
    [
      { text: "out", stream: "stdout", pid: 7, time: 1_000_000 },
      { text: "\\xffhi", stream: "stderr", pid: 8, time: 1_001_500 },
    ],
  );
});

Deno.test("tail merges processes in the order their lines were written", () => {
  const ring = new OutputRing();
  feed(ring, "a", "a1\n");
  feed(ring, "b", "b1\nb2\n");
  feed(ring, "a", "a2\n");
  feed(ring, "c", "c1\n");
  assert.deepEqual(ring.tail(["a", "b"], 10).map((l) => l.text), [
    "a1",
    "b1",
    "b2",
    "a2",
  ]);
  assert.deepEqual(ring.tail(null, 1).map((l) => l.text), ["b2", "a2", "c1"]);
  assert.deepEqual(ring.tail(["nobody"], 10), []);
});

Deno.test("a follower reads new lines as they come, and is woken once per turn", async () => {
  const ring = new OutputRing();
  feed(ring, "a", "old\n");
  let wakes = 0;
  const follower = ring.follow(["a"], 0, () => wakes++);
  assert.deepEqual(follower.take(10), []);
  feed(ring, "a", "new1\n");
  feed(ring, "a", "new2\n");
  feed(ring, "b", "other\n"); // not followed
  await Promise.resolve();
  assert.equal(wakes, 1);
  assert.deepEqual(texts(follower.take(10)), ["new1", "new2"]);
  follower.close();
  feed(ring, "a", "after\n");
  await Promise.resolve();
  assert.equal(wakes, 1, "a closed follower is not woken");
  assert.equal(ring.followers, 0);
});

Deno.test("a follower of every process sees processes that appear later, from their first line", () => {
  const ring = new OutputRing();
  feed(ring, "a", "a0\n");
  const all = ring.follow(null, 10, () => {});
  const named = ring.follow(["later"], 10, () => {});
  feed(ring, "later", "l1\nl2\n");
  assert.deepEqual(texts(all.take(10)), ["a0", "l1", "l2"]);
  assert.deepEqual(texts(named.take(10)), ["l1", "l2"]);
});

Deno.test("a slow follower loses lines, is told how many, and holds no memory of its own", () => {
  const ring = new OutputRing({ maxLines: 100 });
  const follower = ring.follow(["fast"], 0, () => {});
  feed(ring, "fast", numbered(0, 10));
  assert.deepEqual(texts(follower.take(3)), ["line 0", "line 1", "line 2"]);
  // It stops reading while the process writes 1,000 more lines.
  feed(ring, "fast", numbered(10, 1010));
  const items = follower.take(Infinity);
  assert.deepEqual(items[0], { kind: "lost", process: "fast", count: 907 });
  assert.equal(items.length, 101);
  assert.deepEqual(texts(items.slice(1, 3)), ["line 910", "line 911"]);
  assert.equal(texts(items).at(-1), "line 1009");
  // Caught up: nothing lost from here on.
  feed(ring, "fast", "more\n");
  assert.deepEqual(texts(follower.take(10)), ["more"]);
});

Deno.test("a batch bigger than the ring counts the lines it could not keep", () => {
  const ring = new OutputRing({ maxLines: 5 });
  const follower = ring.follow(null, 0, () => {});
  feed(ring, "p", numbered(0, 12));
  assert.deepEqual(texts(follower.take(10)), [
    "lost 7 of p",
    "line 7",
    "line 8",
    "line 9",
    "line 10",
    "line 11",
  ]);
  assert.equal(ring.ring("p").end, 12);
});

Deno.test("forget() starts a re-added process afresh; a follower drains the old ring and lets go", () => {
  const ring = new OutputRing();
  const follower = ring.follow(null, 0, () => {});
  const oldSink = ring.lines("p", 1, "stdout");
  oldSink.line(enc.encode("old"), 0, 3, true);
  ring.forget("p");
  assert.deepEqual(ring.tail(["p"], 10), []);
  assert.deepEqual(ring.names(), []);
  feed(ring, "p", "new\n", 2);
  assert.deepEqual(texts(follower.take(10)), ["old", "new"]);
  assert.deepEqual(ring.tail(["p"], 10).map((l) => l.text), ["new"]);
});

Deno.test("teeLines hands batches to a batch sink and lines to a plain one", () => {
  const ring = new OutputRing();
  const plain: string[] = [];
  const sink = teeLines(ring.lines("p", 1, "stdout"), {
    line: (b, s, e) => plain.push(new TextDecoder().decode(b.subarray(s, e))),
  });
  const framer = new LineFramer(sink);
  framer.push(enc.encode("x\ny\nz\n"));
  assert.deepEqual(plain, ["x", "y", "z"]);
  assert.deepEqual(ring.tail(null, 10).map((l) => l.text), ["x", "y", "z"]);
});

Deno.test("the ring's limits must be positive", () => {
  assert.throws(() => new OutputRing({ maxLines: 0 }), RangeError);
});

Deno.test("a reader reads what the rings held when it was made, in pieces, then is done", () => {
  const ring = new OutputRing();
  feed(ring, "a", numbered(0, 5));
  feed(ring, "b", "b0\n");
  const reader = ring.reader(null, 3);
  assert.equal(reader.done, false);
  assert.deepEqual(texts(reader.take(2)), ["line 2", "line 3"]);
  feed(ring, "a", "later\n");
  feed(ring, "c", "new process\n");
  assert.deepEqual(texts(reader.take(10)), ["line 4", "b0"]);
  assert.equal(reader.done, true);
  assert.deepEqual(reader.take(10), []);
});

// A small deterministic generator, so a failure can be replayed.
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

Deno.test("random lines in random chunks: the ring holds a suffix of them within its bounds, and a follower sees each line or counts it lost", () => {
  for (let seed = 1; seed <= 40; seed++) {
    const rand = random(seed);
    const maxLines = 5 + Math.floor(rand() * 60);
    const maxBytes = 2048 + Math.floor(rand() * 8192);
    const ring = new OutputRing({ maxLines, maxBytes });
    const framer = new LineFramer(ring.lines("p", 1, "stdout"));
    const follower = ring.follow(["p"], 0, () => {});
    const written: string[] = [];
    let text = "";
    let seen = 0;
    let lost = 0;
    const read = () => {
      for (const item of follower.take(1 + Math.floor(rand() * 40))) {
        if (item.kind === "lost") {
          lost += item.count;
          continue;
        }
        assert.equal(item.text, written[seen + lost], `seed ${seed}`);
        seen++;
      }
    };
    for (let i = 0; i < 400; i++) {
      const len = Math.floor(rand() ** 3 * 1500);
      const line = `${i}:` + "x".repeat(len) + (rand() < 0.1 ? "\r" : "");
      const crlf = rand() < 0.2;
      // The framer drops one "\r" before the "\n".
      written.push(crlf ? line : line.replace(/\r$/, ""));
      text += line + (crlf ? "\r\n" : "\n");
      if (rand() < 0.3) {
        // Chunks cut anywhere, even between "\r" and "\n".
        const bytes = enc.encode(text);
        const cut = Math.floor(rand() * bytes.length);
        framer.push(bytes.subarray(0, cut));
        framer.push(bytes.subarray(cut));
        text = "";
      }
      if (rand() < 0.2) read();
      const r = ring.ring("p");
      assert.ok(r.bytes <= maxBytes, `seed ${seed}: ${r.bytes} > ${maxBytes}`);
      assert.ok(r.end - r.first <= maxLines, `seed ${seed}`);
    }
    framer.push(enc.encode(text));
    const kept = ring.tail(["p"], Infinity).map((l) => l.text);
    const total = ring.ring("p").end;
    assert.equal(total, written.length, `seed ${seed}`);
    assert.deepEqual(
      kept,
      written.slice(total - kept.length),
      `seed ${seed}: a suffix`,
    );
    assert.ok(kept.length >= 1);
    // The limit that binds is kept to within one batch (a pipe read).
    const fits = (n: number) =>
      written.slice(total - n).reduce((sum, l) => sum + enc.encode(l).length + 2, 0);
    if (fits(maxLines) <= maxBytes / 3) {
      assert.equal(kept.length, maxLines, `seed ${seed}`);
    }
    while (seen + lost < total) {
      const before = seen + lost;
      read();
      if (seen + lost === before && !follower.pending) break;
    }
    assert.equal(seen + lost, total, `seed ${seed}: every line seen or counted`);
  }
});
