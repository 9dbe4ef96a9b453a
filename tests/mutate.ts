/**
 * Mutation check of the monitor's rules: each mutation below changes one
 * rule of procmon's state machine (or its arithmetic) in a copy of the
 * tree, and the fake-clock tests must then fail. A mutation the tests do
 * not catch "survives": a rule nothing pins.
 *
 * Run with `deno task mutate`; it prints one line per mutation and exits 1
 * if any survives. The tree itself is never touched.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** One single-rule change: replace `find` (which must occur exactly once) in `file`. */
export interface Mutation {
  /** What rule it breaks. */
  name: string;
  /** The file, relative to the repository. */
  file: string;
  /** The text to change; it must occur exactly once. */
  find: string;
  /** What it becomes. */
  replace: string;
}

const MONITOR = "lib/core/monitor.ts";
const BACKOFF = "lib/core/backoff.ts";
const DEPS = "lib/core/deps.ts";

/** The mutations, one rule each. */
export const MUTATIONS: readonly Mutation[] = [
  {
    name: "a run exactly threshold long is not healthy",
    file: BACKOFF,
    find: "age >= timing.threshold",
    replace: "age > timing.threshold",
  },
  {
    name: "a failed start counts as a healthy run",
    file: BACKOFF,
    find: "return !failedToStart && age",
    replace: "return age",
  },
  {
    name: "the back-off triples instead of doubling",
    file: BACKOFF,
    find: "clampDelay(delay * 2, timing)",
    replace: "clampDelay(delay * 3, timing)",
  },
  {
    name: "the doubling is not capped at maxRestartDelay",
    file: BACKOFF,
    find: "return clampDelay(delay * 2, timing);",
    replace: "return delay * 2;",
  },
  {
    name: "the clamp ignores minRestartDelay",
    file: BACKOFF,
    find: "Math.max(delay, timing.minRestartDelay)",
    replace: "delay",
  },
  {
    name: "a healthy run does not reset the delay",
    file: MONITOR,
    find: "// A healthy run: restart at once, and forget earlier back-off.\n" +
      "        proc.delay = spec.timing.minRestartDelay;",
    replace: "// mutated",
  },
  {
    name: "an early death waits the doubled delay instead of the current one",
    file: MONITOR,
    find: "this.#schedule(proc, delay, status === null);",
    replace: "this.#schedule(proc, proc.delay, status === null);",
  },
  {
    name: "a cancelled back-off's timer is never cleared",
    file: MONITOR,
    find: "    if (state.timer !== null) this.#clock.clearTimeout(state.timer);\n" +
      '    state.timer = null;\n    this.#set(proc, { kind: "stopped" });',
    replace: '    this.#set(proc, { kind: "stopped" });',
  },
  {
    name: "the kill timer is never cleared when the group is gone",
    file: MONITOR,
    find: "  #finish(proc: Proc, state: Stopping): void {\n" +
      "    if (state.killTimer !== null) this.#clock.clearTimeout(state.killTimer);",
    replace: "  #finish(proc: Proc, state: Stopping): void {",
  },
  {
    name: "on-failure does not retry a start that failed",
    file: MONITOR,
    find: "return status === null || status.code !== 0;",
    replace: "return status !== null && status.code !== 0;",
  },
  {
    name: "on-failure restarts after exit code 0",
    file: MONITOR,
    find: "return status === null || status.code !== 0;",
    replace: "return true;",
  },
  {
    name: "never restarts",
    file: MONITOR,
    find: 'case "never":\n      return false;',
    replace: 'case "never":\n      return true;',
  },
  {
    name: "stopService leaves pending restarts",
    file: MONITOR,
    find:
      'if (proc.state.kind === "backoff") this.#cancelBackoff(proc);\n      else if',
    replace: "if",
  },
  {
    name: "SIGKILL comes at half of killTime",
    file: MONITOR,
    find: "const killTime = this.#resolve(proc).timing.killTime * 1000;",
    replace: "const killTime = this.#resolve(proc).timing.killTime * 500;",
  },
  {
    name: "the escalation sends SIGTERM again instead of SIGKILL",
    file: MONITOR,
    find: 'this.#signal(proc, state.child, "SIGKILL");',
    replace: 'this.#signal(proc, state.child, "SIGTERM");',
  },
  {
    name: "stopProcess is not a bounce",
    file: MONITOR,
    find: '!this.#running || then === "halt" || then === "hold"',
    replace:
      '!this.#running || then === "halt" || then === "hold" || then === "bounce"',
  },
  {
    name: "startProcess starts a running process again",
    file: MONITOR,
    find:
      'if (state.kind === "running" || state.kind === "stopping") {\n      this.#changed(proc);',
    replace: 'if (state.kind === "stopping") {\n      this.#changed(proc);',
  },
  {
    name: "a process added to a stopped monitor starts at once",
    file: MONITOR,
    find: "if (this.#running && !proc.held) this.#startSoon(proc);",
    replace: "if (!proc.held) this.#startSoon(proc);",
  },
  {
    name: "a duplicate name is accepted",
    file: MONITOR,
    find: "        throw new DuplicateProcessError(name);",
    replace: "        return;",
  },
  {
    name: "removing a process in back-off keeps it",
    file: MONITOR,
    find: "      this.#cancelBackoff(proc);\n      this.#procs.delete(name);",
    replace: "      this.#cancelBackoff(proc);",
  },
  {
    name: "members left behind by a leader are not stopped",
    file: MONITOR,
    find: '    if (state.kind === "running") {\n      if (!groupAlive) {',
    replace: '    if (state.kind === "running") {\n      if (true) {',
  },
  {
    name: "stopService resolves while children still run",
    file: MONITOR,
    find: 'if (kind === "stopping" || (kind === "running" && !this.#running)) return;',
    replace: 'if (kind === "stopping") return;',
  },
  {
    name: "the wait after SIGKILL can be shorter than a second",
    file: MONITOR,
    find: "Math.max(this.#resolve(proc).timing.killTime, ABANDON_MIN)",
    replace: "this.#resolve(proc).timing.killTime",
  },
  {
    name: "new timing leaves pending delays out of bounds",
    file: MONITOR,
    find: "      proc.delay = clampDelay(proc.delay, this.#resolve(proc).timing);",
    replace: "",
  },
  {
    name: "a changed spec keeps the old back-off",
    file: MONITOR,
    find:
      "    const resolved = this.#resolve(proc);\n    proc.delay = resolved.timing.minRestartDelay;\n" +
      "    proc.earlyDeaths = 0;",
    replace: "    const resolved = this.#resolve(proc);\n    proc.earlyDeaths = 0;",
  },
  {
    name: "the first start counts as a restart",
    file: MONITOR,
    find: "restarts: Math.max(0, proc.starts - 1),",
    replace: "restarts: proc.starts,",
  },
  {
    name: "killAll leaves children to be restarted",
    file: MONITOR,
    find: 'this.#set(proc, this.#stopping(proc, state, "halt", null));',
    replace: 'this.#set(proc, this.#stopping(proc, state, "bounce", null));',
  },
  {
    name: "stopSignal is ignored",
    file: MONITOR,
    find:
      "    const signal = this.#resolve(proc).stopSignal;\n    this.#sink.event({\n" +
      '      type: "stop-signal",',
    replace: '    const signal = "SIGTERM" as const;\n    this.#sink.event({\n' +
      '      type: "stop-signal",',
  },
  {
    name: "an exit of a replaced child is taken for the current one's",
    file: MONITOR,
    find: 'if (!("child" in state) || state.child !== child) return;',
    replace: 'if (!("child" in state)) return;',
  },
  {
    name: "a process's own killTime is ignored",
    file: "lib/core/spec.ts",
    find: "killTime: spec.killTime ?? timing.killTime,",
    replace: "killTime: timing.killTime,",
  },
  {
    name: "a restart at once waits for a timer",
    file: MONITOR,
    find: "if (delay === 0 && !macrotask) this.#clock.queueMicrotask(fire);\n    else ",
    replace: "",
  },
  {
    name: "startService starts every process in one turn",
    file: MONITOR,
    find: "    if (this.#queue.length === 0 && !full) {",
    replace: "    if (true) {",
  },
  {
    name: "stopping a process sends no SIGCONT after the stop signal",
    file: MONITOR,
    find: "      if (stop) child.stop(signal);\n      else child.signal(signal);",
    replace: "      child.signal(signal);",
  },
  {
    name: "a held process is restarted after its stop",
    file: MONITOR,
    find: 'this.#running || then === "halt" || then === "hold"',
    replace: 'this.#running || then === "halt"',
  },
  {
    name: "startProcess leaves a hold in place",
    file: MONITOR,
    find:
      "    const proc = this.#get(name);\n    proc.held = false;\n    proc.earlyDeaths = 0;\n" +
      '    const state = proc.state;\n    if (state.kind === "stopping" && state.then',
    replace: "    const proc = this.#get(name);\n    proc.earlyDeaths = 0;\n" +
      '    const state = proc.state;\n    if (state.kind === "stopping" && state.then',
  },
  {
    name: "startService starts processes with autostart: false",
    file: MONITOR,
    find: 'if (kind === "running" || kind === "stopping" || proc.held) continue;',
    replace: 'if (kind === "running" || kind === "stopping") continue;',
  },
  {
    name: "maxRestarts allows one restart more",
    file: MONITOR,
    find: "proc.earlyDeaths > spec.maxRestarts",
    replace: "proc.earlyDeaths > spec.maxRestarts + 1",
  },
  {
    name: "a healthy run does not reset the early deaths",
    file: MONITOR,
    find: "proc.earlyDeaths = healthy ? 0 : proc.earlyDeaths + 1;",
    replace: "proc.earlyDeaths = healthy ? proc.earlyDeaths : proc.earlyDeaths + 1;",
  },
  {
    name: "a bounce asked for counts as an early death",
    file: MONITOR,
    find: 'if (then === "exited") proc.earlyDeaths =',
    replace: "proc.earlyDeaths =",
  },
  {
    name: "a state event is sent even when nothing users see changed",
    file: MONITOR,
    find: "    if (told === proc.told) return;\n",
    replace: "",
  },
  {
    name: "a process starts before its dependencies meet their conditions",
    file: MONITOR,
    find: "    const verdict = this.#gate(proc);\n    if (verdict !== null) {\n",
    replace: "    const verdict = null;\n    if (verdict !== null) {\n",
  },
  {
    name: "ready is met by a dependency that runs but is not ready",
    file: DEPS,
    find: 'if (dep.state === "RUNNING" && dep.ready !== false) return "met";',
    replace: 'if (dep.state === "RUNNING" || dep.state === "STARTING") return "met";',
  },
  {
    name: "done is met by a failing exit",
    file: DEPS,
    find: 'if ((exited || dep.state === "STOPPED") && lastOk) return "met";',
    replace: 'if (exited || dep.state === "STOPPED") return "met";',
  },
  {
    name: "stopService stops dependencies with their dependents",
    file: MONITOR,
    find: "    for (const proc of free.length === 0 && !stopping ? left : free) {",
    replace: "    for (const proc of left) {",
  },
  {
    name: "a later readiness failure sends a process back to STARTING",
    file: MONITOR,
    find: "    state.wasReady ||= ready;\n",
    replace: "    state.wasReady = ready;\n",
  },
  {
    name: "a liveness failure does not restart the process",
    file: MONITOR,
    find:
      '    this.#sink.event({ type: "unhealthy", name, pid, reason });\n    this.#stop(proc);',
    replace: '    this.#sink.event({ type: "unhealthy", name, pid, reason });',
  },
  {
    name: "a SIGKILL put off for a pending exit is never sent",
    file: MONITOR,
    find: "      else this.#kill(proc, state);",
    replace: "",
  },
];

const ROOT = fileURLToPath(new URL("..", import.meta.url));

/** The tests that pin the monitor's rules: fake processes and a fake clock only. */
const TESTS = [
  "tests/core/monitor_test.ts",
  "tests/core/deps_test.ts",
  "tests/supervisor_test.ts",
];

// The tests take under a second; a mutant still running after this hangs them.
const MUTANT_TIMEOUT_MS = 30_000;

/** Whether the tests still pass with `mutation` applied to a copy of the tree. */
async function survives(mutation: Mutation): Promise<boolean> {
  const dir = await Deno.makeTempDir({ prefix: "tend-mutant-" });
  try {
    for (const part of ["lib", "tests", "deno.json", "deno.lock"]) {
      const copied = await new Deno.Command("cp", {
        args: ["-R", join(ROOT, part), dir],
      }).output();
      if (!copied.success) throw new Error(`Cannot copy ${part} into ${dir}`);
    }
    const file = join(dir, mutation.file);
    const source = await Deno.readTextFile(file);
    const count = source.split(mutation.find).length - 1;
    if (count !== 1) {
      throw new Error(
        `Cannot apply "${mutation.name}": its text occurs ${count} times in ${mutation.file}`,
      );
    }
    await Deno.writeTextFile(file, source.replace(mutation.find, mutation.replace));
    const child = new Deno.Command(Deno.execPath(), {
      args: ["test", "--no-check", "--allow-read", "--allow-env", ...TESTS],
      cwd: dir,
      stdout: "null",
      stderr: "null",
      env: { NO_COLOR: "1" },
    }).spawn();
    // A mutant that makes a test hang is caught, not waited for.
    const timer = setTimeout(() => child.kill("SIGKILL"), MUTANT_TIMEOUT_MS);
    const status = await child.status;
    clearTimeout(timer);
    return status.success;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs every mutation, two at a time; resolves with the names of the survivors. */
export async function survivors(
  report: (mutation: Mutation, survived: boolean) => void = () => {},
): Promise<string[]> {
  // Every mutation must apply before any runs: a rule moved in the code
  // needs its mutation moved too.
  const stale: string[] = [];
  for (const m of MUTATIONS) {
    const source = await Deno.readTextFile(join(ROOT, m.file));
    const count = source.split(m.find).length - 1;
    if (count !== 1) {
      stale.push(`"${m.name}": its text occurs ${count} times in ${m.file}`);
    }
  }
  if (stale.length > 0) throw new Error(`Cannot apply mutations:\n${stale.join("\n")}`);
  const left = [...MUTATIONS];
  const found: string[] = [];
  const worker = async () => {
    for (let m = left.shift(); m !== undefined; m = left.shift()) {
      const survived = await survives(m);
      report(m, survived);
      if (survived) found.push(m.name);
    }
  };
  await Promise.all([worker(), worker()]);
  return found;
}

if (import.meta.main) {
  const encoder = new TextEncoder();
  const say = (text: string) => Deno.stdout.writeSync(encoder.encode(text + "\n"));
  const found = await survivors((m, survived) =>
    say(`${survived ? "SURVIVED" : "caught  "}  ${m.name}`)
  );
  say(`${MUTATIONS.length - found.length} of ${MUTATIONS.length} caught`);
  if (found.length > 0) Deno.exit(1);
}
