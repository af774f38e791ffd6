/**
 * Capacity (lib/bench/capacity.ts): the bisection on the load knob against probes whose answer is
 * known by construction, then the whole search on the simulator.
 */
import { describe, expect, it } from 'vitest';
import { BEST_POSSIBLE, findCapacity, probeOutcome, searchCapacity } from '../../lib/bench/capacity.js';
import { countForcingQuantileAbove, quantile } from '../../lib/bench/summary.js';
import { H100_LLAMA3_8B } from '../../lib/sim/cost-model.js';
import { simulate } from '../../lib/sim/simulate.js';
import { jobBounds } from '../../lib/sim/lower-bound.js';
import { quantileReachable, relaxedUtilization } from '../../lib/sim/on-time-bound.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';

/** A probe that meets the objective up to `limit` (and cannot run above `cannotRunAbove`), recording the loads it saw. */
function threshold(limit: number, cannotRunAbove = Infinity) {
  const seen: number[] = [];
  const probe = async (load: number) => (seen.push(load), load > cannotRunAbove ? null : load <= limit);
  return { probe, seen };
}

describe('the capacity search', () => {
  it('brackets from load 1 by doubling, then bisects geometrically to the precision', async () => {
    const { probe, seen } = threshold(3);
    const r = await searchCapacity(probe, { start: 1, precision: 1.05, maxProbes: 20 });
    // 1 and 2 pass, 4 fails; then √(2·4) = 2.828 passes, √(2.828·4) = 3.364 fails,
    // √(2.828·3.364) = 3.084 fails, √(2.828·3.084) = 2.954 passes: 3.084 / 2.954 = 1.044 ≤ 1.05.
    expect(seen.slice(0, 3)).toEqual([1, 2, 4]);
    expect(r.pass!).toBeCloseTo(2.9536, 3);
    expect(r.fail!).toBeCloseTo(3.0844, 3);
    expect(r.pass!).toBeLessThanOrEqual(3);
    expect(r.fail!).toBeGreaterThan(3);
    expect(r.probes).toBe(seen.length);
  });

  it('halves from load 1 when it fails there', async () => {
    const { probe, seen } = threshold(0.3);
    const r = await searchCapacity(probe, { start: 1, precision: 1.05, maxProbes: 20 });
    expect(seen.slice(0, 3)).toEqual([1, 0.5, 0.25]);
    expect(r.pass!).toBeLessThanOrEqual(0.3);
    expect(r.fail! / r.pass!).toBeLessThanOrEqual(1.05);
  });

  it('reports "at least" when the loads it could probe all pass, and nothing when none does', async () => {
    const heavy = await searchCapacity(threshold(Infinity, 8).probe, { start: 1, precision: 1.05, maxProbes: 20 });
    expect(heavy).toMatchObject({ pass: 8, fail: null });
    const hopeless = await searchCapacity(threshold(0).probe, { start: 1, precision: 1.05, maxProbes: 20 });
    expect(hopeless.pass).toBeNull();
    expect(hopeless.fail!).toBeCloseTo(1 / 64, 12);
  });

  it('stops at maxProbes', async () => {
    const r = await searchCapacity(threshold(3).probe, { start: 1, precision: 1.0001, maxProbes: 5 });
    expect(r.probes).toBe(5);
  });
});

describe('findCapacity on the simulator', () => {
  it('measures every policy against one objective, twice the unloaded p90, and converts the load to jobs per hour', async () => {
    const workloadAt = (load: number, jobs: number) => generateWorkload('tau', { jobs, load, seed: 3, scale: { tokens: 0.1, time: 0.05 } });
    const results = await findCapacity(workloadAt, ['fcfs', 'astraea'], { profile: H100_LLAMA3_8B, kvBlocks: 400 }, { minJobs: 40, maxJobs: 400, windowS: 40, maxProbes: 6 });
    expect(results.map((r) => r.policy)).toEqual(['fcfs', 'astraea']);
    for (const r of results) {
      expect(r.objectiveP90S).toBeCloseTo(2 * r.unloadedP90S, 9);
      expect(r.windowS).toBe(40);
      expect(r.probes.length).toBeGreaterThan(0);
      expect(r.probes.length).toBeLessThanOrEqual(6);
      // Every probe passed exactly when its p90 met the objective with nothing failed.
      for (const p of r.probes) expect(p.pass).toBe(p.failed === 0 && p.p90S !== null && p.p90S <= r.objectiveP90S);
      if (r.bracket.pass !== null) {
        // tau's base rate is 1.5 jobs/s at time scale 1, so 30 jobs/s at time × 0.05.
        expect(r.jobsPerHour).toBeCloseTo(r.bracket.pass * 30 * 3600, 6);
        expect(r.probes.find((p) => p.load === r.bracket.pass)!.pass).toBe(true);
      }
      if (r.bracket.fail !== null) expect(r.probes.find((p) => p.load === r.bracket.fail)!.pass).toBe(false);
    }
  });

  it('bounds every policy by the best possible, searched on the same loads and objective', async () => {
    const workloadAt = (load: number, jobs: number) => generateWorkload('coding', { jobs, load, seed: 2, scale: { tokens: 0.01, time: 0.05 } });
    const results = await findCapacity(workloadAt, ['fcfs', 'astraea'], { profile: H100_LLAMA3_8B, kvBlocks: 400 }, { minJobs: 40, maxJobs: 400, windowS: 60, maxProbes: 8, bound: true });
    expect(results.map((r) => r.policy)).toEqual(['fcfs', 'astraea', BEST_POSSIBLE]);
    const best = results[2];
    expect(best.objectiveP90S).toBe(results[0].objectiveP90S);
    // Each of its probes is the two conditions, worked out here from the jobs themselves.
    for (const p of best.probes) {
      const bounds = jobBounds(workloadAt(p.load, jobsAt(p.load)).jobs, H100_LLAMA3_8B, { kvBlocks: 400 });
      expect(p.utilization).toBeCloseTo(relaxedUtilization(bounds), 12);
      expect(p.enoughOnTime).toBe(quantileReachable(bounds, 0.9, best.objectiveP90S));
      expect(p.pass).toBe(p.utilization! <= 1 && p.enoughOnTime);
    }
    // Wherever a policy met the objective, enough of its jobs could have finished in time.
    for (const r of results.slice(0, 2)) {
      for (const p of r.probes.filter((q) => q.pass)) {
        expect(quantileReachable(jobBounds(workloadAt(p.load, jobsAt(p.load)).jobs, H100_LLAMA3_8B, { kvBlocks: 400 }), 0.9, best.objectiveP90S)).toBe(true);
      }
      expect(best.bracket.fail ?? Infinity).toBeGreaterThan(r.bracket.pass ?? 0);
    }

    /** The jobs a probe at this load runs: the arrival rate over the window, at least minJobs. */
    function jobsAt(load: number): number {
      return Math.max(40, Math.ceil(workloadAt(load, 1).params.arrivalRatePerS * 60));
    }
  });
});

describe('a probe that gives up once its p90 must miss', () => {
  it('needs n − floor(0.9·(n − 1)) jobs past the objective: always enough, and one fewer is not', () => {
    // n = 10: h = 8.1, so 2; n = 200: h = 179.1, so 21.
    expect(countForcingQuantileAbove(10, 0.9)).toBe(2);
    expect(countForcingQuantileAbove(200, 0.9)).toBe(21);
    const above = (k: number, low: number, high: number) => [...Array(200 - k).fill(low), ...Array(k).fill(high)];
    // 21 values of 1.000001 over an objective of 1 put the p90 above it even with the rest at 0 …
    expect(quantile(above(21, 0, 1.000001), 0.9)).toBeGreaterThan(1);
    // … 20 may not: 0 + 0.1 × (2 − 0) = 0.2.
    expect(quantile(above(20, 0, 2), 0.9)).toBeCloseTo(0.2, 12);
  });

  it('says in its log line where it gave up, instead of a p90', () => {
    expect(probeOutcome({ p90S: null, failed: 0, gaveUp: 'gave up at 10.00 s: 21 jobs were unfinished 5.00 s after arriving' })).toBe('gave up at 10.00 s: 21 jobs were unfinished 5.00 s after arriving');
    expect(probeOutcome({ p90S: 744.349, failed: 0 })).toBe('p90 744.3 s');
    expect(probeOutcome({ p90S: 12.25, failed: 2 })).toBe('p90 12.3 s, 2 failed');
    expect(probeOutcome({ p90S: null, failed: 200 })).toBe('p90 – s, 200 failed');
  });

  it('is a probe that would have missed: each one given up, run out in full, has its p90 above the objective', async () => {
    // Doubling from load 1, this search passes up to 16 and gives up at 32 (400 jobs).
    const workloadAt = (load: number, jobs: number) => generateWorkload('coding', { jobs, load, seed: 3, scale: { tokens: 0.05, time: 0.05 } });
    const [r] = await findCapacity(workloadAt, ['fcfs'], { profile: H100_LLAMA3_8B, kvBlocks: 2000 }, { minJobs: 40, maxJobs: 400, windowS: 60, maxProbes: 6 });
    const gaveUp = r.probes.filter((p) => p.gaveUp !== undefined);
    expect(gaveUp.length).toBeGreaterThan(0);
    for (const p of gaveUp) {
      expect(p.pass).toBe(false);
      expect(p.p90S).toBeNull();
      const jobs = Math.max(40, Math.ceil(workloadAt(p.load, 1).params.arrivalRatePerS * 60));
      const workload = workloadAt(p.load, jobs);
      const full = await simulate(workload.jobs, { profile: H100_LLAMA3_8B, kvBlocks: 2000, policy: 'fcfs', workloadScale: workload.params.scale });
      const jcts = full.outcomes.map((o) => o.jctS).sort((a, b) => a - b);
      expect(quantile(jcts, 0.9)).toBeGreaterThan(r.objectiveP90S);
    }
    // The probes that ran out passed or missed by their p90 as before.
    for (const p of r.probes.filter((q) => q.gaveUp === undefined)) expect(p.pass).toBe(p.failed === 0 && p.p90S !== null && p.p90S <= r.objectiveP90S);
  });
});
