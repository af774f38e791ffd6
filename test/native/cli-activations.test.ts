/**
 * `--activations` through the CLI's option handling (lib/cli/args.ts) into a real load: the value
 * reaches the native model (its info says so), a model that cannot take it is refused by the
 * engine, and a value outside the list is refused by the CLI, each with the option named.
 */
import { describe, expect, it } from 'vitest';
import { activationsOption, loadOptions } from '../../lib/cli/args.js';
import { loadModel } from '../../lib/model/load.js';

describe('--activations', () => {
  it('defaults to f32 and takes bf16; anything else is an error naming the option and its values', () => {
    expect(activationsOption(undefined)).toBe('f32');
    expect(activationsOption('bf16')).toBe('bf16');
    expect(() => activationsOption('fp8')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: '--activations must be one of f32, bf16' }));
  });

  it('reaches the model: BF16 under BF16 weights; refused under F32 ones', async () => {
    const model = await loadModel(loadOptions({ model: 'tiny', dtype: 'bf16', activations: 'bf16' }));
    try {
      expect(model.info).toMatchObject({ weightDtype: 'BF16', activations: 'BF16' });
    } finally {
      model.dispose();
    }
    await expect(loadModel(loadOptions({ model: 'tiny', activations: 'bf16' }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('BF16 activations need BF16 weights'),
    });
  });
});
