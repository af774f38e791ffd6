/**
 * `paper`: the augmented-LLM mix that InferCept evaluates on and Astraea's paper reuses
 * (Abhyankar et al., "InferCept: Efficient Intercept Support for Augmented Large Language Model
 * Inference", ICML 2024, arXiv 2402.01869): six augmentation types, equally mixed.
 *
 * What is sourced:
 * - The six types: a calculator API (arithmetic), a Wikipedia API (QA), an embodied agent in a
 *   virtual environment (ALFWorld), a chatbot whose follow-ups come from the user, stable-diffusion
 *   image generation and text-to-speech (InferCept authors' post, mlsys.wuklab.io/posts/infercept).
 * - Mean interception durations: arithmetic 9e-5 s, image generation 20.03 s, chatbot 28.6 s (the
 *   figures Astraea's paper quotes from InferCept; ../shared/ASTRAEA-PAPER.md).
 * - "a given user's request can be intercepted frequently, ranging on average from just 3 times to
 *   as high as 28 times"; calculators return in under a second; text-to-speech and stable
 *   diffusion "can take 20x longer" (the same post).
 * - An equal mix: the released benchmark reads `merged_exp_uniform.json`, the "6-augment mixture
 *   workload" (github.com/WukLab/InferCept, exps/README.md, exps/6B_bench.sh), sampled uniformly
 *   at random per request (benchmarks/final_tput_bench_real.py).
 * - Contexts of at most 2,048 tokens: that script caps every request at 2,048 tokens in all, the
 *   context length of the 6B and 13B models of its experiments (exps/6B_bench.sh,
 *   exps/13B_tp2_bench.sh); the shapes below keep jobs near it (median job 1,200 tokens in all,
 *   about 5% above 2,048; we do not truncate).
 *
 * Assumptions (InferCept's per-type table could not be retrieved here; every number below that is
 * not listed above is ours):
 * - which type has 3 and which 28 interceptions on average: 28 for the virtual environment (an
 *   ALFWorld episode is dozens of short actions), 3 for QA; arithmetic 4, chatbot 5 turns after
 *   the first, image and TTS 3; the count per job is 1 + Poisson(mean − 1), so every job is
 *   intercepted at least once;
 * - durations: QA 0.7 s (a Wikipedia API round trip), virtual environment 0.1 s (a local
 *   TextWorld step), TTS 20 s (the post groups it with image generation); each duration is
 *   lognormal around its type's mean with the σ in the table (image generation runs a fixed
 *   number of diffusion steps, hence its small σ; the chatbot's wait is a person, hence σ 1);
 * - token counts (medians of lognormals: prompt σ 0.4, others σ 0.5): prompts are few-shot
 *   prompts with tool demonstrations (ReAct-style for QA and ALFWorld), tool results are a
 *   number (arithmetic), a Wikipedia passage (QA), an observation sentence (ALFWorld), the
 *   user's next message (chatbot) or a file reference (image, TTS).
 *
 * Base rate (load 1): 6 jobs/s, half the rate at which the simulator (h100-llama3-8b, policy fcfs)
 * stops keeping up (about 12 jobs/s); docs/workloads.md has the measurement.
 */
import type { ToolCall, WorkloadJob, WorkloadSegment } from '../format.js';
import { lognormal, poisson, type Rng } from '../random.js';
import { poissonArrivals } from './arrivals.js';
import type { RandomStreams } from './streams.js';

export const PAPER_BASE_RATE_PER_S = 6;
export const PAPER_DEFAULT_JOBS = 1000;

export interface AugmentationType {
  /** The job kind and the tool name of its interceptions. */
  name: string;
  /** Mean interceptions per job. */
  meanInterceptions: number;
  /** Mean interception duration, and the σ of its lognormal. */
  meanDurationS: number;
  durationSigma: number;
  /** Medians of the token counts. */
  promptTokens: number;
  outputTokens: number;
  returnTokens: number;
  finalOutputTokens: number;
}

export const AUGMENTATION_TYPES: readonly AugmentationType[] = [
  { name: 'math', meanInterceptions: 4, meanDurationS: 9e-5, durationSigma: 0.5, promptTokens: 900, outputTokens: 40, returnTokens: 4, finalOutputTokens: 30 },
  { name: 'qa', meanInterceptions: 3, meanDurationS: 0.7, durationSigma: 0.5, promptTokens: 800, outputTokens: 40, returnTokens: 100, finalOutputTokens: 30 },
  { name: 'virtual_env', meanInterceptions: 28, meanDurationS: 0.1, durationSigma: 0.5, promptTokens: 600, outputTokens: 10, returnTokens: 22, finalOutputTokens: 10 },
  { name: 'chatbot', meanInterceptions: 5, meanDurationS: 28.6, durationSigma: 1, promptTokens: 150, outputTokens: 120, returnTokens: 50, finalOutputTokens: 120 },
  { name: 'image_gen', meanInterceptions: 3, meanDurationS: 20.03, durationSigma: 0.2, promptTokens: 700, outputTokens: 60, returnTokens: 15, finalOutputTokens: 40 },
  { name: 'tts', meanInterceptions: 3, meanDurationS: 20, durationSigma: 0.5, promptTokens: 700, outputTokens: 80, returnTokens: 10, finalOutputTokens: 30 },
];

const PROMPT_SIGMA = 0.4;
const TOKEN_SIGMA = 0.5;

/** One job of the given type (ids and arrival set by the caller). */
export function augmentedJob(type: AugmentationType, rng: Rng, id: string, arrivalS: number): WorkloadJob {
  const tokens = (median: number, sigma: number, min: number) => Math.max(min, Math.round(lognormal(rng, median, sigma)));
  const interceptions = 1 + poisson(rng, type.meanInterceptions - 1);
  // A lognormal with mean m and log-sd σ has median m·e^(−σ²/2).
  const durationMedianS = type.meanDurationS * Math.exp(-(type.durationSigma ** 2) / 2);
  const segments: WorkloadSegment[] = [];
  for (let s = 0; s <= interceptions; s++) {
    const last = s === interceptions;
    const inputTokens = s === 0 ? tokens(type.promptTokens, PROMPT_SIGMA, 1) : tokens(type.returnTokens, TOKEN_SIGMA, 1);
    const outputTokens = tokens(last ? type.finalOutputTokens : type.outputTokens, TOKEN_SIGMA, 1);
    const tool: ToolCall | null = last ? null : { name: type.name, durationS: lognormal(rng, durationMedianS, type.durationSigma) };
    segments.push({ inputTokens, outputTokens, tool });
  }
  return { id, arrivalS, kind: type.name, segments };
}

/** `count` jobs, types in equal shares (each job's type drawn uniformly), Poisson arrivals at `ratePerS`. */
export function paperJobs(count: number, ratePerS: number, streams: RandomStreams): WorkloadJob[] {
  const arrivals = poissonArrivals(streams.arrivals, count, ratePerS);
  return arrivals.map((arrivalS, i) => {
    const type = AUGMENTATION_TYPES[Math.floor(streams.shapes() * AUGMENTATION_TYPES.length)];
    return augmentedJob(type, streams.shapes, `paper-${i}`, arrivalS);
  });
}
