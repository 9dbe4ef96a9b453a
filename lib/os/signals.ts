/**
 * OS signals: their numbers on this system, and listening for them.
 *
 * @module
 */

import { constants } from "node:os";
import type { SignalName } from "../core/signals.ts";

const NUMBERS = constants.signals as Readonly<Record<string, number>>;

/**
 * The number of a signal on this system (SIGUSR1 is 10 on Linux, 30 on
 * macOS), or 0 for a name the system does not have.
 */
export function signalNumber(signal: SignalName): number {
  return NUMBERS[signal] ?? 0;
}

/**
 * Calls each handler when its signal reaches tend; returns a function that
 * stops listening to all of them.
 *
 * @param handlers the signals to listen for, each with its handler
 */
export function onSignals(
  handlers: readonly (readonly [Deno.Signal, () => void])[],
): () => void {
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  };
}
