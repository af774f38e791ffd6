/**
 * A heavy-tailed distribution known only by published quantiles: the quantile function
 * interpolated in log space, linearly in the normal score z, through the median, p90 and p99
 * (the construction of tool-latency.ts, for other figures):
 *
 *   ln X(z) = ln p50 + σ1·z                 for z ≤ z90      (σ1 = ln(p90/p50)/z90)
 *           = ln p90 + σ2·(z − z90)         up to z99        (σ2 = ln(p99/p90)/(z99 − z90))
 *           = ln p99 + tailSigma·(z − z99)  above, at most `cap`
 *
 * so X passes exactly through the three quantiles; below the median the slope σ1 continues. The
 * tail slope and the cap are the free parameters (each use states how it chose them: usually so
 * that the mean is a published one).
 */
import { standardNormal, type Rng } from '../random.js';

export const Z90 = 1.2815515655446004;
export const Z99 = 2.3263478740408408;

export interface LogQuantileFit {
  p50: number;
  p90: number;
  p99: number;
  /** Log-space slope per unit of z above the p99. */
  tailSigma: number;
  /** No draw exceeds this. */
  cap: number;
}

/** The fitted quantile at normal score z (the quantile function at p = Φ(z)). */
export function logQuantileAtZ(fit: LogQuantileFit, z: number): number {
  let logX: number;
  if (z <= Z90) logX = Math.log(fit.p50) + (Math.log(fit.p90 / fit.p50) / Z90) * z;
  else if (z <= Z99) logX = Math.log(fit.p90) + (Math.log(fit.p99 / fit.p90) / (Z99 - Z90)) * (z - Z90);
  else logX = Math.log(fit.p99) + fit.tailSigma * (z - Z99);
  return Math.min(Math.exp(logX), fit.cap);
}

/** One draw. */
export function drawLogQuantile(rng: Rng, fit: LogQuantileFit): number {
  return logQuantileAtZ(fit, standardNormal(rng));
}
