/**
 * Virtual time for the simulator: a discrete-event clock. Everything that takes time in a run —
 * a step's compute, a tool call, the gap before a job arrives — is a `sleep` on this clock, and
 * `run` moves time from one due timer to the next, letting every promise chain settle in
 * between. The engine loop, the scheduler and the workload driver run unchanged on top; only the
 * passage of time is simulated, so a run is exactly reproducible and takes no wall time to wait.
 */
import { setImmediate as nextMacrotask } from 'node:timers/promises';
import type { Clock } from '../agent/clock.js';
import { EngineError } from '../errors.js';

interface Timer {
  atS: number;
  /** Tie-break: timers due at the same instant fire in the order they were set. */
  seq: number;
  fire: () => void;
}

/** A binary min-heap on (atS, seq). */
class TimerHeap {
  private readonly items: Timer[] = [];

  get size(): number {
    return this.items.length;
  }

  push(timer: Timer): void {
    const a = this.items;
    a.push(timer);
    let i = a.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): Timer | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && before(a[l], a[m])) m = l;
        if (r < a.length && before(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.atS < b.atS || (a.atS === b.atS && a.seq < b.seq);
}

export class VirtualClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly timers = new TimerHeap();

  now(): number {
    return this.t;
  }

  /** Resolves when virtual time reaches now + seconds (seconds ≥ 0). */
  sleep(seconds: number): Promise<void> {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new EngineError('INVALID_ARGUMENT', `a virtual sleep needs a finite seconds >= 0, got ${seconds}`);
    }
    return new Promise((resolve) => this.timers.push({ atS: this.t + seconds, seq: this.seq++, fire: resolve }));
  }

  /** Timers not yet fired. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /**
   * Runs the simulation until no timer is left (every chain of work has ended) or virtual time
   * would pass `untilS`. Between two timers every promise continuation runs to completion, so
   * whatever a fired timer sets off (a step's tokens handed out, the next step planned, a job
   * resumed) happens at that instant of virtual time. Work outside promises — a `setImmediate`,
   * I/O — gets its turn every 1,024 timers, not between every two: code on this clock should
   * wait on promises (and on the clock), as the engine and the replay do.
   */
  async run(untilS = Infinity): Promise<void> {
    await nextMacrotask();
    for (let fired = 1; ; fired++) {
      const timer = this.timers.pop();
      if (timer === undefined) return;
      if (timer.atS > untilS) {
        this.timers.push(timer);
        return;
      }
      this.t = timer.atS;
      timer.fire();
      await (fired % MACROTASK_EVERY === 0 ? nextMacrotask() : continuationsSettled());
    }
  }
}

/**
 * Timers fired between two returns to the event loop. Each return costs a poll of the loop (a
 * system call), several µs on the 2-vCPU VMs — as much as the simulated step itself; returning
 * now and then still lets output written meanwhile drain (docs/simulator.md, "Speed").
 */
const MACROTASK_EVERY = 1024;

/**
 * Resolves once every promise continuation queued so far, and every one those queue in turn, has
 * run — what a macrotask boundary guarantees, without leaving the tick: V8 drains the microtask
 * queue to empty before Node runs the next `process.nextTick` callback, and this one is queued from
 * a microtask, so it runs only after the whole drain.
 */
function continuationsSettled(): Promise<void> {
  return new Promise((resolve) => queueMicrotask(() => process.nextTick(resolve)));
}
