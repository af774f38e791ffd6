/**
 * What a step costs on this machine, learned from the steps the engine runs: seconds per prefill
 * token (from prefill-dominated steps) and seconds per decode step (from decode-only steps).
 * Exponential moving averages, so the estimates follow the load; policies read them for service
 * times and for the recompute cost of discarded KV.
 */
export class StepCosts {
  /** Seconds per prefill token; a CPU-sized guess until the first prefill step is seen. */
  prefillSPerToken = 0.002;
  /** Seconds per decode step (one token for every running sequence). */
  decodeStepS = 0.02;
  private readonly alpha: number;

  constructor(alpha = 0.2) {
    this.alpha = alpha;
  }

  observe(prefillTokens: number, decodeTokens: number, seconds: number): void {
    if (!(seconds > 0)) return;
    if (decodeTokens === 0 && prefillTokens > 0) {
      this.prefillSPerToken += this.alpha * (seconds / prefillTokens - this.prefillSPerToken);
    } else if (prefillTokens === 0 && decodeTokens > 0) {
      this.decodeStepS += this.alpha * (seconds - this.decodeStepS);
    }
  }
}
