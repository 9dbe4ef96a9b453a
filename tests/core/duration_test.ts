import assert from "node:assert/strict";
import { formatDuration, parseDuration } from "../../lib/core/duration.ts";

const MALFORMED = "must be a number of seconds or a string like 500ms, 5s, 2m, 1h";

Deno.test("parseDuration() takes a number as seconds", () => {
  assert.equal(parseDuration(0), 0);
  assert.equal(parseDuration(0.5), 0.5);
  assert.equal(parseDuration(3600), 3600);
});

Deno.test("parseDuration() takes a numeric string as seconds", () => {
  assert.equal(parseDuration("5"), 5);
  assert.equal(parseDuration("0.25"), 0.25);
  assert.equal(parseDuration(".5"), 0.5);
});

Deno.test("parseDuration() reads every unit", () => {
  assert.equal(parseDuration("500ms"), 0.5);
  assert.equal(parseDuration("1.5s"), 1.5);
  assert.equal(parseDuration("2m"), 120);
  assert.equal(parseDuration("1h"), 3600);
  assert.equal(parseDuration("0.5h"), 1800);
  assert.equal(parseDuration("0s"), 0);
});

Deno.test("parseDuration() rejects negative durations with a RangeError", () => {
  for (const value of [-1, -0.5, "-5", "-5s", "-1h"]) {
    assert.throws(() => parseDuration(value), {
      name: "RangeError",
      message: "must not be negative",
    });
  }
});

Deno.test("parseDuration() accepts negative zero as zero", () => {
  assert.ok(Object.is(parseDuration(-0), 0));
  assert.ok(Object.is(parseDuration("-0s"), 0));
});

Deno.test("parseDuration() rejects infinity with a RangeError", () => {
  assert.throws(() => parseDuration(Infinity), {
    name: "RangeError",
    message: "must be finite",
  });
});

Deno.test("parseDuration() rejects malformed strings with a TypeError", () => {
  for (
    const value of ["", "5 s", " 5s", "5s ", "5S", "5sec", "1h30m", "1e3", "fast", "s"]
  ) {
    assert.throws(() => parseDuration(value), {
      name: "TypeError",
      message: MALFORMED,
    });
  }
});

Deno.test("parseDuration() rejects values that are neither numbers nor strings", () => {
  for (const value of [null, undefined, true, [5], { s: 5 }, NaN]) {
    assert.throws(() => parseDuration(value), {
      name: "TypeError",
      message: MALFORMED,
    });
  }
});

Deno.test("formatDuration() uses the largest unit that divides exactly", () => {
  assert.equal(formatDuration(0.5), "500ms");
  assert.equal(formatDuration(0.001), "1ms");
  assert.equal(formatDuration(5), "5s");
  assert.equal(formatDuration(90), "90s");
  assert.equal(formatDuration(120), "2m");
  assert.equal(formatDuration(5400), "90m");
  assert.equal(formatDuration(3600), "1h");
  assert.equal(formatDuration(7200), "2h");
  assert.equal(formatDuration(0), "0s");
});

Deno.test("formatDuration() falls back to seconds for values no unit divides", () => {
  assert.equal(formatDuration(1.5), "1.5s");
  assert.equal(formatDuration(0.0015), "0.0015s");
  assert.equal(formatDuration(61.5), "61.5s");
});

Deno.test("formatDuration() hides floating-point noise", () => {
  assert.equal(formatDuration(0.1 * 3), "300ms");
  assert.equal(formatDuration(0.1 + 0.2 + 1), "1.3s");
});

Deno.test("parseDuration() reads back what formatDuration() writes", () => {
  for (const seconds of [0, 0.001, 0.25, 1, 1.5, 59, 60, 90, 3600, 5400, 86400]) {
    assert.equal(parseDuration(formatDuration(seconds)), seconds);
  }
});
