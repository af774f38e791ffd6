/**
 * The options a policy chosen by name may be given (EngineOptions.policyOptions, the CLI's
 * `--set`, bench/policies' sweep), and the values each takes. A policy's own tunables only — not
 * what the engine supplies (memory views, predictors, cost functions). A typo in a key or a value
 * must fail with the choices named, not run the default under another name or a rule half-off:
 * every policy reads an unknown string as "not the value I test for". Each table `satisfies` its
 * policy's options type (OptionsTable), so the compiler refuses a table that misses a tunable,
 * names one the policy does not have, or lists other choices than the option's type allows.
 */
import { EngineError } from '../errors.js';
import type { AstraeaPaperOptions } from './astraea-paper.js';
import type { AstraeaOptions } from './astraea.js';
import type { AutellixOptions } from './autellix.js';
import type { ContinuumOptions } from './continuum.js';
import type { InferCeptOptions } from './infercept.js';
import type { MoriOptions } from './mori.js';
import type { PolicyName } from './registry.js';
import type { ThunderAgentOptions } from './thunderagent.js';
import type { TokencakeOptions } from './tokencake.js';

/** A number in [min, max] (bounds left out are open), an integer where `integer`, > min where `aboveMin`. */
type NumberBounds = { min?: number; max?: number; aboveMin?: boolean; integer?: boolean };

/** The values one option takes. */
export type OptionValues =
  /** One of the record's keys (a record, so that the compiler can check it lists every choice). */
  | { choices: Readonly<Record<string, true>> }
  | { boolean: true }
  | { number: NumberBounds }
  /** A non-empty list of numbers > 0, ascending. */
  | { ascending: true };

/** What an option of type T takes: a string union's every member, exactly (the compiler checks). */
type ValuesFor<T> = [T] extends [boolean]
  ? { boolean: true }
  : [T] extends [string]
    ? { choices: Readonly<Record<T, true>> }
    : [T] extends [number]
      ? { number: NumberBounds }
      : [T] extends [readonly number[]]
        ? { ascending: true }
        : never;

/** The options a user sets: every one but what the engine supplies (functions: views, predictors, costs). */
type Tunable<O> = { [K in keyof O]-?: NonNullable<O[K]> extends (...args: never[]) => unknown ? never : K }[keyof O];

/** A policy's table: every tunable option of its options type, no other, each with its values. */
type OptionsTable<O> = { [K in Tunable<O>]-?: ValuesFor<NonNullable<O[K]>> };

const PREEMPTION = { choices: { recompute: true, swap: true } } as const;
const AT_LEAST_0 = { number: { min: 0 } };
const ABOVE_0 = { number: { min: 0, aboveMin: true } };
const FRACTION = { number: { min: 0, max: 1 } };

const PAPER = {
  levels: { number: { min: 1, integer: true } },
  thresholds: { ascending: true },
  prefillTokenCost: AT_LEAST_0,
  agingThreshold: ABOVE_0,
  ageFrom: { choices: { lowest: true, any: true } },
  decodeSPerToken: ABOVE_0,
  assumedOutputTokens: { number: { min: 1 } },
  highWatermark: FRACTION,
  runningFirst: { choices: { all: true, queue: true } },
  preemption: PREEMPTION,
} satisfies OptionsTable<AstraeaPaperOptions>;

export const POLICY_OPTIONS: Record<PolicyName, Readonly<Record<string, OptionValues>>> = {
  fcfs: {},
  'astraea-paper': PAPER,
  astraea: {
    ...PAPER,
    kvRule: { choices: { contention: true, watermark: true } },
    waitBasis: { choices: { age: true, accumulated: true } },
    tailSlack: AT_LEAST_0,
    swapCost: { choices: { stall: true, copy: true } },
    uncontendedKv: { choices: { preserve: true, release: true } },
    serviceScope: { choices: { job: true, segment: true } },
    reclaim: { choices: { 'remaining-time': true, off: true } },
    memoryWeight: { choices: { contention: true, off: true } },
    admission: { choices: { 'working-set': true, all: true } },
    admissionOrder: { choices: { policy: true, 'likeliest-to-end': true } },
    briefFirst: { boolean: true },
    toolWaitRule: { choices: { distribution: true, mean: true } },
    admissionScope: { choices: { segment: true, 'first-round': true, round: true } },
    batchWidth: { choices: { fit: true, all: true } },
  } satisfies OptionsTable<AstraeaOptions>,
  infercept: { swapBudgetBytesPerStep: AT_LEAST_0, preemption: PREEMPTION } satisfies OptionsTable<InferCeptOptions>,
  autellix: { levelThresholds: { ascending: true }, starvationS: ABOVE_0, preemption: PREEMPTION } satisfies OptionsTable<AutellixOptions>,
  continuum: { ttlQuantile: FRACTION, defaultTtlS: AT_LEAST_0, preemption: PREEMPTION } satisfies OptionsTable<ContinuumOptions>,
  thunderagent: {
    checkIntervalS: AT_LEAST_0,
    decodeBufferTokens: AT_LEAST_0,
    sharedPrefixTokens: AT_LEAST_0,
    preemption: PREEMPTION,
  } satisfies OptionsTable<ThunderAgentOptions>,
  tokencake: {
    maxReservedFraction: FRACTION,
    criticalTypes: { number: { min: 0, integer: true } },
    structureWeight: FRACTION,
    offloadMinRatio: AT_LEAST_0,
    uploadLeadS: AT_LEAST_0,
    preemption: PREEMPTION,
  } satisfies OptionsTable<TokencakeOptions>,
  mori: {
    deviceFraction: { number: { min: 0, max: 1, aboveMin: true } },
    windowCycles: { number: { min: 1, integer: true } },
    preemption: PREEMPTION,
  } satisfies OptionsTable<MoriOptions>,
};

/** The values a choice-valued option takes, in the table's order (the boolean's true, false). */
export function choicesOf(values: OptionValues): readonly (string | boolean)[] | null {
  if ('choices' in values) return Object.keys(values.choices);
  if ('boolean' in values) return [true, false];
  return null;
}

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
  if ('choices' in values || 'boolean' in values) {
    const choices = choicesOf(values) ?? [];
    return choices.includes(value as string | boolean) ? null : `one of ${choices.join(', ')}`;
  }
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
