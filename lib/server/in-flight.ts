/**
 * The calls in flight, counted from their request to their response's close, so a drain knows
 * when the last one is done.
 */
import type { ServerResponse } from 'node:http';

export class CallsInFlight {
  private count = 0;
  private waiters: (() => void)[] = [];

  get size(): number {
    return this.count;
  }

  /** Counts a call until its response closes (finished, failed or abandoned). */
  enter(response: ServerResponse): void {
    this.count++;
    response.once('close', () => {
      if (--this.count > 0) return;
      const waiters = this.waiters;
      this.waiters = [];
      for (const wake of waiters) wake();
    });
  }

  /** Resolves once no call is in flight. */
  idle(): Promise<void> {
    return this.count === 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }
}
