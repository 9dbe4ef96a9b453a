import assert from "node:assert/strict";
import { normalizeSignal, SIGNALS } from "../../lib/core/signals.ts";

Deno.test("normalizeSignal() accepts a name with or without SIG, in any case", () => {
  assert.equal(normalizeSignal("SIGTERM"), "SIGTERM");
  assert.equal(normalizeSignal("TERM"), "SIGTERM");
  assert.equal(normalizeSignal("sigterm"), "SIGTERM");
  assert.equal(normalizeSignal("int"), "SIGINT");
  assert.equal(normalizeSignal("SigUsr1"), "SIGUSR1");
});

Deno.test("normalizeSignal() returns null for a name tend does not know", () => {
  for (const name of ["", "SIG", "SIGFOO", "15", "SIGTERM ", "SIGPWR", "SIGBREAK"]) {
    assert.equal(normalizeSignal(name), null, name);
  }
});

Deno.test("SIGNALS holds the portable signals and no duplicates", () => {
  const portable = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGABRT",
    "SIGKILL",
    "SIGUSR1",
    "SIGUSR2",
    "SIGALRM",
    "SIGTERM",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGWINCH",
  ];
  for (const name of portable) assert.ok(SIGNALS.includes(name as never), name);
  assert.equal(new Set(SIGNALS).size, SIGNALS.length);
});

// Needs --allow-run; it pins that Deno.kill accepts every listed name here.
Deno.test({
  name: "Deno.kill() accepts every signal in SIGNALS",
  ignore: Deno.build.os === "windows" ||
    Deno.permissions.querySync({ name: "run" }).state !== "granted",
  async fn() {
    for (const signal of SIGNALS) {
      const child = new Deno.Command("sleep", {
        args: ["5"],
        stdout: "null",
        stderr: "null",
      })
        .spawn();
      try {
        Deno.kill(child.pid, signal);
      } finally {
        try {
          child.kill("SIGKILL");
        } catch {
          // Already ended by the signal under test.
        }
        await child.status;
      }
    }
  },
});
