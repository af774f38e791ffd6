/**
 * `astraea make-model`: writes a complete Hugging Face model directory with seeded random
 * weights: config.json, model.safetensors, tokenizer.json, tokenizer_config.json and
 * generation_config.json. The weights are the native dummy load's, so loading the directory
 * gives exactly the model a dummy load of the same config and seed gives.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { native } from '../native/index.js';
import type { WeightDtypeOption } from '../native/index.js';
import { buildByteLevelTokenizer } from './byte-tokenizer-files.js';
import { presetConfig, type HfConfig, type PresetName } from './presets.js';
import { writeSafetensors } from './safetensors-writer.js';

export interface MakeModelOptions {
  /** A preset, or a full config to use as is (tests use Mistral and Qwen2 variants). */
  preset?: PresetName;
  config?: HfConfig;
  outDir: string;
  seed?: number;
  /**
   * Stored dtype of the matrices (norms and biases are always F32). Default f32. 8-bit weights
   * are not written: any of these loads as Q8_0 with the load option dtype 'q8'.
   */
  dtype?: FileDtype;
}

export interface MadeModel {
  dir: string;
  config: HfConfig;
  parameters: number;
}

type FileDtype = Exclude<WeightDtypeOption, 'auto' | 'q8'>;
const TORCH_DTYPE: Record<Uppercase<FileDtype>, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };

export async function makeModel(options: MakeModelOptions): Promise<MadeModel> {
  const base = options.config ?? presetConfig(options.preset ?? 'tiny');
  const tokenizer = buildByteLevelTokenizer({ vocabSize: base.vocab_size });
  const bos = tokenizer.specialTokens['<|begin_of_text|>'];
  const eos = tokenizer.specialTokens['<|im_end|>'];
  const dtype = options.dtype ?? 'f32';
  const config: HfConfig = {
    ...base,
    bos_token_id: bos,
    eos_token_id: eos,
    torch_dtype: TORCH_DTYPE[dtype.toUpperCase() as Uppercase<FileDtype>],
  };

  const model = await native().loadModel({
    configJson: JSON.stringify(config),
    dummy: true,
    seed: options.seed ?? 0,
    dtype,
  });
  const dir = resolve(options.outDir);
  try {
    mkdirSync(dir, { recursive: true });
    writeSafetensors(
      join(dir, 'model.safetensors'),
      model.tensors(),
      (name) => model.tensorData(name),
      { format: 'pt', generator: 'astraea make-model', seed: String(options.seed ?? 0) },
    );
    writeJson(join(dir, 'config.json'), config);
    writeJson(join(dir, 'tokenizer.json'), tokenizer.tokenizerJson);
    writeJson(join(dir, 'tokenizer_config.json'), tokenizer.tokenizerConfigJson);
    writeJson(join(dir, 'generation_config.json'), { bos_token_id: bos, eos_token_id: eos });
    return { dir, config, parameters: model.info().parameters };
  } finally {
    model.dispose();
  }
}

function writeJson(path: string, value: unknown): void {
  writeFileSync(path, JSON.stringify(value, null, 2) + '\n');
}
