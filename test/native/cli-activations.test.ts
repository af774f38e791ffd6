/**
 * `--activations` through the CLI's option handling (lib/cli/args.ts) into a real load: the value
 * reaches the native model (its info says so), a model that cannot take it is refused by the
 * engine, and a value outside the list is refused by the CLI, each with the option named. 'auto',
 * the default, is decided by the weights and the CPU: BF16 only where every matrix is BF16 and the
 * BF16 dot product is in effect — checked here on whatever machine runs it, and with the kernels
 * forced down to AVX2 (no BF16 dot product there), where it must stay F32.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activationsOption, loadOptions } from '../../lib/cli/args.js';
import { loadModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'astraea.js');

async function activationsOf(flags: Parameters<typeof loadOptions>[0]): Promise<string> {
  const model = await loadModel(loadOptions(flags));
  try {
    return model.info.activations;
  } finally {
    model.dispose();
  }
}

describe('--activations', () => {
  it('defaults to auto and takes f32 and bf16; anything else is an error naming the option and its values', () => {
    expect(activationsOption(undefined)).toBe('auto');
    expect(activationsOption('f32')).toBe('f32');
    expect(activationsOption('bf16')).toBe('bf16');
    expect(() => activationsOption('fp8')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: '--activations must be one of auto, f32, bf16' }));
  });

  it('reaches the model: BF16 under BF16 weights; refused under F32 ones', async () => {
    expect(await activationsOf({ model: 'tiny', dtype: 'bf16', activations: 'bf16' })).toBe('BF16');
    expect(await activationsOf({ model: 'tiny', dtype: 'bf16', activations: 'f32' })).toBe('F32');
    await expect(loadModel(loadOptions({ model: 'tiny', activations: 'bf16' }))).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('BF16 activations need BF16 weights'),
    });
  });

  it('auto: BF16 under BF16 weights where the CPU has the BF16 dot product, F32 under any other weights', async () => {
    const bf16Dot = native().backendInfo().bf16Dot;
    expect(await activationsOf({ model: 'tiny', dtype: 'bf16' })).toBe(bf16Dot ? 'BF16' : 'F32');
    expect(await activationsOf({ model: 'tiny', dtype: 'f32' })).toBe('F32');
    expect(await activationsOf({ model: 'tiny', dtype: 'f16' })).toBe('F32');
    expect(await activationsOf({ model: 'tiny', dtype: 'q8' })).toBe('F32');
  });

  // bf16Dot comes from the addon's own CPUID check; the kernel's own list of flags is an independent
  // witness. Linux only (elsewhere there is no /proc/cpuinfo to read), and not under a forced level.
  it.skipIf(!existsSync('/proc/cpuinfo') || process.env.ASTRAEA_SIMD !== undefined)('bf16Dot is what the CPU reports: AVX-512 BF16 in /proc/cpuinfo, with AVX-512 in effect', () => {
    const flags = readFileSync('/proc/cpuinfo', 'utf8');
    const info = native().backendInfo();
    expect(info.bf16Dot).toBe(/\bavx512_bf16\b/.test(flags) && info.simd === 'avx512');
  });

  it('auto stays F32 under BF16 weights with the kernels forced to AVX2 (no BF16 dot product there)', () => {
    const run = spawnSync(process.execPath, [BIN, 'info', '--model', 'tiny', '--dtype', 'bf16'], {
      encoding: 'utf8',
      env: { ...process.env, ASTRAEA_SIMD: 'avx2' },
    });
    expect(run.stderr).toBe('');
    const info = JSON.parse(run.stdout);
    expect(info.backend).toMatchObject({ bf16Dot: false });
    expect(info.activations).toBe('F32');
  });
});
