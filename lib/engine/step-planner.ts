/**
 * Plans one engine step: which sequences run, how many tokens each (a prefill chunk or one
 * decode token), which blocks they get, and which sequences are preempted to make room. The
 * policy orders; this module applies the order under the token budget and the free blocks, with
 * check-then-commit allocation through the block manager — the one record of where each job's KV
 * is — and returns what it decided; it writes nothing on the job records.
 */
import type { BlockManager } from '../kv/block-manager.js';
import type { SegmentExpectations } from '../predict/predictors.js';
import type { BlockPair } from '../step.js';
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
  swapIn: BlockPair[];
  /** Every job swapped in by this step, with its blocks. */
  swappedIn: { record: JobRecord; blocks: number }[];
  /** Jobs swapped in by this step that run from the next one, once their blocks have arrived. */
  prefetched: JobRecord[];
  /** Jobs preempted this step, with what happened to their KV. */
  preempted: Eviction[];
  /** Jobs waiting on a tool whose preserved KV was taken back to make room. */
  reclaimed: Eviction[];
  /** The job at which planning stopped for lack of memory, if any. */
  blocked: JobRecord | null;
}

/**
 * A job's KV taken off the device: swapped (its copies to the host: `swapOut`, and `toVacated`
 * into host blocks a swap-in of the same step reads first) or discarded.
 */
export interface Eviction {
  record: JobRecord;
  kv: 'discarded' | 'swapped';
  swapOut: BlockPair[];
  toVacated: BlockPair[];
}

export interface PlannerLimits {
  maxBatchTokens: number;
  maxBatchSequences: number;
  /**
   * true: a swapped-out job is swapped in by one step and runs from the next, so its copy runs
   * beside that step's compute instead of stalling the whole batch. false: it runs in the same
   * step, after the copy.
   */
  prefetchSwapIns: boolean;
}


/**
 * The record a candidate was made from, under a key only the planner knows: policies return
 * the candidates they were given (or copies, which keep it), so the ordered records come back
 * without a lookup by id.
 */
const RECORD = Symbol('record');

type PlannerCandidate = SchedulingCandidate & { [RECORD]?: JobRecord };

/**
 * What the policy sees of one job. It runs for every live job at every step, so it reads only
 * what the job keeps at hand (not its list of segments: the state machine keeps the current
 * segment's queue time and the service attained) and takes the time from the step (a wall-clock
 * read per job cost as much as the rest). Job-level figures are the job's group's: a fan-out is
 * ranked as one job.
 */
function candidate(r: JobRecord, nowS: number, expect: (r: JobRecord) => SegmentExpectations): PlannerCandidate {
  const state = r.state;
  const expected = expect(r);
  const group = r.group;
  const c: PlannerCandidate = {
    jobId: r.id,
    groupId: group.id,
    kind: r.kind,
    jobArrivalS: group.arrivalS,
    segmentQueuedS: state.currentSegmentQueuedAt ?? nowS,
    segmentIndex: r.segmentIndex,
    pendingPrefillTokens: r.tokens.length - r.computedTokens - 1,
    generatedTokens: r.active?.generated.length ?? 0,
    contextTokens: r.tokens.length,
    running: state.state === 'running',
    kv: r.placement,
    accumulatedWaitS: state.accumulatedWaitS(nowS),
    attainedTokens: group.attainedTokens(),
    expectedOutputTokens: expected.outputTokens,
    expectedFutureSegments: r.hints.futureSegments ?? expected.futureSegments,
    nextSegmentTokens: Math.min(1, r.hints.futureSegments ?? expected.futureSegments) * expected.growthPerSegment,
    // A hinted count says whether this is the last segment; else the learned chance.
    lastSegmentChance: r.hints.futureSegments === undefined ? expected.lastSegmentChance : r.hints.futureSegments === 0 ? 1 : 0,
  };
  if (r.hints.priority !== 0) c.priority = r.hints.priority;
  c[RECORD] = r;
  return c;
}

export function planStep(
  records: readonly JobRecord[],
  paused: readonly JobRecord[],
  blocks: BlockManager,
  policy: Policy,
  limits: PlannerLimits,
  nowS: number,
  /** Which of the jobs preserved through tool waits gives its KV back first, and whether it is swapped. */
  pickReclaim: (holders: readonly JobRecord[]) => { record: JobRecord; swap: boolean },
  expect: (r: JobRecord) => SegmentExpectations,
): StepDecision {
  const candidates: PlannerCandidate[] = [];
  for (const r of records) candidates.push(candidate(r, nowS, expect));
  let byId: Map<string, JobRecord> | null = null; // only for a policy that returns candidates of its own making
  const recordOf = (c: PlannerCandidate) => c[RECORD] ?? (byId ??= new Map(records.map((r) => [r.id, r]))).get(c.jobId)!;
  const ordered = policy.order(candidates, nowS).map(recordOf);
  const decision: StepDecision = { runs: [], swapIn: [], swappedIn: [], prefetched: [], preempted: [], reclaimed: [], blocked: null };
  const planned = new Set<JobRecord>();
  let budget = limits.maxBatchTokens;

  // Takes a job's device blocks: to the host pool if the policy swaps and there is room, else back
  // to the prefix cache (full blocks stay reusable until evicted). Room on the host includes the
  // blocks this plan's swap-ins read: an exchange, which the step writes after reading them.
  const evict = (victim: JobRecord, swap: boolean): Eviction => {
    if (swap && blocks.canSwapOutMakingRoom(victim.id)) {
      const { pairs, toVacated } = blocks.swapOutMakingRoom(victim.id); // its computed tokens travel with it
      return { record: victim, kv: 'swapped', swapOut: pairs, toVacated };
    }
    blocks.free(victim.id);
    return { record: victim, kv: 'discarded', swapOut: [], toVacated: [] };
  };
  const toolWaitHolders = () => paused.filter((p) => p.placement === 'device' && p.state.kv !== 'swapping_in');

  // Frees memory for the job at `after`: first KV preserved through a tool wait (whatever the
  // policy wished: a job that can run now matters more than one that might return soon; the
  // policy's `reclaimOrder` says whose goes first, else the largest), then the lowest-priority
  // runnable job holding device blocks.
  const preemptOne = (after: number): boolean => {
    // (Not one whose KV a prefetch is still bringing back: its blocks are not written yet.)
    const holders = toolWaitHolders();
    if (holders.length > 0) {
      const { record, swap } = pickReclaim(holders);
      decision.reclaimed.push(evict(record, swap));
      return true;
    }
    for (let i = ordered.length - 1; i > after; i--) {
      const victim = ordered[i];
      if (planned.has(victim) || victim.placement !== 'device') continue;
      decision.preempted.push(evict(victim, policy.preemption === 'swap'));
      return true;
    }
    return false;
  };

  for (let i = 0; i < ordered.length && budget > 0 && decision.runs.length < limits.maxBatchSequences; i++) {
    const r = ordered[i];
    if (r.placement === 'host') {
      // (Not one this very plan exchanged onto the host: its KV gets there only with the step.)
      if (blocks.awaitsExchange(r.id)) continue;
      // When the tool waits' KV alone is sure to make the room, the job coming back lends them its
      // host blocks: a full host pool then still takes their KV instead of losing it.
      if (!blocks.canSwapIn(r.id) && fitsByReclaimAlone(blocks, r, toolWaitHolders())) blocks.lendHostBlocks(r.id);
      while (!blocks.canSwapIn(r.id)) {
        if (!preemptOne(i)) {
          blocks.endHostLoan();
          return { ...decision, blocked: r };
        }
      }
      const pairs = blocks.swapIn(r.id, { deferRelease: true });
      decision.swapIn.push(...pairs);
      decision.swappedIn.push({ record: r, blocks: pairs.length });
      if (limits.prefetchSwapIns) {
        planned.add(r); // not a preemption victim while its blocks arrive
        decision.prefetched.push(r);
        continue;
      }
    }
    const computed = r.placement === 'device' ? r.computedTokens : blocks.cachedPrefixTokens(r.tokens, r.prefixRoot);
    const count = Math.min(r.tokens.length - computed, budget);
    const target = computed + count;
    while (!blocks.canAllocate(blocks.blocksNeeded(r.id, r.tokens, target, r.prefixRoot))) {
      if (!preemptOne(i)) return { ...decision, blocked: r }; // nothing of lower priority left to take memory from
    }
    const { computedTokens } = blocks.ensure(r.id, r.tokens, target, r.prefixRoot);
    const run = { record: r, start: computedTokens, count: computed + count - computedTokens };
    planned.add(r);
    decision.runs.push(run);
    budget -= run.count;
  }
  return decision;
}

/**
 * Whether taking back every tool wait's KV would free the device room `r`'s swap-in needs: then
 * the planner's reclaims (which come before any preemption) are sure to get there, and a loan of
 * r's host blocks to them is sure to end in its swap-in.
 */
function fitsByReclaimAlone(blocks: BlockManager, r: JobRecord, holders: readonly JobRecord[]): boolean {
  let room = blocks.availableBlocks;
  for (const h of holders) room += blocks.exclusiveDeviceBlocks(h.id);
  return room >= blocks.hostBlockCount(r.id);
}
