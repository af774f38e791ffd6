/**
 * Small deterministic randomness for the workload layer: a string hash to derive seeds and the
 * mulberry32 generator. Not cryptographic; chosen so that a workload (and its token ids) is the
 * same on every machine and every run for the same seed.
 */
import { fmix32 } from '../util/hash.js';

/** A generator of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32: 32-bit state, period 2^32, good enough for workload synthesis. */
export function mulberry32(seed: number): Rng {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** FNV-1a over the UTF-16 code units of `text`, then a final avalanche; a 32-bit unsigned seed. */
export function hashString(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** An exponential draw with the given rate (events per unit), e.g. a Poisson inter-arrival gap. */
export function exponential(rng: Rng, rate: number): number {
  return -Math.log(1 - rng()) / rate;
}

/** A standard normal draw (Box–Muller; uses two uniforms). */
export function standardNormal(rng: Rng): number {
  const u1 = 1 - rng(); // (0, 1]
  const u2 = rng();
  return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
}

/** A uniform integer in [min, max] (both inclusive). */
export function uniformInt(rng: Rng, min: number, max: number): number {
  return min + Math.floor(rng() * (max - min + 1));
}

/** A lognormal draw given its median and log-space standard deviation (mean = median·e^(σ²/2)). */
export function lognormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * standardNormal(rng));
}

/**
 * A gamma draw with the given shape k > 0 and scale θ (mean kθ, variance kθ²), by Marsaglia and
 * Tsang's squeeze method ("A simple method for generating gamma variables", ACM TOMS 2000). For
 * k < 1 it draws Gamma(k + 1) and multiplies by U^(1/k), their boosting step.
 */
export function gamma(rng: Rng, shape: number, scale: number): number {
  if (shape < 1) {
    const u = 1 - rng(); // (0, 1]
    return gamma(rng, shape + 1, scale) * Math.pow(u, 1 / shape);
  }
  const d = shape - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    const z = standardNormal(rng);
    const base = 1 + c * z;
    if (base <= 0) continue;
    const v = base * base * base;
    const u = 1 - rng(); // (0, 1], so log(u) is finite
    if (Math.log(u) < 0.5 * z * z + d - d * v + d * Math.log(v)) return d * v * scale;
  }
}

/** A Poisson draw with the given mean (Knuth's product method; fine for means up to a few hundred). */
export function poisson(rng: Rng, mean: number): number {
  const limit = Math.exp(-mean);
  let count = 0;
  let product = rng();
  while (product > limit) {
    count++;
    product *= rng();
  }
  return count;
}
