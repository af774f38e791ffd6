/**
 * Workload generators by name (docs/workloads.md): 'paper' (InferCept's augmented-LLM mix),
 * 'tau' (tau-bench shapes, Azure arrivals, TraceLab tool times), 'chat' (long conversations with
 * a person), 'coding' (long-context coding agents fitted to TraceLab, with subagents),
 * 'synthetic' and 'synthetic:<distribution>' (InferCept's interception-time study).
 *
 * Each generator has a base arrival rate (jobs/s at load 1, chosen so that load 1 keeps a
 * Llama-3-8B on one H100 moderately busy); `load` multiplies it. Jobs are generated at scale 1
 * and then scaled (../scale.ts), so the time scale also divides the arrival rate. A generator
 * lists the arrival shapes it offers (the first is its default); options.arrivals picks one.
 */
import { EngineError } from '../../errors.js';
import type { WorkloadJob } from '../format.js';
import { applyScale, resolveScale } from '../scale.js';
import { ARRIVAL_SHAPES } from './arrival-shapes.js';
import { CHAT_BASE_RATE_PER_S, CHAT_DEFAULT_JOBS, chatJobs } from './chat.js';
import { CODING_BASE_RATE_PER_S, CODING_DEFAULT_JOBS, codingJobs } from './coding.js';
import { PAPER_BASE_RATE_PER_S, PAPER_DEFAULT_JOBS, paperJobs } from './paper.js';
import { randomStreams, type RandomStreams } from './streams.js';
import {
  DEFAULT_SYNTHETIC_DISTRIBUTION,
  SYNTHETIC_BASE_RATE_PER_S,
  SYNTHETIC_DEFAULT_JOBS,
  SYNTHETIC_DISTRIBUTIONS,
  syntheticJobs,
  type SyntheticDistribution,
} from './synthetic.js';
import { TAU_BASE_RATE_PER_S, TAU_DEFAULT_JOBS, tauJobs } from './tau.js';
import type { ArrivalShape, GeneratedWorkload, GenerateWorkloadOptions } from './types.js';

export { applyScale } from '../scale.js';
export { SYNTHETIC_DISTRIBUTIONS } from './synthetic.js';

export const WORKLOAD_NAMES = ['paper', 'tau', 'chat', 'synthetic', 'coding'] as const;

interface Generator {
  /** Names the random streams: every synthetic distribution shares 'synthetic', so the same seed gives the same arrivals. */
  family: string;
  baseRatePerS: number;
  defaultJobs: number;
  /** The arrival shapes it offers; the first is its default. */
  arrivals: readonly ArrivalShape[];
  generate(count: number, ratePerS: number, streams: RandomStreams, arrivals: ArrivalShape): WorkloadJob[];
}

const GENERATORS: Record<(typeof WORKLOAD_NAMES)[number], Generator> = {
  paper: { family: 'paper', baseRatePerS: PAPER_BASE_RATE_PER_S, defaultJobs: PAPER_DEFAULT_JOBS, arrivals: ['poisson'], generate: paperJobs },
  tau: { family: 'tau', baseRatePerS: TAU_BASE_RATE_PER_S, defaultJobs: TAU_DEFAULT_JOBS, arrivals: ['azure'], generate: tauJobs },
  chat: { family: 'chat', baseRatePerS: CHAT_BASE_RATE_PER_S, defaultJobs: CHAT_DEFAULT_JOBS, arrivals: ['poisson'], generate: chatJobs },
  coding: { family: 'coding', baseRatePerS: CODING_BASE_RATE_PER_S, defaultJobs: CODING_DEFAULT_JOBS, arrivals: ARRIVAL_SHAPES, generate: codingJobs },
  synthetic: syntheticGenerator(DEFAULT_SYNTHETIC_DISTRIBUTION),
};

function syntheticGenerator(distribution: SyntheticDistribution): Generator {
  return {
    family: 'synthetic',
    baseRatePerS: SYNTHETIC_BASE_RATE_PER_S,
    defaultJobs: SYNTHETIC_DEFAULT_JOBS,
    arrivals: ['poisson'],
    generate: (count, ratePerS, streams) => syntheticJobs(distribution, count, ratePerS, streams),
  };
}

const VALID_NAMES = [...WORKLOAD_NAMES, ...SYNTHETIC_DISTRIBUTIONS.map((d) => `synthetic:${d}`)];

function generatorFor(name: string): Generator {
  if (Object.hasOwn(GENERATORS, name)) return GENERATORS[name as keyof typeof GENERATORS];
  const distribution = name.startsWith('synthetic:') ? name.slice('synthetic:'.length) : undefined;
  if (distribution !== undefined && (SYNTHETIC_DISTRIBUTIONS as readonly string[]).includes(distribution)) {
    return syntheticGenerator(distribution as SyntheticDistribution);
  }
  throw new EngineError('INVALID_ARGUMENT', `unknown workload '${name}'; valid names: ${VALID_NAMES.join(', ')}`);
}

/** The named workload; throws INVALID_ARGUMENT for an unknown name or a bad option. */
export function generateWorkload(name: string, options: GenerateWorkloadOptions = {}): GeneratedWorkload {
  const generator = generatorFor(name);
  const jobs = options.jobs ?? generator.defaultJobs;
  if (typeof jobs !== 'number' || !Number.isSafeInteger(jobs) || jobs < 0) {
    throw new EngineError('INVALID_ARGUMENT', `workload '${name}': jobs must be a non-negative integer, got ${String(jobs)}`);
  }
  const load = options.load ?? 1;
  if (typeof load !== 'number' || !Number.isFinite(load) || load <= 0) {
    throw new EngineError('INVALID_ARGUMENT', `workload '${name}': load must be a finite number > 0, got ${String(load)}`);
  }
  const seed = options.seed ?? 1;
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new EngineError('INVALID_ARGUMENT', `workload '${name}': seed must be an integer, got ${String(seed)}`);
  }
  const scale = resolveScale(options.scale);
  const arrivals = options.arrivals ?? generator.arrivals[0];
  if (!generator.arrivals.includes(arrivals)) {
    const known = (ARRIVAL_SHAPES as readonly unknown[]).includes(arrivals);
    throw new EngineError(
      'INVALID_ARGUMENT',
      known
        ? `workload '${name}': arrivals '${arrivals}' is not offered (only ${generator.arrivals.join(', ')})`
        : `workload '${name}': arrivals must be one of ${ARRIVAL_SHAPES.join(', ')}, got ${String(arrivals)}`,
    );
  }
  const ratePerS = generator.baseRatePerS * load;
  const generated = generator.generate(jobs, ratePerS, randomStreams(generator.family, seed), arrivals);
  return {
    params: { name, seed, load, jobs, scale, arrivalRatePerS: arrivals === 'burst' ? Infinity : ratePerS / scale.time, arrivals },
    jobs: scale.tokens === 1 && scale.time === 1 ? generated : applyScale(generated, scale),
  };
}
