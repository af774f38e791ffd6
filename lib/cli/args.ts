/**
 * Option helpers shared by the commands (commander parses; these check values and name the
 * option in every error).
 */
import type { Command } from 'commander';
import { EngineError } from '../errors.js';
import type { ActivationsOption, KvDtypeOption, WeightDtypeOption } from '../native/index.js';
import type { LoadModelOptions } from '../model/load.js';

/** The options every command that loads a model takes. */
export interface ModelFlags {
  model?: string;
  dummy?: boolean;
  seed?: string;
  dtype?: string;
  activations?: string;
  threads?: string;
}

export function addModelOptions(command: Command, modelHelp = 'a Hugging Face model directory, a .gguf file, or a preset (tiny, small)'): Command {
  return command
    .option('--model <dir|file.gguf|preset>', modelHelp)
    .option('--dummy', "load the directory's config with seeded random weights instead of its weight files")
    .option('--seed <n>', 'seed of random weights (presets, --dummy)')
    .option('--dtype <auto|f32|f16|bf16|q8>', 'weight type in memory (q8: 8-bit, quantized at load)')
    .option('--activations <auto|f32|bf16>', ACTIVATIONS_HELP)
    .option('--threads <n>', 'CPU threads (default: one per core)');
}

export const ACTIVATIONS_HELP = 'what the CPU matrices multiply: f32, or under bf16 weights activations rounded to bf16 (prefill and decode 1.1-1.8x faster on AVX-512 BF16); auto (default): bf16 where the weights are bf16 and the CPU has AVX-512 BF16';

export const KV_DTYPE_HELP = 'KV cache element type (auto: bf16 under 16/8-bit weights and on the GPU, f32 under f32 weights)';

export function integerOption(value: string | undefined, name: string, fallback: number, min = 0): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < min) throw new EngineError('INVALID_ARGUMENT', `--${name} must be an integer >= ${min}`);
  return n;
}

/** Workload seeds: "1-8", "1,3,5" or a mix ("1-3,7"); distinct integers >= 0, in the order given. */
export function seedsOption(value: string): number[] {
  const bad = () => new EngineError('INVALID_ARGUMENT', `--seeds takes seeds and ranges such as 1-8 or 1,3,5; got "${value}"`);
  const seeds: number[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (!m) throw bad();
    const first = Number(m[1]);
    const last = m[2] === undefined ? first : Number(m[2]);
    if (last < first || last - first > 10_000) throw bad();
    for (let s = first; s <= last; s++) seeds.push(s);
  }
  if (new Set(seeds).size !== seeds.length) throw new EngineError('INVALID_ARGUMENT', `--seeds names a seed twice: "${value}"`);
  return seeds;
}

/** A finite number > 0 (or >= 0 with allowZero). */
export function positiveOption(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) throw new EngineError('INVALID_ARGUMENT', `--${name} must be a number > 0, got "${value}"`);
  return n;
}

/** A comma-separated list of numbers > 0. */
export function positiveListOption(value: string, name: string): number[] {
  return value.split(',').map((item) => positiveOption(item, name, NaN));
}

/** A comma-separated list whose items must all be in `allowed`. */
export function listOption<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T[] {
  if (value === undefined) return [...allowed];
  const items = value.split(',').map((s) => s.trim());
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new EngineError('INVALID_ARGUMENT', `--${name}: unknown "${item}" (one of ${allowed.join(', ')})`);
    }
  }
  return items as T[];
}

const DTYPES: readonly WeightDtypeOption[] = ['auto', 'f32', 'f16', 'bf16', 'q8'];
const KV_DTYPES: readonly KvDtypeOption[] = ['auto', 'f32', 'bf16'];

const ACTIVATIONS: readonly ActivationsOption[] = ['auto', 'f32', 'bf16'];

/** `--activations`: what the CPU's matrices multiply. */
export function activationsOption(value: string | undefined): ActivationsOption {
  if (value === undefined) return 'auto';
  if (!(ACTIVATIONS as readonly string[]).includes(value)) {
    throw new EngineError('INVALID_ARGUMENT', `--activations must be one of ${ACTIVATIONS.join(', ')}`);
  }
  return value as ActivationsOption;
}

/** `--kv-dtype`: the KV cache's element type. */
export function kvDtypeOption(value: string | undefined): KvDtypeOption {
  if (value === undefined) return 'auto';
  if (!(KV_DTYPES as readonly string[]).includes(value)) {
    throw new EngineError('INVALID_ARGUMENT', `--kv-dtype must be one of ${KV_DTYPES.join(', ')}`);
  }
  return value as KvDtypeOption;
}

export function dtypeOption(value: string | undefined, fallback: WeightDtypeOption): WeightDtypeOption {
  if (value === undefined) return fallback;
  if (!(DTYPES as readonly string[]).includes(value)) {
    throw new EngineError('INVALID_ARGUMENT', `--dtype must be one of ${DTYPES.join(', ')}`);
  }
  return value as WeightDtypeOption;
}

export function loadOptions(values: ModelFlags): LoadModelOptions {
  if (!values.model) throw new EngineError('INVALID_ARGUMENT', '--model DIR|tiny|small is required');
  return {
    model: values.model,
    dummy: values.dummy ?? false,
    seed: integerOption(values.seed, 'seed', 0),
    dtype: dtypeOption(values.dtype, 'auto'),
    activations: activationsOption(values.activations),
    threads: integerOption(values.threads, 'threads', 0),
  };
}
