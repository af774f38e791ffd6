/**
 * The kernels against the independent double-precision references of the C++ harnesses, on every
 * SIMD level this CPU has:
 * - cpp/harness/kernel_check.cc: F32/F16/BF16 matmul and the vector helpers (exhaustive tiny
 *   shapes, every remainder path, vector-width, block and tile boundaries, misaligned pointers,
 *   canaries around the output); on a CPU with AVX-512 BF16, AVX-512 once with its dot product
 *   and once without.
 * - cpp/harness/q8_check.cc: the Q8_0 kernels (scalar, AVX2, AVX-512 VNNI) against a reference
 *   that dequantizes and rounds activations as the format does: T = 1, 2, 7, 33 and more, odd row
 *   counts, one block to several 512-column stretches, bias or not, row chunks and token tiles,
 *   misaligned weights; misuse refused, NaN activations kept visible.
 * And that the software prefetches meant for memory are still in the compiled code: a prefetch
 * changes no result, so only this notices one the compiler dropped (core/kernels/vec.h says how).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { arch } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '..', '..');

describe.each([
  ['matmul and vector kernels', 'build_kernel_check.sh', ['--quick']],
  ['Q8_0 kernels', 'build_q8_check.sh', []],
])('%s', (_label, script, args) => {
  it('match the independent reference on every SIMD level', () => {
    const binary = execFileSync('bash', [join(ROOT, 'cpp/harness', script), join(ROOT, 'build/harness')], { encoding: 'utf8' }).trim();
    const run = spawnSync(binary, args, { encoding: 'utf8' });
    expect(run.stderr).toBe('');
    expect(run.stdout).toMatch(/checks scalar +ok/);
    expect(run.stdout).not.toMatch(/FAIL/);
    expect(run.stdout).toMatch(/\d+ checks, 0 failures/);
    expect(run.status).toBe(0);
  }, 300_000);
});

// prefetcht0 is an x86-64 instruction and these sources prefetch with it only there; elsewhere
// (an ARM machine) there is nothing to look for, so the check is skipped.
describe.skipIf(arch() !== 'x64')('software prefetches', () => {
  it.each([
    ['attention (the next KV block)', 'cpp/core/attention.cc'],
    ['the BF16 GEMV (its weight rows)', 'cpp/core/kernels/bf16_dot.cc'],
  ])('%s survive compilation at the build optimisation levels', (_label, source) => {
    for (const level of ['-O2', '-O3']) {
      const assembly = execFileSync('g++', [level, '-std=c++17', '-fno-math-errno', `-I${join(ROOT, 'cpp')}`, '-S', '-o', '-', join(ROOT, source)], {
        encoding: 'utf8',
        maxBuffer: 64 << 20,
      });
      expect(assembly).toMatch(/\bprefetcht0\b/);
    }
  }, 120_000);
});
