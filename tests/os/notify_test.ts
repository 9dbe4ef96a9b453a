/**
 * sd_notify through FFI against real peers: tend's sender against a Python
 * receiver (a path and an abstract name), and the per-child receiver
 * against Python senders and systemd-notify. Every wait has a generous
 * timeout; nothing depends on how fast it goes.
 */

import assert from "node:assert/strict";
import {
  encodeSockaddrUn,
  monotonicUsec,
  Notifier,
  type NotifyMessage,
  NotifySockets,
  parseNotify,
  pollerWakeups,
  takeNotifyEnvironment,
  watchdogUsec,
} from "../../lib/os/notify.ts";
import { NO_PYTHON, Receiver, SENDER } from "../_fakes/notify.ts";
import { eventually, only } from "../_fakes/proc.ts";

const decoder = new TextDecoder();

/** The i-th test datagram: sizes vary from a few bytes to about 3.9 KB. */
function nth(i: number): string {
  return `SEQ=${i}\nSTATUS=${"y".repeat((i * 397) % 3900)}`;
}

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "tend-notify-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

Deno.test("sockaddr_un: a path's length counts its NUL, an abstract name's is exact, others are refused", () => {
  const path = encodeSockaddrUn("/run/x.sock");
  assert.equal(path.length, 2 + 11 + 1);
  assert.deepEqual([...path.buffer.subarray(0, 3)], [1, 0, "/".charCodeAt(0)]);
  const abstract = encodeSockaddrUn("@tend/abc");
  assert.equal(abstract.length, 2 + 1 + 8);
  assert.deepEqual([...abstract.buffer.subarray(2, 4)], [0, "t".charCodeAt(0)]);
  for (const bad of ["relative.sock", "vsock:2:1234", "@", `/${"x".repeat(107)}`]) {
    assert.throws(() => encodeSockaddrUn(bad), RangeError, bad);
  }
});

Deno.test("parseNotify takes KEY=VALUE lines, the last duplicate winning", () => {
  assert.deepEqual(
    [...parseNotify("READY=1\nSTATUS=a=b\nnoise\nSTATUS=c\n")],
    [["READY", "1"], ["STATUS", "c"]],
  );
});

Deno.test("watchdogUsec: set, not 0, and for this pid (or no pid given)", () => {
  assert.equal(watchdogUsec("2000000", undefined, 42), 2000000n);
  assert.equal(watchdogUsec("5", "42", 42), 5n);
  assert.equal(watchdogUsec("5", "", 42), 5n);
  assert.equal(watchdogUsec("5", "43", 42), null);
  assert.equal(watchdogUsec("0", undefined, 42), null);
  assert.equal(watchdogUsec("x", undefined, 42), null);
  assert.equal(watchdogUsec(undefined, "42", 42), null);
});

Deno.test("takeNotifyEnvironment reads the variables and takes them from what children inherit", async () => {
  Deno.env.set("NOTIFY_SOCKET", "@tend-test");
  Deno.env.set("WATCHDOG_USEC", "3000000");
  Deno.env.set("WATCHDOG_PID", String(Deno.pid));
  const env = takeNotifyEnvironment();
  assert.deepEqual(env, {
    socket: "@tend-test",
    watchdogUsec: 3000000n,
    unreadable: [],
  });
  const out = await new Deno.Command("sh", {
    args: [
      "-c",
      'echo "${NOTIFY_SOCKET-unset} ${WATCHDOG_USEC-unset} ${WATCHDOG_PID-unset}"',
    ],
    stdout: "piped",
  }).output();
  assert.equal(decoder.decode(out.stdout), "unset unset unset\n");
  assert.deepEqual(takeNotifyEnvironment(), {
    socket: null,
    watchdogUsec: null,
    unreadable: [],
  });
});

Deno.test(
  only("monotonicUsec is CLOCK_MONOTONIC, as Python's time.monotonic_ns", NO_PYTHON),
  async () => {
    const before = monotonicUsec();
    const out = await new Deno.Command("python3", {
      args: ["-c", "import time; print(time.monotonic_ns() // 1000)"],
      stdout: "piped",
    }).output();
    const python = BigInt(decoder.decode(out.stdout).trim());
    const after = monotonicUsec();
    assert.ok(
      before <= python && python <= after,
      `${before} <= ${python} <= ${after}`,
    );
  },
);

for (const kind of ["path", "abstract"] as const) {
  Deno.test(
    only(
      `Notifier to a Python receiver (${kind}): 300 datagrams in order, byte for byte`,
      NO_PYTHON,
    ),
    async () => {
      await using dir = await tempDir();
      const address = kind === "path"
        ? `${dir.path}/notify.sock`
        : `@tend-test-${crypto.randomUUID()}`;
      await using receiver = await Receiver.start(address);
      const notifier = new Notifier(address);
      try {
        const sent = Array.from({ length: 300 }, (_, i) => notifier.send(nth(i)));
        await Promise.all(sent);
        await receiver.datagram(() => true, 0, 300);
        assert.deepEqual(
          receiver.datagrams,
          Array.from({ length: 300 }, (_, i) => nth(i)),
        );
      } finally {
        notifier.close();
      }
    },
  );
}

Deno.test(
  only("Notifier waits, in order, while the receiver's queue is full", NO_PYTHON),
  async () => {
    await using dir = await tempDir();
    const address = `${dir.path}/slow.sock`;
    // The receiver reads nothing for a second: the queue (10 datagrams by
    // default) fills and the sends wait with their back-off.
    await using receiver = await Receiver.start(address, 1);
    const notifier = new Notifier(address);
    try {
      await Promise.all(Array.from({ length: 50 }, (_, i) => notifier.send(nth(i))));
      await receiver.datagram(() => true, 0, 50);
      assert.deepEqual(
        receiver.datagrams,
        Array.from({ length: 50 }, (_, i) => nth(i)),
      );
    } finally {
      notifier.close();
    }
  },
);

Deno.test("Notifier: nobody at the address rejects the send; later sends still go", async () => {
  await using dir = await tempDir();
  const notifier = new Notifier(`${dir.path}/nobody.sock`);
  try {
    await assert.rejects(notifier.send("READY=1"), /errno/);
    await assert.rejects(notifier.send("x".repeat(5000)), RangeError);
    await assert.rejects(notifier.send("STOPPING=1"), /errno/);
  } finally {
    notifier.close();
  }
  await assert.rejects(notifier.send("READY=1"), /closed/);
});

/** Runs the Python sender with a listener's NOTIFY_SOCKET; returns its pid. */
function pythonSender(
  env: Record<string, string>,
  args: string[],
): { pid: number; status: Promise<Deno.CommandStatus> } {
  const child = new Deno.Command("python3", {
    args: [SENDER, ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    detached: true,
  }).spawn();
  const output = child.output();
  return {
    pid: child.pid,
    status: output.then((out) => {
      assert.equal(Number(decoder.decode(out.stdout).trim()), child.pid);
      return out;
    }),
  };
}

Deno.test(
  only(
    "NotifyListener: 200 datagrams from a Python child in order, with its pid, then READY=1",
    NO_PYTHON,
  ),
  async () => {
    const sockets = NotifySockets.create();
    try {
      const got: NotifyMessage[] = [];
      const listener = sockets.listen((message) => got.push(message));
      const sender = pythonSender(listener.env, ["200"]);
      // Its own group, since it is spawned detached: members may send.
      listener.group = sender.pid;
      await sender.status;
      await eventually("READY=1", () => got.some((m) => m.ready), 20_000);
      assert.equal(got.length, 201);
      got.slice(0, 200).forEach((m, i) => {
        assert.equal(m.fields.get("SEQ"), String(i));
        assert.equal(m.status, "y".repeat((i * 397) % 3900));
        assert.equal(m.ready, false);
      });
      const last = got[200]!;
      assert.equal(last.status, "up");
      for (const m of got) {
        assert.equal(m.pid, sender.pid);
        assert.equal(m.uid, Deno.uid());
        assert.ok(m.sender === "group" || m.sender === "gone", m.sender);
      }
      assert.equal(listener.received, 201);
      assert.equal(listener.rejected, 0);
    } finally {
      sockets.close();
    }
  },
);

Deno.test(
  only(
    "NotifyListener drops datagrams from outside the child's group, and truncated ones",
    NO_PYTHON,
  ),
  async () => {
    const sockets = NotifySockets.create();
    try {
      const got: NotifyMessage[] = [];
      const rejected: number[] = [];
      const listener = sockets.listen((message) => got.push(message), {
        onRejected: (pid) => rejected.push(pid),
      });
      // The child's group is a sleep's; the sender leads a group of its own.
      const sleeper = new Deno.Command("sleep", { args: ["30"], detached: true })
        .spawn();
      try {
        const outsider = pythonSender(listener.env, ["3"]);
        listener.group = sleeper.pid;
        await outsider.status;
        await eventually("4 rejections", () => listener.rejected === 4, 20_000);
        assert.equal(got.length, 0);
        assert.deepEqual(rejected, Array(4).fill(outsider.pid));
      } finally {
        sleeper.kill("SIGKILL");
        await sleeper.status;
      }

      // A datagram longer than 4096 bytes is dropped; the rest arrive.
      const big = pythonSender(listener.env, ["2", "big"]);
      listener.group = big.pid;
      await big.status;
      await eventually("READY=1", () => got.some((m) => m.ready), 20_000);
      assert.deepEqual(got.map((m) => m.fields.get("SEQ") ?? "ready"), [
        "0",
        "1",
        "ready",
      ]);
      assert.equal(listener.rejected, 5);
    } finally {
      sockets.close();
    }
  },
);

/** Why the systemd-notify test cannot run here, or null when it can. */
const NO_SYSTEMD_NOTIFY: string | null = await (async () => {
  try {
    await new Deno.Command("systemd-notify", { args: ["--version"], stdout: "null" })
      .output();
    return null;
  } catch {
    return "needs systemd-notify (Debian's systemd package)";
  }
})();

Deno.test(
  only(
    "NotifyListener takes systemd-notify --ready --status, and releases its BARRIER=1 wait",
    NO_SYSTEMD_NOTIFY,
  ),
  async () => {
    const sockets = NotifySockets.create();
    try {
      const got: NotifyMessage[] = [];
      const listener = sockets.listen((message) => got.push(message));
      // `; true` keeps sh from exec'ing it: systemd-notify sends with its
      // parent's pid, here the shell, the group's leader.
      const child = new Deno.Command("sh", {
        args: ["-c", "systemd-notify --ready --status='serving 3 clients'; echo $?"],
        env: listener.env,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        detached: true,
      }).spawn();
      listener.group = child.pid;
      // Without tend closing the barrier's pipe it would wait 5 s and fail.
      const out = await child.output();
      assert.equal(decoder.decode(out.stdout), "0\n", decoder.decode(out.stderr));
      await eventually("READY=1", () => got.some((m) => m.ready), 20_000);
      const ready = got.find((m) => m.ready)!;
      assert.equal(ready.status, "serving 3 clients");
      assert.equal(ready.pid, child.pid);
      assert.ok(ready.sender === "group" || ready.sender === "gone", ready.sender);
    } finally {
      sockets.close();
    }
  },
);

Deno.test("NotifySockets: a private 0700 directory, sockets given to their child's user, all removed on close", () => {
  const sockets = NotifySockets.create();
  const dir = sockets.path;
  assert.match(dir, /^\/tmp\/tend-notify-[A-Za-z0-9]{6}$/);
  assert.equal(Deno.statSync(dir).mode! & 0o777, 0o700);
  const a = sockets.listen(() => {});
  const b = sockets.listen(() => {});
  assert.notEqual(a.path, b.path);
  assert.ok(Deno.statSync(a.path).isSocket);
  if (Deno.uid() === 0) {
    const c = sockets.listen(() => {}, { owner: { uid: 65534, gid: 65534 } });
    const stat = Deno.statSync(c.path);
    assert.deepEqual([stat.uid, stat.gid, stat.mode! & 0o777], [65534, 65534, 0o600]);
    assert.equal(Deno.statSync(dir).mode! & 0o777, 0o711, "searchable, not listable");
  }
  a.close();
  assert.throws(() => Deno.statSync(a.path), Deno.errors.NotFound);
  assert.ok(Deno.statSync(b.path).isSocket, "closing one leaves the others");
  sockets.close();
  assert.throws(() => Deno.statSync(dir), Deno.errors.NotFound);
  assert.throws(() => sockets.listen(() => {}), /closed/);
});

Deno.test("a notify socket is 0600 whatever the umask, even in a folder a user: child can search", () => {
  // Regression: without an owner the mode came from tend's umask, and under
  // umask 0 (common as PID 1) any user could send READY=1 for a child.
  const before = Deno.umask(0);
  const sockets = NotifySockets.create();
  try {
    const a = sockets.listen(() => {});
    assert.equal(Deno.statSync(a.path).mode! & 0o777, 0o600);
  } finally {
    Deno.umask(before);
    sockets.close();
  }
});

Deno.test("the receive side does not spin: an open socket wakes its poller once in 5 s or less", async () => {
  const sockets = NotifySockets.create();
  try {
    sockets.listen(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = pollerWakeups();
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.ok(pollerWakeups() - before <= 1, `${pollerWakeups() - before} wakeups`);
  } finally {
    sockets.close();
  }
});
