/**
 * Swaps overlapped with compute (cpp/core/swap_schedule.h): swaps the forward pass cannot observe
 * run on the copy thread beside it; the others run before it. Every expectation is a value known
 * without the code under test: logits of the same forward pass in a step with no swaps (or with
 * the swap done in an earlier step), and block contents read before the step. Block counts pin the
 * partition itself, since a wrong one could still pass the byte checks by winning a race.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { buildStepPlan, type PlannedSequence, type PlannedStep } from '../../lib/native/plan.js';
import type { NativeKvCache } from '../../lib/native/types.js';
import { testIds, useFixtureModel } from './fixtures.js';

const BS = 4;
const VOCAB = 384;
const PROMPT_A = testIds(11, VOCAB, 3); // blocks 0, 1, 2 (the last with one free slot)
const PROMPT_B = testIds(8, VOCAB, 4); // two full blocks
const PROMPT_C = testIds(8, VOCAB, 5);
const DECODE_A: PlannedSequence = { tokens: [17], startPosition: PROMPT_A.length, blocks: [0, 1, 2] };

const fixture = useFixtureModel('llama');

function newCache(): NativeKvCache {
  return fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 12, hostBlocks: 8 });
}

async function step(cache: NativeKvCache, plan: PlannedStep) {
  return fixture().native.step(cache, buildStepPlan({ logits: 'last', ...plan }));
}

async function prefill(cache: NativeKvCache, tokens: number[], blocks: number[]) {
  await step(cache, { sequences: [{ tokens, startPosition: 0, blocks }] });
}

const read = (cache: NativeKvCache, pool: 'device' | 'host', id: number) => Array.from(cache.readBlock(pool, id));

describe('swaps overlapped with compute', () => {
  it('background swaps beside a forward pass: same logits as with no swaps, exact bytes moved', async () => {
    const reference = newCache();
    const cache = newCache();
    try {
      await prefill(reference, PROMPT_A, [0, 1, 2]);
      const expected = await step(reference, { sequences: [DECODE_A] });
      expect(expected.overlappedSwapBlocks).toBe(0);
      expect(expected.overlappedSwapS).toBe(0);

      await prefill(cache, PROMPT_A, [0, 1, 2]);
      await prefill(cache, PROMPT_B, [3, 4]);
      await prefill(cache, PROMPT_C, [5, 6]);
      // C goes to host blocks 0 and 1 (a step without a forward pass: every swap is background).
      const parked = await step(cache, { sequences: [], swapOut: [[5, 0], [6, 1]] });
      expect(parked.overlappedSwapBlocks).toBe(2);
      const before = {
        device0: read(cache, 'device', 0),
        device3: read(cache, 'device', 3),
        device4: read(cache, 'device', 4),
        device5: read(cache, 'device', 5),
        device9: read(cache, 'device', 9),
        host0: read(cache, 'host', 0),
        host1: read(cache, 'host', 1),
      };
      expect(before.device9.every((x) => x === 0)).toBe(true); // never written
      expect(before.device5.some((x) => x !== 0)).toBe(true);

      const result = await step(cache, {
        sequences: [DECODE_A],
        swapOut: [
          [3, 2], // background: B is in no block table
          [0, 4], // blocking: A's block 0 is in the block table
          [4, 3], // background
          [9, 5], // blocking: device 9 is the copy's destination
        ],
        swapIn: [
          [0, 7], // background
          [1, 8], // background
        ],
        copy: [[5, 9]],
      });

      expect(Array.from(result.logits!)).toEqual(Array.from(expected.logits!));
      expect(Array.from(result.tokens)).toEqual(Array.from(expected.tokens));
      expect(result.overlappedSwapBlocks).toBe(4);
      expect(result.overlappedSwapS).toBeGreaterThan(0);
      expect(result.blockingSwapS).toBeGreaterThan(0);
      expect(result.elapsedS).toBeGreaterThanOrEqual(result.blockingSwapS);

      expect(read(cache, 'host', 2)).toEqual(before.device3);
      expect(read(cache, 'host', 3)).toEqual(before.device4);
      expect(read(cache, 'host', 4)).toEqual(before.device0);
      expect(read(cache, 'host', 5)).toEqual(before.device9); // swap-outs come before the copy
      expect(read(cache, 'device', 7)).toEqual(before.host0);
      expect(read(cache, 'device', 8)).toEqual(before.host1);
      expect(read(cache, 'device', 9)).toEqual(before.device5);
      expect(read(cache, 'device', 3)).toEqual(before.device3); // a swap-out leaves its source as it was
    } finally {
      reference.dispose();
      cache.dispose();
    }
  });

  it('a swap-in into a block of the step’s block table is done before the forward pass', async () => {
    const separate = newCache();
    const together = newCache();
    try {
      for (const cache of [separate, together]) {
        await prefill(cache, PROMPT_A, [0, 1, 2]);
        await step(cache, { sequences: [], swapOut: [[0, 0], [1, 1], [2, 2]] });
        await prefill(cache, testIds(12, VOCAB, 8), [0, 1, 2]); // overwrites A's old device blocks
      }
      const moved = { ...DECODE_A, blocks: [5, 6, 7] };
      const swapIn: PlannedStep['swapIn'] = [[0, 5], [1, 6], [2, 7]];

      const earlier = await step(separate, { sequences: [], swapIn });
      expect(earlier.overlappedSwapBlocks).toBe(3);
      const expected = await step(separate, { sequences: [moved] });

      const result = await step(together, { sequences: [moved], swapIn });
      expect(result.overlappedSwapBlocks).toBe(0);
      expect(Array.from(result.logits!)).toEqual(Array.from(expected.logits!));
    } finally {
      separate.dispose();
      together.dispose();
    }
  });

  it('a swap-out of a block the forward pass writes stores the contents from before the step', async () => {
    const fresh = newCache();
    const cache = newCache();
    try {
      await prefill(cache, PROMPT_B, [3, 4]);
      const old = read(cache, 'device', 4);
      const tokens = testIds(8, VOCAB, 9);
      const reuse: PlannedSequence = { tokens, startPosition: 0, blocks: [4, 5] };

      const result = await step(cache, { sequences: [reuse], swapOut: [[4, 6]] });
      expect(result.overlappedSwapBlocks).toBe(0);
      expect(read(cache, 'host', 6)).toEqual(old);
      expect(read(cache, 'device', 4)).not.toEqual(old);
      // The forward pass itself was unaffected: the same prefill on an untouched cache.
      const expected = await step(fresh, { sequences: [reuse] });
      expect(Array.from(result.logits!)).toEqual(Array.from(expected.logits!));
      expect(read(cache, 'device', 4)).toEqual(read(fresh, 'device', 4));
    } finally {
      fresh.dispose();
      cache.dispose();
    }
  });

  // The control plane chains swaps over one block within a step (lib/kv/block-manager.ts frees a
  // swapped-out job's device blocks at once, and a job swapped out at a tool wait may come back in
  // the next step): every swap-out happens before every swap-in, so both halves must block.
  describe('a swap-out and a swap-in over one block run in the plan\'s order', () => {
    let cache: NativeKvCache;
    let expected: Float32Array;
    beforeAll(async () => {
      const reference = newCache();
      await prefill(reference, PROMPT_A, [0, 1, 2]);
      expected = (await step(reference, { sequences: [DECODE_A] })).logits!;
      reference.dispose();
    });
    beforeEach(async () => {
      cache = newCache();
      await prefill(cache, PROMPT_A, [0, 1, 2]);
      await prefill(cache, PROMPT_B, [3, 4]);
      await step(cache, { sequences: [], swapOut: [[4, 0], [3, 6]] }); // host 0 and 6 hold B's blocks
    });
    afterEach(() => cache.dispose());

    it('host round trip: out to a host block and back in from it in one step', async () => {
      const device3 = read(cache, 'device', 3);
      const host6 = read(cache, 'host', 6);
      expect(host6).toEqual(device3);
      await prefill(cache, PROMPT_C, [3, 4]); // device 3 now differs from host 6
      const fresh3 = read(cache, 'device', 3);
      expect(fresh3).not.toEqual(device3);

      const result = await step(cache, {
        sequences: [DECODE_A],
        swapOut: [[3, 2]], // blocking: host 2 is read by the swap-in below
        swapIn: [
          [2, 7], // blocking: reads what the swap-out wrote
          [6, 8], // background
        ],
      });
      expect(Array.from(result.logits!)).toEqual(Array.from(expected));
      expect(result.overlappedSwapBlocks).toBe(1);
      expect(read(cache, 'host', 2)).toEqual(fresh3);
      expect(read(cache, 'device', 7)).toEqual(fresh3);
      expect(read(cache, 'device', 8)).toEqual(device3);
    });

    it('device reuse: a block swapped out and swapped into in one step', async () => {
      const device3 = read(cache, 'device', 3);
      const host0 = read(cache, 'host', 0);
      expect(host0).not.toEqual(device3);

      const result = await step(cache, {
        sequences: [DECODE_A],
        swapOut: [
          [3, 1], // blocking: the swap-in below overwrites device 3
          [4, 5], // background
        ],
        swapIn: [[0, 3]], // blocking: must wait for the swap-out of device 3
      });
      expect(Array.from(result.logits!)).toEqual(Array.from(expected));
      expect(result.overlappedSwapBlocks).toBe(1);
      expect(read(cache, 'host', 1)).toEqual(device3);
      expect(read(cache, 'device', 3)).toEqual(host0);
    });
  });
});
