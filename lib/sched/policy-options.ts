/**
 * The options a policy chosen by name may be given (EngineOptions.policyOptions, the CLI's
 * `--set`, bench/policies' sweep), and the values each takes. A policy's own tunables only — not
 * what the engine supplies (memory views, predictors, cost functions). A typo in a key or a value
 * must fail with the choices named, not run the default under another name or a rule half-off:
 * every policy reads an unknown string as "not the value I test for".
 */
import { EngineError } from '../errors.js';
import type { PolicyName } from './registry.js';

/** The values one option takes. */
export type OptionValues =
  | { oneOf: readonly (string | boolean)[] }
  /** A number in [min, max] (bounds left out are open), an integer where `integer`, > min where `aboveMin`. */
  | { number: { min?: number; max?: number; aboveMin?: boolean; integer?: boolean } }
  /** A non-empty list of numbers > 0, ascending. */
  | { ascending: true };

const PREEMPTION: OptionValues = { oneOf: ['recompute', 'swap'] };
const AT_LEAST_0: OptionValues = { number: { min: 0 } };
const ABOVE_0: OptionValues = { number: { min: 0, aboveMin: true } };
const FRACTION: OptionValues = { number: { min: 0, max: 1 } };

const MLFQ: Record<string, OptionValues> = {
  levels: { number: { min: 1, integer: true } },
  thresholds: { ascending: true },
  prefillTokenCost: AT_LEAST_0,
  agingThreshold: ABOVE_0,
  ageFrom: { oneOf: ['lowest', 'any'] },
};
const PAPER: Record<string, OptionValues> = {
  ...MLFQ,
  decodeSPerToken: ABOVE_0,
  assumedOutputTokens: { number: { min: 1 } },
  highWatermark: FRACTION,
  runningFirst: { oneOf: ['all', 'queue'] },
  preemption: PREEMPTION,
};

export const POLICY_OPTIONS: Record<PolicyName, Record<string, OptionValues>> = {
  fcfs: {},
  'astraea-paper': PAPER,
  astraea: {
    ...PAPER,
    kvRule: { oneOf: ['contention', 'watermark'] },
    waitBasis: { oneOf: ['age', 'accumulated'] },
    tailSlack: AT_LEAST_0,
    swapCost: { oneOf: ['stall', 'copy'] },
    uncontendedKv: { oneOf: ['preserve', 'release'] },
    serviceScope: { oneOf: ['job', 'segment'] },
    reclaim: { oneOf: ['remaining-time', 'off'] },
    memoryWeight: { oneOf: ['contention', 'off'] },
    admission: { oneOf: ['working-set', 'all'] },
    admissionOrder: { oneOf: ['policy', 'likeliest-to-end'] },
    briefFirst: { oneOf: [true, false] },
    toolWaitRule: { oneOf: ['distribution', 'mean'] },
    admissionScope: { oneOf: ['segment', 'round'] },
    batchWidth: { oneOf: ['fit', 'all'] },
  },
  infercept: { swapBudgetBytesPerStep: AT_LEAST_0, preemption: PREEMPTION },
  autellix: { levelThresholds: { ascending: true }, starvationS: ABOVE_0, preemption: PREEMPTION },
  continuum: { ttlQuantile: FRACTION, defaultTtlS: AT_LEAST_0, preemption: PREEMPTION },
  thunderagent: { checkIntervalS: AT_LEAST_0, decodeBufferTokens: AT_LEAST_0, sharedPrefixTokens: AT_LEAST_0, preemption: PREEMPTION },
  tokencake: {
    maxReservedFraction: FRACTION,
    criticalTypes: { number: { min: 0, integer: true } },
    structureWeight: FRACTION,
    offloadMinRatio: AT_LEAST_0,
    uploadLeadS: AT_LEAST_0,
    preemption: PREEMPTION,
  },
  mori: { deviceFraction: { number: { min: 0, max: 1, aboveMin: true } }, windowCycles: { number: { min: 1, integer: true } }, preemption: PREEMPTION },
};

/** Throws an `EngineError` naming the option and what it takes, unless every option is one of `policy`'s with a value it takes. */
export function checkPolicyOptions(policy: PolicyName, options: Readonly<Record<string, unknown>>): void {
  const known = POLICY_OPTIONS[policy];
  for (const [key, value] of Object.entries(options)) {
    if (value === undefined) continue;
    const values = known[key];
    if (values === undefined) {
      const keys = Object.keys(known);
      throw new EngineError('INVALID_ARGUMENT', `${policy} has no option "${key}"${keys.length > 0 ? ` (options: ${keys.join(', ')})` : ''}`);
    }
    const wanted = describeMismatch(values, value);
    if (wanted !== null) throw new EngineError('INVALID_ARGUMENT', `${policy} option ${key}: expected ${wanted}, got ${shown(value)}`);
  }
}

/** What `values` would have taken, or null when `value` is one of them. */
function describeMismatch(values: OptionValues, value: unknown): string | null {
  if ('oneOf' in values) return values.oneOf.includes(value as string | boolean) ? null : `one of ${values.oneOf.join(', ')}`;
  if ('ascending' in values) {
    const ok = Array.isArray(value) && value.length > 0 && value.every((v, i) => typeof v === 'number' && v > 0 && (i === 0 || v > value[i - 1]));
    return ok ? null : 'a list of numbers > 0, ascending (a:b:c on the command line)';
  }
  const { min, max, aboveMin, integer } = values.number;
  const ok =
    typeof value === 'number' &&
    !Number.isNaN(value) &&
    (min === undefined || (aboveMin ? value > min : value >= min)) &&
    (max === undefined || value <= max) &&
    (!integer || Number.isInteger(value));
  if (ok) return null;
  const bounds = [min === undefined ? '' : `${aboveMin ? '>' : '≥'} ${min}`, max === undefined ? '' : `≤ ${max}`].filter(Boolean).join(' and ');
  return `${integer ? 'an integer' : 'a number'}${bounds ? ` ${bounds}` : ''}`;
}

/** A value as the user would have written it: numbers bare (NaN, Infinity too), strings quoted. */
function shown(value: unknown): string {
  return typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value));
}
