/**
 * tend's duties to the system it runs in, wired to the Supervisor:
 *
 * - **Reaping.** As PID 1 (a container's entrypoint) or with
 *   `--subreaper`, tend reaps every orphan that exits (`os/reaper.ts`),
 *   and at shutdown, once its own processes have stopped, stops the
 *   orphans still alive: SIGTERM, SIGKILL after the monitor-wide
 *   `killTime`. Without `--allow-ffi` it says why it cannot, as tini does,
 *   and runs on.
 * - **sd_notify.** Under systemd (`NOTIFY_SOCKET` set) tend says `READY=1`
 *   once every process that should run is running, `RELOADING=1` and
 *   `READY=1` around a reload, `STOPPING=1` at shutdown, `STATUS=` with
 *   the count of each state, and `WATCHDOG=1` every `WATCHDOG_USEC / 2`
 *   when the unit asks. The variables are taken out of tend's environment
 *   first, so that its children do not talk to systemd in its name.
 *
 * @module
 */

import type { Clock, TimerHandle } from "../core/ports.ts";
import { allSettled, countStates } from "../core/service_state.ts";
import { libcUnavailable } from "../os/libc.ts";
import { monotonicUsec, Notifier, takeNotifyEnvironment } from "../os/notify.ts";
import { ownPids } from "../os/pids.ts";
import { Reaper, setChildSubreaper } from "../os/reaper.ts";
import { systemClock } from "../os/clock.ts";
import type { Logger } from "../output/log.ts";
import type { Supervisor } from "../supervisor.ts";

/** What {@linkcode startSystem} is asked to do. */
export interface SystemOptions {
  /** `--subreaper`: become a child subreaper and reap orphans (not PID 1). */
  subreaper: boolean;
}

/** The reaper and the sd_notify lifecycle, started; see {@linkcode startSystem}. */
export interface System {
  /** The reaper, when tend reaps orphans. */
  readonly reaper: Reaper | null;
  /**
   * Call once the Supervisor's `exit` has settled (tend's own processes
   * are stopped): sends `STOPPING=1` if no shutdown sent it, stops the
   * orphans still alive, and lets the last notify datagrams go.
   */
  stop(): Promise<void>;
}

// STATUS= updates wait this long, so that a burst of state changes (a
// thousand processes starting) makes one datagram.
const STATUS_DELAY_MS = 100;

// The signal orphans get at shutdown: the usual stop signal; tend knows
// nothing of what they are.
const ORPHAN_STOP_SIGNAL = "SIGTERM";

/**
 * Starts reaping (PID 1 or `--subreaper`) and sd_notify (`NOTIFY_SOCKET`),
 * each only when asked for; logs what it cannot do. Call it before the
 * Supervisor starts anything: the notify variables must be gone from the
 * environment before the first child inherits it.
 */
export function startSystem(
  supervisor: Supervisor,
  log: Logger,
  options: SystemOptions,
): System {
  const reaper = startReaping(log, options.subreaper);
  const notify = startNotify(supervisor, log);
  return {
    reaper,
    async stop() {
      notify?.stop();
      if (reaper !== null) {
        await stopOrphans(reaper, supervisor.config.timing.killTime * 1000, log);
        reaper.stop();
        const n = reaper.reaped;
        log.log("info", `reaped ${n} orphaned process${n === 1 ? "" : "es"}`);
      }
      await notify?.close();
    },
  };
}

function startReaping(log: Logger, subreaper: boolean): Reaper | null {
  const pid1 = Deno.pid === 1;
  if (!pid1 && !subreaper) return null;
  const role = pid1 ? "tend is PID 1" : "--subreaper";
  const unavailable = libcUnavailable();
  if (unavailable !== null) {
    // As tini warns when it cannot reap: say so once, and run on.
    log.log(
      "warn",
      `${role} but cannot reap zombies (${unavailable}): orphaned processes will ` +
        `stay zombies. Run it with --allow-ffi, or under an init such as ` +
        `tini or docker run --init`,
    );
    return null;
  }
  if (!pid1 && setChildSubreaper() !== true) {
    log.log(
      "warn",
      "--subreaper: the kernel refused PR_SET_CHILD_SUBREAPER; orphans go to PID 1",
    );
    return null;
  }
  const reaper = Reaper.start((pid) => ownPids.has(pid), {
    onError: (error) =>
      log.log(
        "error",
        `reaping orphans failed, trying again on the next one: ${String(error)}`,
      ),
  });
  if (reaper !== null) {
    log.log(
      "info",
      `${pid1 ? "PID 1" : "child subreaper"}: tend reaps orphaned processes`,
    );
  }
  return reaper;
}

async function stopOrphans(reaper: Reaper, graceMs: number, log: Logger) {
  const report = await reaper.stopOrphans(ORPHAN_STOP_SIGNAL, graceMs);
  // The first pids only: a fork bomb's leftovers would make one huge record.
  const list = (pids: number[]) =>
    `${pids.length} orphaned process${pids.length === 1 ? "" : "es"} (pid ${
      pids.slice(0, 20).join(", ")
    }${pids.length > 20 ? ", ..." : ""})`;
  if (report.stopped.length > 0) {
    log.log("info", `sent ${ORPHAN_STOP_SIGNAL} to ${list(report.stopped)}`);
  }
  if (report.killed.length > 0) {
    log.log("warn", `sent SIGKILL to ${list(report.killed)} after ${graceMs / 1000}s`);
  }
  if (report.left.length > 0) {
    log.log("warn", `${list(report.left)} survived SIGKILL`);
  }
}

interface NotifyHandle {
  stop(): void;
  close(): Promise<void>;
}

function startNotify(supervisor: Supervisor, log: Logger): NotifyHandle | null {
  const env = takeNotifyEnvironment();
  if (env.unreadable.includes("NOTIFY_SOCKET")) {
    // It cannot be told whether systemd waits for READY=1; nor can the
    // variable be kept from the children. Say so only when it matters.
    return null;
  }
  if (env.socket === null) return null;
  const unavailable = libcUnavailable();
  if (unavailable !== null) {
    log.log(
      "warn",
      `NOTIFY_SOCKET is set but tend cannot notify the service manager ` +
        `(${unavailable}); a Type=notify unit will time out`,
    );
    return null;
  }
  let notifier: Notifier;
  try {
    notifier = new Notifier(env.socket);
  } catch (error) {
    log.log("warn", `NOTIFY_SOCKET: ${(error as Error).message}; not notifying`);
    return null;
  }
  let warned = false;
  const send = (message: string) => {
    notifier.send(message).catch((error) => {
      if (warned) return;
      warned = true;
      log.log("warn", `sd_notify to ${env.socket}: ${(error as Error).message}`);
    });
  };
  const lifecycle = new NotifyLifecycle(supervisor, send, systemClock, monotonicUsec);
  let watchdog: ReturnType<typeof setInterval> | undefined;
  if (env.watchdogUsec !== null) {
    // sd_watchdog_enabled(3): ping at half the interval. The timer runs on
    // the event loop, so a wedged tend stops pinging and systemd acts.
    const ms = Math.max(1, Number(env.watchdogUsec / 2000n));
    watchdog = setInterval(() => send("WATCHDOG=1"), ms);
    Deno.unrefTimer(watchdog);
  }
  return {
    stop() {
      clearInterval(watchdog);
      lifecycle.stop();
    },
    async close() {
      await notifier.flush();
      notifier.close();
    },
  };
}

/**
 * The sd_notify messages a Supervisor's life makes, handed to `send` in
 * order:
 *
 * - `READY=1` (with `STATUS=`) once every process is settled (running and
 *   ready, held, or finished for good; see `core/service_state.ts`), once
 *   at start and once after each reload;
 * - `RELOADING=1` with `MONOTONIC_USEC=` as a reload begins;
 * - `STOPPING=1` as the shutdown begins (or at {@linkcode stop} if none
 *   did, as when tend fails);
 * - `STATUS=` with the count of each state as it changes, at most every
 *   100 ms.
 */
export class NotifyLifecycle {
  #supervisor: Supervisor;
  #send: (message: string) => void;
  #clock: Clock;
  #monotonicUsec: () => bigint;
  #waitingReady = true;
  #reloading = false;
  #stopping = false;
  #lastStatus = "";
  #statusTimer: TimerHandle | null = null;
  #unsubscribe: (() => void)[];

  /**
   * Follows `supervisor` from now on.
   *
   * @param monotonicUsec CLOCK_MONOTONIC in microseconds
   */
  constructor(
    supervisor: Supervisor,
    send: (message: string) => void,
    clock: Clock,
    monotonicUsec: () => bigint,
  ) {
    this.#supervisor = supervisor;
    this.#send = send;
    this.#clock = clock;
    this.#monotonicUsec = monotonicUsec;
    this.#unsubscribe = [
      supervisor.events.on((event) => {
        if (event.type === "state") this.#check();
      }),
      supervisor.onPhase((phase) => {
        if (phase.type === "reloading") {
          this.#reloading = true;
          this.#waitingReady = true;
          this.#emit(
            `RELOADING=1\nMONOTONIC_USEC=${this.#monotonicUsec()}\nSTATUS=reloading`,
            "reloading",
          );
        } else if (phase.type === "reloaded") {
          this.#reloading = false;
          this.#check();
        } else this.#stop();
      }),
    ];
    // No state event comes when there is nothing to start (every process
    // held, or none): look once the Supervisor has started.
    clock.setTimeout(() => this.#check(), 0);
  }

  /** Stops following; sends `STOPPING=1` if it was not sent yet. */
  stop(): void {
    this.#stop();
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    if (this.#statusTimer !== null) this.#clock.clearTimeout(this.#statusTimer);
    this.#statusTimer = null;
  }

  #stop(): void {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#emit("STOPPING=1\nSTATUS=stopping", "stopping");
  }

  #check(): void {
    if (this.#unsubscribe.length === 0) return;
    const statuses = this.#supervisor.status();
    if (
      this.#waitingReady && !this.#reloading && !this.#stopping && allSettled(statuses)
    ) {
      this.#waitingReady = false;
      const status = countStates(statuses);
      this.#emit(`READY=1\nSTATUS=${status}`, status);
      return;
    }
    this.#statusTimer ??= this.#clock.setTimeout(() => {
      this.#statusTimer = null;
      const counts = countStates(this.#supervisor.status());
      const status = this.#stopping ? `stopping: ${counts}` : counts;
      if (status !== this.#lastStatus) this.#emit(`STATUS=${status}`, status);
    }, STATUS_DELAY_MS);
  }

  #emit(message: string, status: string): void {
    this.#lastStatus = status;
    this.#send(message);
  }
}
