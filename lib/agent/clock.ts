/**
 * Time source for the control plane, in seconds. The real engine reads the monotonic clock; the
 * simulator and the tests drive a FakeClock, so the same scheduling code runs on virtual time.
 */
import { performance } from 'node:perf_hooks';
import { EngineError } from '../errors.js';

export interface Clock {
  /** Seconds on a monotonic scale; only differences are meaningful. */
  now(): number;
}

export const systemClock: Clock = {
  now: () => performance.now() / 1000,
};

/** A clock that moves only when told to. It never goes backwards: durations must stay >= 0. */
export class FakeClock implements Clock {
  private t: number;

  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new EngineError('INVALID_ARGUMENT', `FakeClock start must be finite, got ${start}`);
    this.t = start;
  }

  now(): number {
    return this.t;
  }

  advance(seconds: number): void {
    if (!Number.isFinite(seconds) || seconds < 0) {
      throw new EngineError('INVALID_ARGUMENT', `FakeClock.advance needs a finite seconds >= 0, got ${seconds}`);
    }
    this.t += seconds;
  }

  set(t: number): void {
    if (!Number.isFinite(t) || t < this.t) {
      throw new EngineError('INVALID_ARGUMENT', `FakeClock.set(${t}) would move the clock backwards from ${this.t}`);
    }
    this.t = t;
  }
}
