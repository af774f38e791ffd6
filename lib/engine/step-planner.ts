/**
 * Plans one engine step: which sequences run, how many tokens each (a prefill chunk or one
 * decode token), which blocks they get, and which sequences are preempted to make room. The
 * policy orders; this module applies the order under the token budget and the free blocks, with
 * check-then-commit allocation through the block manager.
 */
import type { BlockManager, SwapPair } from '../kv/block-manager.js';
import type { Policy, SchedulingCandidate } from '../sched/policy.js';
import type { JobRecord } from './job-record.js';

export interface PlannedRun {
  record: JobRecord;
  /** Position of the first token run this step (KV exists before it). */
  start: number;
  count: number;
}

export interface StepDecision {
  runs: PlannedRun[];
  swapIn: SwapPair[];
  /** Jobs preempted this step, with what happened to their KV. */
  preempted: { record: JobRecord; kv: 'discarded' | 'swapped'; swapOut: SwapPair[] }[];
  /** The job at which planning stopped for lack of memory, if any. */
  blocked: JobRecord | null;
}

export interface PlannerLimits {
  maxBatchTokens: number;
  maxBatchSequences: number;
}

function candidate(r: JobRecord, nowS: number): SchedulingCandidate {
  const segment = r.state.segments[r.state.segments.length - 1];
  return {
    jobId: r.id,
    kind: r.kind,
    jobArrivalS: r.state.arrivalTime,
    segmentQueuedS: segment?.queuedAt ?? nowS,
    segmentIndex: r.segmentsStarted - 1,
    pendingPrefillTokens: r.tokens.length - r.computedTokens - 1,
    generatedTokens: r.active?.generated.length ?? 0,
    contextTokens: r.tokens.length,
    running: r.state.state === 'running',
    accumulatedWaitS: r.state.accumulatedWaitS(),
  };
}

export function planStep(
  records: readonly JobRecord[],
  blocks: BlockManager,
  policy: Policy,
  limits: PlannerLimits,
  nowS: number,
): StepDecision {
  const byId = new Map(records.map((r) => [r.id, r]));
  const ordered = policy.order(records.map((r) => candidate(r, nowS)), nowS).map((c) => byId.get(c.jobId)!);
  const decision: StepDecision = { runs: [], swapIn: [], preempted: [], blocked: null };
  const planned = new Set<JobRecord>();
  let budget = limits.maxBatchTokens;

  // Frees the lowest-priority job that holds device blocks and is not already planned.
  const preemptOne = (after: number): boolean => {
    for (let i = ordered.length - 1; i > after; i--) {
      const victim = ordered[i];
      if (planned.has(victim) || victim.placement !== 'device') continue;
      if (policy.preemption === 'swap' && blocks.canSwapOut(victim.id)) {
        decision.preempted.push({ record: victim, kv: 'swapped', swapOut: blocks.swapOut(victim.id) });
        victim.placement = 'host'; // its computed tokens travel with it
      } else {
        blocks.free(victim.id); // full blocks stay in the prefix cache until evicted
        victim.placement = 'none';
        victim.computedTokens = 0;
        decision.preempted.push({ record: victim, kv: 'discarded', swapOut: [] });
      }
      return true;
    }
    return false;
  };

  for (let i = 0; i < ordered.length && budget > 0 && decision.runs.length < limits.maxBatchSequences; i++) {
    const r = ordered[i];
    if (r.placement === 'host') {
      while (!blocks.canSwapIn(r.id)) if (!preemptOne(i)) return { ...decision, blocked: r };
      decision.swapIn.push(...blocks.swapIn(r.id));
      r.placement = 'device';
    }
    const computed = r.placement === 'device' ? r.computedTokens : blocks.cachedPrefixTokens(r.tokens);
    const count = Math.min(r.tokens.length - computed, budget);
    const target = r.tokens.slice(0, computed + count);
    while (!blocks.canAllocate(blocks.blocksNeeded(r.id, target))) {
      if (!preemptOne(i)) return { ...decision, blocked: r }; // nothing of lower priority left to take memory from
    }
    const { computedTokens } = blocks.ensure(r.id, target);
    r.placement = 'device';
    r.computedTokens = computedTokens;
    const run = { record: r, start: computedTokens, count: computed + count - computedTokens };
    planned.add(r);
    decision.runs.push(run);
    budget -= run.count;
  }
  return decision;
}
