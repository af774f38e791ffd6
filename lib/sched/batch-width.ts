/**
 * How many jobs a compute-bound engine should run at once to finish them soonest on average
 * (astraea's rule 17, `batchWidth: 'fit'`; docs/policies.md, "A batch width from the step costs"
 * and "The batch width with arrivals and tool time").
 *
 * A step costs a + b·prompt tokens + c·decoding sequences (StepCosts' fit). Batching shares a
 * among the sequences of a step; every sequence added slows the others by c, and every prompt
 * computed stalls them by b a token. Take n jobs, each with P prompt tokens to compute, W tokens to
 * generate and T seconds of tool calls still ahead, run in rounds of m. A round lasts
 *
 *   R(m) = m·K + L,   K = b·P + c·W (what a job adds to the others' steps),
 *                     L = a·W + T   (what a job waits through however few share its round),
 *
 * so m jobs finish every R(m): a throughput μ(m) = m / R(m). Draining a backlog of N jobs that way
 * sums their completion times to S(m) = N²/(2μ) + N·R/2 (the N/m rounds, and the last round's
 * wait). With no arrivals N = n and S is least at m* = √(n·L/K): a narrow batch finishes its jobs
 * sooner, a wide one loses less to a. With jobs arriving at λ, those that come before the backlog
 * clears join it — a busy period's worth, N = n / (1 − λ/μ(m)) — and that is what a narrow
 * batch's lost throughput costs: near capacity S grows without bound as μ(m) falls to λ. When more
 * work arrives than any width can do (λ·K ≥ 1) no width keeps up; the backlog is drained as if
 * nothing more came (a finite burst, as every bench is).
 *
 * A width is set wherever some m < n gives a smaller S than n. (Through the eighteenth session it
 * had to promise 5% less, a margin against the model's averaging of unlike jobs; with the seats in
 * Smith's order it guarded nothing the sweep has and cost chat at heavy load 3% over ten seeds:
 * docs/policies.md, "Rule 17's constants".)
 * With the tool time T in L, jobs that spend their lives in tool calls (the agent families) are
 * never narrowed; single-turn requests piling up faster than the engine serves them are.
 *
 * Who takes the seats a width leaves follows from the same rounds (`BatchWidth.seatOrder`, used
 * while memory is free): the least K first — Smith's rule, since every later round waits ΣK + L.
 */
import { ArrivalRate } from './arrival-rate.js';
import type { PausedJobView, SchedulingCandidate } from './policy.js';
import { hasStarted } from './working-set.js';

/** An order over candidates, as Array.prototype.sort takes it. */
type CandidateOrder = (a: SchedulingCandidate, b: SchedulingCandidate) => number;

/** A step's fixed cost, a prompt token's and a decoding sequence's, in seconds (a, b and c above). */
export interface BatchShape {
  fixedS: number;
  tokenS: number;
  sequenceS: number;
}

export interface WidthInputs {
  /** n: the jobs in the system, those in tool calls too (at least the candidates). Default: the candidates. */
  jobs?: number;
  /** T: a candidate's tool seconds still ahead. Default 0. */
  toolS?: (c: SchedulingCandidate) => number;
  /** λ: units like the candidates (segments) arriving per second. Default 0 (a drain). */
  arrivalsPerS?: number;
}

/** W: the tokens a candidate's segment still has to decode (at least 1: it is not done). */
function tokensToCome(c: SchedulingCandidate): number {
  return Math.max(1, c.expectedOutputTokens - c.generatedTokens);
}

/** K = b·P + c·W: the seconds a candidate adds to the steps of every job batched with it. */
function ownStepS(c: SchedulingCandidate, shape: BatchShape): number {
  return shape.tokenS * c.pendingPrefillTokens + shape.sequenceS * tokensToCome(c);
}

/**
 * The width m < n least in S(m) above, or Infinity where letting every job in does as well. K and L
 * are the candidates' averages (a segment's W at least 1 token).
 */
export function batchWidthFor(candidates: readonly SchedulingCandidate[], shape: BatchShape, inputs: WidthInputs = {}): number {
  if (candidates.length === 0) return Infinity;
  let ownS = 0;
  let sharedS = 0;
  for (const c of candidates) {
    ownS += ownStepS(c, shape);
    sharedS += shape.fixedS * tokensToCome(c) + (inputs.toolS?.(c) ?? 0);
  }
  const own = ownS / candidates.length;
  const shared = sharedS / candidates.length;
  const n = Math.max(inputs.jobs ?? 0, candidates.length);
  const arrivals = inputs.arrivalsPerS ?? 0;
  const lambda = arrivals * own >= 1 ? 0 : arrivals;
  const summedCompletionS = (m: number) => {
    const roundS = m * own + shared;
    const perS = m / roundS;
    if (lambda >= perS) return Infinity;
    const backlog = n / (1 - lambda / perS);
    return (backlog * backlog) / (2 * perS) + (backlog * roundS) / 2;
  };
  let best = Infinity;
  let width = Infinity;
  for (let m = 1; m < n; m++) {
    const s = summedCompletionS(m);
    if (s < best) {
      best = s;
      width = m;
    }
  }
  return best < summedCompletionS(n) ? width : Infinity;
}

/**
 * What rule 17 keeps between steps: the jobs in the system (seen ready or pausing on a tool, not
 * yet closed), the rate segments arrive at (a job's first, and each return from a tool call), per
 * kind the mean predicted duration of a tool call, which a job's expected segments still ahead
 * turn into its T, and the kinds a job of which has ended. No width is set while a candidate's kind
 * has not had a job end: its learned lengths and tool times are still priors (a width set on them
 * early in a memory-bound run moved its trajectory more than it gained; docs/policies.md).
 */
export class BatchWidth {
  /**
   * The jobs in the system, by id: their kind, and the segment they were last seen ready at (a
   * new one is an arrival; -1 while none has been seen).
   */
  private readonly liveJobs = new Map<string, { kind: string; segmentIndex: number }>();
  /** Kinds a job of which has ended: their predictions rest on whole jobs. */
  private readonly kindsEnded = new Set<string>();
  private readonly arrivals = new ArrivalRate();
  private readonly toolMeanS = new Map<string, { meanS: number; calls: number }>();
  /** The step costs the last width set was computed from (null: the last step set none). */
  private shapeInUse: BatchShape | null = null;

  constructor(
    private readonly shape: () => BatchShape | null,
    /** The predicted duration of a call to `tool` (the policy's tool-time predictor). */
    private readonly toolS: (tool: string, hintS?: number) => number,
  ) {}

  /** The width for this step's candidates (Infinity: no limit but memory). */
  widthFor(candidates: readonly SchedulingCandidate[], nowS: number): number {
    for (const c of candidates) {
      const job = this.liveJobs.get(c.jobId);
      if (job?.segmentIndex === c.segmentIndex) continue;
      this.liveJobs.set(c.jobId, { kind: c.kind, segmentIndex: c.segmentIndex });
      this.arrivals.add(nowS);
    }
    this.shapeInUse = null;
    const shape = this.shape();
    if (shape === null) return Infinity;
    // Until a job of each kind has ended, its lengths and tool times are priors: no width.
    if (candidates.some((c) => !this.kindsEnded.has(c.kind))) return Infinity;
    const width = batchWidthFor(candidates, shape, {
      jobs: this.liveJobs.size,
      toolS: (c) => c.expectedFutureSegments * (this.toolMeanS.get(c.kind)?.meanS ?? 0),
      arrivalsPerS: this.arrivals.perS(nowS),
    });
    if (width !== Infinity) this.shapeInUse = shape;
    return width;
  }

  /**
   * The order the jobs outside take the seats in while this step's width binds (`before`
   * otherwise): the jobs already started first, in `before`'s order (they are never refused a
   * seat), then new ones by K = b·P + c·W, least first. Smith's rule over the rounds: a round
   * lasts ΣK + L and every job in the rounds after it waits that long, so a job with a smaller K
   * moved forward past one with a larger finishes the first round sooner and the second no later.
   */
  seatOrder(before: CandidateOrder | undefined): CandidateOrder | undefined {
    const shape = this.shapeInUse;
    if (shape === null) return before;
    return (a, b) => {
      const started = Number(hasStarted(b)) - Number(hasStarted(a));
      if (started !== 0) return started;
      return hasStarted(a) ? (before?.(a, b) ?? 0) : ownStepS(a, shape) - ownStepS(b, shape);
    };
  }

  onToolWait(job: PausedJobView): void {
    if (!this.liveJobs.has(job.jobId)) this.liveJobs.set(job.jobId, { kind: job.kind, segmentIndex: -1 });
    const kind = this.toolMeanS.get(job.kind) ?? { meanS: 0, calls: 0 };
    kind.calls++;
    kind.meanS += (this.toolS(job.tool, job.expectedToolS) - kind.meanS) / kind.calls;
    this.toolMeanS.set(job.kind, kind);
  }

  onJobClosed(jobId: string): void {
    const job = this.liveJobs.get(jobId);
    if (job !== undefined) this.kindsEnded.add(job.kind);
    this.liveJobs.delete(jobId);
  }

  /** Jobs counted as in the system (tests check nothing leaks). */
  get liveJobCount(): number {
    return this.liveJobs.size;
  }
}
