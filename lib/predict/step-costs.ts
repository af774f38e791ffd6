/**
 * What a step costs on this machine, learned from the steps the engine runs. Policies read it for
 * service times (T = prefill tokens × the cost of one + output tokens × the step time) and for the
 * recompute cost of discarded KV.
 *
 * A step's time is modelled as a + b·prefill tokens + c·decode tokens, fitted by least squares
 * over recent steps (old ones decay). The marginal cost b is what a prompt token adds; dividing a
 * step's time by its prefill tokens instead would charge the step's fixed cost (the weights
 * streamed once, ~6.5 ms on an H100) to them — 40× too much for a short chunk — and make long
 * prompts look far longer than they are. Until the steps vary enough to separate a, b and c, the
 * average cost per token of prefill-only steps stands in.
 */
import type { BatchShape } from '../sched/batch-width.js';
import { solveLinearOrNull } from '../util/linear.js';
export class StepCosts {
  /** Seconds a prompt token adds to a step (a CPU-sized guess until steps are seen). */
  prefillSPerToken = 0.002;
  /** Seconds of a step that decodes: the time between two tokens of a running sequence. */
  decodeStepS = 0.02;
  private readonly alpha: number;
  private readonly decay: number;
  /** Decayed sums of x·xᵀ and x·y for x = (1, prefill, decode), y = seconds. */
  private readonly xx = new Float64Array(9);
  private readonly xy = new Float64Array(3);
  /**
   * a and c of the fit — a step's fixed cost and what one more decoding sequence adds — with b
   * (prefillSPerToken) beside them, or null while the steps cannot separate them (or a or c comes
   * out ≤ 0). What batching is worth: a sequence in a batch of k costs a/k + c a token
   * (lib/sched/batch-width.ts).
   */
  batchShape: BatchShape | null = null;
  private observations = 0;
  private averagePrefillS = 0.002;

  constructor(alpha = 0.2, decay = 0.99) {
    this.alpha = alpha;
    this.decay = decay;
  }

  observe(prefillTokens: number, decodeTokens: number, seconds: number): void {
    if (!(seconds > 0) || prefillTokens + decodeTokens <= 0) return;
    if (decodeTokens > 0) this.decodeStepS += this.alpha * (seconds - this.decodeStepS);
    if (decodeTokens === 0) this.averagePrefillS += this.alpha * (seconds / prefillTokens - this.averagePrefillS);
    const x = [1, prefillTokens, decodeTokens];
    for (let i = 0; i < 3; i++) {
      this.xy[i] = this.decay * this.xy[i] + x[i] * seconds;
      for (let j = 0; j < 3; j++) this.xx[3 * i + j] = this.decay * this.xx[3 * i + j] + x[i] * x[j];
    }
    this.observations++;
    const fit = this.observations >= 8 ? this.fit() : null;
    const b = fit?.[1];
    this.prefillSPerToken = b !== undefined && b > 0 ? b : this.averagePrefillS;
    this.batchShape = fit !== null && fit[0] > 0 && fit[2] > 0 ? { fixedS: fit[0], tokenS: this.prefillSPerToken, sequenceS: fit[2] } : null;
  }

  /** (a, b, c) of the fit, or null while the steps cannot separate them (too little variation). */
  private fit(): number[] | null {
    const xx = this.xx;
    const solution = solveLinearOrNull([[xx[0], xx[1], xx[2]], [xx[3], xx[4], xx[5]], [xx[6], xx[7], xx[8]]], [...this.xy], 1e-9);
    return solution !== null && solution.every(Number.isFinite) ? solution : null;
  }
}
