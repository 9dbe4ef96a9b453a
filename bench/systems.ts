/**
 * The systems under test, each as a user would run it: tend under
 * `deno run` with its start task's permissions, supervisord with a
 * generated `supervisord.conf`, Twisted's procmon under `twistd -n`, PM2's
 * `pm2-runtime` with an ecosystem file, and the raw baseline (the
 * children run by a plain shell, writing straight to files).
 *
 * Each writes its config into a fresh temp dir and starts in a session of
 * its own; see {@linkcode spawnSession}.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };
import { type Spawned, spawnSession } from "./proc.ts";
import { type Shape, shape } from "./verify.ts";

/**
 * The systems, in table order. `tend` starts its children with its FFI
 * spawner (`posix_spawn`), as `tend run` does where it may; `tend-cmd` is
 * the same tend with `TEND_SPAWNER=deno`, its `Deno.Command` fallback, in
 * the scenarios where the spawner makes a difference.
 */
export const SYSTEM_IDS = [
  "tend",
  "tend-cmd",
  "raw",
  "supervisord",
  "procmon",
  "pm2",
] as const;

/** The tend systems, whose figures are checked against the targets. */
export const TEND_IDS: readonly SystemId[] = ["tend", "tend-cmd"];

/** One of {@linkcode SYSTEM_IDS}. */
export type SystemId = typeof SYSTEM_IDS[number];

/** One supervised command. */
export interface ProcSpec {
  /** Name, `[A-Za-z0-9_]+`. */
  name: string;
  /** Program and arguments, no shell. */
  argv: string[];
}

/** What to supervise, and how. */
export interface LaunchSpec {
  procs: ProcSpec[];
  /** Restart a child that exits (after a healthy run); otherwise leave it. */
  restart: boolean;
  /** Seconds a run must last to count as healthy (restart scenarios). */
  threshold?: number;
  /** Structured (JSON) log output, where the system has it. */
  json?: boolean;
}

/** A started system. */
export interface Launched {
  /** The supervisor process (for raw: the shell running the children). */
  proc: Spawned;
  /** The files that hold the children's lines, per child name. */
  outputs: Record<string, string>;
  /** The distinct output files. */
  files: string[];
  /** What an intact line of child `name` with `payload` looks like. */
  shape(name: string, payload: string): Shape;
}

/** A system under test. */
export interface System {
  id: SystemId;
  /** Name and version, for the table's header. */
  version: string;
  /** Whether it can write JSON log lines. */
  json: boolean;
  /** Starts `spec` with its files in `dir`. */
  launch(dir: string, spec: LaunchSpec): Launched;
}

/** A system that is not installed. */
export interface Missing {
  id: SystemId;
  install: string;
}

const REPO = new URL("..", import.meta.url).pathname;
/** tend's entry point. */
export const MAIN_TS = `${REPO}main.ts`;

/**
 * The permission flags of deno.json's `start` task: tend runs exactly as
 * `deno task start` runs it.
 */
export function tendPermissions(): string[] {
  const words = denoJson.tasks.start.split(/\s+/);
  const from = words.indexOf("run") + 1;
  const to = words.indexOf("main.ts");
  if (from === 0 || to === -1) {
    throw new Error(`cannot read the permissions of deno.json's start task`);
  }
  return words.slice(from, to);
}

/** Quotes a word for a POSIX shell. */
export function shq(word: string): string {
  return /^[A-Za-z0-9_.,:/=@%+-]+$/.test(word)
    ? word
    : `'${word.replaceAll("'", `'"'"'`)}'`;
}

function jsonText(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}

function perChild(spec: LaunchSpec, file: (name: string) => string) {
  return Object.fromEntries(spec.procs.map((p) => [p.name, file(p.name)]));
}

// --- tend -----------------------------------------------------------------

const tend = (version: string, id: "tend" | "tend-cmd"): System => ({
  id,
  version: `${version}${id === "tend" ? ", FFI spawner" : ", Deno.Command spawner"}`,
  json: true,
  launch(dir, spec) {
    const config = {
      ...(spec.threshold !== undefined ? { threshold: spec.threshold } : {}),
      processes: Object.fromEntries(spec.procs.map((p) => [p.name, {
        cmd: p.argv,
        restart: spec.restart ? "always" : "never",
      }])),
    };
    // JSON is YAML: no quoting rules to get wrong.
    Deno.writeTextFileSync(`${dir}/tend.yaml`, JSON.stringify(config, null, 2));
    const out = `${dir}/tend.out`;
    const proc = spawnSession([
      "deno",
      "run",
      ...tendPermissions(),
      MAIN_TS,
      "run",
      ...(spec.json ? ["--log-format", "json"] : []),
      `${dir}/tend.yaml`,
    ], {
      stdout: out,
      stderr: `${dir}/tend.err`,
      cwd: dir,
      env: { TEND_SPAWNER: id === "tend" ? "ffi" : "deno" },
    });
    return {
      proc,
      outputs: perChild(spec, () => out),
      files: [out],
      shape: spec.json
        // {"time":"…","level":"info",…,"message":"[name] payload"}
        ? (name, payload) =>
          shape('{"time":"', `"message":"${jsonText(`[${name}] ${payload}`)}"}`)
        // HH:MM:SS.mmm [name] payload
        : (name, payload) => {
          const suffix = `[${name}] ${payload}`;
          return shape("", suffix, 13 + suffix.length);
        },
    };
  },
});

// --- raw: a shell, each child's output straight to a file -----------------

const raw: System = {
  id: "raw",
  version: "sh",
  json: false,
  launch(dir, spec) {
    const outputs = perChild(spec, (name) => `${dir}/raw-${name}.out`);
    const lines = spec.procs.map((p) => {
      const cmd = p.argv.map(shq).join(" ");
      const body = spec.restart ? `while :; do ${cmd}; done` : cmd;
      return `(${body}) >${shq(outputs[p.name]!)} 2>&1 &`;
    });
    const proc = spawnSession(["sh", "-c", [...lines, "wait"].join("\n")], {
      cwd: dir,
    });
    return {
      proc,
      outputs,
      files: Object.values(outputs),
      shape: (_name, payload) => shape("", payload, payload.length),
    };
  },
};

// --- supervisord -----------------------------------------------------------

const supervisord = (version: string): System => ({
  id: "supervisord",
  version,
  json: false,
  launch(dir, spec) {
    const outputs = perChild(spec, (name) => `${dir}/sup-${name}.out`);
    const conf = [
      "[supervisord]",
      "nodaemon=true",
      `logfile=${dir}/supervisord.log`,
      `pidfile=${dir}/supervisord.pid`,
      `childlogdir=${dir}`,
      "minfds=8192",
      "",
      ...spec.procs.flatMap((p) => [
        `[program:${p.name}]`,
        // supervisord splits the command like a shell; % starts its own
        // interpolation and must be doubled.
        `command=${p.argv.map(shq).join(" ").replaceAll("%", "%%")}`,
        "autostart=true",
        `autorestart=${spec.restart}`,
        "startsecs=0",
        "startretries=1000000",
        `stdout_logfile=${outputs[p.name]}`,
        "stdout_logfile_maxbytes=0",
        "redirect_stderr=true",
        "stopsignal=TERM",
        "stopwaitsecs=5",
        "",
      ]),
    ].join("\n");
    Deno.writeTextFileSync(`${dir}/supervisord.conf`, conf);
    const proc = spawnSession(["supervisord", "-n", "-c", `${dir}/supervisord.conf`], {
      stdout: `${dir}/supervisord.stdout`,
      stderr: `${dir}/supervisord.stdout`,
      cwd: dir,
    });
    return {
      proc,
      outputs,
      files: Object.values(outputs),
      // It copies the child's bytes as they are.
      shape: (_name, payload) => shape("", payload, payload.length),
    };
  },
});

// --- Twisted's procmon -------------------------------------------------------

// The same ProcessMonitor that `twistd procmon CMD` builds, from a .tac file
// so that it can hold several named processes and pass the environment on
// (`twistd procmon` gives its one child an empty environment and names it
// after its whole command line).
const TAC = `import json, os
from twisted.application import service
from twisted.runner.procmon import ProcessMonitor

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "procmon.json")) as f:
    spec = json.load(f)
application = service.Application("tend-bench")
monitor = ProcessMonitor()
monitor.threshold = spec["threshold"]
monitor.minRestartDelay = spec["minRestartDelay"]
monitor.maxRestartDelay = spec["maxRestartDelay"]
for name, argv in spec["processes"]:
    monitor.addProcess(name, argv, env=dict(os.environ))
monitor.setServiceParent(application)
`;

const procmon = (version: string, twistd: string): System => ({
  id: "procmon",
  version,
  json: false,
  launch(dir, spec) {
    // procmon always restarts; "never" is a restart after a million seconds.
    const timing = spec.restart
      ? { threshold: spec.threshold ?? 1, minRestartDelay: 1, maxRestartDelay: 3600 }
      : { threshold: 1e9, minRestartDelay: 1e6, maxRestartDelay: 1e6 };
    Deno.writeTextFileSync(
      `${dir}/procmon.json`,
      JSON.stringify({ ...timing, processes: spec.procs.map((p) => [p.name, p.argv]) }),
    );
    Deno.writeTextFileSync(`${dir}/procmon.tac`, TAC);
    const out = `${dir}/procmon.out`;
    // --logfile=- : the log to stdout (a --logfile=FILE rotates every 1 MB).
    const proc = spawnSession(
      [twistd, "-n", "--logfile=-", "--pidfile=", "-y", `${dir}/procmon.tac`],
      { stdout: out, stderr: `${dir}/procmon.err`, cwd: dir },
    );
    return {
      proc,
      outputs: perChild(spec, () => out),
      files: [out],
      // 2025-01-01T00:00:00+0000 [twisted.runner.procmon.ProcessMonitor#info] [name] payload
      shape: (name, payload) => shape("", `] [${name}] ${payload}`),
    };
  },
});

// --- PM2 ----------------------------------------------------------------------

const pm2 = (version: string): System => ({
  id: "pm2",
  version,
  json: true,
  launch(dir, spec) {
    const apps = spec.procs.map((p) => ({
      name: p.name,
      script: p.argv[0],
      args: p.argv.slice(1),
      interpreter: "none",
      autorestart: spec.restart,
      // PM2 counts a run shorter than min_uptime as unstable and gives up
      // after max_restarts of them: use the same threshold as the others.
      min_uptime: Math.round((spec.threshold ?? 1) * 1000),
      max_restarts: 1000000,
      restart_delay: 0,
    }));
    Deno.writeTextFileSync(`${dir}/ecosystem.json`, JSON.stringify({ apps }, null, 2));
    const out = `${dir}/pm2.out`;
    const proc = spawnSession(
      [
        "pm2-runtime",
        ...(spec.json ? ["--json"] : []),
        "start",
        `${dir}/ecosystem.json`,
      ],
      {
        stdout: out,
        stderr: `${dir}/pm2.err`,
        cwd: dir,
        env: { PM2_HOME: `${dir}/pm2home` },
      },
    );
    return {
      proc,
      outputs: perChild(spec, () => out),
      files: [out],
      shape: spec.json
        // {"message":"payload","timestamp":"…","type":"out","process_id":0,"app_name":"name"}
        ? (name, payload) =>
          shape(
            `{"message":"${jsonText(payload)}","timestamp":"`,
            `"app_name":"${name}"}`,
          )
        // its default (--raw) output: the bytes as they came, no prefix
        : (_name, payload) => shape("", payload, payload.length),
    };
  },
});

// --- detection ----------------------------------------------------------------

async function output(argv: string[], env: Record<string, string> = {}) {
  try {
    const out = await new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) return null;
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    return text.trim();
  } catch {
    return null;
  }
}

/** Finds which systems are installed, with their versions. */
export async function detect(): Promise<{ found: System[]; missing: Missing[] }> {
  const found: System[] = [];
  const missing: Missing[] = [];
  const deno = (await output(["deno", "--version"]))?.split("\n")[0] ?? "deno";
  const version = `tend ${denoJson.version} (${deno})`;
  found.push(tend(version, "tend"), tend(version, "tend-cmd"), raw);

  const sup = await output(["supervisord", "--version"]);
  if (sup) found.push(supervisord(`supervisord ${sup}`));
  else missing.push({ id: "supervisord", install: "apt-get install supervisor" });

  let twistd: string | null = null;
  let twistedVersion = "";
  for (const name of ["twistd", "twistd3"]) {
    const v = await output([name, "--version"]);
    if (v) {
      twistd = name;
      twistedVersion = /(\d+\.\d+\.\d+)/.exec(v)?.[1] ?? v.split("\n")[0]!;
      break;
    }
  }
  if (twistd) found.push(procmon(`Twisted procmon ${twistedVersion}`, twistd));
  else missing.push({ id: "procmon", install: "apt-get install python3-twisted" });

  const tmp = Deno.makeTempDirSync({ prefix: "tend-bench-pm2-" });
  try {
    const v = await output(["pm2-runtime", "--version"], { PM2_HOME: tmp });
    if (v) found.push(pm2(`PM2 ${v.split("\n").pop()}`));
    else missing.push({ id: "pm2", install: "npm install -g pm2" });
  } finally {
    Deno.removeSync(tmp, { recursive: true });
  }
  return { found, missing };
}
