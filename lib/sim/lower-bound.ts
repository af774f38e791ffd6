/**
 * An offline lower bound on mean JCT: no schedule — however clairvoyant, whatever it keeps, swaps
 * or discards — finishes a workload's jobs sooner on average on the simulator's cost model. It
 * says how far a policy is from the best possible schedule, and so whether a target (issue 19's
 * "≤ 0.5× fcfs") is reachable at all.
 *
 * Two relaxations, each true of every schedule the engine can run:
 * - **Alone**: a job cannot end before its arrival plus its critical path run with the device to
 *   itself — every prompt token computed once (the shared prefix always cached), each prefill in
 *   the fewest chunks the step budget allows, each output token one step, every tool call waited
 *   out, a task call as long as its slowest subagent. Other jobs in a step only lengthen it, so
 *   no step of the job is shorter than it is alone.
 * - **Work**: the device is one server. A step costs fixedS plus terms that add up over its
 *   sequences (tokens, context read, attention pairs, per-sequence work); split fixedS among the
 *   sequences by the device KV each holds of its own (its context less the shared prefix, a
 *   subagent's less the fork it shares), a share of at most the pool. The sequences' own KV fits
 *   the pool, so the shares sum to at most fixedS, and each job owes the device its own work
 *   whatever the batch: `workS`. On one server with release dates, preemptive SRPT minimises the
 *   number of jobs unfinished at every moment (Smith 1978), so its k-th completion is a lower
 *   bound on any schedule's k-th.
 * The k-th earliest completion is at least the larger of the two k-th bounds; summed, less the
 * arrivals, a bound on the mean JCT. Recompute, swaps and queueing only add to what either counts.
 *
 * A roofline profile (max(fixedS, tokens·tokenS)) owes no per-token matrix work beyond fixedS's
 * share in `workS`: max(a, b) ≥ a is all the bound uses there.
 */
import { EngineError } from '../errors.js';
import type { Subagent, WorkloadJob, WorkloadSegment } from '../workload/format.js';
import { attentionPairs, type SimulationProfile, type StepCostModel } from './cost-model.js';

export interface LowerBoundOptions {
  /** Device KV blocks (default the profile's) of `blockSize` tokens (default 16). */
  kvBlocks?: number;
  blockSize?: number;
  /** Tokens a step may run (default the profile's): a prefill takes at least ⌈n / this⌉ steps. */
  maxBatchTokens?: number;
}

/** What one job cannot beat. */
export interface JobBound {
  id: string;
  arrivalS: number;
  /** Its critical path with the device to itself, tool calls included. */
  aloneS: number;
  /** Of aloneS, the tool calls' own durations (the rest is the device's, and a task call's subagents). */
  toolS: number;
  /** Device seconds it owes whatever the batch (the work relaxation's processing time). */
  workS: number;
}

export interface MeanJctBound {
  /** The bound on mean JCT: max of the two relaxations, completion by completion. */
  meanJctS: number;
  /** Each relaxation alone, as a mean JCT. */
  aloneMeanJctS: number;
  workMeanJctS: number;
  /** Mean tool time on the jobs' critical paths: no schedule's mean JCT less it beats meanJctS less it. */
  meanToolS: number;
  /** Device seconds all jobs owe. */
  totalWorkS: number;
  jobs: number;
}

/** What a segment or chain costs: alone, and owed to the device in any batch. */
interface Costs {
  aloneS: number;
  workS: number;
}

/** A chain's costs, and the tool time on its critical path. */
interface ChainCosts extends Costs {
  toolS: number;
}

/** The cost model's terms for one job's sequence, with fixedS shared by own-KV over the pool. */
class SequenceCosts {
  /** What every step pays whatever it runs: the weights streamed, the control plane. */
  private readonly perStepS: number;

  constructor(
    private readonly costs: StepCostModel,
    private readonly poolTokens: number,
    private readonly chunkTokens: number,
  ) {
    this.perStepS = costs.fixedS + (costs.stepOverheadS ?? 0);
  }

  /**
   * A segment computing `prompt` tokens from `start` (its last chunk samples the first output),
   * then one step per further output token. `shared` tokens of its context are not its own.
   */
  segment(start: number, prompt: number, outputs: number, shared: number): Costs {
    const c = this.costs;
    // The fewest chunks, the short one first: no chunking reads less context or owns less KV.
    const chunks = Math.ceil(prompt / this.chunkTokens);
    let contextRead = 0;
    let ownKv = 0;
    for (let i = 0; i < chunks; i++) {
      const end = start + prompt - (chunks - 1 - i) * this.chunkTokens;
      contextRead += end;
      ownKv += Math.max(0, end - shared);
    }
    // Added up over chunks, the matrix work is k·fixedS + n·tokenS; on a roofline at least the larger of the two.
    const matrixAloneS = c.roofline ? Math.max(chunks * c.fixedS, prompt * c.tokenS) : chunks * c.fixedS + prompt * c.tokenS;
    const common = contextRead * c.contextTokenS + attentionPairs(start, prompt) * (c.attentionPairS ?? 0) + chunks * (c.sequenceS ?? 0);
    let aloneS = chunks * (c.stepOverheadS ?? 0) + matrixAloneS + common;
    let workS = (c.roofline ? 0 : prompt * c.tokenS) + common + (this.perStepS * ownKv) / this.poolTokens;
    for (let position = start + prompt; position < start + prompt + outputs - 1; position++) {
      const decodeCommon = (position + 1) * (c.contextTokenS + (c.attentionPairS ?? 0)) + (c.sequenceS ?? 0);
      aloneS += (c.stepOverheadS ?? 0) + (c.roofline ? Math.max(c.fixedS, c.tokenS) : c.fixedS + c.tokenS) + decodeCommon;
      workS += (c.roofline ? 0 : c.tokenS) + decodeCommon + (this.perStepS * Math.max(0, position + 1 - shared)) / this.poolTokens;
    }
    return { aloneS, workS };
  }
}

/** Walks a chain of segments from `computed` tokens of context, `shared` of them not its own. */
function chainBound(segments: readonly WorkloadSegment[], firstPrompt: number, computed: number, shared: number, seq: SequenceCosts): ChainCosts {
  let aloneS = 0;
  let workS = 0;
  let toolS = 0;
  let position = computed;
  segments.forEach((segment, k) => {
    // After the first, a segment also runs the last token the one before sampled.
    const prompt = k === 0 ? firstPrompt : segment.inputTokens + 1;
    const cost = seq.segment(position, prompt, segment.outputTokens, shared);
    aloneS += cost.aloneS;
    workS += cost.workS;
    position += prompt + segment.outputTokens - 1;
    const tool = segment.tool;
    if (tool === null) return;
    let slowest: ChainCosts = { aloneS: 0, workS: 0, toolS: 0 };
    for (const sub of tool.subagents ?? []) {
      const subCost = subagentBound(sub, position, seq);
      if (subCost.aloneS > slowest.aloneS) slowest = subCost;
      workS += subCost.workS;
    }
    aloneS += slowest.aloneS + tool.durationS;
    toolS += slowest.toolS + tool.durationS;
  });
  return { aloneS, workS, toolS };
}

/** A subagent forks the parent's `position` computed tokens and runs the parent's last token and its task prompt. */
function subagentBound(sub: Subagent, position: number, seq: SequenceCosts): ChainCosts {
  return chainBound(sub.segments, sub.segments[0].inputTokens + 1, position, position, seq);
}

/** Each job's two bounds on the profile's cost model. */
export function jobBounds(jobs: readonly WorkloadJob[], profile: SimulationProfile, options: LowerBoundOptions = {}): JobBound[] {
  const blockSize = options.blockSize ?? 16;
  const kvBlocks = options.kvBlocks ?? profile.deviceBlocks;
  const chunkTokens = options.maxBatchTokens ?? profile.maxBatchTokens;
  if (!(kvBlocks >= 1 && blockSize >= 1 && chunkTokens >= 1)) {
    throw new EngineError('INVALID_ARGUMENT', `a lower bound needs a pool and a step budget of at least one (kvBlocks ${kvBlocks}, blockSize ${blockSize}, maxBatchTokens ${chunkTokens})`);
  }
  const seq = new SequenceCosts(profile.costs, kvBlocks * blockSize, chunkTokens);
  return jobs.map((job) => {
    const prefix = job.prefixTokens ?? 0;
    const prompt = job.segments[0].inputTokens;
    // The prefix counts as cached for every job (the first one computes it for real; a bound may be generous).
    // The engine always runs a prompt's last token, so a prompt the cache covers entirely still runs one.
    const cached = prompt === 0 ? Math.max(0, prefix - 1) : prefix;
    const { aloneS, workS, toolS } = chainBound(job.segments, prefix + prompt - cached, cached, prefix, seq);
    return { id: job.id, arrivalS: job.arrivalS, aloneS, toolS, workS };
  });
}

/** Completion times of preemptive shortest-remaining-work-first on one server, sorted. */
export function srptCompletions(bounds: readonly Pick<JobBound, 'arrivalS' | 'workS'>[]): number[] {
  const pending = [...bounds].sort((a, b) => a.arrivalS - b.arrivalS);
  const remaining: number[] = []; // work left of the jobs released, unordered (n is small)
  const done: number[] = [];
  let now = 0;
  let next = 0;
  while (done.length < bounds.length) {
    if (remaining.length === 0) now = Math.max(now, pending[next].arrivalS);
    while (next < pending.length && pending[next].arrivalS <= now) remaining.push(pending[next++].workS);
    let shortest = 0;
    for (let i = 1; i < remaining.length; i++) if (remaining[i] < remaining[shortest]) shortest = i;
    const untilArrival = next < pending.length ? pending[next].arrivalS - now : Infinity;
    if (remaining[shortest] <= untilArrival) {
      now += remaining[shortest];
      done.push(now);
      remaining.splice(shortest, 1);
    } else {
      remaining[shortest] -= untilArrival;
      now = pending[next].arrivalS;
    }
  }
  return done;
}

/** The bound on mean JCT from each job's two bounds. */
export function meanJctLowerBound(bounds: readonly JobBound[]): MeanJctBound {
  const n = bounds.length;
  if (n === 0) throw new EngineError('INVALID_ARGUMENT', 'a lower bound on mean JCT needs at least one job');
  const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0);
  const arrivals = sum(bounds.map((b) => b.arrivalS));
  const alone = bounds.map((b) => b.arrivalS + b.aloneS).sort((a, b) => a - b);
  const work = srptCompletions(bounds);
  let combined = 0;
  for (let k = 0; k < n; k++) combined += Math.max(alone[k], work[k]);
  return {
    meanJctS: (combined - arrivals) / n,
    aloneMeanJctS: (sum(alone) - arrivals) / n,
    workMeanJctS: (sum(work) - arrivals) / n,
    meanToolS: sum(bounds.map((b) => b.toolS)) / n,
    totalWorkS: sum(bounds.map((b) => b.workS)),
    jobs: n,
  };
}
