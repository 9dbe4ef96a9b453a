/**
 * `tend check` with the health keys, end to end: cycles, unknown names and
 * probe mistakes are rejected with their lines (exit 78, nothing on
 * stdout); a valid file lists each process's probes and dependencies.
 */

import assert from "node:assert/strict";
import { tempDir, tend } from "../_fakes/tend.ts";

Deno.test("tend check rejects dependency cycles, unknown names and bad probes with their lines, and exits 78", async () => {
  await using dir = await tempDir();
  await dir.write(
    "bad.yaml",
    `processes:
  db:
    cmd: [sleep, "1000"]
  api:
    cmd: [sleep, "1000"]
    ready: { http: "http://127.0.0.1:8000/health", periodSeconds: 5 }
    dependsOn: { db: ready, worker: started }
  worker:
    cmd: [sleep, "1000"]
    dependsOn: [api, mgirate]
  migrate:
    shell: exit 0
    alive: { log: done }
`,
  );
  await using t = tend(["check", "bad.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 78, t.transcript());
  const problems = t.stderr.split("\n").filter((line) => line.startsWith("bad.yaml:"));
  assert.deepEqual(problems, [
    'bad.yaml:6:52: processes.api.ready.periodSeconds: unknown key "periodSeconds" (did you mean "period"?)',
    'bad.yaml:7:22: processes.api.dependsOn.db: "db" has no ready probe, so it is never ready; give it one, or use started',
    "bad.yaml:7:29: processes.api.dependsOn.worker: dependency cycle: api -> worker -> api",
    'bad.yaml:10:22: processes.worker.dependsOn[1]: unknown process "mgirate" (did you mean "migrate"?)',
    "bad.yaml:13:14: processes.migrate.alive.log: log is for readiness only; a liveness probe needs http, tcp, exec or shell",
  ], t.transcript());
  assert.deepEqual(t.lines, [], "nothing on stdout");
});

Deno.test("tend check lists each process's probes and dependencies", async () => {
  await using dir = await tempDir();
  await dir.write(
    "procs.yaml",
    `processes:
  db:
    cmd: [sleep, "1000"]
    ready: { tcp: 127.0.0.1:5432, period: 1s }
  migrate:
    shell: exit 0
    restart: on-failure
    dependsOn: { db: ready }
  worker:
    cmd: [sleep, "1000"]
    alive: { exec: [test, -e, /tmp], failures: 2 }
    dependsOn: { migrate: done }
`,
  );
  await using t = tend(["check", "procs.yaml"], { cwd: dir.path });
  assert.equal(await t.exit(), 0, t.transcript());
  const text = t.lines.join("\n");
  assert.match(
    text,
    /^ {2}ready: +tcp 127\.0\.0\.1:5432 \(initialDelay 0s, period 1s, timeout 1s, successes 1, failures 3\)$/m,
  );
  assert.match(text, /^ {2}dependsOn: +db: ready$/m);
  assert.match(
    text,
    /^ {2}alive: +exec test -e \/tmp \(initialDelay 0s, period 10s, timeout 1s, successes 1, failures 2\)$/m,
  );
  assert.match(text, /^ {2}dependsOn: +migrate: done$/m);
});
