/** `astraea make-model`: a seeded random model directory with a byte-level tokenizer. */
import { EngineError } from '../errors.js';
import { makeModel } from '../model/make-model.js';
import { isPresetName } from '../model/presets.js';
import { dtypeOption, integerOption, parse } from './args.js';

export async function runMakeModel(args: string[]): Promise<void> {
  const values = parse(args, {
    preset: { type: 'string' },
    out: { type: 'string' },
    seed: { type: 'string' },
    dtype: { type: 'string' },
  });
  const preset = values.preset ?? 'tiny';
  if (!isPresetName(preset)) throw new EngineError('INVALID_ARGUMENT', '--preset must be tiny or small');
  if (!values.out) throw new EngineError('INVALID_ARGUMENT', '--out DIR is required');
  const dtype = dtypeOption(values.dtype, 'f32');
  if (dtype === 'auto') throw new EngineError('INVALID_ARGUMENT', '--dtype must be f32, f16 or bf16');
  const made = await makeModel({ preset, outDir: values.out, seed: integerOption(values.seed, 'seed', 0), dtype });
  process.stdout.write(`wrote ${made.dir} (${preset}, ${(made.parameters / 1e6).toFixed(2)}M parameters, ${dtype})\n`);
}
