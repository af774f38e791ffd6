/** `astraea make-model`: a seeded random model directory with a byte-level tokenizer. */
import { Command } from 'commander';
import { EngineError } from '../errors.js';
import { makeModel } from '../model/make-model.js';
import { isPresetName } from '../model/presets.js';
import { dtypeOption, integerOption } from './args.js';

export function makeModelCommand(): Command {
  return new Command('make-model')
    .description('write a seeded random model (a Hugging Face directory with a byte-level tokenizer)')
    .option('--preset <tiny|small>', 'model size', 'tiny')
    .option('--out <dir>', 'directory to write (required)')
    .option('--seed <n>', 'seed of the random weights', '0')
    .option('--dtype <f32|f16|bf16>', 'weight type in the file', 'f32')
    .action(async (values: { preset: string; out?: string; seed: string; dtype: string }) => {
      if (!isPresetName(values.preset)) throw new EngineError('INVALID_ARGUMENT', '--preset must be tiny or small');
      if (!values.out) throw new EngineError('INVALID_ARGUMENT', '--out DIR is required');
      const dtype = dtypeOption(values.dtype, 'f32');
      if (dtype === 'auto' || dtype === 'q8') {
        throw new EngineError('INVALID_ARGUMENT', '--dtype must be f32, f16 or bf16 (8-bit weights are made at load: serve or bench a model with --dtype q8)');
      }
      const made = await makeModel({ preset: values.preset, outDir: values.out, seed: integerOption(values.seed, 'seed', 0), dtype });
      process.stdout.write(`wrote ${made.dir} (${values.preset}, ${(made.parameters / 1e6).toFixed(2)}M parameters, ${dtype})\n`);
    });
}
