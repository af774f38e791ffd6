import { describe, expect, it } from 'vitest';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { expectCode } from './expect-code.js';

// Every time used here is a sum of binary-exact values (halves, integers), so equality is exact.


describe('VirtualClock', () => {
  it('starts at 0 with nothing pending, and run() on an empty clock returns at once', async () => {
    const clock = new VirtualClock();
    expect(clock.now()).toBe(0);
    expect(clock.pendingTimers).toBe(0);
    await clock.run();
    expect(clock.now()).toBe(0);
  });

  it('fires timers in time order, each at its own time', async () => {
    const clock = new VirtualClock();
    const fired: [string, number][] = [];
    // Set out of order; a heap that only looked at insertion order would get this wrong.
    const delays: [string, number][] = [['e', 5], ['a', 1], ['c', 3], ['f', 6], ['b', 2], ['d', 4], ['g', 7.5]];
    for (const [label, s] of delays) void clock.sleep(s).then(() => fired.push([label, clock.now()]));
    expect(clock.pendingTimers).toBe(7);
    await clock.run();
    expect(fired).toEqual([['a', 1], ['b', 2], ['c', 3], ['d', 4], ['e', 5], ['f', 6], ['g', 7.5]]);
    expect(clock.now()).toBe(7.5);
    expect(clock.pendingTimers).toBe(0);
  });

  it('fires timers due at the same instant in the order they were set', async () => {
    const clock = new VirtualClock();
    const fired: string[] = [];
    // Ten timers at t=2 interleaved with timers at 1 and 3: enough that heap sifts reorder
    // equal keys unless the set-order tie-break holds.
    for (let i = 0; i < 10; i++) {
      void clock.sleep(2).then(() => fired.push(`two-${i}`));
      if (i % 3 === 0) void clock.sleep(3).then(() => fired.push(`three-${i}`));
      if (i % 4 === 1) void clock.sleep(1).then(() => fired.push(`one-${i}`));
    }
    await clock.run();
    // one-1, one-5, one-9 (at 1, set order); two-0..two-9 (at 2); three-0, -3, -6, -9 (at 3).
    expect(fired).toEqual([
      'one-1', 'one-5', 'one-9',
      'two-0', 'two-1', 'two-2', 'two-3', 'two-4', 'two-5', 'two-6', 'two-7', 'two-8', 'two-9',
      'three-0', 'three-3', 'three-6', 'three-9',
    ]);
  });

  it('run(untilS) stops before a later timer and leaves it pending; a later run() fires it on time', async () => {
    const clock = new VirtualClock();
    const fired: [string, number][] = [];
    void clock.sleep(1).then(() => fired.push(['early', clock.now()]));
    void clock.sleep(3).then(() => fired.push(['at-limit', clock.now()]));
    void clock.sleep(5).then(() => fired.push(['late', clock.now()]));
    await clock.run(3);
    // A timer due exactly at the limit does not pass it, so it fires; the one at 5 would pass it.
    expect(fired).toEqual([['early', 1], ['at-limit', 3]]);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.now()).toBeLessThanOrEqual(3);
    await clock.run();
    expect(fired).toEqual([['early', 1], ['at-limit', 3], ['late', 5]]);
    expect(clock.pendingTimers).toBe(0);
    expect(clock.now()).toBe(5);
  });

  it('run(untilS) before the first timer fires nothing', async () => {
    const clock = new VirtualClock();
    let fired = false;
    void clock.sleep(2).then(() => {
      fired = true;
    });
    await clock.run(1.5);
    expect(fired).toBe(false);
    expect(clock.pendingTimers).toBe(1);
    expect(clock.now()).toBe(0);
  });

  it('continuation chains land at exactly the summed times', async () => {
    const clock = new VirtualClock();
    const seen: [string, number][] = [];
    const chainA = (async () => {
      await clock.sleep(1);
      seen.push(['A1', clock.now()]); // 0 + 1
      await clock.sleep(2);
      seen.push(['A2', clock.now()]); // 1 + 2
      await clock.sleep(0);
      seen.push(['A3', clock.now()]); // 3 + 0
    })();
    const chainB = (async () => {
      await clock.sleep(0.5);
      seen.push(['B1', clock.now()]); // 0.5
      await clock.sleep(2);
      seen.push(['B2', clock.now()]); // 0.5 + 2
      await clock.sleep(4.25);
      seen.push(['B3', clock.now()]); // 2.5 + 4.25
    })();
    await clock.run();
    await Promise.all([chainA, chainB]);
    expect(seen).toEqual([['B1', 0.5], ['A1', 1], ['B2', 2.5], ['A2', 3], ['A3', 3], ['B3', 6.75]]);
    expect(clock.now()).toBe(6.75);
  });

  it('a sleep set by a fired timer counts from that timer’s time', async () => {
    const clock = new VirtualClock();
    let innerAt = -1;
    void clock.sleep(2).then(() => clock.sleep(1.5).then(() => (innerAt = clock.now())));
    // An unrelated timer at 3 fires before the inner one at 2 + 1.5 = 3.5.
    let otherAt = -1;
    void clock.sleep(3).then(() => (otherAt = clock.now()));
    await clock.run();
    expect(otherAt).toBe(3);
    expect(innerAt).toBe(3.5);
  });

  it('lets every continuation a timer sets off run, however deep its chain, before the next timer fires', async () => {
    const clock = new VirtualClock();
    // Each fired timer starts a chain of 2,000 awaits; the next timer, 1 s later, must find it
    // finished. 3,000 timers cross the clock's periodic return to the event loop (every 1,024)
    // more than once, so both ways of waiting for the continuations are exercised.
    const chainEnds: number[] = [];
    const deep = async (depth: number): Promise<void> => {
      if (depth > 0) await deep(depth - 1);
      else await Promise.resolve();
    };
    let unfinishedSeen = 0;
    for (let i = 0; i < 3000; i++) {
      void clock.sleep(i).then(async () => {
        if (chainEnds.length !== i) unfinishedSeen++;
        await deep(i % 7 === 0 ? 2000 : 3);
        chainEnds.push(clock.now());
      });
    }
    await clock.run();
    expect(unfinishedSeen).toBe(0);
    expect(chainEnds).toHaveLength(3000);
    expect(chainEnds.every((t, i) => t === i)).toBe(true);
  });

  it('rejects a negative, NaN or infinite sleep synchronously with INVALID_ARGUMENT', () => {
    const clock = new VirtualClock();
    for (const bad of [-1, -1e-9, NaN, Infinity, -Infinity]) expectCode(() => clock.sleep(bad), 'INVALID_ARGUMENT');
    // Nothing was scheduled by the rejected calls.
    expect(clock.pendingTimers).toBe(0);
    // A zero sleep is valid.
    void clock.sleep(0);
    expect(clock.pendingTimers).toBe(1);
  });
});
