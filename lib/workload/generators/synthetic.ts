/**
 * `synthetic:<distribution>`: InferCept's synthetic study, where one fixed job shape meets five
 * interception-time distributions. Source: the released benchmark (github.com/WukLab/InferCept,
 * benchmarks/final_tput_bench.py, `--distro R|L|N|U|B`, "R=short, L=long, N=normal, U=uniform,
 * B=bimodal"; the same sampler is in final_tput_bench_real.py and test_distro.py), in seconds:
 * - normal:      |N(mean 11, sd 3)|                                    (mean ≈ 11, sd ≈ 3)
 * - uniform:     U(0.1, 20)                                            (mean 10.05, sd 5.74)
 *                (test_distro.py has U(0.1, 15); the benchmarks use 20)
 * - gamma-short: |Gamma(shape 0.5, scale 4)|                           (mean 2, sd 2.83)
 * - gamma-long:  |20 − Gamma(shape 0.5, scale 4)|                      (mean ≈ 18, sd ≈ 2.83)
 * - bimodal:     gamma-long or gamma-short with equal odds              (mean ≈ 10, sd ≈ 8.49)
 *   The script builds it as the first half of the requests long and the second half short, so a
 *   run that stops early sees mostly long ones; we draw each job's mode independently (the
 *   evident intent), an intentional departure.
 * The job shape is the script's defaults: a 1,024-token prompt (`--input-len`), an interception
 * after every 16 generated tokens (`--api-inv-offset 16`, `--api-inv-mod 1`), at most 16 of them
 * (`--api-max-calls`), each returning 48 tokens (`--api-ret-len`), and 1,024 output tokens in all
 * (`--output-len`), which in InferCept's engine count the returned tokens too: 16 × (16 + 48) =
 * 1,024, so the job ends as its 16th result arrives. Our format needs a final generated token, so
 * the last segment generates 1 token. Every interception of a job lasts the same time (the
 * script draws one `api_exec_time` per request). Arrivals are Poisson (`--qps`).
 *
 * Base rate (load 1): 0.6 jobs/s for every distribution, so they compare at equal load: the
 * simulator (h100-llama3-8b, policy fcfs) is stepping about 66% of the time; docs/workloads.md
 * has the measurement.
 */
import type { WorkloadJob, WorkloadSegment } from '../format.js';
import { gamma, standardNormal, type Rng } from '../random.js';
import { poissonArrivals } from './arrivals.js';
import type { RandomStreams } from './streams.js';

export const SYNTHETIC_DISTRIBUTIONS = ['normal', 'uniform', 'gamma-short', 'gamma-long', 'bimodal'] as const;
export type SyntheticDistribution = (typeof SYNTHETIC_DISTRIBUTIONS)[number];
export const DEFAULT_SYNTHETIC_DISTRIBUTION: SyntheticDistribution = 'bimodal';

export const SYNTHETIC_BASE_RATE_PER_S = 0.6;
export const SYNTHETIC_DEFAULT_JOBS = 500;
export const SYNTHETIC_SHAPE = { promptTokens: 1024, tokensPerCall: 16, calls: 16, returnTokens: 48 } as const;

/** One interception duration in seconds from the named distribution. */
export function interceptionS(distribution: SyntheticDistribution, rng: Rng): number {
  switch (distribution) {
    case 'normal':
      return Math.abs(11 + 3 * standardNormal(rng));
    case 'uniform':
      return 0.1 + rng() * (20 - 0.1);
    case 'gamma-short':
      return gamma(rng, 0.5, 4);
    case 'gamma-long':
      return Math.abs(20 - gamma(rng, 0.5, 4));
    case 'bimodal':
      return interceptionS(rng() < 0.5 ? 'gamma-long' : 'gamma-short', rng);
  }
}

export function syntheticJobs(distribution: SyntheticDistribution, count: number, ratePerS: number, streams: RandomStreams): WorkloadJob[] {
  const { promptTokens, tokensPerCall, calls, returnTokens } = SYNTHETIC_SHAPE;
  return poissonArrivals(streams.arrivals, count, ratePerS).map((arrivalS, i) => {
    const durationS = interceptionS(distribution, streams.shapes);
    const segments: WorkloadSegment[] = [];
    for (let s = 0; s <= calls; s++) {
      segments.push({
        inputTokens: s === 0 ? promptTokens : returnTokens,
        outputTokens: s === calls ? 1 : tokensPerCall,
        tool: s === calls ? null : { name: 'api', durationS },
      });
    }
    return { id: `synthetic-${i}`, arrivalS, kind: `synthetic-${distribution}`, segments };
  });
}
