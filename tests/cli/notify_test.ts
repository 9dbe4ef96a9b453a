/**
 * End to end: tend under a service manager that speaks sd_notify. A Python
 * receiver stands in for systemd, bound to a socket path or to an abstract
 * name; tend runs with `NOTIFY_SOCKET` pointing at it and is driven by
 * real signals. The datagrams must arrive in order: READY=1, RELOADING=1
 * and READY=1 around a SIGHUP reload, STOPPING=1.
 */

import assert from "node:assert/strict";
import { NO_PYTHON, Receiver } from "../_fakes/notify.ts";
import { only } from "../_fakes/proc.ts";
import {
  MAIN,
  PERMISSIONS,
  SLEEPER,
  tempDir,
  Tend,
  tend,
  yaml,
} from "../_fakes/tend.ts";

/** The datagrams that mark a step of tend's life, by their first field. */
function steps(datagrams: string[]): string[] {
  return datagrams.flatMap((d) => {
    const first = d.split("\n")[0]!;
    return first.startsWith("STATUS=") || first === "WATCHDOG=1" ? [] : [first];
  });
}

for (const kind of ["path", "abstract"] as const) {
  Deno.test(
    only(
      `sd_notify (${kind}): READY=1, RELOADING=1 and READY=1 around SIGHUP, STOPPING=1, in order; children never see NOTIFY_SOCKET`,
      NO_PYTHON,
    ),
    async () => {
      await using dir = await tempDir();
      const address = kind === "path"
        ? `${dir.path}/notify.sock`
        : `@tend-e2e-${crypto.randomUUID()}`;
      await using receiver = await Receiver.start(address);
      const file = await dir.write(
        "procs.yaml",
        yaml({
          processes: {
            web: { cmd: SLEEPER },
            env: {
              shell: 'echo "env: ${NOTIFY_SOCKET-unset} ${WATCHDOG_USEC-unset} ' +
                '${WATCHDOG_PID-unset}"; exec sleep 1000',
            },
          },
        }),
      );
      // The watchdog asks for a ping every 0.1 s; WATCHDOG_PID unset means tend.
      await using t = tend(["run", "--log-format", "json", file], {
        env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: "200000" },
      });
      const ready = await receiver.datagram((d) => d.startsWith("READY=1"));
      assert.equal(receiver.datagrams[ready], "READY=1\nSTATUS=2 running");
      await t.said("env", "env: unset unset unset");
      await receiver.datagram((d) => d === "WATCHDOG=1", 0, 2);

      t.signal("SIGHUP");
      const reloading = await receiver.datagram((d) => d.startsWith("RELOADING=1"));
      assert.match(
        receiver.datagrams[reloading]!,
        /^RELOADING=1\nMONOTONIC_USEC=\d+\nSTATUS=reloading$/,
      );
      await receiver.datagram((d) => d.startsWith("READY=1"), reloading);

      t.signal("SIGTERM");
      assert.equal(await t.exit(), 0, t.transcript());
      await receiver.datagram((d) => d.startsWith("STOPPING=1"));
      assert.deepEqual(steps(receiver.datagrams), [
        "READY=1",
        "RELOADING=1",
        "READY=1",
        "STOPPING=1",
      ]);
    },
  );
}

Deno.test(
  only(
    "sd_notify: a WATCHDOG_USEC meant for another pid makes no WATCHDOG=1",
    NO_PYTHON,
  ),
  async () => {
    await using dir = await tempDir();
    const address = `${dir.path}/notify.sock`;
    await using receiver = await Receiver.start(address);
    const file = await dir.write(
      "procs.yaml",
      yaml({ processes: { web: { cmd: SLEEPER } } }),
    );
    await using t = tend(["run", "--log-format", "json", file], {
      env: { NOTIFY_SOCKET: address, WATCHDOG_USEC: "20000", WATCHDOG_PID: "1" },
    });
    await receiver.datagram((d) => d.startsWith("READY=1"));
    // A reload's round trip gives a watchdog every 10 ms time to show.
    t.signal("SIGHUP");
    const reloading = await receiver.datagram((d) => d.startsWith("RELOADING=1"));
    await receiver.datagram((d) => d.startsWith("READY=1"), reloading);
    t.signal("SIGTERM");
    assert.equal(await t.exit(), 0, t.transcript());
    await receiver.datagram((d) => d.startsWith("STOPPING=1"));
    assert.deepEqual(receiver.datagrams.filter((d) => d === "WATCHDOG=1"), []);
  },
);

Deno.test("NOTIFY_SOCKET without --allow-ffi: tend warns, runs on, and still keeps it from its children", async () => {
  await using dir = await tempDir();
  const file = await dir.write(
    "procs.yaml",
    yaml({
      processes: {
        env: { shell: 'echo "env: ${NOTIFY_SOCKET-unset}"; exec sleep 1000' },
      },
    }),
  );
  await using t = new Tend(
    new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...PERMISSIONS.filter((p) => p !== "--allow-ffi"),
        MAIN,
        "run",
        "--log-format",
        "json",
        file,
      ],
      env: { NOTIFY_SOCKET: `${dir.path}/nobody.sock` },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    }),
  );
  const { record } = await t.record(
    "the warning",
    (r) => r.level === "warn" && r.message.startsWith("NOTIFY_SOCKET"),
  );
  assert.match(
    record.message,
    /^NOTIFY_SOCKET is set but tend cannot notify the service manager \(needs --allow-ffi\)/,
  );
  await t.said("env", "env: unset");
  t.signal("SIGTERM");
  assert.equal(await t.exit(), 0, t.transcript());
});
