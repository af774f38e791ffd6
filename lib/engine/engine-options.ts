/** The engine's options, checked, with their defaults. */
import { EngineError } from '../errors.js';
import { POLICY_NAMES } from '../sched/registry.js';
import type { PlannerLimits } from './step-planner.js';
import type { EngineOptions } from './types.js';

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

export function checkPolicyName(policy: EngineOptions['policy']): void {
  if (typeof policy === 'string' && !(POLICY_NAMES as readonly string[]).includes(policy)) {
    throw new EngineError('INVALID_ARGUMENT', `unknown policy "${policy}" (available: ${POLICY_NAMES.join(', ')})`);
  }
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
