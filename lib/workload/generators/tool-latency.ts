/**
 * Tool-call latency fitted to TraceLab's published aggregates (real Claude Code / Codex sessions;
 * ../shared/traces/tracelab, table `session_timing_distribution`, row "Per individual latency,
 * Tool execution"): mean 18.4 s, p50 0.3 s, p90 13.6 s, p99 3.6 min = 216 s.
 *
 * The fit is a piecewise lognormal: with z a standard normal draw,
 *   ln X(z) = ln 0.3 + σ1·z                 for z ≤ z90            (σ1 = ln(13.6/0.3)/z90 = 2.976)
 *           = ln 13.6 + σ2·(z − z90)        for z90 < z ≤ z99      (σ2 = ln(216/13.6)/(z99 − z90) = 2.647)
 *           = ln 216 + σ3·(z − z99)         above, capped at 1 h   (σ3 = 4.564)
 * where z90 = 1.2816 and z99 = 2.3263 are the normal quantiles; so X passes exactly through the
 * published p50, p90 and p99 (log-space interpolation in the normal score). Below the median the
 * slope σ1 continues (an assumption; it hardly moves the mean). σ3 was solved numerically so
 * that the mean is 18.4 s given the cap; the cap (no call counted longer than one hour, 0.16% of
 * calls sit at it) is an assumption that keeps single calls finite.
 *
 * Check against figures NOT used in the fit (same README): "about 4% of calls last over 1 minute
 * yet carry ~85% of total tool time". The fit gives 3.3% and 84%.
 */
import { standardNormal, type Rng } from '../random.js';

export const TRACELAB_TOOL_LATENCY = { meanS: 18.4, p50S: 0.3, p90S: 13.6, p99S: 216 } as const;

const Z90 = 1.2815515655446004;
const Z99 = 2.3263478740408408;
const SIGMA_LOW = Math.log(TRACELAB_TOOL_LATENCY.p90S / TRACELAB_TOOL_LATENCY.p50S) / Z90;
const SIGMA_MID = Math.log(TRACELAB_TOOL_LATENCY.p99S / TRACELAB_TOOL_LATENCY.p90S) / (Z99 - Z90);
const SIGMA_TAIL = 4.564;
export const TOOL_LATENCY_CAP_S = 3600;

/** The fitted latency at normal score z (the quantile function at p = Φ(z)). */
export function toolLatencyAtZ(z: number): number {
  const { p50S, p90S, p99S } = TRACELAB_TOOL_LATENCY;
  let logS: number;
  if (z <= Z90) logS = Math.log(p50S) + SIGMA_LOW * z;
  else if (z <= Z99) logS = Math.log(p90S) + SIGMA_MID * (z - Z90);
  else logS = Math.log(p99S) + SIGMA_TAIL * (z - Z99);
  return Math.min(Math.exp(logS), TOOL_LATENCY_CAP_S);
}

/** One tool-call duration in seconds from the TraceLab fit. */
export function toolLatencyS(rng: Rng): number {
  return toolLatencyAtZ(standardNormal(rng));
}
