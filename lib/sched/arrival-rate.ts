/**
 * Arrivals per second over about the last `windowS` seconds: a count that decays exponentially,
 * read against the weight a steady rate would have built up in the time observed so far — so a
 * run's first seconds read as the rate they show, not as a lull (an exponentially weighted mean
 * corrected for its start). Astraea's batch width reads it (./batch-width.ts).
 */
export class ArrivalRate {
  private weight = 0;
  private firstS = Number.NaN;
  private lastS = Number.NaN;

  /** `minObservedS`: the shortest span a rate is read over (one arrival is not an infinite rate). */
  constructor(
    private readonly windowS = 10,
    private readonly minObservedS = 1,
  ) {}

  add(nowS: number): void {
    this.decayTo(nowS);
    this.weight += 1;
  }

  /** The estimate at `nowS`: 0 before the first arrival. */
  perS(nowS: number): number {
    if (Number.isNaN(this.firstS)) return 0;
    this.decayTo(nowS);
    // A steady rate r seen for t seconds leaves a weight of r·windowS·(1 − e^(−t/windowS)).
    const observedS = Math.max(this.minObservedS, nowS - this.firstS);
    return this.weight / (this.windowS * (1 - Math.exp(-observedS / this.windowS)));
  }

  private decayTo(nowS: number): void {
    if (Number.isNaN(this.firstS)) {
      this.firstS = nowS;
      this.lastS = nowS;
      return;
    }
    if (nowS <= this.lastS) return;
    this.weight *= Math.exp(-(nowS - this.lastS) / this.windowS);
    this.lastS = nowS;
  }
}
