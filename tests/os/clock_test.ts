/**
 * The real clock's timers, driven by fake global timers: a delay longer
 * than setTimeout allows must not fire early.
 */

import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import { systemClock } from "../../lib/os/clock.ts";

const DAY = 24 * 3600 * 1000;

function withFakeGlobals(
  test: (clock: ReturnType<typeof FakeTimers.install>) => void,
): void {
  const clock = FakeTimers.install({
    toFake: ["setTimeout", "clearTimeout", "performance"],
  });
  try {
    test(clock);
  } finally {
    clock.uninstall();
  }
}

Deno.test("a 30-day timer fires after 30 days, not after 1 ms", () => {
  withFakeGlobals((clock) => {
    let fired = 0;
    systemClock.setTimeout(() => fired++, 30 * DAY);
    clock.tick(1);
    assert.equal(fired, 0);
    clock.tick(25 * DAY); // past setTimeout's own limit of about 24.8 days
    assert.equal(fired, 0);
    clock.tick(5 * DAY - 2);
    assert.equal(fired, 0);
    clock.tick(1);
    assert.equal(fired, 1);
    clock.tick(60 * DAY);
    assert.equal(fired, 1);
  });
});

Deno.test("a long timer can be cancelled before and after its first step", () => {
  withFakeGlobals((clock) => {
    let fired = 0;
    const early = systemClock.setTimeout(() => fired++, 40 * DAY);
    systemClock.clearTimeout(early);
    const late = systemClock.setTimeout(() => fired++, 40 * DAY);
    clock.tick(30 * DAY); // the first step has passed and re-armed
    systemClock.clearTimeout(late);
    clock.tick(20 * DAY);
    assert.equal(fired, 0);
  });
});

Deno.test("short timers are plain timers", () => {
  withFakeGlobals((clock) => {
    const order: string[] = [];
    systemClock.setTimeout(() => order.push("b"), 20);
    const a = systemClock.setTimeout(() => order.push("never"), 15);
    systemClock.setTimeout(() => order.push("a"), 10);
    systemClock.clearTimeout(a);
    clock.tick(20);
    assert.deepEqual(order, ["a", "b"]);
  });
});
