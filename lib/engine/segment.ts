/**
 * The caller's handle on one generation segment: an async iterable of token events and a
 * promise of the result. Events are buffered, so a caller that only awaits `done` loses nothing
 * and a slow reader never blocks the step loop.
 */
import type { SegmentResult, TokenEvent } from './types.js';

export class Segment implements AsyncIterable<TokenEvent> {
  readonly done: Promise<SegmentResult>;
  private readonly events: TokenEvent[] = [];
  private readonly waiters: ((r: IteratorResult<TokenEvent>) => void)[] = [];
  private closed = false;
  private settle!: (result: SegmentResult) => void;
  private fail!: (error: Error) => void;

  /** `cancel` asks the engine to stop the segment; it settles with finish reason 'cancelled'. */
  constructor(readonly cancel: () => void) {
    this.done = new Promise<SegmentResult>((resolve, reject) => {
      this.settle = resolve;
      this.fail = reject;
    });
    // A caller that only iterates must not see an unhandled rejection from `done`.
    this.done.catch(() => undefined);
  }

  /** @internal called by the engine */
  push(event: TokenEvent): void {
    if (this.closed) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter({ value: event, done: false });
    else this.events.push(event);
  }

  /** @internal called by the engine, once */
  finish(result: SegmentResult): void {
    this.end();
    this.settle(result);
  }

  /** @internal called by the engine, once */
  error(error: Error): void {
    this.end();
    this.fail(error);
  }

  private end(): void {
    this.closed = true;
    for (const waiter of this.waiters.splice(0)) waiter({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<TokenEvent> {
    return {
      next: () => {
        const event = this.events.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve) => this.waiters.push(resolve));
      },
    };
  }
}
