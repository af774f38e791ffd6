/** Shared option parsing for the commands: strict, with errors that name the option. */
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { EngineError } from '../errors.js';
import type { WeightDtypeOption } from '../native/index.js';
import type { LoadModelOptions } from '../model/load.js';

export const MODEL_OPTIONS = {
  model: { type: 'string' },
  dummy: { type: 'boolean' },
  seed: { type: 'string' },
  dtype: { type: 'string' },
  threads: { type: 'string' },
} as const satisfies ParseArgsConfig['options'];

type OptionValues<O> = { [K in keyof O]?: O[K] extends { type: 'boolean' } ? boolean : string };

export function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O): OptionValues<O> {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values as OptionValues<O>;
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', (error as Error).message);
  }
}

export function integerOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new EngineError('INVALID_ARGUMENT', `--${name} must be an integer >= ${min}`);
  return n;
}

const DTYPES: readonly WeightDtypeOption[] = ['auto', 'f32', 'f16', 'bf16'];

export function dtypeOption(value: string | undefined, fallback: WeightDtypeOption): WeightDtypeOption {
  if (value === undefined) return fallback;
  if (!(DTYPES as readonly string[]).includes(value)) {
    throw new EngineError('INVALID_ARGUMENT', `--dtype must be one of ${DTYPES.join(', ')}`);
  }
  return value as WeightDtypeOption;
}

export function loadOptions(values: {
  model?: string;
  dummy?: boolean;
  seed?: string;
  dtype?: string;
  threads?: string;
}): LoadModelOptions {
  if (!values.model) throw new EngineError('INVALID_ARGUMENT', '--model DIR|tiny|small is required');
  return {
    model: values.model,
    dummy: values.dummy ?? false,
    seed: integerOption(values.seed, 'seed', 0),
    dtype: dtypeOption(values.dtype, 'auto'),
    threads: integerOption(values.threads, 'threads', 0),
  };
}
