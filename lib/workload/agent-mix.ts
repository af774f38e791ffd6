/**
 * A mix of synthetic agent kinds for the policy sweep (bench/policies/sweep.ts): each kind's
 * segment count, prompt, tool-result and output lengths and tool durations drawn from stated
 * distributions, jobs arriving as a Poisson process. (lib/workload/generators/ holds the workload
 * families `astraea bench` offers, InferCept's synthetic distributions among them.) All
 * randomness comes from mulberry32 seeded by the caller.
 */
import { EngineError } from '../errors.js';
import { checkDuration, checkRate } from './checks.js';
import type { ToolCall, WorkloadJob, WorkloadSegment } from './format.js';
import { exponential, mulberry32, standardNormal, uniformInt, type Rng } from './random.js';

/**
 * A distribution for one workload quantity. `lognormal` is parameterised by its median and
 * sigma (the log-space standard deviation: p90 = median·e^(1.2816·sigma)). `min`/`max` clamp the
 * draw. Token counts are rounded to the nearest integer after clamping.
 */
export type Distribution =
  | { type: 'constant'; value: number }
  | { type: 'uniform'; min: number; max: number }
  | { type: 'lognormal'; median: number; sigma: number; min?: number; max?: number }
  | { type: 'exponential'; mean: number; min?: number; max?: number };

export interface SyntheticKind {
  name: string;
  /** Relative share of jobs of this kind (> 0). */
  weight: number;
  /** Number of segments: a uniform integer in [min, max]. */
  segments: { min: number; max: number };
  /** Shared prompt prefix per kind (prefix_id '<name>-system'); 0 or absent for none. */
  prefixTokens?: number;
  /** The job's own first-prompt tokens (after the prefix). */
  firstInputTokens: Distribution;
  /** Tool-result tokens appended before each later segment. */
  toolResultTokens: Distribution;
  outputTokens: Distribution;
  toolDurationS: Distribution;
  /** Tool names, chosen uniformly per call (default ['tool']). */
  tools?: string[];
}

export interface SyntheticOptions {
  jobs: number;
  arrivalRatePerS: number;
  seed: number;
  /** Default: DEFAULT_SYNTHETIC_KINDS. */
  kinds?: SyntheticKind[];
}

/**
 * Default kinds, fitted by eye to the traces' published quantiles (not to raw samples):
 * - `airline` (tau-bench GPT-4o airline): 4–20 segments (p50 11, p90 20 calls per job); a
 *   1,200-token shared policy prefix + lognormal(60, 0.5) own tokens (first prompts ≥ 1,265);
 *   tool results lognormal(median 248, σ 0.27) (p90 349); outputs lognormal(46, 0.85) (p90 137)
 *   clamped to [1, 512]; waits lognormal(median 1 s, σ 1) clamped to [0.05, 30] s — an
 *   assumption (tau-bench has no timing; most waits are the simulated user).
 * - `coding` (TraceLab coding agents): 2–30 segments; 4,000-token shared prefix +
 *   lognormal(1500, 0.8) own; tool results lognormal(875, 1.0) in [1, 16000] (fresh append p50
 *   ~875); outputs lognormal(214, 1.0) in [1, 4096]; tool latency lognormal(median 0.3 s,
 *   σ 2.97) in [0.005, 600] s (p50 0.3 s, p90 13.6 s: the heavy tail); tools Read/Edit/Bash.
 * - `chat` (Azure LLM 2023 conversation): one segment; input lognormal(1020, 0.77) in
 *   [1, 14050] (p90 2,734); output lognormal(129, 0.93) in [1, 1000] (p90 424).
 * Weights 0.4 / 0.4 / 0.2.
 */
export const DEFAULT_SYNTHETIC_KINDS: readonly SyntheticKind[] = [
  {
    name: 'airline',
    weight: 0.4,
    segments: { min: 4, max: 20 },
    prefixTokens: 1200,
    firstInputTokens: { type: 'lognormal', median: 60, sigma: 0.5, min: 1, max: 2000 },
    toolResultTokens: { type: 'lognormal', median: 248, sigma: 0.27, min: 1, max: 2000 },
    outputTokens: { type: 'lognormal', median: 46, sigma: 0.85, min: 1, max: 512 },
    toolDurationS: { type: 'lognormal', median: 1, sigma: 1, min: 0.05, max: 30 },
    tools: ['tool', 'user'],
  },
  {
    name: 'coding',
    weight: 0.4,
    segments: { min: 2, max: 30 },
    prefixTokens: 4000,
    firstInputTokens: { type: 'lognormal', median: 1500, sigma: 0.8, min: 1, max: 32000 },
    toolResultTokens: { type: 'lognormal', median: 875, sigma: 1.0, min: 1, max: 16000 },
    outputTokens: { type: 'lognormal', median: 214, sigma: 1.0, min: 1, max: 4096 },
    toolDurationS: { type: 'lognormal', median: 0.3, sigma: 2.97, min: 0.005, max: 600 },
    tools: ['Read', 'Edit', 'Bash'],
  },
  {
    name: 'chat',
    weight: 0.2,
    segments: { min: 1, max: 1 },
    firstInputTokens: { type: 'lognormal', median: 1020, sigma: 0.77, min: 1, max: 14050 },
    toolResultTokens: { type: 'constant', value: 0 },
    outputTokens: { type: 'lognormal', median: 129, sigma: 0.93, min: 1, max: 1000 },
    toolDurationS: { type: 'constant', value: 0 },
  },
];

/**
 * Long multi-turn conversations (not in the default mix): the context grows turn after turn to
 * tens of thousands of tokens, people take seconds to minutes to answer, and every session
 * shares one system prompt — the case where keeping KV per job can backfire. Assumptions, checked
 * against the Mooncake FAST'25 trace (ShareGPT / L-Eval / LooGLE turns kept in order; prompt p50
 * 11,587, p90 38,611 tokens; outputs p50 69, mean 149): a 600-token system prompt; a first
 * message lognormal(median 2,000, σ 1.0) in [1, 32,000] (pasted documents make the long tail);
 * 4–30 turns; each later user message lognormal(200, 1.0) in [1, 4,000]; replies
 * lognormal(120, 0.9) in [1, 1,000]; the person's reply time (tool `user`) lognormal(median
 * 15 s, σ 1.0) in [1, 300] s. A 30-turn session ends near 13,000 tokens at the medians.
 */
export const CONVERSATION_KIND: SyntheticKind = {
  name: 'conversation',
  weight: 1,
  segments: { min: 4, max: 30 },
  prefixTokens: 600,
  firstInputTokens: { type: 'lognormal', median: 2000, sigma: 1.0, min: 1, max: 32000 },
  toolResultTokens: { type: 'lognormal', median: 200, sigma: 1.0, min: 1, max: 4000 },
  outputTokens: { type: 'lognormal', median: 120, sigma: 0.9, min: 1, max: 1000 },
  toolDurationS: { type: 'lognormal', median: 15, sigma: 1.0, min: 1, max: 300 },
  tools: ['user'],
};

/** One draw from a distribution (clamped to its min/max where given). */
export function sample(dist: Distribution, rng: Rng): number {
  let value: number;
  switch (dist.type) {
    case 'constant':
      return dist.value;
    case 'uniform':
      return dist.min + rng() * (dist.max - dist.min);
    case 'lognormal':
      value = dist.median * Math.exp(dist.sigma * standardNormal(rng));
      break;
    case 'exponential':
      value = exponential(rng, 1 / dist.mean);
      break;
  }
  if (dist.min !== undefined) value = Math.max(dist.min, value);
  if (dist.max !== undefined) value = Math.min(dist.max, value);
  return value;
}

function checkKind(kind: SyntheticKind): void {
  const bad = (what: string) => {
    throw new EngineError('INVALID_ARGUMENT', `synthetic kind '${kind.name}': ${what}`);
  };
  if (typeof kind.name !== 'string' || kind.name === '') bad('name must be a non-empty string');
  if (!Number.isFinite(kind.weight) || kind.weight <= 0) bad('weight must be > 0');
  const { min, max } = kind.segments;
  if (!Number.isSafeInteger(min) || !Number.isSafeInteger(max) || min < 1 || max < min) {
    bad('segments must be integers with 1 ≤ min ≤ max');
  }
  const prefix = kind.prefixTokens ?? 0;
  if (!Number.isSafeInteger(prefix) || prefix < 0) bad('prefixTokens must be a non-negative integer');
  if (kind.tools !== undefined && (kind.tools.length === 0 || kind.tools.some((t) => t === ''))) {
    bad('tools must be non-empty names');
  }
}

/**
 * `jobs` synthetic agent jobs (ids `syn-<i>`, kind = the kind's name) with Poisson arrivals.
 * Per job, from one mulberry32(seed) stream in this order: arrival gap, kind (by weight),
 * segment count, then per segment: input tokens (first: `firstInputTokens`, later:
 * `toolResultTokens`), output tokens, and for all but the last segment the tool name and
 * duration. Token counts are rounded; outputs are at least 1, and a first prompt without a
 * prefix at least 1 token.
 */
export function syntheticAgentWorkload(options: SyntheticOptions): WorkloadJob[] {
  const kinds = options.kinds ?? DEFAULT_SYNTHETIC_KINDS;
  if (!Number.isSafeInteger(options.jobs) || options.jobs < 0) {
    throw new EngineError('INVALID_ARGUMENT', `jobs must be a non-negative integer, got ${options.jobs}`);
  }
  checkRate(options.arrivalRatePerS);
  if (kinds.length === 0) throw new EngineError('INVALID_ARGUMENT', 'kinds must not be empty');
  kinds.forEach(checkKind);
  const totalWeight = kinds.reduce((sum, k) => sum + k.weight, 0);
  const rng = mulberry32(options.seed);
  const count = (dist: Distribution, min: number) => Math.max(min, Math.round(sample(dist, rng)));
  const jobs: WorkloadJob[] = [];
  let clock = 0;
  for (let i = 0; i < options.jobs; i++) {
    clock += exponential(rng, options.arrivalRatePerS);
    let pick = rng() * totalWeight;
    let kind = kinds[kinds.length - 1];
    for (const k of kinds) {
      if (pick < k.weight) {
        kind = k;
        break;
      }
      pick -= k.weight;
    }
    const prefix = kind.prefixTokens ?? 0;
    const n = uniformInt(rng, kind.segments.min, kind.segments.max);
    const tools = kind.tools ?? ['tool'];
    const segments: WorkloadSegment[] = [];
    for (let s = 0; s < n; s++) {
      const inputTokens = s === 0 ? count(kind.firstInputTokens, prefix > 0 ? 0 : 1) : count(kind.toolResultTokens, 0);
      const outputTokens = count(kind.outputTokens, 1);
      let tool: ToolCall | null = null;
      if (s < n - 1) {
        const name = tools[uniformInt(rng, 0, tools.length - 1)];
        tool = { name, durationS: checkDuration(Math.max(0, sample(kind.toolDurationS, rng)), 'toolDurationS') };
      }
      segments.push({ inputTokens, outputTokens, tool });
    }
    const job: WorkloadJob = { id: `syn-${i}`, arrivalS: clock, kind: kind.name, segments };
    if (prefix > 0) {
      job.prefixId = `${kind.name}-system`;
      job.prefixTokens = prefix;
    }
    jobs.push(job);
  }
  return jobs;
}
