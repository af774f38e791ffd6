/**
 * `astraea`: the product's default policy — `astraea-paper` plus our own improvements, each behind
 * an option so an ablation can turn it off (docs/policies.md records each one's evidence).
 *
 * 1. `ageFrom: 'any'` (the paper ages only the lowest queue): a job demoted to a middle queue is
 *    aged to Q0 by its response ratio like any other, so a stream of fresh Q0 jobs cannot starve
 *    it. Evidence: test/native/starvation.test.ts.
 * 2. `kvRule: 'contention'` (the paper: 'watermark'): what a pausing job's KV costs depends on
 *    whether anything waits for that memory, not on how full the pool is. While the work waiting
 *    for memory fits in what is free, the KV stays (`uncontendedKv`, 'release' sends it to the
 *    prefix cache instead). Otherwise it stays only if the tool returns before moving it would
 *    pay off; else it goes to the host (swap) or to the prefix cache (discard), by rule 7.
 * 3. `reclaim: 'remaining-time'`: each step, if work waits for memory that is not free, preserved
 *    KV of jobs still waiting on tools goes — those expected to return last first (the tool-time
 *    predictor's conditional remaining time) — until the waiting work fits, its copies beside
 *    compute. When the step planner itself must take preserved KV back, the same order picks
 *    whose (`reclaimOrder`; the planner's default is the largest). Worth 2.4% on paper; costs
 *    coding under pressure 1.5% over 10 seeds (docs/policies.md, "Rule 16 for a job's first round").
 * 4. Tried and dropped: preemption by swap (the copy out and back is cheaper than a prefill on
 *    the H100 profile). On tau-bench under memory pressure it cost 9% mean JCT: a recomputed
 *    victim's full blocks stay in the prefix cache and are mostly hit again, while a swapped one
 *    must come back whole. Preemption recomputes, as in the paper (option `preemption`).
 * 5. `waitBasis: 'age'` (the paper: accumulated wait): W in the response ratio is the time since
 *    the job arrived, tool waits included, so a job that has been in the system longer goes
 *    first.
 * 6. `tailSlack` (off by default): a guard against what a size-aware order does to large jobs.
 *    A waiting segment that first-come-first-served would have started long ago — more than
 *    `tailSlack` times the work queued ahead of it (plus its own) has started since it queued
 *    (./fcfs-ledger.ts) — is served before the others, in arrival order. Since the engine hands
 *    the policy live predictions (not ones frozen at queueing), `astraea`'s p99 is at or below
 *    fcfs's without it, and at 5 it costs 1.4–4.3% of mean JCT under memory pressure
 *    (docs/policies.md, "The tail"), so it stays an option.
 * 7. `swapCost: 'copy'` (since rule 11; before it 'stall'): a waiting job's KV that is worth
 *    moving is swapped when the copy out and back costs less than recomputing the whole context,
 *    else discarded to the prefix cache; the planner's reclaims swap (when the host has room).
 *    'stall' (the ablation) prices a copy by the part one step cannot hide and a discard by the
 *    recompute of only what the waiting work would overwrite (at most the memory deficit). It
 *    won on coding (2.2%) while every ready job was shown to the planner; with rule 11 it loses
 *    there (1.6–2.9% on two of three seeds, load 2.5) and on chat and paper (up to 0.55%), and
 *    gains nowhere more than tau's 0.18% (docs/policies.md). A discard priced by the deficit of
 *    the moment also missed the eviction over a minutes-long wait (the chat loss of issue 13).
 * 9. `serviceScope: 'job'` (the paper: the segment): T in the response ratio is the job's
 *    expected remaining service — this segment's T_proc times (1 + the segments the job is
 *    expected to run after it, learned per kind: lib/predict/job-length.ts) — so a job near its
 *    end outranks one that has most of its work ahead (shortest remaining job first, aged by W).
 *    (9'. A cap of 5 on the segments ahead, against tau-bench's wide spread of lengths, was
 *    deleted in issue 19's tenth session by the ablation test: it was worth 4.5% on bursty
 *    arrivals but cost 2.6% on a rollout burst and 1.8% on coding at load 3, where long jobs hold
 *    the pool; docs/policies.md, "Where goal 1 stops".)
 * 10. `memoryWeight: 'contention'`: while work waits for memory, memory is what a job uses up,
 *    so its T is scaled by the KV it holds for the rest of its segment (context plus half the
 *    output still expected) against the candidates' mean, at least 1. A 12,000-token prompt then
 *    ranks by what it costs the others — most of the pool — rather than by its compute time alone.
 * 11. `admission: 'working-set'`: a job whose KV is not on the device (new, swapped to the host,
 *    discarded) is let into the engine only while it fits beside those already in — free memory
 *    plus the KV of tool waits that rule 3 would move: expected back later than the cheaper of a
 *    copy out and back and a recompute (./working-set.ts).
 *    Shown every ready job, the planner gave each new 100K-token prefill the memory of jobs due
 *    back in a second, and they recomputed on return: coding agents at H100 scale ran at 1.23×
 *    fcfs's mean JCT (load 2, seed 1), and with the rule (and rule 7's 'copy') at 0.69×.
 *    (off by default) `admissionOrder: 'likeliest-to-end'`: of the jobs outside, the one likeliest
 *    to end with this segment goes in first — the chance, learned per kind from finished jobs,
 *    that a job which reached this segment runs no other (the Gittins index of a job's length in
 *    segments). On coding a new request (42% of which end with their first segment) then goes
 *    before one deep in a long run: mean JCT −0.8% at load 2, −20% on a burst of 100 requests.
 *    But on the issue-4 families under memory pressure it costs 7–9% (airline, tau-bench, mixed:
 *    there a new job's first segment is seldom its last, so new jobs wait): docs/policies.md.
 *    The default admits in the order.
 * 12. Deleted (issue 19): prefetching KV from the host before a tool's predicted return. A swap-in
 *    at the return already runs beside the next step, so it saved at most a step: ≤ 0.3% on every
 *    family, and it was off by default.
 * 13. `briefFirst` (issue 19, seventh session): of the jobs outside, a segment that runs within a
 *    step or two — at most `BRIEF_PROMPT_TOKENS` of prompt to compute and at most
 *    `BRIEF_OUTPUT_TOKENS` still to generate — goes in before the others (then rule 11's order).
 *    It holds its memory only for those steps, and often ends its job or pauses again right after;
 *    the others wait a step or two. On the main job's workload (seed 1) two jobs back from short
 *    tool calls with one token to generate waited 1.1 and 2.2 s on the host behind new requests'
 *    prefills: the calibrated simulation's 30 seeds 5.104 → 5.051 s (seed 1 2.73 → 2.31, ahead of
 *    `infercept` on seeds 1–3). At GPU scale no segment is that brief: the sweep is unchanged.
 * 14. `toolWaitRule: 'distribution'` (issue 19, ninth session): whether a waiting job's KV is
 *    moved (rules 2, 3 and 11's room) is asked of the tool's whole duration distribution, not of
 *    its mean: keeping is a ski rental — keep until some horizon, move only if the call is still
 *    out then — and moving now wins only when no horizon makes keeping cheaper in expectation
 *    (ToolTimePredictor.outlasts). A coding agent's tool calls average 18 s but half return in
 *    0.3 s (TraceLab); by their mean nearly every one's KV was moved and wanted back at once.
 *    The move is priced by what it will be: the cheaper of a copy out and back and a recompute
 *    while the host pool has room for the KV, the recompute (a discard) when it has not. Coding
 *    at GPU scale, loads 2 and 3, seeds 1–3: 3–73% below the mean's mean JCT (ablation 'mean';
 *    docs/policies.md).
 * 15. Client hints (issue 20; docs/server.md "Hints"), soft inputs that change nothing when absent.
 *    A candidate's `priority` p scales its response ratio — in the order and in rule 1's aging
 *    alike — by 2^(p/10), p clamped to ±10 (so by ½ to 2): a higher priority runs first among
 *    equals, and since the factor is bounded a low-priority job's ratio still grows with its wait
 *    and overtakes any fresh arrival's (at the lowest weight, once W > 3·T against a fresh arrival
 *    at the highest: ½·(W + T)/T then passes 2·(0 + T)/T).
 *    A job waiting on a tool with a `kv.retain` in force (`retainPriority`) keeps its KV at the
 *    pause, is not counted as room for new work (rule 11), and is the last whose KV rules 3 and
 *    the planner's reclaims move (lower retain priority first): under a memory deficit that the
 *    other waiting jobs' KV cannot cover it is still moved.
 * 16. `admissionScope: 'first-round'` (issue 19; fifteenth session, narrowed in the twentieth):
 *    rule 11 admits a job that has not run yet by the KV it needs to come back from its first
 *    tool call too — its segment's, plus what its next segment is expected to add
 *    (SchedulingCandidate.nextSegmentTokens: learned per kind, times the segments expected after
 *    this one up to 1). By the segment alone, a job let in on a small prompt came back needing
 *    room that the next admissions had taken, and the pool churned: the CPU policies bench
 *    (compute-bound 2-core Zen 3), 40 simulated seeds 6.48 → 6.23 s. 'round' reserves for every
 *    job (fifteenth to nineteenth sessions): a job that has run comes back to a context its next
 *    segment adds little to, and in overload the reservation kept the queue out — coding at load
 *    3, seeds 1 / 3, 263.5 / 312.8 s against 273.5 / 324.2 by the round (docs/policies.md,
 *    "Rule 16 for a job's first round"). 'segment' is the ablation.
 * 17. (issue 19, sixteenth to eighteenth sessions) `batchWidth: 'fit'`: rule 11 lets new jobs
 *    in only while fewer are in than the width that minimises the summed completion times of the
 *    backlog run in rounds (./batch-width.ts): each job's share of a step's fixed cost and its
 *    tool time still ahead against what it adds to the others' steps, the jobs arriving before
 *    the backlog clears priced in; while memory is free the seats go to the new jobs that add
 *    least to the others' steps (Smith's rule over the rounds). Single-turn requests arriving
 *    faster than the engine serves them (chat at heavy load on the H100 profile) finish 15%
 *    sooner (3 seeds 17.54 → 14.92 s, 10 seeds 18.01 → 15.29;
 *    `thunderagent`, whose 5 s checks narrow its batch between them, 16.70 and 16.91). Agent
 *    jobs, whose lives are mostly tool calls, are never narrowed; nor is a stable queue. The first
 *    form (a drain with no arrivals and no tool time) cost airline and tau-bench at heavy load
 *    5–7% (docs/policies.md, "A batch width from the step costs"). 'all' is the ablation.
 *
 * docs/policies.md has each rule's ablation.
 */
import { AstraeaPaperPolicy, type AstraeaPaperOptions } from './astraea-paper.js';
import { FcfsLedger } from './fcfs-ledger.js';
import { copySeconds, type MemoryView } from './kv-waste.js';
import type { PausedJobView, SchedulingCandidate, ToolWaitKvAction, WaitingJobView } from './policy.js';
import { BatchWidth, type BatchShape } from './batch-width.js';
import { admitWorkingSet, type AdmissionScope, type WorkingSetRoom } from './working-set.js';

export interface AstraeaOptions extends AstraeaPaperOptions {
  /** How a pausing job's KV is handled; see the header (rule 2). Default 'contention'. */
  kvRule?: 'contention' | 'watermark';
  /**
   * Rule 5: the W of the response ratio. 'age' (default): time since the job arrived, tool
   * waits included; 'accumulated' (the paper): time spent ready but not running.
   */
  waitBasis?: 'age' | 'accumulated';
  /**
   * Rule 6, tail protection: a waiting segment is served before the others, in arrival order,
   * once the work started since it queued exceeds this many times the work queued ahead of it
   * plus its own. Default Infinity (off).
   */
  tailSlack?: number;
  /**
   * Rule 7, swap or discard: 'copy' (default) weighs the whole copy out and back against
   * recomputing the whole context; 'stall' weighs the part of a copy a step cannot hide against
   * recomputing only what the waiting work would evict from the prefix cache.
   */
  swapCost?: 'stall' | 'copy';
  /**
   * A pausing job's KV when nothing waits for memory: 'preserve' (default; the planner takes it
   * back by rule 7 if memory is needed later) or 'release' to the prefix cache.
   */
  uncontendedKv?: 'preserve' | 'release';
  /**
   * Rule 9, the T of the response ratio: 'job' (default) is the job's expected remaining
   * service, this segment's T_proc times (1 + the segments expected after it); 'segment' (the
   * paper) is this segment's alone.
   */
  serviceScope?: 'job' | 'segment';
  /** Rule 3: 'remaining-time' (default) or 'off'. */
  reclaim?: 'remaining-time' | 'off';
  /**
   * Rule 10, T under memory contention: 'contention' (default) scales a job's T by how much KV it
   * holds against the candidates' mean (at least 1) while work waits for memory; 'off' keeps T
   * the compute time alone.
   */
  memoryWeight?: 'contention' | 'off';
  /**
   * Rule 11, admission: 'working-set' (default) lets a job whose KV is not on the device into the
   * engine only while it fits (./working-set.ts); 'all' shows every ready job to the planner.
   */
  admission?: 'working-set' | 'all';
  /**
   * Rule 11, which job outside the engine is let in first: 'policy' (default) the policy's order;
   * 'likeliest-to-end' the one whose job is likeliest to end with this segment (the policy's order
   * breaks ties). See the header.
   */
  admissionOrder?: 'policy' | 'likeliest-to-end';
  /**
   * Rule 16, what rule 11 admits a job by: 'first-round' (default) a job that has not run yet by
   * the KV it needs to come back from its next tool call too (this segment's, and what the next
   * segment adds: SchedulingCandidate.nextSegmentTokens), one that has by this segment's; 'round'
   * every job by the round; 'segment' every job by this segment's alone.
   */
  admissionScope?: AdmissionScope;
  /**
   * Rule 17, how many jobs are in the engine at once: 'fit' (default) lets new jobs in only while
   * fewer are in than the width `batchWidthFor` gives for the step costs measured; 'all' admits by
   * memory alone.
   */
  batchWidth?: 'fit' | 'all';
  /** The step costs 'fit' reads (StepCosts.batchShape); null while unknown. */
  batchShape?: () => BatchShape | null;
  /** Rule 13: a brief segment outside (see the header) is let in before the others. Default true. */
  briefFirst?: boolean;
  /** Expected seconds until a tool call that has run `elapsedS` returns. Default: 1 s minus elapsed, at least 0. */
  toolRemainingS?: (tool: string, elapsedS: number, hintS?: number) => number;
  /**
   * Rule 14: whether moving the KV of a call that has run `elapsedS` away now, at a cost of
   * `moveCostS`, beats keeping it (ToolTimePredictor.outlasts: a ski rental over the tool's
   * observed durations). Default: toolRemainingS > moveCostS.
   */
  toolOutlasts?: (tool: string, elapsedS: number, moveCostS: number, hintS?: number) => boolean;
  /**
   * Rule 14: 'distribution' (default) asks toolOutlasts; 'mean' (the ablation) compares the
   * expected remaining time with the cost of a move.
   */
  toolWaitRule?: 'distribution' | 'mean';
}

export class AstraeaPolicy extends AstraeaPaperPolicy {
  override readonly name: string = 'astraea';
  private readonly kvRule: 'contention' | 'watermark';
  private readonly reclaim: 'remaining-time' | 'off';
  private readonly waitBasis: 'age' | 'accumulated';
  private readonly tailSlack: number;
  private readonly ledger = new FcfsLedger();
  private readonly swapCost: 'stall' | 'copy';
  private readonly uncontendedKv: 'preserve' | 'release';
  private readonly serviceScope: 'job' | 'segment';
  private readonly memoryWeight: 'contention' | 'off';
  /** Rule 10's scale for the candidates of the order() call in progress, else null. */
  private footprintScale: ((c: SchedulingCandidate) => number) | null = null;
  private readonly toolRemainingS: (tool: string, elapsedS: number, hintS?: number) => number;
  /** Rule 14: whether a waiting job's KV is better moved away than kept, given what moving it costs. */
  private readonly outlasts: (job: { tool: string; expectedToolS?: number }, elapsedS: number, moveCostS: number) => boolean;
  private readonly admission: 'working-set' | 'all';
  private readonly admissionOrder: 'policy' | 'likeliest-to-end';
  private readonly admissionScope: AdmissionScope;
  /** Rule 17's state; null with batchWidth 'all'. */
  private readonly width: BatchWidth | null;
  /** Rule 11's order of the jobs outside (rule 13's brief first, then admissionOrder's); none: the policy's. */
  private readonly admitBefore: ((a: SchedulingCandidate, b: SchedulingCandidate) => number) | undefined;
  /** Jobs waiting on tools with KV on the device, as the last revisitToolWaits saw them (this step's, or none). */
  private toolWaitsOnDevice: readonly WaitingJobView[] = [];
  private revisited = false;

  constructor(options: AstraeaOptions = {}) {
    super({ ageFrom: 'any', ...options });
    this.kvRule = options.kvRule ?? 'contention';
    this.reclaim = options.reclaim ?? 'remaining-time';
    this.waitBasis = options.waitBasis ?? 'age';
    this.tailSlack = options.tailSlack ?? Infinity;
    this.swapCost = options.swapCost ?? 'copy';
    this.uncontendedKv = options.uncontendedKv ?? 'preserve';
    this.serviceScope = options.serviceScope ?? 'job';
    this.memoryWeight = options.memoryWeight ?? 'contention';
    this.toolRemainingS = options.toolRemainingS ?? ((tool, elapsedS, hintS) => Math.max(0, this.toolTimeS(tool, hintS) - elapsedS));
    const byDistribution = options.toolOutlasts;
    this.outlasts =
      byDistribution && (options.toolWaitRule ?? 'distribution') === 'distribution'
        ? (job, elapsedS, moveCostS) => byDistribution(job.tool, elapsedS, moveCostS, job.expectedToolS)
        : (job, elapsedS, moveCostS) => this.toolRemainingS(job.tool, elapsedS, job.expectedToolS) > moveCostS;
    this.admission = options.admission ?? 'working-set';
    this.admissionOrder = options.admissionOrder ?? 'policy';
    this.admissionScope = options.admissionScope ?? 'first-round';
    const shape = options.batchShape ?? (() => null);
    this.width = (options.batchWidth ?? 'fit') === 'fit' ? new BatchWidth(shape, (tool, hintS) => this.toolRemainingS(tool, 0, hintS)) : null;
    this.admitBefore = admissionComparator(this.admissionOrder, options.briefFirst ?? true);
  }

  override order(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[] {
    // One read per step: the view walks every live job.
    const memory = this.memory();
    this.footprintScale = this.memoryWeight === 'contention' && contended(memory) ? footprintScale(candidates) : null;
    // The engine asks revisitToolWaits right before each order only when some tool wait holds
    // device KV; without that call this step, none does.
    const toolWaits = this.revisited ? this.toolWaitsOnDevice : [];
    this.revisited = false;
    try {
      const ordered = this.orderCandidates(candidates, nowS);
      if (this.admission === 'all') return ordered;
      const width = this.width?.widthFor(candidates, nowS) ?? Infinity;
      // While memory is free the seats go by the rounds' Smith's rule; under pressure by memory.
      const before = contended(memory) ? this.admitBefore : (this.width?.seatOrder(this.admitBefore) ?? this.admitBefore);
      return admitWorkingSet(ordered, this.room(toolWaits, memory), before, this.admissionScope, width);
    } finally {
      this.footprintScale = null;
    }
  }

  /**
   * Rule 11's room: free device memory, plus the KV of jobs waiting on tools that rule 3 would
   * move if memory were wanted (the planner moves those first: reclaimOrder).
   */
  private room(toolWaits: readonly WaitingJobView[], memory: MemoryView): WorkingSetRoom {
    let parkableTokens = 0;
    for (const j of toolWaits) if (j.retainPriority === undefined && this.worthMoving(j, j.waitedS, memory)) parkableTokens += j.contextTokens;
    return { freeTokens: memory.freeTokens ?? Infinity, parkableTokens };
  }

  private orderCandidates(candidates: readonly SchedulingCandidate[], nowS: number): SchedulingCandidate[] {
    const guarded = this.tailSlack !== Infinity;
    if (guarded) this.ledger.observe(candidates, (c) => super.serviceS(c));
    const ordered = super.order(candidates, nowS);
    return guarded ? this.protectTail(ordered) : ordered;
  }

  /**
   * Rule 5: with waitBasis 'age', W is the time since the job arrived (at least its accumulated
   * wait). Rule 15: a priority's weight w scales the response ratio (W + T)/T, which is what the
   * order and the aging read, by giving W' = w·W + (w − 1)·T: (W' + T)/T = w·(W + T)/T.
   */
  protected override waitS(c: SchedulingCandidate, nowS: number): number {
    const waitS = this.waitBasis === 'accumulated' ? c.accumulatedWaitS : Math.max(c.accumulatedWaitS, nowS - c.jobArrivalS);
    if (!c.priority) return waitS;
    const weight = priorityWeight(c.priority);
    return weight * waitS + (weight - 1) * this.serviceS(c);
  }

  /**
   * Rule 6: overdue segments (see the header) go first among the running ones (the planner
   * preempts from the end, so they are the last taken) and first among the waiting ones, in
   * arrival order; running segments still come before waiting ones.
   */
  private protectTail(ordered: SchedulingCandidate[]): SchedulingCandidate[] {
    const late = new Set(ordered.filter((c) => this.ledger.overdue(c, this.tailSlack)));
    if (late.size === 0) return ordered;
    const byArrival = (a: SchedulingCandidate, b: SchedulingCandidate) => a.segmentQueuedS - b.segmentQueuedS;
    const group = (running: boolean, overdue: boolean) => ordered.filter((c) => c.running === running && late.has(c) === overdue);
    return [...group(true, true).sort(byArrival), ...group(true, false), ...group(false, true).sort(byArrival), ...group(false, false)];
  }

  onJobClosed(jobId: string): void {
    this.width?.onJobClosed(jobId);
    this.ledger.drop(jobId);
  }

  /** Jobs rule 6's ledger holds state for (tests check nothing leaks). */
  get ledgerSize(): number {
    return this.ledger.size;
  }

  /** Jobs rule 17 counts as in the system (tests check nothing leaks). */
  get liveJobCount(): number {
    return this.width?.liveJobCount ?? 0;
  }

  protected override serviceS(c: SchedulingCandidate): number {
    const segmentS = super.serviceS(c);
    const computeS = this.serviceScope === 'job' ? segmentS * (1 + c.expectedFutureSegments) : segmentS;
    return this.footprintScale ? computeS * this.footprintScale(c) : computeS;
  }

  override onToolWait(job: PausedJobView, nowS: number): ToolWaitKvAction {
    this.width?.onToolWait(job);
    if (this.kvRule === 'watermark') return super.onToolWait(job, nowS);
    if (job.retainPriority !== undefined) return 'preserve'; // rule 15: the client asked to keep it
    const memory = this.memory();
    if (!contended(memory)) return this.uncontendedKv;
    return this.awayAction(job, 0, memory, deficitTokens(memory)) ?? 'preserve';
  }

  revisitToolWaits(jobs: readonly WaitingJobView[], _nowS: number): Map<string, 'release' | 'swap' | 'discard'> {
    this.toolWaitsOnDevice = jobs;
    this.revisited = true;
    const out = new Map<string, 'release' | 'swap' | 'discard'>();
    if (this.reclaim === 'off') return out;
    const memory = this.memory();
    if (!contended(memory)) return out;
    let deficit = deficitTokens(memory);
    const held = jobs
      .filter((j) => j.kv === 'device')
      .map((j) => ({ j, remainingS: this.toolRemainingS(j.tool, j.waitedS, j.expectedToolS) }))
      .sort((a, b) => retainRank(a.j) - retainRank(b.j) || b.remainingS - a.remainingS);
    // Each swap chosen here takes host room from the next: the host the next move is priced by.
    let hostFreeTokens = memory.hostFreeTokens;
    for (const { j } of held) {
      if (deficit <= 0) break;
      const action = this.awayAction(j, j.waitedS, { ...memory, hostFreeTokens }, deficit);
      if (action === null) continue; // kept: likely back before a move would pay off
      out.set(j.jobId, action);
      deficit -= j.contextTokens;
      if (action === 'swap' && hostFreeTokens !== undefined) hostFreeTokens = Math.max(0, hostFreeTokens - j.contextTokens);
    }
    return out;
  }

  /** Whether a waiting job's KV is worth moving (rule 14): its call outlasts what a move costs. */
  private worthMoving(job: WaitingJobView | PausedJobView, elapsedS: number, memory: MemoryView): boolean {
    return this.outlasts(job, elapsedS, moveCostS(job.contextTokens, memory));
  }

  /** Rule 3 for the planner's reclaims: the jobs expected back last give their KV first. */
  reclaimOrder(jobs: readonly WaitingJobView[], _nowS: number): string[] {
    if (this.reclaim === 'off') return [];
    return jobs
      .map((j) => ({ id: j.jobId, retain: retainRank(j), remainingS: this.toolRemainingS(j.tool, j.waitedS, j.expectedToolS) }))
      .sort((a, b) => a.retain - b.retain || b.remainingS - a.remainingS)
      .map((j) => j.id);
  }

  /**
   * Rule 7 for the planner's reclaims: the memory is wanted now, so a swap's copy out stalls the
   * step whole (and the copy back in stalls what a step cannot hide); a discard loses to the new
   * work only what it overwrites — at most the deficit — and recomputes that on return.
   */
  reclaimAction(job: WaitingJobView, _nowS: number): 'swap' | 'discard' {
    if (this.swapCost === 'copy') return 'swap';
    const memory = this.memory();
    const copyS = copySeconds(job.contextTokens, memory);
    const stallS = copyS + Math.max(0, copyS - (memory.stepS ?? 0));
    const lostS = Math.min(job.contextTokens, Math.max(0, deficitTokens(memory))) * memory.prefillSPerToken;
    return lostS < stallS ? 'discard' : 'swap';
  }

  /**
   * Where the KV of a job whose tool call has run `elapsedS` goes; null when keeping it costs
   * least (rule 14: it is likely back before moving it would pay off). Discarding frees the
   * blocks to the prefix cache, where they cost a recompute only if evicted: with `deficit`
   * tokens of waiting work beyond free memory, at most that many of them are. A swap costs the
   * batch only the part of each copy that one step cannot hide (the copy stretches the step).
   * The cheaper of the two is chosen.
   */
  private awayAction(job: WaitingJobView | PausedJobView, elapsedS: number, memory: MemoryView, deficit: number): 'swap' | 'discard' | null {
    if (!this.worthMoving(job, elapsedS, memory)) return null;
    const contextTokens = job.contextTokens;
    if (!hostTakes(contextTokens, memory)) return 'discard';
    const copyS = copySeconds(contextTokens, memory);
    const recomputeS = contextTokens * memory.prefillSPerToken;
    if (this.swapCost === 'copy') return recomputeS < 2 * copyS ? 'discard' : 'swap';
    const evictedRecomputeS = Math.min(contextTokens, Math.max(0, deficit)) * memory.prefillSPerToken;
    const stallS = 2 * Math.max(0, copyS - (memory.stepS ?? 0));
    return evictedRecomputeS < stallS ? 'discard' : 'swap';
  }
}

/** Rule 15: a priority's weight on the response ratio, 2^(p/10) with p clamped to ±10 (½ to 2). */
export function priorityWeight(priority: number): number {
  return 2 ** (Math.max(-PRIORITY_SPAN, Math.min(PRIORITY_SPAN, priority)) / PRIORITY_SPAN);
}
const PRIORITY_SPAN = 10;

/** Rule 15: the order tool waits give up their KV in — not retained first, then by retain priority, lowest first. */
function retainRank(job: { retainPriority?: number }): number {
  return job.retainPriority ?? 0;
}

/**
 * Rule 10: KV a candidate holds on average for the rest of its segment (its context plus half the
 * output still expected), against the candidates' mean; at least 1.
 */
function footprintScale(candidates: readonly SchedulingCandidate[]): (c: SchedulingCandidate) => number {
  const footprint = (c: SchedulingCandidate) => c.contextTokens + Math.max(0, c.expectedOutputTokens - c.generatedTokens) / 2;
  const mean = candidates.reduce((sum, c) => sum + footprint(c), 0) / Math.max(1, candidates.length);
  return (c) => (mean > 0 ? Math.max(1, footprint(c) / mean) : 1);
}

/** The order rule 11 considers the jobs outside in: rule 13's brief segments first, then the option's (none: the policy's). */
function admissionComparator(
  admissionOrder: 'policy' | 'likeliest-to-end',
  briefFirst: boolean,
): ((a: SchedulingCandidate, b: SchedulingCandidate) => number) | undefined {
  const byOption = admissionOrder === 'likeliest-to-end' ? likelierToEnd : undefined;
  if (!briefFirst) return byOption;
  return (a, b) => briefRank(a) - briefRank(b) || (byOption ? byOption(a, b) : 0);
}

/** Rule 13: a segment this brief runs within a step or two (a prompt of one small chunk, a token or two out). */
const BRIEF_PROMPT_TOKENS = 256;
const BRIEF_OUTPUT_TOKENS = 2;

/** 0 for a brief segment (rule 13), 1 for any other: the brief go first. */
function briefRank(c: SchedulingCandidate): number {
  return c.pendingPrefillTokens <= BRIEF_PROMPT_TOKENS && c.expectedOutputTokens - c.generatedTokens <= BRIEF_OUTPUT_TOKENS ? 0 : 1;
}

/** Rule 11's optional admission order: the job likeliest to end with this segment first. */
function likelierToEnd(a: SchedulingCandidate, b: SchedulingCandidate): number {
  return b.lastSegmentChance - a.lastSegmentChance;
}

/**
 * Seconds a move of `contextTokens` of KV costs: the cheaper of a copy out and back and a
 * recompute — or, when the host pool cannot take it (a swap then discards), the recompute.
 */
function moveCostS(contextTokens: number, memory: MemoryView): number {
  const recomputeS = contextTokens * memory.prefillSPerToken;
  return hostTakes(contextTokens, memory) ? Math.min(2 * copySeconds(contextTokens, memory), recomputeS) : recomputeS;
}

/** Whether the host swap pool has room for `contextTokens` of KV (unknown: assumed so). */
function hostTakes(contextTokens: number, memory: MemoryView): boolean {
  return memory.hostFreeTokens === undefined || memory.hostFreeTokens >= contextTokens;
}

/** Tokens of waiting work beyond the free memory. */
function deficitTokens(memory: MemoryView): number {
  return memory.waitingTokens - (memory.freeTokens ?? 0);
}

/** Work waits for memory that is not free. */
function contended(memory: MemoryView): boolean {
  return deficitTokens(memory) > 0;
}
