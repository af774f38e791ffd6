/**
 * Service time of a segment: T = f_prefill(nIn) + nGen · decodeSPerToken (DESIGN.md, Predictors).
 *
 * f_prefill is a least-squares polynomial fitted to a startup profile of (tokens, seconds) points:
 * through the origin (s = b·n) from one distinct length, a + b·n from two, a + b·n + c·n² from three
 * or more. It is evaluated as max(0, poly(n)), 0 for n ≤ 0; beyond the longest profiled length a
 * fit with c < 0 is continued along its tangent there (slope clamped at ≥ 0), so extrapolation
 * never bends down.
 *
 * Online refresh (exponential decay of old observations):
 * - prefill: a multiplicative correction `prefillScale` (starts at 1) tracks observed/fitted with
 *   an EWMA, scale ← (1 − prefillAlpha)·scale + prefillAlpha·(seconds / fitted(tokens)); the fitted
 *   shape stays, its level follows the hardware as it runs now.
 * - decode: decodeSPerToken ← (1 − decodeAlpha)·decodeSPerToken + decodeAlpha·observed, where an
 *   observation is the seconds of one decode step (the per-token latency every sequence in the batch
 *   sees). With a batch size, a per-bucket estimate (buckets 1, 2, 3–4, 5–8, …) is kept as well,
 *   seeded from the overall estimate on its first observation.
 */
import { EngineError } from '../errors.js';
import { checkFiniteNonNegative } from './running-stats.js';
import { solveLinear } from '../util/linear.js';

export interface ProfilePoint {
  tokens: number;
  seconds: number;
}

/** f_prefill(n) = aS + bSPerToken·n + cSPerToken2·n² (before clamping and the online scale). */
export interface PrefillCoefficients {
  aS: number;
  bSPerToken: number;
  cSPerToken2: number;
}

export interface ServiceTimeOptions {
  /** EWMA weight of a new prefill observation (default 0.1). */
  prefillAlpha?: number;
  /** EWMA weight of a new decode observation (default 0.1). */
  decodeAlpha?: number;
  /** Prefill length at which the token cost is measured (default 512). */
  referenceTokens?: number;
  /** Longest profiled length; beyond it a concave fit continues along its tangent (default ∞). */
  maxProfiledTokens?: number;
}

export class ServiceTimePredictor {
  readonly coefficients: PrefillCoefficients;
  private readonly prefillAlpha: number;
  private readonly decodeAlpha: number;
  private readonly referenceTokens: number;
  private readonly maxProfiledTokens: number;
  private scale = 1;
  private decodeS: number;
  private readonly decodeByBucket = new Map<number, number>();

  constructor(coefficients: PrefillCoefficients, decodeSPerToken: number, options: ServiceTimeOptions = {}) {
    for (const [k, v] of Object.entries(coefficients)) {
      if (!Number.isFinite(v)) throw new EngineError('INVALID_ARGUMENT', `prefill coefficient ${k} must be finite, got ${v}`);
    }
    if (!(decodeSPerToken > 0) || !Number.isFinite(decodeSPerToken)) {
      throw new EngineError('INVALID_ARGUMENT', `decodeSPerToken must be a finite number > 0, got ${decodeSPerToken}`);
    }
    this.coefficients = { ...coefficients };
    this.decodeS = decodeSPerToken;
    this.prefillAlpha = checkAlpha('prefillAlpha', options.prefillAlpha ?? 0.1);
    this.decodeAlpha = checkAlpha('decodeAlpha', options.decodeAlpha ?? 0.1);
    this.referenceTokens = options.referenceTokens ?? 512;
    if (!(this.referenceTokens > 0)) throw new EngineError('INVALID_ARGUMENT', 'referenceTokens must be > 0');
    this.maxProfiledTokens = options.maxProfiledTokens ?? Infinity;
  }

  /** Fits f_prefill to a startup profile (see the file comment for the model chosen per size). */
  static fromProfile(points: ProfilePoint[], decodeSPerToken: number, options: ServiceTimeOptions = {}): ServiceTimePredictor {
    if (points.length === 0) throw new EngineError('INVALID_ARGUMENT', 'a prefill profile needs at least one point');
    for (const p of points) {
      checkFiniteNonNegative('profile tokens', p.tokens);
      checkFiniteNonNegative('profile seconds', p.seconds);
    }
    const maxTokens = Math.max(...points.map((p) => p.tokens));
    return new ServiceTimePredictor(fitPrefill(points), decodeSPerToken, { maxProfiledTokens: maxTokens, ...options });
  }

  /** Predicted prefill seconds for `tokens` new input tokens (never negative; 0 for none). */
  prefillS(tokens: number): number {
    if (!(tokens > 0)) return 0;
    const { aS, bSPerToken: b, cSPerToken2: c } = this.coefficients;
    const poly = (n: number): number => aS + b * n + c * n * n;
    let s: number;
    if (tokens > this.maxProfiledTokens && c < 0) {
      const m = this.maxProfiledTokens;
      const slope = Math.max(0, b + 2 * c * m);
      s = poly(m) + slope * (tokens - m);
    } else {
      s = poly(tokens);
    }
    return Math.max(0, s * this.scale);
  }

  /** Seconds per decoded token: the batch-size bucket's estimate when there is one, else overall. */
  decodeSPerToken(batchSize?: number): number {
    if (batchSize !== undefined) {
      const own = this.decodeByBucket.get(bucketOf(batchSize));
      if (own !== undefined) return own;
    }
    return this.decodeS;
  }

  /** T(segment) = f_prefill(nIn) + nGen · decodeSPerToken(batchSize), in seconds. */
  serviceTimeS(nIn: number, nGen: number, batchSize?: number): number {
    checkFiniteNonNegative('nGen', nGen);
    return this.prefillS(nIn) + nGen * this.decodeSPerToken(batchSize);
  }

  /** The current online correction applied to the fitted prefill curve. */
  get prefillScale(): number {
    return this.scale;
  }

  /** Folds one measured prefill into the level correction (EWMA, weight prefillAlpha). */
  observePrefill(tokens: number, seconds: number): void {
    checkFiniteNonNegative('tokens', tokens);
    checkFiniteNonNegative('seconds', seconds);
    const fitted = this.prefillS(tokens) / this.scale;
    if (!(fitted > 0)) return; // nothing to compare against (no tokens, or a fit that is 0 there)
    this.scale = (1 - this.prefillAlpha) * this.scale + this.prefillAlpha * (seconds / fitted);
  }

  /** Folds one measured decode step (seconds per token) into the estimate (EWMA, weight decodeAlpha). */
  observeDecode(secondsPerToken: number, batchSize?: number): void {
    if (!(secondsPerToken > 0) || !Number.isFinite(secondsPerToken)) {
      throw new EngineError('INVALID_ARGUMENT', `secondsPerToken must be a finite number > 0, got ${secondsPerToken}`);
    }
    const a = this.decodeAlpha;
    if (batchSize !== undefined) {
      if (!Number.isInteger(batchSize) || batchSize < 1) {
        throw new EngineError('INVALID_ARGUMENT', `batchSize must be an integer ≥ 1, got ${batchSize}`);
      }
      const key = bucketOf(batchSize);
      const prev = this.decodeByBucket.get(key) ?? this.decodeS;
      this.decodeByBucket.set(key, (1 - a) * prev + a * secondsPerToken);
    }
    this.decodeS = (1 - a) * this.decodeS + a * secondsPerToken;
  }

  /**
   * DESIGN.md's token cost of one prefill token in decode-token equivalents: prefill seconds per
   * token at `referenceTokens` (prefillS(n)/n) over decode seconds per token.
   */
  prefillTokenCostInDecodeTokens(referenceTokens: number = this.referenceTokens): number {
    if (!(referenceTokens > 0)) throw new EngineError('INVALID_ARGUMENT', 'referenceTokens must be > 0');
    return this.prefillS(referenceTokens) / referenceTokens / this.decodeS;
  }
}

function checkAlpha(name: string, a: number): number {
  if (!(a > 0 && a <= 1)) throw new EngineError('INVALID_ARGUMENT', `${name} must be in (0, 1], got ${a}`);
  return a;
}

/** Bucket of a batch size: 1 → 0, 2 → 1, 3–4 → 2, 5–8 → 3, … */
function bucketOf(batchSize: number): number {
  return Math.ceil(Math.log2(Math.max(1, batchSize)));
}

/** Least-squares fit; lengths are scaled to x = n / nMax so the normal equations stay well conditioned. */
export function fitPrefill(points: ProfilePoint[]): PrefillCoefficients {
  const distinct = new Set(points.map((p) => p.tokens)).size;
  const nMax = Math.max(...points.map((p) => p.tokens));
  if (nMax === 0) return { aS: mean(points.map((p) => p.seconds)), bSPerToken: 0, cSPerToken2: 0 };
  if (distinct === 1) return { aS: 0, bSPerToken: mean(points.map((p) => p.seconds)) / nMax, cSPerToken2: 0 };
  const degree = distinct === 2 ? 1 : 2;
  const k = degree + 1;
  const ata = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  const aty = new Array<number>(k).fill(0);
  for (const p of points) {
    const x = p.tokens / nMax;
    const row = [1, x, x * x].slice(0, k);
    for (let i = 0; i < k; i++) {
      aty[i] += row[i] * p.seconds;
      for (let j = 0; j < k; j++) ata[i][j] += row[i] * row[j];
    }
  }
  const beta = solveLinear(ata, aty, 'prefill profile', 1e-12);
  return { aS: beta[0], bSPerToken: beta[1] / nMax, cSPerToken2: degree === 2 ? beta[2] / (nMax * nMax) : 0 };
}

function mean(xs: number[]): number {
  return xs.reduce((s, v) => s + v, 0) / xs.length;
}
