/**
 * A service manager's end of sd_notify for tests: a Python receiver
 * (notify_recv.py) bound to a path or an abstract name, and the datagrams
 * it got, as they arrive.
 *
 * @module
 */

import { readLines } from "./tend.ts";

const RECEIVER = new URL("./notify_recv.py", import.meta.url).pathname;

/** Path of the Python sender (notify_send.py). */
export const SENDER: string = new URL("./notify_send.py", import.meta.url).pathname;

/** Why the Python tests cannot run here, or null when they can. */
export const NO_PYTHON: string | null = await (async () => {
  try {
    const out = await new Deno.Command("python3", {
      args: ["-c", "import socket; socket.AF_UNIX"],
      stdout: "null",
      stderr: "null",
    }).output();
    return out.success ? null : "python3 has no AF_UNIX sockets";
  } catch {
    return "needs python3";
  }
})();

/** A receiver bound to an address, and what it has received. */
export class Receiver implements AsyncDisposable {
  /** The datagrams received so far, in order. */
  readonly datagrams: string[] = [];
  /** The address it is bound to (`/path` or `@name`). */
  readonly address: string;
  #child: Deno.ChildProcess;
  #done: Promise<unknown>;
  #bound = false;

  private constructor(address: string, child: Deno.ChildProcess) {
    this.address = address;
    this.#child = child;
    this.#done = Promise.all([
      readLines(child.stdout, (line) => {
        if (line === "BOUND") this.#bound = true;
        else this.datagrams.push(JSON.parse(line) as string);
      }),
      child.status,
    ]);
  }

  /**
   * Starts a receiver on `address` and waits until it is bound.
   *
   * @param delay seconds it waits before reading anything
   */
  static async start(address: string, delay = 0): Promise<Receiver> {
    const child = new Deno.Command("python3", {
      args: [RECEIVER, address, "30", String(delay)],
      stdin: "null",
      stdout: "piped",
      stderr: "inherit",
    }).spawn();
    const receiver = new Receiver(address, child);
    await receiver.until("the receiver to bind", () => receiver.#bound || undefined);
    return receiver;
  }

  /**
   * Waits (20 s at most) for `count` datagrams matching `test`, counted from
   * datagram `from`; returns the index of the last of them.
   */
  datagram(test: (text: string) => boolean, from = 0, count = 1): Promise<number> {
    return this.until(`${count} datagram(s) matching ${test}`, () => {
      let seen = 0;
      for (let i = from; i < this.datagrams.length; i++) {
        if (test(this.datagrams[i]!) && ++seen === count) return i;
      }
      return undefined;
    });
  }

  /** Polls `find` every 10 ms until it answers; fails after 20 s. */
  async until<T>(what: string, find: () => T | undefined): Promise<T> {
    const deadline = performance.now() + 20_000;
    while (true) {
      const found = find();
      if (found !== undefined) return found;
      if (performance.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what}; got ${JSON.stringify(this.datagrams)}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /** Stops the receiver. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGTERM");
    } catch {
      // gone already
    }
    await this.#done;
  }
}
