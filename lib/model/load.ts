/**
 * Loading a model for the engine: a Hugging Face directory, or a built-in preset (random
 * weights at real shapes, with the byte-level tokenizer). The weights live in the native addon;
 * the tokenizer and chat template stay in TypeScript.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineError } from '../errors.js';
import { native } from '../native/index.js';
import type { NativeModel, NativeModelInfo, WeightDtypeOption } from '../native/index.js';
import { buildByteLevelTokenizer } from './byte-tokenizer-files.js';
import { isPresetName, presetConfig, type HfConfig } from './presets.js';
import { Tokenizer } from './tokenizer.js';

export interface LoadModelOptions {
  /** A model directory, or a preset name ('tiny', 'small'). */
  model: string;
  /** Random weights for the directory's config.json instead of its weight files. Presets always are. */
  dummy?: boolean;
  /** Seed of the dummy weights (default 0). */
  seed?: number;
  /** Weight dtype in memory; 'auto' keeps the stored dtype (default). */
  dtype?: WeightDtypeOption;
  /** Kernel threads; default: one per core. */
  threads?: number;
}

export interface LoadedModel {
  native: NativeModel;
  info: NativeModelInfo;
  config: HfConfig;
  /** null when the directory has no tokenizer.json. */
  tokenizer: Tokenizer | null;
  /** The directory, or null for a preset. */
  dir: string | null;
  dispose(): void;
}

function readConfig(dir: string): HfConfig {
  const path = join(dir, 'config.json');
  if (!existsSync(dir) || !statSync(dir).isDirectory()) {
    throw new EngineError('MODEL_NOT_FOUND', `model directory ${dir} does not exist (or give a preset: tiny, small)`);
  }
  if (!existsSync(path)) throw new EngineError('MODEL_NOT_FOUND', `no config.json in ${dir}`);
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as HfConfig;
  } catch (error) {
    throw new EngineError('INVALID_CONFIG', `${path}: ${(error as Error).message}`);
  }
}

export async function loadModel(options: LoadModelOptions): Promise<LoadedModel> {
  const common = { seed: options.seed ?? 0, dtype: options.dtype ?? 'auto', threads: options.threads ?? 0 };
  let config: HfConfig;
  let dir: string | null = null;
  let tokenizer: Tokenizer | null;
  let model: NativeModel;

  if (isPresetName(options.model) && !existsSync(options.model)) {
    config = presetConfig(options.model);
    model = await native().loadModel({ ...common, configJson: JSON.stringify(config), dummy: true });
    const files = buildByteLevelTokenizer({ vocabSize: config.vocab_size });
    tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
  } else {
    dir = resolve(options.model);
    config = readConfig(dir);
    model = await native().loadModel({ ...common, dir, dummy: options.dummy ?? false });
    try {
      tokenizer = existsSync(join(dir, 'tokenizer.json')) ? await Tokenizer.fromDir(dir) : null;
      const rows = model.info().vocabSize;
      if (tokenizer && tokenizer.vocabSize > rows) {
        // Fewer ids than rows is normal (a head padded for the GPU); more would encode ids the
        // model has no embedding for.
        throw new EngineError('INVALID_TOKENIZER', `${join(dir, 'tokenizer.json')} has ids up to ${tokenizer.vocabSize - 1}, but the model has ${rows} vocabulary rows (config.json vocab_size): ids ${rows} and above have no embedding`);
      }
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  return { native: model, info: model.info(), config, tokenizer, dir, dispose: () => model.dispose() };
}
