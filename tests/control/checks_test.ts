/**
 * `/livez` and `/readyz` bodies and statuses, as Kubernetes writes them,
 * and which processes readiness waits for.
 */

import assert from "node:assert/strict";
import {
  checkResponse,
  livenessChecks,
  processCheck,
  readinessChecks,
} from "../../lib/control/checks.ts";
import type { ProcessStatus } from "../../lib/core/monitor.ts";

function status(over: Partial<ProcessStatus> = {}): ProcessStatus {
  return {
    name: "web",
    state: "RUNNING",
    pid: 42,
    startedAt: 0,
    uptime: 5,
    restarts: 0,
    held: false,
    lastExit: null,
    lastExitAt: null,
    spawnError: null,
    delay: 1,
    nextStartAt: null,
    killAt: null,
    ready: true,
    probe: null,
    waiting: null,
    blocked: false,
    ...over,
  };
}

Deno.test("readiness: RUNNING and ready passes; held and finished-with-0 need nothing", () => {
  assert.deepEqual(processCheck(status(), 0), { name: "process/web", ok: true });
  assert.equal(
    processCheck(status({ state: "STOPPED", held: true, pid: null }), 0).ok,
    true,
  );
  assert.equal(
    processCheck(
      status({ state: "EXITED", pid: null, lastExit: { code: 0, signal: null } }),
      0,
    ).ok,
    true,
  );
});

Deno.test("readiness fails, saying why, for every state that is not running and ready", () => {
  const cases: [Partial<ProcessStatus>, RegExp][] = [
    [
      { state: "STARTING", ready: false, probe: "http: connection refused" },
      /^STARTING: not ready yet$/,
    ],
    [
      { state: "RUNNING", ready: false, probe: "http: connection refused" },
      /^RUNNING: ready probe failing$/,
    ],
    [{
      state: "BACKOFF",
      pid: null,
      spawnError: "no such file",
      nextStartAt: 1500,
    }, /^BACKOFF after a failed start, next start in 1s$/],
    [{
      state: "BACKOFF",
      pid: null,
      lastExit: { code: 3, signal: null },
      nextStartAt: 4500,
    }, /^BACKOFF after exit 3, next start in 4s$/],
    [
      { state: "FATAL", pid: null, spawnError: "no such file" },
      /^FATAL: gave up after a failed start$/,
    ],
    [
      { state: "FATAL", pid: null, lastExit: { code: 3, signal: null } },
      /^FATAL: gave up after exit 3$/,
    ],
    [
      { state: "EXITED", pid: null, lastExit: { code: 1, signal: null } },
      /^EXITED with exit 1; not restarted$/,
    ],
    [
      { state: "EXITED", pid: null, lastExit: { code: null, signal: "SIGKILL" } },
      /^EXITED with SIGKILL/,
    ],
    [
      { state: "STOPPED", pid: null, waiting: "waiting for db: ready" },
      /^STOPPED: waiting for db: ready$/,
    ],
    [{ state: "STOPPING" }, /^STOPPING$/],
  ];
  for (const [over, reason] of cases) {
    const check = processCheck(status(over), 500);
    assert.equal(check.ok, false, JSON.stringify(over));
    assert.match(check.reason ?? "", reason);
  }
});

Deno.test("/readyz: ok when all pass; 503 naming only the failures; verbose lists all; exclude leaves one out", () => {
  const checks = readinessChecks(
    [
      status(),
      status({
        name: "crash",
        state: "BACKOFF",
        pid: null,
        lastExit: { code: 1, signal: null },
      }),
    ],
    false,
    0,
  );
  const failed = checkResponse("readyz", checks, { verbose: false, exclude: [] });
  assert.equal(failed.status, 503);
  assert.equal(
    failed.body,
    "[-]process/crash failed: BACKOFF after exit 1\nreadyz check failed\n",
  );
  const verbose = checkResponse("readyz", checks, { verbose: true, exclude: [] });
  assert.equal(
    verbose.body,
    "[+]shutdown ok\n[+]process/web ok\n[-]process/crash failed: BACKOFF after exit 1\n" +
      "readyz check failed\n",
  );
  const excluded = checkResponse("readyz", checks, {
    verbose: true,
    exclude: ["process/crash"],
  });
  assert.equal(excluded.status, 200);
  assert.equal(
    excluded.body,
    "[+]shutdown ok\n[+]process/web ok\n[+]process/crash excluded: ok\nreadyz check passed\n",
  );
  const ok = checkResponse("readyz", checks.slice(0, 2), {
    verbose: false,
    exclude: [],
  });
  assert.deepEqual(ok, { status: 200, body: "ok\n" });
});

Deno.test("/readyz fails once tend is stopping; /livez passes while it answers", () => {
  const r = checkResponse("readyz", readinessChecks([status()], true, 0), {
    verbose: false,
    exclude: [],
  });
  assert.equal(r.status, 503);
  assert.match(r.body, /^\[-\]shutdown failed: tend is stopping\n/);
  assert.deepEqual(
    checkResponse("livez", livenessChecks(), { verbose: true, exclude: [] }),
    { status: 200, body: "[+]ping ok\nlivez check passed\n" },
  );
});

Deno.test("a reason is one line, however the error was written", () => {
  const r = checkResponse("readyz", [
    { name: "process/x", ok: false, reason: "line one\nline two" },
  ], { verbose: false, exclude: [] });
  assert.equal(r.body, "[-]process/x failed: line one line two\nreadyz check failed\n");
});

Deno.test("readiness says no probe command, probe output or spawn error: those may hold secrets", () => {
  // Regression: /readyz, which needs no token, showed a probe's command
  // line and output, and the error of a failed start.
  const secret = "Hunter2-SECRET";
  const probe = `exec sh -c 'mysqladmin --password=${secret} ping': exit code 1: ` +
    `denied for ${secret}`;
  const spawnError = `cannot run /opt/${secret}/bin: No such file or directory`;
  const states: Partial<ProcessStatus>[] = [
    { state: "STARTING", ready: false, probe },
    { state: "RUNNING", ready: false, probe },
    { state: "STOPPING", ready: false, probe },
    { state: "BACKOFF", pid: null, probe, spawnError, nextStartAt: 900 },
    { state: "FATAL", pid: null, probe, spawnError },
    { state: "FATAL", pid: null, probe, lastExit: { code: 2, signal: null } },
    { state: "EXITED", pid: null, probe, lastExit: { code: 1, signal: null } },
    { state: "STOPPED", pid: null, probe, spawnError },
  ];
  const checks = readinessChecks(
    states.map((over, i) => status({ name: `p${i}`, ...over })),
    false,
    0,
  );
  for (const verbose of [false, true]) {
    const r = checkResponse("readyz", checks, { verbose, exclude: [] });
    assert.equal(r.status, 503);
    assert.doesNotMatch(r.body, /Hunter2|mysqladmin|No such file|denied/, r.body);
  }
});

Deno.test("a reason's control characters are escaped as in text log records", () => {
  const r = checkResponse("readyz", [
    {
      name: "process/x",
      ok: false,
      reason: "a\x1b[2Jb\vc\fd\re\u2028f\u0085g\x7fh\ti",
    },
    { name: "process/y", ok: true, reason: "held\x1b]0;title\x07" },
  ], { verbose: true, exclude: [] });
  assert.equal(
    r.body,
    "[-]process/x failed: a\\x1b[2Jb\\x0bc\\x0cd e\\u2028f\\u0085g\\x7fh\ti\n" +
      "[+]process/y ok (held\\x1b]0;title\\x07)\n" +
      "readyz check failed\n",
  );
  // deno-lint-ignore no-control-regex
  assert.doesNotMatch(r.body, /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]/);
});
