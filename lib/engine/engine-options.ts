/** The engine's options, and a job's and a segment's, checked, with their defaults. */
import { EngineError } from '../errors.js';
import type { BlockHash } from '../kv/prefix-hash.js';
import { checkPolicyOptions } from '../sched/policy-options.js';
import { POLICY_NAMES } from '../sched/registry.js';
import type { JobRecord } from './job-record.js';
import type { PlannerLimits } from './step-planner.js';
import type { EngineOptions, GenerateOptions, JobOptions } from './types.js';

export function positiveInteger(value: number | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw new EngineError('INVALID_ARGUMENT', `${name} must be an integer >= ${min}`);
  return value;
}

/** The pool sizes and batch limits of engine options, checked, with their defaults. */
export function poolsAndLimits(options: Omit<EngineOptions, 'model'>): { kvBlocks: number; hostBlocks: number; blockSize: number; limits: PlannerLimits } {
  const kvBlocks = positiveInteger(options.kvBlocks, 'kvBlocks', 1024);
  return {
    kvBlocks,
    hostBlocks: positiveInteger(options.hostBlocks, 'hostBlocks', kvBlocks, 0),
    blockSize: positiveInteger(options.blockSize, 'blockSize', 16),
    limits: {
      maxBatchTokens: positiveInteger(options.maxBatchTokens, 'maxBatchTokens', 512),
      maxBatchSequences: positiveInteger(options.maxBatchSequences, 'maxBatchSequences', 64),
      prefetchSwapIns: options.prefetchSwapIns ?? true,
    },
  };
}

/** A named policy exists and takes the options given: checked before a model is loaded for nothing. */
export function checkPolicy(options: Pick<EngineOptions, 'policy' | 'policyOptions'>): void {
  const { policy } = options;
  if (typeof policy !== 'string') return;
  if (!(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new EngineError('INVALID_ARGUMENT', `unknown policy "${policy}" (available: ${POLICY_NAMES.join(', ')})`);
  }
  checkPolicyOptions(policy, options.policyOptions ?? {});
}

/** A job's cache salt, group and fork parent are well formed (their meaning is checked against the engine's jobs). */
export function checkJobNaming(options: { cacheSalt?: unknown; group?: unknown }): void {
  if (options.cacheSalt !== undefined && (typeof options.cacheSalt !== 'string' || options.cacheSalt.length === 0)) {
    throw new EngineError('INVALID_ARGUMENT', 'cacheSalt must be a non-empty string');
  }
  if (options.group !== undefined && (typeof options.group !== 'string' || options.group.length === 0)) {
    throw new EngineError('INVALID_ARGUMENT', 'group must be a non-empty string');
  }
}

/** A job's history (JobOptions.history), checked; none is a new job's. */
export function checkJobHistory(history: JobOptions['history']): { segments: number; ageS: number } {
  if (history === undefined) return { segments: 0, ageS: 0 };
  if (typeof history !== 'object' || history === null) throw new EngineError('INVALID_ARGUMENT', 'history must be an object { segments, ageS }');
  const { segments, ageS = 0 } = history;
  if (!(Number.isInteger(segments) && segments >= 0)) throw new EngineError('INVALID_ARGUMENT', `history.segments must be an integer >= 0, got ${segments}`);
  if (!(Number.isFinite(ageS) && ageS >= 0)) throw new EngineError('INVALID_ARGUMENT', `history.ageS must be a finite number >= 0, got ${ageS}`);
  return { segments, ageS };
}

/** The job a new job forks (JobOptions.forkOf): open, with the same cache salt, and whose group it joins. */
export function checkForkParent(parent: JobRecord | undefined, options: JobOptions, root: BlockHash | null): JobRecord {
  if (parent === undefined) throw new EngineError('UNKNOWN_JOB', `cannot fork job ${options.forkOf}: it is not open`);
  if (parent.prefixRoot !== root) throw new EngineError('INVALID_ARGUMENT', `cannot fork job ${parent.id}: it has another cache salt`);
  if (options.group !== undefined && options.group !== parent.group.id) {
    throw new EngineError('INVALID_ARGUMENT', `a fork joins its parent's group (${parent.group.id}), not ${options.group}`);
  }
  return parent;
}

const DEFAULT_MAX_TOKENS = 256;

/** A segment's limits and hints, checked against the model's context and the KV pool. */
export function checkSegmentStart(
  jobId: string,
  options: GenerateOptions,
  contextTokens: number,
  maxPositions: number,
  pool: { blockSize: number; deviceBlocks: number },
): { maxTokens: number; hintedOutput: number } {
  const maxTokens = positiveInteger(options.maxTokens, 'maxTokens', DEFAULT_MAX_TOKENS);
  const hintedOutput = positiveInteger(options.expectedOutputTokens, 'expectedOutputTokens', 0, 1);
  if (options.expectedToolS !== undefined && !(Number.isFinite(options.expectedToolS) && options.expectedToolS >= 0)) {
    throw new EngineError('INVALID_ARGUMENT', 'expectedToolS must be a finite number of seconds >= 0');
  }
  if (contextTokens + maxTokens > maxPositions) {
    throw new EngineError('CONTEXT_TOO_LONG', `job ${jobId}: ${contextTokens} context tokens + ${maxTokens} to generate exceed the model's ${maxPositions} positions`);
  }
  if (Math.ceil((contextTokens + maxTokens) / pool.blockSize) > pool.deviceBlocks) {
    throw new EngineError('OUT_OF_BLOCKS', `job ${jobId}: ${contextTokens + maxTokens} tokens need more KV blocks than the pool has (${pool.deviceBlocks})`);
  }
  return { maxTokens, hintedOutput };
}
