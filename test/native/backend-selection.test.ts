/**
 * Which addon lib/native loads: the CUDA build (npm run build:cuda) only when it runs on a GPU;
 * otherwise the CPU addon, saying once why the CUDA build was not used.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { removeDir, tempDir } from './fixtures.js';

async function freshNative() {
  vi.resetModules(); // a fresh module: its one-time search runs again
  return (await import('../../lib/native/index.js')).native;
}

describe('backend selection', () => {
  const saved = { cuda: process.env.ASTRAEA_CUDA_ADDON, backend: process.env.ASTRAEA_BACKEND };
  afterEach(() => {
    for (const [key, value] of [['ASTRAEA_CUDA_ADDON', saved.cuda], ['ASTRAEA_BACKEND', saved.backend]] as const) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    vi.restoreAllMocks();
  });

  function brokenCudaBuild(): string {
    const dir = tempDir('cuda-addon');
    const path = join(dir, 'astraea_cuda.node');
    writeFileSync(path, 'not a shared library');
    process.env.ASTRAEA_CUDA_ADDON = path;
    return dir;
  }

  it('a CUDA build that cannot run falls back to the CPU addon and says so once', async () => {
    const dir = brokenCudaBuild();
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    try {
      const native = await freshNative();
      expect(native().backendInfo().backend).toBe('cpu');
      native();
      native().backendInfo();
      const notes = written.filter((w) => w.startsWith('astraea: the CUDA build is not used ('));
      expect(notes).toHaveLength(1);
      expect(notes[0]).toMatch(/; running on the CPU backend\n$/);
    } finally {
      removeDir(dir);
    }
  });

  it('ASTRAEA_BACKEND=cpu skips the CUDA build without a word', async () => {
    const dir = brokenCudaBuild();
    process.env.ASTRAEA_BACKEND = 'cpu';
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const native = await freshNative();
      expect(native().backendInfo().backend).toBe('cpu');
      expect(write).not.toHaveBeenCalled();
    } finally {
      removeDir(dir);
    }
  });

  it('with no CUDA build the CPU addon loads silently', async () => {
    const dir = tempDir('no-cuda');
    process.env.ASTRAEA_CUDA_ADDON = join(dir, 'missing.node');
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const native = await freshNative();
      expect(native().backendInfo()).toMatchObject({ backend: 'cpu' });
      expect(write).not.toHaveBeenCalled();
    } finally {
      removeDir(dir);
    }
  });
});
