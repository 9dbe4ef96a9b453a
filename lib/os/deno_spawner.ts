/**
 * The {@linkcode Spawner} over `Deno.Command`: the fallback where the FFI
 * spawner (`ffi_spawner.ts`) cannot run, and its way to start a child
 * with a uid or gid (which `posix_spawn` cannot set).
 *
 * Each child is started with `detached: true`, which makes it the leader
 * of a new session and so of a new process group whose id is its pid.
 * Signals go to the whole group (`kill(-pgid, sig)`), so a shell's
 * children, a server's workers and anything else the child started get
 * them too. (`detached` costs: Rust's std then forks the whole Deno
 * process to call `setsid()` in the child, instead of spawning it with
 * `posix_spawn`'s vfork. That is what the FFI spawner saves.)
 *
 * The pumps, the drain and the group watch are shared with the FFI
 * spawner (`spawner_base.ts`).
 *
 * @module
 */

import { SpawnError, type SpawnRequest } from "../core/ports.ts";
import type { SignalName } from "../core/signals.ts";
import type { ExitStatus } from "../core/spec.ts";
import { spawnOwn } from "./pids.ts";
import {
  type Pump,
  readStream,
  SpawnerBase,
  type SpawnerOptions,
  type Started,
} from "./spawner_base.ts";
import { canPeekExits, hasExited } from "./wait.ts";

/** Tuning for {@linkcode DenoSpawner}. */
export interface DenoSpawnerOptions extends SpawnerOptions {
  /**
   * Whether to ask the kernel (through FFI, when it can be had) whether a
   * leader has exited before Deno reports it; see `Child.reaped`.
   * Without it, a leader counts as exited only once Deno has reported its
   * exit, which may come after its kill timer fires. @default true
   */
  peekExits?: boolean;
}

/**
 * Starts children with `Deno.Command`, each the leader of its own process
 * group, stdin from `/dev/null`, stdout and stderr piped.
 *
 * @example
 * ```ts ignore
 * import { DenoSpawner } from "./deno_spawner.ts";
 * const spawner = new DenoSpawner();
 * const child = spawner.spawn({ argv: ["sleep", "10"] }, events);
 * child.signal("SIGTERM");
 * ```
 */
export class DenoSpawner extends SpawnerBase {
  #peek: boolean;

  /** Builds a spawner. */
  constructor(options: DenoSpawnerOptions = {}) {
    super(options);
    this.#peek = (options.peekExits ?? true) && canPeekExits();
  }

  /** Starts `request` with `Deno.Command`; see {@linkcode SpawnerBase.launch}. */
  protected launch(request: SpawnRequest, stdout: Pump, stderr: Pump): Started {
    return commandLaunch(request, stdout, stderr, this.readSize, this.#peek);
  }
}

/**
 * Starts `request` with `Deno.Command` (`detached: true`) and feeds its
 * pipes into the pumps: {@linkcode DenoSpawner}'s back end, which the FFI
 * spawner borrows for requests with a uid or gid.
 *
 * Each stream's read buffer starts at 4 KiB, so that an idle child's
 * pending reads hold little memory, and grows to `readSize` once reads
 * fill it.
 *
 * @param peek whether `exited` may ask the kernel (FFI, `wait.ts`)
 * @throws {SpawnError} with Deno's message, which names the program and
 * the OS's reason
 */
export function commandLaunch(
  request: SpawnRequest,
  stdout: Pump,
  stderr: Pump,
  readSize: number,
  peek: boolean,
): Started {
  const [program, ...args] = request.argv;
  let proc: Deno.ChildProcess;
  try {
    // spawnOwn registers the pid, so that the reaper leaves it to Deno.
    proc = spawnOwn(program!, {
      args,
      cwd: request.cwd,
      env: request.env,
      clearEnv: request.clearEnv,
      uid: request.uid,
      gid: request.gid,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      detached: true,
    });
  } catch (error) {
    // Deno's message already names the program and the OS's reason, e.g.
    // "Failed to spawn 'x': No such file or directory (os error 2)".
    throw new SpawnError(error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  void readStream(proc.stdout, stdout, readSize);
  void readStream(proc.stderr, stderr, readSize);
  const pid = proc.pid;
  return {
    pid,
    status: proc.status.then(toExitStatus, unnamedSignal),
    exited: peek ? () => hasExited(pid) : null,
  };
}

function toExitStatus(s: Deno.CommandStatus): ExitStatus {
  return s.signal === null
    ? { code: s.code, signal: null }
    : { code: null, signal: s.signal as SignalName };
}

// Deno cannot name every signal: a child killed by a real-time one (34 to
// 64) makes its status reject with "Invalid signal: 40", after it was
// reaped. That death is reported as a shell shows it, 128+N, rather than
// left an unhandled rejection: tend's internal failure, which killed every
// group and exited 1.
function unnamedSignal(error: unknown): ExitStatus {
  const match = error instanceof Error
    ? /^Invalid signal: (\d+)$/.exec(error.message)
    : null;
  if (match === null) throw error;
  return { code: 128 + Number(match[1]), signal: null };
}
