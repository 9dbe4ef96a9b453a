/**
 * `tend status`'s table, from the API's statuses: the READY column, and
 * what a process waits for and its last probe result in the note, cut to
 * the terminal's width.
 */

import assert from "node:assert/strict";
import type { ProcessStatusJson } from "../../lib/control/api.ts";
import { statusTable } from "../../lib/cli/status.ts";

function status(over: Partial<ProcessStatusJson>): ProcessStatusJson {
  return {
    name: "web",
    state: "RUNNING",
    pid: 42,
    startedAt: "2026-01-01T00:00:00.000Z",
    uptime: 192,
    restarts: 0,
    held: false,
    lastExit: null,
    nextStartAt: null,
    killAt: null,
    delay: 1,
    spawnError: null,
    ready: true,
    probe: null,
    waiting: null,
    blocked: false,
    killTime: 5,
    argv: ["web"],
    ...over,
  };
}

Deno.test("the status table has a READY column: yes, no while it runs unready, - when it does not run", () => {
  const table = statusTable([
    status({}),
    status({
      name: "db",
      state: "STARTING",
      pid: 43,
      ready: false,
      probe: "tcp 127.0.0.1:5432: Connection refused",
    }),
    status({
      name: "api",
      state: "STOPPED",
      pid: null,
      uptime: null,
      startedAt: null,
      ready: false,
      waiting: "waiting for db: ready",
    }),
    status({
      name: "worker",
      state: "STOPPED",
      pid: null,
      uptime: null,
      startedAt: null,
      ready: false,
      waiting: "cannot start: migrate exited with code 1",
      blocked: true,
    }),
  ], 0);
  assert.equal(
    table,
    [
      "NAME    STATE     READY  PID  UPTIME  RESTARTS  LAST EXIT",
      "web     RUNNING   yes    42   3m12s   0         -",
      "db      STARTING  no     43   3m12s   0         -          probe: tcp 127.0.0.1:5432: Connection refused",
      "api     STOPPED   -      -    -       0         -          waiting for db: ready",
      "worker  STOPPED   -      -    -       0         -          cannot start: migrate exited with code 1",
      "",
    ].join("\n"),
  );
});

Deno.test("the note is cut to the width given, the columns never", () => {
  const rows = [
    status({
      ready: false,
      probe: "http://127.0.0.1:8000/health: HTTP 503 Service Unavailable",
    }),
    status({ name: "w" }),
  ];
  const lines = statusTable(rows, 0, 80).trimEnd().split("\n");
  assert.ok(lines.every((line) => [...line].length <= 80), lines.join("\n"));
  assert.equal(
    lines[1],
    "web   RUNNING  no     42   3m12s   0         -          probe: http://127.0.0.1…",
  );
  assert.equal(lines[2], "w     RUNNING  yes    42   3m12s   0         -");
  // Too narrow for any of the note: the columns alone.
  const narrow = statusTable(rows, 0, 40).split("\n")[1]!;
  assert.equal(narrow, "web   RUNNING  no     42   3m12s   0         -");
  // A pipe or a file (no width) gets whole lines.
  assert.match(statusTable(rows, 0).split("\n")[1]!, /HTTP 503 Service Unavailable$/);
});
