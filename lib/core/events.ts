/**
 * What happens to processes, as events, and a small fan-out bus that hands
 * each event to every listener (the log, the exit policy, and later the
 * control API's followers and the metrics counters).
 *
 * @module
 */

import type { SignalName } from "./signals.ts";
import type { ExitStatus } from "./spec.ts";
import type { ProcessState } from "./states.ts";

/**
 * Something that happened to a process. `state` tells that what users see
 * of it (its state, its hold) changed, for followers such as dashboards;
 * the log shows the other events, which say why.
 */
export type MonitorEvent =
  | {
    type: "state";
    name: string;
    state: ProcessState;
    held: boolean;
    pid: number | null;
  }
  | { type: "started"; name: string; pid: number }
  | { type: "ready"; name: string; pid: number; ready: boolean; detail: string }
  | { type: "unhealthy"; name: string; pid: number; reason: string }
  | { type: "waiting"; name: string; reason: string }
  | { type: "spawn-failed"; name: string; error: string }
  | { type: "exited"; name: string; pid: number; status: ExitStatus; runtime: number }
  | { type: "restart-scheduled"; name: string; delay: number }
  | { type: "not-restarting"; name: string; reason: string }
  | { type: "stop-signal"; name: string; pid: number; signal: SignalName }
  | { type: "leftovers"; name: string; pid: number; signal: SignalName }
  | {
    type: "sigkill";
    name: string;
    pid: number;
    /** `killTime` ran out, or a kill was asked for at once (a second SIGTERM). */
    why: "killTime" | "asked";
  }
  | { type: "abandoned"; name: string; pid: number }
  | {
    type: "signal-failed";
    name: string;
    pid: number;
    signal: SignalName;
    error: string;
  };

/** The `type` of each kind of {@linkcode MonitorEvent}. */
export type MonitorEventType = MonitorEvent["type"];

/**
 * Hands every event to each listener, in the order they subscribed.
 *
 * A listener that throws does not keep the event from the others; the
 * first error is thrown again once every listener has had the event.
 *
 * @example
 * ```ts
 * import { EventBus } from "./events.ts";
 * const bus = new EventBus();
 * const seen: string[] = [];
 * const off = bus.on((e) => seen.push(e.type));
 * bus.emit({ type: "started", name: "web", pid: 42 });
 * off();
 * bus.emit({ type: "started", name: "web", pid: 43 });
 * // seen is ["started"]
 * ```
 */
export class EventBus {
  #listeners: ((event: MonitorEvent) => void)[] = [];

  /** Adds a listener; returns a function that removes it. */
  on(listener: (event: MonitorEvent) => void): () => void {
    // A copy, so a listener that unsubscribes during emit does not skip another.
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  /** Hands `event` to every listener. */
  emit(event: MonitorEvent): void {
    let failure: { error: unknown } | null = null;
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        failure ??= { error };
      }
    }
    if (failure) throw failure.error;
  }
}
