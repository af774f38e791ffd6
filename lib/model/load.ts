/**
 * Loading a model for the engine: a Hugging Face directory, a GGUF file (llama.cpp's format: the
 * weights mapped from the file, the tokenizer rebuilt from its metadata), or a built-in preset
 * (random weights at real shapes, with the byte-level tokenizer). The weights live in the native
 * addon; the tokenizer and chat template stay in TypeScript.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineError } from '../errors.js';
import { native } from '../native/index.js';
import type { ActivationsOption, NativeModel, NativeModelInfo, WeightDtypeOption } from '../native/index.js';
import { buildByteLevelTokenizer } from './byte-tokenizer-files.js';
import { ggufHfConfig, ggufTensorBindings } from './gguf-config.js';
import { readGgufHeader, readGgufVector } from './gguf-file.js';
import { ggufTokenizer } from './gguf-tokenizer.js';
import { isPresetName, presetConfig, type HfConfig } from './presets.js';
import { Tokenizer } from './tokenizer.js';

export interface LoadModelOptions {
  /** A model directory, a .gguf file, or a preset name ('tiny', 'small'). */
  model: string;
  /** Random weights for the directory's config.json instead of its weight files. Presets always are. */
  dummy?: boolean;
  /** Seed of the dummy weights (default 0). */
  seed?: number;
  /** Weight dtype in memory; 'auto' keeps the stored dtype (default). */
  dtype?: WeightDtypeOption;
  /** What the CPU's matrices multiply: 'f32' (default) or, under BF16 weights, 'bf16'. */
  activations?: ActivationsOption;
  /** Kernel threads; default: one per core. */
  threads?: number;
}

export interface LoadedModel {
  native: NativeModel;
  info: NativeModelInfo;
  config: HfConfig;
  /** null when the directory has no tokenizer.json (or the GGUF file's tokenizer is not one we build). */
  tokenizer: Tokenizer | null;
  /** The directory (or GGUF file), or null for a preset. */
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

/** A path that names a GGUF file rather than a directory: by its extension, or a file at all. */
function isGgufPath(model: string): boolean {
  if (model.toLowerCase().endsWith('.gguf')) return true;
  return existsSync(model) && statSync(model).isFile();
}

function checkTokenizerFits(tokenizer: Tokenizer | null, rows: number, source: string): void {
  if (tokenizer && tokenizer.vocabSize > rows) {
    // Fewer ids than rows is normal (a head padded for the GPU); more would encode ids the
    // model has no embedding for.
    throw new EngineError('INVALID_TOKENIZER', `${source} has ids up to ${tokenizer.vocabSize - 1}, but the model has ${rows} vocabulary rows (config.json vocab_size): ids ${rows} and above have no embedding`);
  }
}

export async function loadModel(options: LoadModelOptions): Promise<LoadedModel> {
  const common = { seed: options.seed ?? 0, dtype: options.dtype ?? 'auto', activations: options.activations ?? 'auto', threads: options.threads ?? 0 };
  let config: HfConfig;
  let dir: string | null = null;
  let tokenizer: Tokenizer | null;
  let model: NativeModel;

  if (isPresetName(options.model) && !existsSync(options.model)) {
    config = presetConfig(options.model);
    model = await native().loadModel({ ...common, configJson: JSON.stringify(config), dummy: true });
    const files = buildByteLevelTokenizer({ vocabSize: config.vocab_size });
    tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson);
  } else if (isGgufPath(options.model)) {
    dir = resolve(options.model);
    const header = readGgufHeader(dir);
    config = ggufHfConfig(header, (info) => readGgufVector(dir!, info));
    const built = ggufTokenizer(header);
    tokenizer = built.tokenizer;
    if (built.reason) console.warn(`astraea: ${dir}: no tokenizer (${built.reason}); token ids only`);
    checkTokenizerFits(tokenizer, config.vocab_size, dir);
    const configJson = JSON.stringify(config);
    if (options.dummy) {
      model = await native().loadModel({ ...common, configJson, dummy: true });
    } else {
      const ggufTensors = ggufTensorBindings(header, config).map((b) => ({
        name: b.hfName,
        dtype: b.info.typeName!, // ggufTensorBindings refuses a type without a name
        shape: b.shape,
        offset: b.info.offset,
        ropeHeads: b.ropeHeads,
      }));
      model = await native().loadModel({ ...common, configJson, ggufPath: dir, ggufTensors });
    }
  } else {
    dir = resolve(options.model);
    config = readConfig(dir);
    model = await native().loadModel({ ...common, dir, dummy: options.dummy ?? false });
    try {
      tokenizer = existsSync(join(dir, 'tokenizer.json')) ? await Tokenizer.fromDir(dir) : null;
      checkTokenizerFits(tokenizer, model.info().vocabSize, join(dir, 'tokenizer.json'));
    } catch (error) {
      model.dispose();
      throw error;
    }
  }
  return { native: model, info: model.info(), config, tokenizer, dir, dispose: () => model.dispose() };
}
