/**
 * The group watcher: how often and how widely it looks at the process
 * table while a group whose leader exited lives on (a fake table and a
 * fake clock), and the real tables against real processes.
 */

import assert from "node:assert/strict";
import FakeTimers from "@sinonjs/fake-timers";
import type { Clock } from "../../lib/core/ports.ts";
import { GroupWatcher } from "../../lib/os/groups.ts";
import { libcUnavailable } from "../../lib/os/libc.ts";
import { type GroupMembers, type ProcessTable, TABLES } from "../../lib/os/proc.ts";
import { NO_PS, only } from "../_fakes/proc.ts";

/** A real process group (a detached `sleep`), so that kill(-pgid, 0) answers. */
function realGroup(): { pgid: number } & AsyncDisposable {
  const proc = new Deno.Command("sleep", {
    args: ["1000"],
    stdin: "null",
    detached: true,
  }).spawn();
  return {
    pgid: proc.pid,
    async [Symbol.asyncDispose]() {
      try {
        Deno.kill(-proc.pid, "SIGKILL");
      } catch {
        // gone
      }
      await proc.status;
    },
  };
}

/** A process table whose live processes the test decides. */
class FakeTable implements ProcessTable {
  readonly source = "fake";
  /** Live pid -> its group. */
  readonly live = new Map<number, number>();
  scans = 0;
  /** When each check came (clock ms), and which pids it asked about. */
  readonly checks: { at: number; pids: number[] }[] = [];
  constructor(private clock: FakeTimers.Clock) {}

  scan(): Promise<GroupMembers> {
    this.scans++;
    const members: GroupMembers = new Map();
    for (const [pid, pgid] of this.live) {
      members.set(pgid, [...members.get(pgid) ?? [], pid]);
    }
    return Promise.resolve(members);
  }

  check(pids: readonly number[]): Promise<Map<number, number>> {
    this.checks.push({ at: this.clock.now, pids: [...pids] });
    return Promise.resolve(
      new Map(pids.filter((p) => this.live.has(p)).map((p) => [p, this.live.get(p)!])),
    );
  }
}

function clockOf(fake: FakeTimers.Clock): Clock {
  return {
    now: () => fake.now,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (handle) => fake.clearTimeout(handle as FakeTimers.TimerId),
    queueMicrotask: (fn) => queueMicrotask(fn),
  };
}

Deno.test("a group that lives on is checked by its members only, ever less often, up to a second apart", async () => {
  await using group = realGroup();
  const fake = FakeTimers.createClock(0);
  const table = new FakeTable(fake);
  table.live.set(group.pgid, group.pgid).set(4242, group.pgid).set(7, 1);
  const watcher = new GroupWatcher({ table, clock: clockOf(fake) });
  let empty = false;
  watcher.watch(group.pgid, () => empty = true);
  await fake.tickAsync(10_000);
  assert.equal(empty, false);
  // One look at the whole table found the members; after that, only they
  // were looked at.
  assert.equal(table.scans, 1);
  assert.ok(table.checks.every((c) => c.pids.join() === `${group.pgid},4242`));
  const gaps = table.checks.map((c, i) => c.at - (table.checks[i - 1]?.at ?? 20));
  assert.deepEqual(gaps.slice(0, 7), [40, 80, 160, 320, 640, 1000, 1000]);
  assert.ok(gaps.every((gap) => gap <= 1000));
});

Deno.test("a group counts as empty only once a full look finds no member, not even one forked meanwhile", async () => {
  await using group = realGroup();
  const fake = FakeTimers.createClock(0);
  const table = new FakeTable(fake);
  table.live.set(4242, group.pgid);
  const watcher = new GroupWatcher({ table, clock: clockOf(fake) });
  let empty = 0;
  watcher.watch(group.pgid, () => empty++);
  await fake.tickAsync(100);
  assert.equal(table.scans, 1);
  // The member the look found dies, but it forked another first.
  table.live.delete(4242);
  table.live.set(4343, group.pgid);
  await fake.tickAsync(2000);
  assert.equal(empty, 0, "the new member keeps the group alive");
  assert.equal(table.scans, 2);
  assert.ok(table.checks.at(-1)!.pids.includes(4343), "and is checked from then on");
  table.live.delete(4343);
  await fake.tickAsync(2000);
  assert.equal(empty, 1);
  assert.equal(table.scans, 3);
});

Deno.test("a watch starts from the members the look at the leader's exit found", async () => {
  await using group = realGroup();
  const fake = FakeTimers.createClock(0);
  const table = new FakeTable(fake);
  table.live.set(4242, group.pgid);
  const watcher = new GroupWatcher({ table, clock: clockOf(fake) });
  assert.equal(await watcher.alive(group.pgid), true);
  watcher.watch(group.pgid, () => {});
  await fake.tickAsync(5000);
  assert.equal(table.scans, 1, "no second full look");
  assert.ok(table.checks.length > 0);
});

Deno.test("a signal sent to a watched group brings its checks close together again", async () => {
  await using group = realGroup();
  const fake = FakeTimers.createClock(0);
  const table = new FakeTable(fake);
  table.live.set(4242, group.pgid);
  const watcher = new GroupWatcher({ table, clock: clockOf(fake) });
  watcher.watch(group.pgid, () => {});
  await fake.tickAsync(5000);
  const before = table.checks.length;
  watcher.signalled(group.pgid);
  await fake.tickAsync(20);
  assert.equal(table.checks.length, before + 1, "checked 20 ms after the signal");
});

Deno.test("with no way to read the process table, the watcher says so once and counts the group as alive", async () => {
  await using group = realGroup();
  const fake = FakeTimers.createClock(0);
  const warnings: string[] = [];
  const watcher = new GroupWatcher({
    table: null,
    clock: clockOf(fake),
    onWarning: (message) => warnings.push(message),
  });
  assert.equal(await watcher.alive(group.pgid), true);
  assert.equal(await watcher.alive(group.pgid), true);
  let empty = false;
  watcher.watch(group.pgid, () => empty = true);
  await fake.tickAsync(5000);
  assert.equal(empty, false);
  assert.equal(warnings.length, 1);
  assert.match(warnings[0]!, /cannot tell live process-group members from zombies/);
  assert.match(warnings[0]!, /--allow-ffi/);
});

/**
 * A group with a live leader and a zombie member: the leader forks a child
 * that exits, then execs `sleep`, which never reaps it.
 */
async function groupWithZombie(): Promise<
  { pgid: number; zombie: number } & AsyncDisposable
> {
  const proc = new Deno.Command("sh", {
    args: ["-c", "sleep 0 & echo $!; exec sleep 1000"],
    stdin: "null",
    stdout: "piped",
    detached: true,
  }).spawn();
  const reader = proc.stdout.getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const zombie = Number(new TextDecoder().decode(value).trim());
  // Bounded wait for the member to have exited.
  for (let i = 0; i < 2000; i++) {
    const out = await new Deno.Command("ps", {
      args: ["-o", "stat=", "-p", String(zombie)],
      stdout: "piped",
    }).output();
    if (new TextDecoder().decode(out.stdout).trim().startsWith("Z")) break;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    pgid: proc.pid,
    zombie,
    async [Symbol.asyncDispose]() {
      try {
        Deno.kill(-proc.pid, "SIGKILL");
      } catch {
        // gone
      }
      await proc.stdout.cancel();
      await proc.status;
    },
  };
}

/** Why Deno's own /proc reading cannot be tried here, or null. */
const NO_DENO_PROC: string | null = (() => {
  try {
    Deno.readTextFileSync("/proc/self/stat");
    return null;
  } catch {
    return "Deno reads /proc only with --allow-all";
  }
})();

const REAL_TABLES: [string, () => ProcessTable | null, string | null][] = [
  ["/proc through libc", TABLES.libc, libcUnavailable() ?? NO_PS],
  ["ps", TABLES.ps, NO_PS],
  ["/proc with Deno's API", TABLES.deno, NO_PS ?? NO_DENO_PROC],
];

for (const [name, make, reason] of REAL_TABLES) {
  Deno.test(
    only(`the process table read by ${name} tells a live member from a zombie`, reason),
    async () => {
      const table = make()!;
      await using group = await groupWithZombie();
      const members = await table.scan();
      assert.deepEqual(members.get(group.pgid), [group.pgid]);
      assert.deepEqual(
        await table.check([group.pgid, group.zombie, 999_999_999]),
        new Map([[group.pgid, group.pgid]]),
      );
    },
  );
}
