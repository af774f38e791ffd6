/**
 * Resources and the event loop: memory returns to where it was after dispose, even with a step in
 * flight; disposed handles fail with DISPOSED; a running step never blocks the event loop.
 */
import { describe, expect, it } from 'vitest';
import { loadModel } from '../../lib/model/load.js';
import { native } from '../../lib/native/index.js';
import { buildStepPlan } from '../../lib/native/plan.js';
import { makeFixture, removeDir, testIds } from './fixtures.js';

describe('lifecycle', () => {
  it('native memory returns to its baseline after dispose', async () => {
    const before = native().memoryStats();
    const dir = await makeFixture('llama');
    try {
      for (let round = 0; round < 3; round++) {
        const fromFile = await loadModel({ model: dir }); // mapped in place
        const converted = await loadModel({ model: dir, dtype: 'bf16' }); // anonymous memory
        const cache = fromFile.native.createKvCache({ deviceBlocks: 64, hostBlocks: 32 });
        const during = native().memoryStats();
        expect(during.mappedFileBytes).toBeGreaterThan(before.mappedFileBytes);
        // 96 blocks of 2 layers x K,V x 2 heads x 16 slots x 32 dims x 4 bytes = 16 KiB each.
        expect(during.anonymousBytes - before.anonymousBytes).toBeGreaterThanOrEqual(96 * 16384);
        await fromFile.native.step(cache, buildStepPlan({ sequences: [{ tokens: [1, 2, 3], startPosition: 0, blocks: [5] }] }));
        cache.dispose();
        fromFile.dispose();
        converted.dispose();
        expect(native().memoryStats()).toEqual(before);
      }
    } finally {
      removeDir(dir);
    }
  });

  it('dispose with a step in flight frees memory when the step ends, and the step still succeeds', async () => {
    const before = native().memoryStats();
    const model = await loadModel({ model: 'tiny' });
    const cache = model.native.createKvCache({ deviceBlocks: 64 });
    const pending = model.native.step(
      cache,
      buildStepPlan({ sequences: [{ tokens: testIds(512, 384), startPosition: 0, blocks: Array.from({ length: 32 }, (_, i) => i) }] }),
    );
    cache.dispose();
    model.dispose();
    const result = await pending;
    expect(result.tokens).toHaveLength(1);
    expect(native().memoryStats()).toEqual(before);
  });

  it('disposed handles fail with DISPOSED', async () => {
    const model = await loadModel({ model: 'tiny' });
    const cache = model.native.createKvCache({ deviceBlocks: 4 });
    cache.dispose();
    await expect(model.native.step(cache, buildStepPlan({ sequences: [] }))).rejects.toMatchObject({ code: 'DISPOSED' });
    expect(() => cache.readBlock('device', 0)).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    model.dispose();
    expect(() => model.native.info()).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    expect(() => model.native.createKvCache({ deviceBlocks: 1 })).toThrow(expect.objectContaining({ code: 'DISPOSED' }));
    model.dispose(); // twice is harmless
  });

  it('the event loop keeps running while a step computes', async () => {
    const model = await loadModel({ model: 'small', dtype: 'bf16' });
    const cache = model.native.createKvCache({ deviceBlocks: 8 });
    try {
      let ticks = 0;
      const timer = setInterval(() => ticks++, 1);
      const started = performance.now();
      await model.native.step(cache, buildStepPlan({ sequences: [{ tokens: testIds(96, 32000), startPosition: 0, blocks: [0, 1, 2, 3, 4, 5] }] }));
      const elapsedMs = performance.now() - started;
      clearInterval(timer);
      expect(elapsedMs).toBeGreaterThan(20);
      expect(ticks).toBeGreaterThan(elapsedMs / 10); // a blocked loop would tick once or not at all
    } finally {
      cache.dispose();
      model.dispose();
    }
  });

  it('concurrent steps on one model are serialised and each gets its own answer', async () => {
    const model = await loadModel({ model: 'tiny' });
    const caches = [0, 1, 2].map(() => model.native.createKvCache({ deviceBlocks: 4 }));
    try {
      const plans = [0, 1, 2].map((i) =>
        buildStepPlan({ sequences: [{ tokens: testIds(20, 384, i), startPosition: 0, blocks: [0, 1] }], logits: 'last' }),
      );
      const together = await Promise.all(plans.map((p, i) => model.native.step(caches[i], p)));
      for (let i = 0; i < 3; i++) {
        const alone = await model.native.step(caches[i], plans[i]);
        expect(Array.from(together[i].logits!)).toEqual(Array.from(alone.logits!));
      }
    } finally {
      caches.forEach((c) => c.dispose());
      model.dispose();
    }
  });
});
