/**
 * The native backend says what it runs on and prices swaps with the bandwidth it measured when it
 * opened, not a constant: the probe's arithmetic against rates worked out by hand, the real probe
 * on the tiny model, the fallbacks, and the cache freed when the probe fails.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendStep } from '../../lib/engine/backend.js';
import { Engine } from '../../lib/engine/engine.js';
import { measureSwapBytesPerS, NativeBackend } from '../../lib/engine/native-backend.js';
import { EngineError } from '../../lib/errors.js';
import { loadModel, type LoadedModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';

describe('the swap probe', () => {
  it('times N blocks out and back in and reports one direction’s rate', async () => {
    // Out at 4 GB/s, in at 2 GB/s: a round moves 2·N·B bytes in N·B/4e9 + N·B/2e9 seconds,
    // so 2 / (1/4 + 1/2) = 8/3 GB/s.
    const plans: BackendStep[] = [];
    const blockBytes = 1000;
    const rate = await measureSwapBytesPerS(
      async (plan) => {
        plans.push(plan);
        const bytes = (plan.swapOut.length + plan.swapIn.length) * blockBytes;
        return { elapsedS: bytes / (plan.swapOut.length > 0 ? 4e9 : 2e9) };
      },
      3,
      blockBytes,
      4,
    );
    expect(rate).toBeCloseTo(8e9 / 3, 0);
    expect(plans).toHaveLength(8);
    expect(plans[0]).toEqual({ sequences: [], swapOut: [[0, 0], [1, 1], [2, 2]], swapIn: [] });
    expect(plans[1]).toEqual({ sequences: [], swapOut: [], swapIn: [[0, 0], [1, 1], [2, 2]] });
  });

  it('takes the median round, so one disturbed round does not move it', async () => {
    const roundS = [1, 1, 9, 1, 1, 2, 1, 1, 1, 1]; // seconds per step, out then in, five rounds
    let call = 0;
    const rate = await measureSwapBytesPerS(async () => ({ elapsedS: roundS[call++] }), 5, 100, 5);
    // Rounds take 2, 10, 3, 2, 2 s for 2·5·100 = 1000 bytes: rates 500, 100, 333, 500, 500 → 500.
    expect(rate).toBe(500);
  });
});

describe('NativeBackend.open', () => {
  let model: LoadedModel;
  beforeAll(async () => {
    model = await loadModel({ model: 'tiny' });
  });
  afterAll(() => model.dispose());

  /** The model with its dispose kept from the backend, so one load serves every case. */
  const borrowed = (): LoadedModel => ({ ...model, dispose: () => {} });

  it('reports the addon’s backend and a measured swap rate', async () => {
    const backend = await NativeBackend.open(borrowed(), { blockSize: 16, deviceBlocks: 32, hostBlocks: 16 });
    try {
      expect(backend.kind).toBe(native().backendInfo().backend);
      // A memcpy between two host pools: far above a disk, below any memory system's ceiling.
      expect(backend.swapBytesPerS).toBeGreaterThan(1e8);
      expect(backend.swapBytesPerS).toBeLessThan(1e12);
    } finally {
      backend.dispose();
    }
  });

  it('reports the nominal PCIe rate when there is no host pool (no swap can happen)', async () => {
    const backend = await NativeBackend.open(borrowed(), { blockSize: 16, deviceBlocks: 32, hostBlocks: 0 });
    expect(backend.swapBytesPerS).toBe(25e9);
    backend.dispose();
  });

  it('is what the engine and its run summaries report', async () => {
    const backend = await NativeBackend.open(borrowed(), { blockSize: 16, deviceBlocks: 32, hostBlocks: 16 }, 'cuda');
    const engine = Engine.withBackend(backend, { policy: 'fcfs', kvBlocks: 32, hostBlocks: 16 });
    expect(engine.backendKind).toBe('cuda');
    expect(engine.swapBytesPerS).toBe(backend.swapBytesPerS);
    await engine.close();
  });

  it('frees the cache when the probe fails, and the error is the step’s', async () => {
    let disposed = 0;
    const failing: LoadedModel = {
      ...borrowed(),
      native: {
        ...model.native,
        info: () => model.native.info(),
        createKvCache: (options) => {
          const cache = model.native.createKvCache(options);
          return { info: () => cache.info(), readBlock: (p, id) => cache.readBlock(p, id), dispose: () => (disposed++, cache.dispose()) };
        },
        step: () => Promise.reject(new EngineError('INTERNAL', 'device lost')),
      },
    };
    await expect(NativeBackend.open(failing, { blockSize: 16, deviceBlocks: 8, hostBlocks: 8 })).rejects.toMatchObject({ code: 'INTERNAL' });
    expect(disposed).toBe(1);
  });
});
