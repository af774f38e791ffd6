/**
 * The policies selectable by name, built with what the engine knows: its memory view, the step
 * costs it measures and the tool durations it observes.
 */
import { EngineError } from '../errors.js';
import { AstraeaPolicy } from './astraea.js';
import { AstraeaPaperPolicy } from './astraea-paper.js';
import type { BatchShape } from './batch-width.js';
import { AUTELLIX_LEVEL_THRESHOLDS, AUTELLIX_STARVATION_S, AutellixPolicy } from './autellix.js';
import { CONTINUUM_DEFAULT_TTL_S, ContinuumPolicy } from './continuum.js';
import { FcfsPolicy } from './fcfs.js';
import { InferCeptPolicy } from './infercept.js';
import type { MemoryView } from './kv-waste.js';
import { defaultThresholds } from './mlfq.js';
import { MoriPolicy } from './mori.js';
import { checkPolicyOptions } from './policy-options.js';
import type { Policy, SchedulingCandidate } from './policy.js';
import { THUNDERAGENT_CHECK_INTERVAL_S, THUNDERAGENT_DECODE_BUFFER_TOKENS, ThunderAgentPolicy } from './thunderagent.js';
import { TokencakePolicy } from './tokencake.js';

export const POLICY_NAMES = ['fcfs', 'astraea', 'astraea-paper', 'infercept', 'autellix', 'continuum', 'thunderagent', 'tokencake', 'mori'] as const;
export type PolicyName = (typeof POLICY_NAMES)[number];

/** What the engine tells the policies it builds by name: memory, costs and tool durations. */
export interface PolicyEnvironment {
  memory: () => MemoryView;
  /** Expected duration of a call of `tool`; a client's hint overrides until overrun. */
  toolTimeS: (tool: string, hintS?: number) => number;
  /** Expected seconds until a call of `tool` that has run `elapsedS` returns. */
  toolRemainingS: (tool: string, elapsedS: number, hintS?: number) => number;
  toolTimeQuantileS: (tool: string, q: number) => number | undefined;
  /** Whether a call of `tool` that has run `elapsedS` is better met by moving KV that costs `moveCostS` to move (ToolTimePredictor.outlasts). */
  toolOutlasts: (tool: string, elapsedS: number, moveCostS: number, hintS?: number) => boolean;
  /**
   * Measured costs: seconds per prefill token and per decode step, and (once the steps separate
   * them) a step's fixed cost and what one more decoding sequence adds (StepCosts.batchShape).
   */
  costs: { prefillSPerToken: number; decodeStepS: number; batchShape?: BatchShape | null };
  /** The workload's scale against the full-scale system (EngineOptions.workloadScale). */
  scale: { tokens: number; time: number };
}

/**
 * Options for a named policy, merged over what the engine supplies (ablations and sweeps turn
 * rules off or move thresholds this way; see docs/policies.md). Keys and values are checked
 * against ./policy-options.ts: a typo is an EngineError, never a default run under another name.
 */
export type PolicyOptions = Record<string, unknown>;

export function createPolicy(policy: PolicyName | Policy | undefined, env: PolicyEnvironment, options: PolicyOptions = {}): Policy {
  if (typeof policy === 'object' && policy !== null) return policy;
  if (policy !== undefined) {
    if (!(POLICY_NAMES as readonly unknown[]).includes(policy)) throw unknownPolicy(policy);
    checkPolicyOptions(policy, options);
  }
  if (policy === undefined || policy === 'fcfs') return new FcfsPolicy();
  // Every policy's published constants are seconds and tokens of a full-scale system; a scaled
  // workload scales them too (the policies' own defaults are the published figures).
  const { tokens, time } = env.scale;
  if (policy === 'astraea' || policy === 'astraea-paper') {
    const base = {
      // The MLFQ's queue boundaries are decode-token equivalents.
      ...(options.levels === undefined && options.thresholds === undefined ? { thresholds: defaultThresholds(4).map((t) => t * tokens) } : {}),
      memory: env.memory,
      toolTimeS: env.toolTimeS,
      toolRemainingS: env.toolRemainingS,
      toolOutlasts: env.toolOutlasts,
      batchShape: () => env.costs.batchShape ?? null,
      // T_proc: the prompt still to prefill plus the output still expected, at measured costs.
      serviceTime: (c: SchedulingCandidate) =>
        c.pendingPrefillTokens * env.costs.prefillSPerToken + Math.max(1, c.expectedOutputTokens - c.generatedTokens) * env.costs.decodeStepS,
      ...options,
    };
    return policy === 'astraea' ? new AstraeaPolicy(base) : new AstraeaPaperPolicy(base);
  }
  if (policy === 'infercept') {
    return new InferCeptPolicy({ memory: env.memory, toolTimeS: env.toolTimeS, stepTimeS: () => env.costs.decodeStepS, ...options });
  }
  if (policy === 'autellix') {
    return new AutellixPolicy({ starvationS: AUTELLIX_STARVATION_S * time, levelThresholds: AUTELLIX_LEVEL_THRESHOLDS.map((t) => t * tokens), ...options });
  }
  if (policy === 'continuum') return new ContinuumPolicy({ toolTimeQuantileS: env.toolTimeQuantileS, defaultTtlS: CONTINUUM_DEFAULT_TTL_S * time, ...options });
  if (policy === 'thunderagent') {
    return new ThunderAgentPolicy({
      capacityTokens: deviceTokens(env.memory),
      checkIntervalS: THUNDERAGENT_CHECK_INTERVAL_S * time,
      decodeBufferTokens: Math.round(THUNDERAGENT_DECODE_BUFFER_TOKENS * tokens),
      ...options,
    });
  }
  if (policy === 'tokencake') {
    return new TokencakePolicy({
      memory: env.memory,
      toolTimeS: env.toolTimeS,
      toolRemainingS: env.toolRemainingS,
      capacityTokens: deviceTokens(env.memory),
      ...options,
    });
  }
  if (policy === 'mori') return new MoriPolicy({ capacityTokens: deviceTokens(env.memory), ...options });
  throw unknownPolicy(policy);
}

function unknownPolicy(policy: unknown): EngineError {
  return new EngineError('INVALID_ARGUMENT', `unknown policy "${String(policy)}" (available: ${POLICY_NAMES.join(', ')})`);
}

/**
 * The device KV pool in tokens, read off the memory view: owned, free and cached blocks make up
 * the pool, so it is freeTokens / (1 − usedFraction). With every block owned that is 0/0; the
 * last size read stands (the pool does not change size).
 */
function deviceTokens(memory: () => MemoryView): () => number {
  let known = Infinity;
  return () => {
    const m = memory();
    if (m.freeTokens !== undefined && m.usedFraction < 1) known = Math.round(m.freeTokens / (1 - m.usedFraction));
    return known;
  };
}
