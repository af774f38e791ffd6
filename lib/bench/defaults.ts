/**
 * What `astraea bench` runs with no arguments, and each workload's scale for the real engine on a
 * 2-core CPU (the scale is recorded in every result line).
 *
 * The default is the `coding` family: long-context coding agents, where job-aware serving matters
 * most. Shrunk so that every policy runs in about 5 minutes together — contexts of ~800 tokens
 * (×0.006 of ~130K), tool calls ×0.02 — with a KV pool (96 blocks of 16 tokens) below the
 * working set of the requests in flight, at a load near what the engine serves: there a policy
 * that gives a job's KV back at every tool call (fcfs, vLLM as people run it) recomputes the
 * context over and over, and one that keeps or swaps it does not. The other generators keep the
 * scales they were benchmarked at.
 */
import { CONTEXT_WINDOW_TOKENS } from '../workload/generators/coding.js';
import { isGeneratorName } from './workload-source.js';

export interface BenchDefaults {
  jobs?: number;
  load: number;
  scale: { tokens: number; time: number };
  kvBlocks: number;
}

const BY_WORKLOAD: Record<string, BenchDefaults> = {
  coding: { jobs: 14, load: 2, scale: { tokens: 0.006, time: 0.02 }, kvBlocks: 96 },
  paper: { jobs: 40, load: 1, scale: { tokens: 0.1, time: 0.1 }, kvBlocks: 256 },
  // tau's tools and simulated customers are slow: time ×0.02 keeps a run to minutes.
  tau: { jobs: 40, load: 1, scale: { tokens: 0.1, time: 0.02 }, kvBlocks: 256 },
  // chat's contexts reach tens of thousands of tokens and its people take minutes.
  chat: { jobs: 16, load: 1, scale: { tokens: 0.02, time: 0.01 }, kvBlocks: 256 },
  synthetic: { jobs: 40, load: 1, scale: { tokens: 0.1, time: 0.1 }, kvBlocks: 256 },
};

/** A workload file is taken as written. */
const FILE_DEFAULTS: BenchDefaults = { load: 1, scale: { tokens: 1, time: 1 }, kvBlocks: 256 };

export const DEFAULT_BENCH = { workload: 'coding', seed: 1, ...BY_WORKLOAD.coding } as const;

/** The bench's defaults for a workload: its generator's (synthetic:<dist> as synthetic), or a file's. */
export function benchDefaults(workload: string): BenchDefaults {
  if (!isGeneratorName(workload)) return FILE_DEFAULTS;
  return BY_WORKLOAD[workload.startsWith('synthetic') ? 'synthetic' : workload] ?? FILE_DEFAULTS;
}

/**
 * The long-context replay `astraea calibrate` runs after the bench's workload: coding requests
 * whose contexts reach 90% of the model's positions (~3,700 tokens on the `small` preset), few
 * enough at load 1 that the pool holds them, so the attention terms are levelled on the contexts
 * they dominate (docs/simulator.md).
 */
export function longContextReplay(maxPositionEmbeddings: number, timeScale: number): { workload: 'coding'; jobs: number; load: number; scale: { tokens: number; time: number } } {
  return { workload: 'coding', jobs: 6, load: 1, scale: { tokens: (0.9 * maxPositionEmbeddings) / CONTEXT_WINDOW_TOKENS, time: timeScale } };
}
