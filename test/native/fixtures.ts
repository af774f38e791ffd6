/**
 * Model fixtures for the native tests: tiny Llama, Llama-3-scaled, Mistral (sliding window) and
 * Qwen2 (q/k/v bias, untied head) directories written by make-model, and the independent
 * TypeScript reference's logits for them.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { makeModel } from '../../lib/model/make-model.js';
import { presetConfig, type HfConfig } from '../../lib/model/presets.js';
import { referenceConfigFromHf, referenceLogits, type ReferenceOptions } from '../reference/llama-reference.js';
import { readSafetensors } from '../reference/safetensors-read.js';

const tiny = presetConfig('tiny');

export const CONFIGS: Record<string, HfConfig> = {
  llama: tiny,
  // Llama 3.1 scaling with an original context of 64 puts head_dim 32's frequencies in all three bands.
  llama3: {
    ...tiny,
    rope_theta: 500000,
    rope_scaling: { rope_type: 'llama3', factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 64 },
  },
  mistral: {
    ...tiny,
    architectures: ['MistralForCausalLM'],
    model_type: 'mistral',
    sliding_window: 5,
    tie_word_embeddings: false,
  },
  qwen2: {
    ...tiny,
    architectures: ['Qwen2ForCausalLM'],
    model_type: 'qwen2',
    num_key_value_heads: 1,
    rope_theta: 1000000,
    tie_word_embeddings: false,
  },
};

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `astraea-${prefix}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function makeFixture(
  name: keyof typeof CONFIGS,
  options: { seed?: number; dtype?: 'f32' | 'f16' | 'bf16' } = {},
): Promise<string> {
  const dir = tempDir(name);
  await makeModel({ config: CONFIGS[name], outDir: dir, seed: options.seed ?? 7, dtype: options.dtype ?? 'f32' });
  return dir;
}

/** Writes fixture `name` and loads it once for the whole test file; the getter works inside tests. */
export function useFixtureModel(name: keyof typeof CONFIGS): () => LoadedModel {
  let dir: string | undefined;
  let model: LoadedModel | undefined;
  beforeAll(async () => {
    dir = await makeFixture(name);
    model = await loadModel({ model: dir });
  });
  afterAll(() => {
    model?.dispose();
    if (dir) removeDir(dir);
  });
  return () => model!;
}

/** Logits at every position from the plain-TypeScript reference, reading the directory's files itself. */
export function referenceForDir(dir: string, ids: number[], options: ReferenceOptions = {}): Float64Array[] {
  const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => join(dir, f));
  return referenceLogits(referenceConfigFromHf(config), readSafetensors(files), ids, options);
}

/** max |a - b| / max |b|: the error relative to the reference's scale at one position. */
export function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  if (actual.length !== expected.length) return Infinity;
  let maxDiff = 0;
  let maxRef = 0;
  for (let i = 0; i < expected.length; i++) {
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
  }
  return maxDiff / maxRef;
}

export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Deterministic token ids for tests. */
export function testIds(count: number, vocab: number, salt = 1): number[] {
  return Array.from({ length: count }, (_, i) => (i * 97 + salt * 31 + 5) % vocab);
}

/**
 * A small model of the Llama / Mistral / Qwen2 architectures around a real family's vocabulary:
 * the tests that serve a real tokenizer (real-model-*.test.ts) add the vocabulary and the family.
 */
export const SMALL_SHAPE_FOR_REAL_VOCABULARY = {
  hidden_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  num_key_value_heads: 2,
  intermediate_size: 128,
  max_position_embeddings: 4096,
  hidden_act: 'silu',
  tie_word_embeddings: true,
};
