/**
 * Test doubles for the monitor: a spawner whose processes behave like the
 * seed's `DummyProcess`, a fake clock, a sink that records everything, and
 * a prober whose checks answer as a test scripts them.
 *
 * @module
 */

import FakeTimers from "@sinonjs/fake-timers";
import type { MonitorEvent } from "../../lib/core/events.ts";
import type { MonitorSink } from "../../lib/core/monitor.ts";
import {
  type Child,
  type ChildEvents,
  type Clock,
  type OutputHandler,
  type OutputStream,
  type Prober,
  type ProbeResult,
  type ProbeTarget,
  SpawnError,
  type SpawnRequest,
} from "../../lib/core/ports.ts";
import type { SignalName } from "../../lib/core/signals.ts";
import type { ExitStatus, ProbeCheck } from "../../lib/core/spec.ts";
import { escapeUtf8, framedOutput } from "../../lib/output/framer.ts";
import type { OutputSpawner } from "../../lib/supervisor.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * A fake process, like Twisted's `DummyProcess`: on its stop signal it
 * exits with code 0 after `terminationDelay` seconds; on SIGKILL it exits
 * at once. It can also have other members in its process group, and be
 * told to misbehave the ways real processes do.
 */
export class FakeProcess implements Child {
  readonly pid: number;
  readonly request: SpawnRequest;
  readonly events: ChildEvents;
  /** Every signal sent to the group, in order (the SIGCONT after a stop aside). */
  readonly signals: string[] = [];
  /** How many times the group was asked to stop, and so sent SIGCONT after. */
  continued = 0;
  /** Seconds between a polite signal and the exit. */
  terminationDelay = 1;
  /** Members of the group other than the leader that are alive. */
  members = 0;
  /** Whether those members ignore polite signals (only SIGKILL ends them). */
  membersIgnoreTerm = false;
  /** Whether the leader ignores polite signals. */
  ignoreTerm = false;
  /**
   * Whether SIGKILL fails to end it (a process stuck in the kernel): the
   * signal is recorded and nothing happens.
   */
  unkillable = false;
  /**
   * Whether SIGKILL lands but its exit is slow to come: the leader counts
   * as reaped at once, and the test reports the exit itself.
   */
  slowExitOnKill = false;
  /** When set, every signal is refused with this error (a member tend may not signal). */
  refuseSignals: Error | null = null;
  /** Whether the leader has exited. */
  ended = false;
  /** See {@linkcode Child.reaped}; a test may set it ahead of the exit report. */
  reaped = false;
  #reactor: FakeReactor;
  #watchers = new Set<() => void>();

  constructor(
    reactor: FakeReactor,
    pid: number,
    request: SpawnRequest,
    events: ChildEvents,
  ) {
    this.#reactor = reactor;
    this.pid = pid;
    this.request = request;
    this.events = events;
  }

  signal(signal: SignalName): void {
    this.signals.push(signal);
    if (this.refuseSignals) throw this.refuseSignals;
    if (signal === "SIGKILL" && this.slowExitOnKill) {
      this.reaped = true;
      return;
    }
    if (signal === "SIGKILL" && this.unkillable) return;
    if (signal === "SIGKILL") {
      // Like the seed's KILL: the exit arrives at once, after this call returns.
      queueMicrotask(() => {
        this.#membersGone();
        this.processEnded({ code: null, signal: "SIGKILL" });
      });
      return;
    }
    if (!this.membersIgnoreTerm && this.members > 0) {
      queueMicrotask(() => this.#membersGone());
    }
    if (!this.ignoreTerm && !this.ended) {
      this.#reactor.clock.setTimeout(
        () => this.processEnded({ code: 0, signal: null }),
        this.terminationDelay * 1000,
      );
    }
  }

  /** Records the stop signal like {@linkcode signal}; SIGCONT is counted in `continued`. */
  stop(signal: SignalName): void {
    this.signal(signal);
    this.continued++;
  }

  watchGroup(onEmpty: () => void): () => void {
    const watcher = () => onEmpty();
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** Every other member of the group exits. */
  membersExit(): void {
    this.#membersGone();
  }

  /** The leader exits: its streams end, then the exit is reported. */
  processEnded(status: ExitStatus = { code: 0, signal: null }): void {
    if (this.ended) return;
    this.ended = true;
    this.reaped = true;
    this.events.stdout.end();
    this.events.stderr.end();
    this.events.exit(status, this.members > 0);
  }

  /** The process writes `data` to stdout (procmon's `outReceived`). */
  outReceived(data: Uint8Array | string): void | Promise<void> {
    return this.events.stdout.write(
      typeof data === "string" ? encoder.encode(data) : data,
    );
  }

  /** The process writes `data` to stderr. */
  errReceived(data: Uint8Array | string): void | Promise<void> {
    return this.events.stderr.write(
      typeof data === "string" ? encoder.encode(data) : data,
    );
  }

  #membersGone(): void {
    if (this.members === 0) return;
    this.members = 0;
    for (const watcher of [...this.#watchers]) {
      this.#watchers.delete(watcher);
      watcher();
    }
  }
}

/**
 * A spawner and clock in one, like the seed's `DummyProcessReactor`:
 * it records every spawn and is advanced by hand.
 */
export class FakeReactor implements OutputSpawner {
  readonly clock: FakeTimers.Clock = FakeTimers.createClock(0);
  /** Every process spawned, in order. */
  readonly spawnedProcesses: FakeProcess[] = [];
  /** When set, spawning fails with this reason instead. */
  failWith: string | null = null;
  #nextPid = 100;

  spawn(request: SpawnRequest, events: ChildEvents): Child {
    if (this.failWith !== null) throw new SpawnError(this.failWith);
    const proc = new FakeProcess(this, this.#nextPid++, request, events);
    this.spawnedProcesses.push(proc);
    return proc;
  }

  /** Every fake child's output is read as it is written: nothing to wait for. */
  idle(_ms: number): Promise<void> {
    return Promise.resolve();
  }

  /** Whether the supervisor said tend is on its way out. */
  left = false;

  /** Nothing is held back: only noted. */
  leaving(): void {
    this.left = true;
  }

  /** The monitor's view of this reactor's time. */
  get monitorClock(): Clock {
    const clock = this.clock;
    return {
      now: () => clock.now,
      setTimeout: (fn, ms) => clock.setTimeout(fn, ms),
      clearTimeout: (handle) => clock.clearTimeout(handle as FakeTimers.TimerId),
      // A real microtask, which `tickAsync` runs right after each timer,
      // at that timer's instant.
      queueMicrotask: (fn) => queueMicrotask(fn),
    };
  }

  /** Moves time forward by `seconds`, firing due timers (Twisted's `advance`). */
  async advance(seconds: number): Promise<void> {
    await this.clock.tickAsync(seconds * 1000);
  }

  /** The current time in seconds (Twisted's `seconds`). */
  seconds(): number {
    return this.clock.now / 1000;
  }

  /** The most recent process spawned. */
  get last(): FakeProcess {
    const proc = this.spawnedProcesses.at(-1);
    if (!proc) throw new Error("Cannot get the last process: nothing was spawned");
    return proc;
  }
}

/** A line a child wrote, as recorded by {@linkcode RecordingSink}. */
export interface RecordedLine {
  /** The process's name. */
  name: string;
  /** The child's pid. */
  pid: number;
  /** The stream it came on. */
  stream: OutputStream;
  /** The line as text, invalid UTF-8 escaped; no tag (tend's log adds that). */
  message: string;
}

/** A sink that keeps every event and line for assertions. */
export class RecordingSink implements MonitorSink {
  /** Every event but `state`, in order: what the log would show. */
  readonly events: MonitorEvent[] = [];
  /** The `state` events (what users see changed), in order. */
  readonly states: Extract<MonitorEvent, { type: "state" }>[] = [];
  readonly lines: RecordedLine[] = [];
  /** What `backpressure()` returns. */
  pressure: Promise<void> | undefined = undefined;

  #waiters: {
    test: (e: MonitorEvent) => boolean;
    resolve: (e: MonitorEvent) => void;
  }[] = [];

  event(event: MonitorEvent): void {
    if (event.type === "state") this.states.push(event);
    else this.events.push(event);
    for (const waiter of [...this.#waiters]) {
      if (!waiter.test(event)) continue;
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  }

  /**
   * Resolves with the first event, from now on, that passes `test`; rejects
   * after `timeoutMs` (generous: this is for real processes, not timing).
   */
  next<T extends MonitorEvent["type"]>(
    type: T,
    test: (e: Extract<MonitorEvent, { type: T }>) => boolean = () => true,
    timeoutMs = 20_000,
  ): Promise<Extract<MonitorEvent, { type: T }>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(`no "${type}" event within ${timeoutMs} ms; saw ${this.types()}`),
        );
      }, timeoutMs);
      const waiter = {
        test: (e: MonitorEvent) =>
          e.type === type && test(e as Extract<MonitorEvent, { type: T }>),
        resolve: (e: MonitorEvent) => {
          clearTimeout(timer);
          resolve(e as Extract<MonitorEvent, { type: T }>);
        },
      };
      this.#waiters.push(waiter);
    });
  }

  output(name: string, pid: number, stream: OutputStream): OutputHandler {
    const lines = this.lines;
    const line = (bytes: Uint8Array, start: number, end: number) => {
      lines.push({
        name,
        pid,
        stream,
        message: decoder.decode(escapeUtf8(bytes, start, end)),
      });
    };
    return framedOutput({ line }, () => this.pressure);
  }

  /** The text of every recorded line. */
  get messages(): string[] {
    return this.lines.map((l) => l.message);
  }

  /** The types of every recorded event, optionally for one process. */
  types(name?: string): string[] {
    return this.events.filter((e) => name === undefined || e.name === name).map((e) =>
      e.type
    );
  }
}

/**
 * How a {@linkcode FakeProber} answers one check: a result (after `after`
 * milliseconds of the fake clock, or at once), or `"hang"`: never on its
 * own (the test calls {@linkcode FakeProbeCall.answer}).
 */
export type FakeAnswer = (ProbeResult & { after?: number }) | "hang";

/** One check a {@linkcode FakeProber} was asked to run. */
export interface FakeProbeCall {
  check: ProbeCheck;
  target: ProbeTarget;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  /** When it was asked, in fake-clock milliseconds. */
  at: number;
  /** Whether it has answered. */
  answered: boolean;
  /** Answers it now (a second answer is ignored, as a promise's is). */
  answer(result: ProbeResult): void;
}

/**
 * A prober whose checks answer from a script: each check takes the next
 * queued answer, or `fallback` when none is queued. Every call is kept,
 * with its abort signal, so tests can see what was asked and when.
 */
export class FakeProber implements Prober {
  /** Every check asked for, in order. */
  readonly calls: FakeProbeCall[] = [];
  /** The answer when none is queued. */
  fallback: FakeAnswer = { ok: true, message: "ok" };
  #answers: FakeAnswer[] = [];
  #clock: FakeTimers.Clock;

  /** @param clock the fake clock delayed answers wait on */
  constructor(clock: FakeTimers.Clock) {
    this.#clock = clock;
  }

  /** Queues answers for the next checks, in order. */
  script(...answers: FakeAnswer[]): this {
    this.#answers.push(...answers);
    return this;
  }

  check(
    check: ProbeCheck,
    target: ProbeTarget,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<ProbeResult> {
    const answer = this.#answers.shift() ?? this.fallback;
    return new Promise((resolve) => {
      const call: FakeProbeCall = {
        check,
        target,
        timeoutMs,
        signal,
        at: this.#clock.now,
        answered: false,
        answer: (result) => {
          if (call.answered) return;
          call.answered = true;
          resolve(result);
        },
      };
      this.calls.push(call);
      if (answer === "hang") return;
      const { after, ...result } = answer;
      if (after === undefined) call.answer(result);
      else this.#clock.setTimeout(() => call.answer(result), after);
    });
  }

  /** The checks asked for at these fake-clock times, in seconds. */
  get times(): number[] {
    return this.calls.map((call) => call.at / 1000);
  }

  /** The most recent check. */
  get last(): FakeProbeCall {
    const call = this.calls.at(-1);
    if (!call) throw new Error("Cannot get the last check: none was asked for");
    return call;
  }
}
