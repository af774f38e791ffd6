/**
 * A planned step applied to the jobs, on both sides of the backend's run. Before it, each job the
 * plan touches makes its one state move — preempted, its preserved KV reclaimed, scheduled, its
 * swap-in begun — every KV move is booked, and the plan becomes the backend's step, carrying the
 * copies owed from before (tool-wait swap-outs, forks' block copies). After it, the copies are
 * settled and the step's time is booked and learned from. The sampled tokens go to their
 * segments in the engine.
 */
import type { BlockManager } from '../kv/block-manager.js';
import type { BlockPair } from '../step.js';
import type { StepCosts } from '../predict/step-costs.js';
import type { BackendStep, BackendStepResult } from './backend.js';
import type { EngineAccounts } from './engine-accounts.js';
import type { JobKv } from './job-kv.js';
import type { StepDecision } from './step-planner.js';

export interface BegunStep {
  step: BackendStep;
  /** The copies it carries, to give back to the next step if this one fails. */
  swapOut: BlockPair[];
  copy: BlockPair[];
  /** Swap-ins of jobs waiting on tools (JobKv.prefetchToolWaits). */
  prefetch: BlockPair[];
  /** Swap-outs into host blocks the step's swap-ins read (BackendStep.swapOutToVacated). */
  swapOutToVacated: BlockPair[];
}

export function beginStep(decision: StepDecision, kv: JobKv, blocks: BlockManager, accounts: EngineAccounts): BegunStep {
  for (const p of decision.preempted) {
    // A job can hold device blocks without running (swapped in by a step that then ran out of
    // room for it); taking them back is a preemption only for a running one.
    if (p.record.state.state === 'running') p.record.state.preempted(p.kv);
    accounts.counters.preemptions++;
    accounts.logKv(p.record, p.kv === 'swapped' ? 'swap' : 'discard', 'preempted', p.swapOut.length + p.toVacated.length);
  }
  for (const s of decision.swappedIn) accounts.logKv(s.record, 'swap_in', 'resume', s.blocks);
  for (const r of decision.reclaimed) {
    accounts.counters.reclaims++;
    accounts.logKv(r.record, r.kv === 'swapped' ? 'swap' : 'discard', 'reclaimed', r.swapOut.length + r.toVacated.length);
    if (r.kv === 'swapped') r.record.state.swappedOut();
    else r.record.state.setKv('discarded');
  }
  for (const run of decision.runs) if (run.record.state.state !== 'running') run.record.state.scheduled();
  for (const r of decision.prefetched) if (r.state.kv === 'swapped') r.state.setKv('swapping_in');

  const evicted = [...decision.preempted, ...decision.reclaimed];
  const swapOut = [...kv.pendingSwapOut.splice(0), ...evicted.flatMap((e) => e.swapOut)];
  const swapOutToVacated = evicted.flatMap((e) => e.toVacated);
  const copy = kv.pendingCopies.splice(0);
  const prefetch = kv.pendingSwapIn.splice(0);
  accounts.counters.swapOutBlocks += swapOut.length + swapOutToVacated.length;
  accounts.counters.exchangedBlocks += swapOutToVacated.length;
  accounts.counters.swapInBlocks += decision.swapIn.length + prefetch.length;
  const step: BackendStep = {
    copy,
    sequences: decision.runs.map(({ record, start, count }) => ({
      tokens: record.tokens.slice(start, start + count),
      startPosition: start,
      blocks: blocks.tableSnapshot(record.id), // unchanged while the next step is planned (copy-on-write)
      sampling: record.active!.spec.sampling,
      outputTokens: record.active!.generated, // what the penalties count (read when the plan is built, before this step's token)
      ...(record.active!.spec.constraint ? { allowedTokens: record.active!.spec.constraint.allowedTokens() } : {}),
    })),
    swapOut,
    swapIn: prefetch.length > 0 ? [...decision.swapIn, ...prefetch] : decision.swapIn,
    swapOutToVacated,
  };
  return { step, swapOut, copy, prefetch, swapOutToVacated };
}

/** The step ran: its copies are done and its time is booked and learned from. */
export function settleStep(decision: StepDecision, begun: BegunStep, result: BackendStepResult, kv: JobKv, blocks: BlockManager, accounts: EngineAccounts, costs: StepCosts): void {
  // Blocks of deferred swaps can be reused, forks' copied blocks are their own, and jobs
  // swapped in ahead of running (or of their tool's return) have their KV on the device.
  blocks.settleSwaps();
  for (const { record } of decision.swappedIn) blocks.restoreKeys(record.id, record.tokens);
  for (const r of kv.prefetched) blocks.restoreKeys(r.id, r.tokens);
  for (const pair of begun.copy) blocks.copyDone(pair);
  for (const r of decision.prefetched) if (r.state.kv === 'swapping_in') r.state.setKv('resident');
  kv.prefetchesLanded();
  const counters = accounts.counters;
  counters.overlappedSwapBlocks += result.overlappedSwapBlocks;
  counters.blockingSwapS += result.blockingSwapS;
  counters.steps++;
  counters.nativeS += result.elapsedS;
  const stepTokens = decision.runs.reduce((sum, r) => sum + r.count, 0);
  const decodeRuns = decision.runs.filter((r) => r.count === 1).length;
  // Compute only: a copy stalls, it is not work.
  costs.observe(stepTokens - decodeRuns, decodeRuns, result.elapsedS - result.blockingSwapS);
  accounts.attributeKvRecovery(decision, result);
}
