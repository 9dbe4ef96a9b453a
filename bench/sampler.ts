/**
 * Watches a running supervisor from the outside, about once a millisecond:
 * the size of each output file (so that, once the files have been read,
 * the moment any byte offset was reached is known), the supervisor's peak
 * RSS (`VmHWM`), the CPU time it has used and how many children it has.
 *
 * Only `stat` and two small `/proc` reads happen per round: the output is
 * read after the run, so the watcher costs the supervisor almost no CPU.
 *
 * @module
 */

import {
  childPids,
  fileSize,
  now,
  procMemory,
  procStat,
  sleep,
  type Spawned,
} from "./proc.ts";

interface History {
  t: number[];
  size: number[];
}

/** A watcher over one started supervisor; see the module doc. */
export class Sampler {
  readonly proc: Spawned;
  readonly files: string[];
  /** Peak RSS of the supervisor seen so far, in KiB. */
  hwmKb = 0;
  /** CPU time (user + system) the supervisor had used at the last round, in ticks. */
  cpuTicks = 0;
  /** Children the supervisor has now, and the most it has had. */
  children = 0;
  childrenMax = 0;
  /** Milliseconds since start at which some file last grew (-1: none yet). */
  lastGrowth = -1;
  #history = new Map<string, History>();
  #last = new Map<string, number>();
  // When the CPU time grew: ms since start, and the ticks from then on.
  #cpu: { t: number[]; ticks: number[] } = { t: [], ticks: [] };

  constructor(proc: Spawned, files: string[]) {
    this.proc = proc;
    this.files = files;
    for (const f of files) {
      this.#history.set(f, { t: [], size: [] });
      this.#last.set(f, 0);
    }
  }

  /** Milliseconds since the supervisor was started. */
  elapsed(): number {
    return now() - this.proc.t0;
  }

  /** Total bytes in the output files at the last round. */
  get bytes(): number {
    let total = 0;
    for (const size of this.#last.values()) total += size;
    return total;
  }

  /** Milliseconds since any output file last grew (or since start). */
  quietFor(): number {
    return this.elapsed() - Math.max(0, this.lastGrowth);
  }

  /** One round of observation. */
  sample(withChildren: boolean): void {
    const t = this.elapsed();
    for (const f of this.files) {
      const size = fileSize(f);
      if (size !== this.#last.get(f)) {
        this.#last.set(f, size);
        const h = this.#history.get(f)!;
        h.t.push(t);
        h.size.push(size);
        this.lastGrowth = t;
      }
    }
    if (!this.proc.exited()) {
      const mem = procMemory(this.proc.pid);
      if (mem && mem.hwmKb > this.hwmKb) this.hwmKb = mem.hwmKb;
      const stat = procStat(this.proc.pid);
      if (stat && stat.cpuTicks > this.cpuTicks) {
        this.cpuTicks = stat.cpuTicks;
        this.#cpu.t.push(t);
        this.#cpu.ticks.push(stat.cpuTicks);
      }
      if (withChildren) {
        this.children = childPids(this.proc.pid).length;
        if (this.children > this.childrenMax) this.childrenMax = this.children;
      }
    } else if (withChildren) {
      this.children = 0;
    }
  }

  /**
   * Samples until `done` says so or `timeoutMs` passes; resolves with
   * whether it timed out.
   */
  async until(done: (s: Sampler) => boolean, timeoutMs: number): Promise<boolean> {
    let round = 0;
    while (true) {
      this.sample(round++ % 10 === 0);
      if (done(this)) return false;
      if (this.elapsed() > timeoutMs) return true;
      await sleep(1);
    }
  }

  /**
   * The CPU time (ticks) the supervisor had used at `t` ms since start, as
   * last sampled by then (0 before any sample).
   */
  cpuAt(t: number): number {
    const { t: times, ticks } = this.#cpu;
    let lo = 0, hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo === 0 ? 0 : ticks[lo - 1]!;
  }

  /**
   * The first moment (ms since start) at which `file` held at least
   * `offset` bytes, or null when it never did while watched.
   */
  timeAt(file: string, offset: number): number | null {
    const h = this.#history.get(file);
    if (!h || offset < 0) return null;
    let lo = 0, hi = h.size.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (h.size[mid]! >= offset) hi = mid;
      else lo = mid + 1;
    }
    return lo < h.size.length ? h.t[lo]! : null;
  }
}

/**
 * The usual end of a flood: the children are gone (or the supervisor
 * exited) and nothing was written for 300 ms; or, once more than
 * `minBytes` are out, nothing was written for 3 s (a stalled supervisor).
 */
export function floodOver(minBytes: number): (s: Sampler) => boolean {
  return (s) => {
    const gone = s.proc.exited() || (s.childrenMax > 0 && s.children === 0);
    if (gone && s.quietFor() >= 300) return true;
    return s.bytes >= minBytes && s.quietFor() >= 3000;
  };
}
