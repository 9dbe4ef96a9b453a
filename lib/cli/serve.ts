/**
 * `tend run`'s control plane: find the socket, take the instance lock
 * (a second tend of the same instance exits 75 here, having started
 * nothing), listen, and hand requests to the Supervisor once it exists.
 *
 * @module
 */

import { dirname } from "../core/path.ts";
import type { ListenAddress } from "../config/http.ts";
import type { Config } from "../config/load.ts";
import { ControlApi } from "../control/api.ts";
import {
  generateToken,
  readTokenFile,
  TokenError,
  tokenProblem,
} from "../control/auth.ts";
import type { HttpServer } from "../control/http.ts";
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
  /** `--http ADDR`, which wins over the file's `http.listen`. */
  http?: ListenAddress | undefined;
}

/** The HTTP listener to start: where, and with which token. */
interface HttpPlan {
  address: ListenAddress;
  /** Where the address came from, for messages: `--http`, `http.listen in FILE`. */
  where: string;
  token: string;
  /** Where the token came from; "generated" when tend made it. */
  from: string;
}

/**
 * The HTTP listener asked for, with its token; or, when the token or the
 * address cannot be used, the message printed and the exit status (64 for
 * the command line and the environment, 78 for the file); null when no
 * listener is asked for. A listener on an address other than loopback
 * needs a token given explicitly (TEND_TOKEN or http.tokenFile): a token
 * tend made and printed in its log is fine for this machine, not for a
 * network.
 */
async function planHttp(target: RunTarget): Promise<HttpPlan | null | number> {
  const settings = target.config.http;
  const address = target.http ?? settings?.listen;
  if (address === undefined) return null;
  const where = target.http !== undefined
    ? "--http"
    : `http.listen in ${target.config.file}`;
  const refuse = (message: string, code: number) => {
    write(Deno.stderr, `tend: ${message}; nothing was started\n`);
    return code;
  };
  const env = envVar("TEND_TOKEN");
  let token: string;
  let from: string;
  if (env !== undefined && env !== "") {
    const problem = tokenProblem(env);
    if (problem !== null) return refuse(`TEND_TOKEN ${problem}`, EXIT.USAGE);
    token = env;
    from = "TEND_TOKEN";
  } else if (settings?.tokenFile !== undefined) {
    try {
      token = await readTokenFile(settings.tokenFile, userId());
    } catch (error) {
      if (error instanceof TokenError) return refuse(error.message, EXIT.CONFIG);
      throw error;
    }
    from = `http.tokenFile ${settings.tokenFile}`;
  } else if (!address.loopback) {
    return refuse(
      `${where} ${address.text} is not a loopback address, and the HTTP API must not ` +
        `be open to a network with a token tend made up and printed: give one with ` +
        `TEND_TOKEN or http.tokenFile (or listen on 127.0.0.1)`,
      target.http !== undefined ? EXIT.USAGE : EXIT.CONFIG,
    );
  } else {
    token = generateToken();
    from = "generated";
  }
  // The children inherit tend's environment: the token is not theirs.
  if (from === "TEND_TOKEN") {
    try {
      Deno.env.delete("TEND_TOKEN");
    } catch {
      // no --allow-env for it: it could not have been read either
    }
  }
  return { address, where, token, from };
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
  // The listener's problems are the command line's or the file's: they
  // come before the lock, as a bad flag does.
  const plan = await planHttp(target);
  if (typeof plan === "number") return plan;
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
  let web: HttpServer | null = null;
  let webApi: ControlApi | null = null;
  let webFailed: ((error: unknown) => void) | null = null;
  let webStopped: ((error: Error) => void) | null = null;
  let webRecovered: (() => void) | null = null;
  let webAttach: ((supervisor: Supervisor) => void) | null = null;
  if (plan !== null) {
    // Loaded only when asked for: a tend without it pays nothing for node:http.
    const http = await import("../control/http.ts");
    try {
      web = await http.listenHttp({
        address: plan.address,
        token: plan.token,
        handler: (request) =>
          webApi === null
            ? Promise.resolve(
              Response.json({ error: "tend is starting" }, { status: 503 }),
            )
            : webApi.handle(request),
        beforeClose: () => webApi?.close(),
        onFailure: (error) => webFailed?.(error),
        onStopped: (error) => webStopped?.(error),
        onRecovered: () => webRecovered?.(),
      });
    } catch (error) {
      await server.close();
      instance.release();
      if (error instanceof http.HttpListenError) {
        write(
          Deno.stderr,
          `tend: ${error.message} (${plan.where}); nothing was started\n`,
        );
        return EXIT.INTERNAL;
      }
      throw error;
    }
    webAttach = (supervisor) => {
      webApi = new ControlApi({
        supervisor,
        pid: Deno.pid,
        version: VERSION,
        socket: socket.path,
        routes: http.httpRoutes({ supervisor, version: VERSION }),
      });
    };
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
      if (web !== null && plan !== null) {
        webAttach?.(supervisor);
        const at = `${
          plan.address.hostname.includes(":") ? `[${web.hostname}]` : web.hostname
        }:${web.port}`;
        webFailed = (error) =>
          log.log("error", `the HTTP listener on ${at} reported: ${error}`);
        webStopped = (error) =>
          log.log(
            "error",
            `the HTTP listener on ${at} stopped accepting connections ` +
              `(${error.message}); /livez, /readyz, /metrics and the dashboard ` +
              `cannot be reached until it does again: restart tend if it does not`,
          );
        webRecovered = () => log.log("info", `the HTTP listener on ${at} works again`);
        // The one place a generated token is shown: in the dashboard's
        // address, as Jupyter does; a token given to tend is not repeated.
        const dashboard = plan.from === "generated"
          ? `${web.url}#token=${plan.token}`
          : `${web.url} (the token is from ${plan.from})`;
        log.log(
          "info",
          `HTTP on ${at} (${plan.where}): dashboard ${dashboard}; /metrics, /livez ` +
            `and /readyz need no token`,
          { http: at, dashboard: web.url },
        );
      }
    },
    close: async () => {
      await Promise.all([web?.close(), server.close()]);
    },
    release: () => instance.release(),
  };
}
