/**
 * `tend run`'s control plane: find the socket, take the instance lock
 * (a second tend of the same instance exits 75 here, having started
 * nothing), listen, and hand requests to the Supervisor once it exists.
 *
 * @module
 */

import { dirname } from "../core/path.ts";
import type { Config } from "../config/load.ts";
import { ControlApi } from "../control/api.ts";
import {
  AlreadyRunningError,
  chooseSocket,
  claimInstance,
  type ControlServer,
  type Instance,
  listen,
  type SocketChoice,
  SocketError,
} from "../control/server.ts";
import type { Logger } from "../output/log.ts";
import type { Supervisor } from "../supervisor.ts";
import { write } from "./console.ts";
import { EXIT } from "./exit_codes.ts";
import { VERSION } from "./help.ts";
import { envVar, logicalCwd, socketKeyFile, userId } from "./remote.ts";

/** The control plane of one `tend run`, from the lock to the last request. */
export interface ControlPlane {
  /** The socket. */
  readonly socket: SocketChoice;
  /** Starts answering requests with `supervisor` (until then: 503). */
  attach(supervisor: Supervisor, log: Logger): void;
  /** Ends open streams and stops listening (Deno removes the socket). */
  close(): Promise<void>;
  /** Lets go of the instance lock; tend's exit would do it too. */
  release(): void;
}

/** Where `tend run` was asked to run. */
export interface RunTarget {
  /** `--socket PATH`. */
  socket: string | undefined;
  /** The config, loaded. */
  config: Config;
  /** The config file as given, or null for `tend run -- CMD`... */
  file: string | null;
  /** ...whose argv this is. */
  argv: readonly string[] | null;
}

/**
 * Takes the instance lock and listens on the control socket; or prints
 * why not and returns the exit status: 75 when another tend runs this
 * instance (`tend: already running (pid N, socket PATH)`), 1 when the
 * socket cannot be used.
 */
export async function claimControl(target: RunTarget): Promise<ControlPlane | number> {
  let instance: Instance;
  let server: ControlServer;
  let api: ControlApi | null = null;
  let failed: ((error: unknown) => void) | null = null;
  let recovered: (() => void) | null = null;
  let socket: SocketChoice;
  try {
    const uid = userId();
    const common = {
      flag: target.socket,
      env: envVar("TEND_SOCKET"),
      runtimeDir: envVar("XDG_RUNTIME_DIR"),
      uid,
      cwd: logicalCwd(),
    };
    if (target.file === null) {
      socket = chooseSocket({
        ...common,
        derive: { cwd: logicalCwd(), argv: target.argv ?? [] },
      });
    } else {
      const file = socketKeyFile(target.file);
      socket = chooseSocket({
        ...common,
        config: target.config.socket === undefined
          ? undefined
          : { socket: target.config.socket, file },
        derive: { file },
      });
    }
    instance = await claimInstance(socket, uid);
    try {
      server = listen(instance, {
        handler: (request) =>
          api === null
            ? Promise.resolve(
              Response.json({ error: "tend is starting" }, { status: 503 }),
            )
            : api.handle(request),
        beforeClose: () => api?.close(),
        onFailure: (error) => failed?.(error),
        onRecovered: () => recovered?.(),
      });
    } catch (error) {
      instance.release();
      throw error;
    }
  } catch (error) {
    if (error instanceof AlreadyRunningError) {
      write(Deno.stderr, `tend: ${error.message}\n`);
      return EXIT.ALREADY_RUNNING;
    }
    if (error instanceof SocketError || error instanceof Deno.errors.NotCapable) {
      write(
        Deno.stderr,
        `tend: no control socket, so nothing was started: ${
          (error as Error).message
        }\n`,
      );
      return EXIT.INTERNAL;
    }
    throw error;
  }
  return {
    socket,
    attach(supervisor, log) {
      api = new ControlApi({
        supervisor,
        pid: Deno.pid,
        version: VERSION,
        socket: socket.path,
      });
      failed = (error) =>
        log.log(
          "error",
          `the control socket ${socket.path} stopped working (${error}); listening again`,
        );
      recovered = () =>
        log.log("info", `the control socket ${socket.path} works again`);
      log.log("info", `control socket ${socket.path} (${socket.how})`, {
        socket: socket.path,
        directory: dirname(socket.path),
      });
    },
    close: () => server.close(),
    release: () => instance.release(),
  };
}
