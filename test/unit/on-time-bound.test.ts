import { describe, expect, it } from 'vitest';
import { quantile } from '../../lib/bench/summary.js';
import { POLICY_NAMES } from '../../lib/sched/registry.js';
import { CPU_SMALL } from '../../lib/sim/cost-model.js';
import { jobBounds } from '../../lib/sim/lower-bound.js';
import { jobsWithinQuantile, mostOnTime, quantileJctLowerBound, quantileReachable, relaxedUtilization } from '../../lib/sim/on-time-bound.js';
import { simulate } from '../../lib/sim/simulate.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';
import { expectCode } from './expect-code.js';

type Bound = { arrivalS: number; aloneS: number; workS: number };
const job = (arrivalS: number, workS: number, aloneS = 0): Bound => ({ arrivalS, workS, aloneS });

/**
 * The reference: every subset of the jobs, feasible when each job's critical path fits and, for
 * every window from one job's arrival to another's deadline, the work of the jobs released and
 * due within it fits in it — the condition for one preemptive server with release dates and
 * deadlines (Horn 1974), which says nothing of the order jobs are served in.
 */
function mostOnTimeByEnumeration(bounds: readonly Bound[], withinS: number): number {
  let most = 0;
  for (let mask = 0; mask < 1 << bounds.length; mask++) {
    const set = bounds.filter((_, i) => mask & (1 << i));
    if (set.length <= most || set.some((b) => b.aloneS > withinS)) continue;
    const fits = set.every((from) =>
      set.every((to) => {
        const start = from.arrivalS;
        const end = to.arrivalS + withinS;
        const demand = set.filter((b) => b.arrivalS >= start && b.arrivalS + withinS <= end).reduce((s, b) => s + b.workS, 0);
        return demand <= Math.max(0, end - start) + 1e-9; // a window that ends before it starts holds no job
      }),
    );
    if (fits) most = set.length;
  }
  return most;
}

/** A small deterministic generator (an LCG): the same instances every run. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('the most jobs on time, worked by hand', () => {
  it('drops the job whose removal frees the device soonest, not the largest', () => {
    // A (0, 5) is done at 5, on time; B and C (10, 3) each: after B at 13, C would end at 16 > 15.
    // Dropping the largest job (A) frees nothing after the idle gap: at most two, A and one of B, C.
    expect(mostOnTime([job(0, 5), job(10, 3), job(10, 3)], 5)).toBe(2);
  });

  it('counts a job only if its critical path alone fits', () => {
    expect(mostOnTime([job(0, 1, 6), job(0, 1, 2)], 5)).toBe(1);
    expect(mostOnTime([job(0, 1, 6), job(0, 1, 2)], 6)).toBe(2);
  });

  it('serves jobs that arrive together one after another', () => {
    // Four jobs at 0 owing 1 s each: within 2.5 s only two are done.
    const four = [job(0, 1), job(0, 1), job(0, 1), job(0, 1)];
    expect(mostOnTime(four, 2.5)).toBe(2);
    expect(mostOnTime(four, 4)).toBe(4);
    expect(mostOnTime([], 1)).toBe(0);
  });

  it('equals every subset checked by the window condition, on random instances', () => {
    const next = random(19);
    for (let instance = 0; instance < 150; instance++) {
      const n = 1 + Math.floor(next() * 9);
      // Arrivals on a coarse grid (ties and idle gaps), heavy-tailed work, some critical paths too long.
      const bounds = Array.from({ length: n }, () => job(Math.floor(next() * 8), 0.2 + 4 * next() ** 3, next() < 0.2 ? 4 * next() : 0));
      const withinS = 0.5 + 4 * next();
      expect(mostOnTime(bounds, withinS), `instance ${instance}`).toBe(mostOnTimeByEnumeration(bounds, withinS));
    }
  });
});

describe('the device keeping up with the arrivals', () => {
  it('is the work owed over the span of the arrivals', () => {
    // 6 s of work arriving over 4 s: 1.5; over 12 s: 0.5.
    expect(relaxedUtilization([job(0, 2), job(2, 1), job(4, 3)])).toBe(1.5);
    expect(relaxedUtilization([job(0, 2), job(12, 1), job(4, 3)])).toBe(0.5);
    expect(relaxedUtilization([job(3, 2), job(3, 1)])).toBe(Infinity);
    expect(relaxedUtilization([])).toBe(0);
  });
});

describe('a JCT quantile no schedule beats', () => {
  it('needs as many jobs within it as the interpolated quantile does', () => {
    // Ten JCTs 1..10: p90 interpolates between the 9th and 10th smallest, so nine must be within it.
    expect(jobsWithinQuantile(10, 0.9)).toBe(9);
    const sorted = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
    expect(quantile(sorted, 0.9)).toBeGreaterThanOrEqual(sorted[jobsWithinQuantile(10, 0.9) - 1]);
    expect(jobsWithinQuantile(1, 0.9)).toBe(1);
    expect(jobsWithinQuantile(100, 0.5)).toBe(50);
  });

  it('is where the last of the jobs needed can be done', () => {
    // Three jobs at 0 owing 1 s each: the second is done at 2, the third at 3.
    const three = [job(0, 1, 0.5), job(0, 1, 0.5), job(0, 1, 0.5)];
    expect(quantileJctLowerBound(three, 0.5, 1e-6)).toBeCloseTo(2, 5);
    expect(quantileJctLowerBound(three, 1, 1e-6)).toBeCloseTo(3, 5);
    expect(quantileJctLowerBound(three, 0.5, 1e-6)).toBeLessThanOrEqual(2);
    expect(quantileReachable(three, 1, 3)).toBe(true);
    expect(quantileReachable(three, 1, 2.99)).toBe(false);
    // A critical path longer than the device's share binds instead.
    expect(quantileJctLowerBound([job(0, 1, 7)], 0.9, 1e-6)).toBeCloseTo(7, 4);
  });

  it('refuses what has no quantile', () => {
    expectCode(() => quantileJctLowerBound([], 0.9), 'INVALID_ARGUMENT', 'at least one job');
    expectCode(() => quantileJctLowerBound([job(0, 1)], 1.5), 'INVALID_ARGUMENT', 'quantile');
  });

  it('no policy has more jobs within any time than the bound allows, nor a p90 below it', async () => {
    // The coding family on the CPU profile's tight pool, above capacity: queues form, jobs wait.
    for (const seed of [1, 2]) {
      const { jobs } = generateWorkload('coding', { jobs: 40, load: 3, seed, scale: { tokens: 0.006, time: 0.02 } });
      const bounds = jobBounds(jobs, CPU_SMALL, { kvBlocks: 96 });
      const p90Bound = quantileJctLowerBound(bounds, 0.9);
      for (const policy of POLICY_NAMES) {
        const { outcomes } = await simulate(jobs, { profile: CPU_SMALL, policy, kvBlocks: 96 });
        const jcts = outcomes.map((o) => o.jctS).sort((a, b) => a - b);
        jcts.forEach((jct, i) => expect(i + 1, `${policy}, seed ${seed}`).toBeLessThanOrEqual(mostOnTime(bounds, jct + 1e-9)));
        expect(quantile(jcts, 0.9)).toBeGreaterThanOrEqual(p90Bound);
      }
    }
  });
});
