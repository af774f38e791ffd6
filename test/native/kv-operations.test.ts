/**
 * Block operations of the paged cache: swap out and back in (bit-identical), discard and
 * recompute (equal within tolerance), copy (a forked prefix continues identically).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { buildStepPlan, type PlannedSequence } from '../../lib/native/plan.js';
import type { NativeKvCache } from '../../lib/native/types.js';
import { relativeError, testIds, useFixtureModel } from './fixtures.js';

const BS = 4;
const PROMPT = testIds(11, 384, 3); // 3 blocks, the last one partly filled
const NEXT = [17, 250, 33];

const fixture = useFixtureModel('llama');

async function run(cache: NativeKvCache, seq: PlannedSequence, ops: Parameters<typeof buildStepPlan>[0] = { sequences: [] }) {
  const result = await fixture().native.step(cache, buildStepPlan({ ...ops, sequences: [seq], logits: 'last' }));
  return result.logits!;
}

/** Decodes NEXT one token at a time from position PROMPT.length with the given blocks. */
async function decodeNext(cache: NativeKvCache, blocks: number[], firstOps?: Parameters<typeof buildStepPlan>[0]) {
  const rows: Float32Array[] = [];
  for (let i = 0; i < NEXT.length; i++) {
    const seq = { tokens: [NEXT[i]], startPosition: PROMPT.length + i, blocks };
    rows.push(await run(cache, seq, i === 0 && firstOps ? firstOps : { sequences: [] }));
  }
  return rows;
}

// The same operations on both cache dtypes: swaps and copies move bytes, whatever they hold.
describe.each(['f32', 'bf16'] as const)('KV block operations, %s cache', (dtype) => {
  let baseline: Float32Array[];

  beforeAll(async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, dtype });
    await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
    baseline = await decodeNext(cache, [0, 1, 2, 3]);
    cache.dispose();
  });

  it('holds what it is asked to: BF16 blocks hold only BF16 values', async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, dtype });
    try {
      expect(cache.info().dtype).toBe(dtype.toUpperCase());
      await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
      const block = cache.readBlock('device', 0);
      const lowBits = new Uint32Array(block.buffer, block.byteOffset, block.length).map((bits) => bits & 0xffff);
      expect(block.some((v) => v !== 0)).toBe(true);
      // A BF16 element widened is an F32 whose low 16 bits are zero; F32 keys almost never are.
      expect(lowBits.every((b) => b === 0)).toBe(dtype === 'bf16');
    } finally {
      cache.dispose();
    }
  });

  it('swap out, overwrite the device blocks, swap in elsewhere: bit-identical later logits', async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, hostBlocks: 6, dtype });
    try {
      await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
      const before = [0, 1, 2].map((b) => cache.readBlock('device', b));
      // Swap the three used blocks out to host blocks 5, 3, 1.
      await fixture().native.step(cache, buildStepPlan({ sequences: [], swapOut: [[0, 5], [1, 3], [2, 1]] }));
      expect(Array.from(cache.readBlock('host', 3))).toEqual(Array.from(before[1]));
      // Another sequence reuses the freed device blocks.
      await run(cache, { tokens: testIds(12, 384, 8), startPosition: 0, blocks: [0, 1, 2] });
      expect(Array.from(cache.readBlock('device', 1))).not.toEqual(Array.from(before[1]));
      // Swap back in to different device blocks, in the same step as the first decode.
      const rows = await decodeNext(cache, [6, 4, 7, 5], { sequences: [], swapIn: [[5, 6], [3, 4], [1, 7]] });
      rows.forEach((row, i) => expect(Array.from(row), `decode ${i}`).toEqual(Array.from(baseline[i])));
    } finally {
      cache.dispose();
    }
  });

  it('an exchange: a swap-in and a swap-out trade the same blocks in one step, both intact', async () => {
    // Job A's KV goes to host blocks 0-2; job B computes into device blocks 4-6. One step then
    // brings A back into B's device blocks and sends B's KV into A's host blocks, and decodes A's
    // first token there: each block is read before it is written, so A decodes as if never moved
    // and the host holds exactly what B's device blocks held.
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, hostBlocks: 3, dtype });
    try {
      await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
      await fixture().native.step(cache, buildStepPlan({ sequences: [], swapOut: [[0, 0], [1, 1], [2, 2]] }));
      await run(cache, { tokens: testIds(12, 384, 8), startPosition: 0, blocks: [4, 5, 6] });
      const jobB = [4, 5, 6].map((b) => Array.from(cache.readBlock('device', b)));
      const exchange = { sequences: [], swapIn: [[0, 4], [1, 5], [2, 6]] as const, swapOutToVacated: [[4, 0], [5, 1], [6, 2]] as const };
      const rows = await decodeNext(cache, [4, 5, 6, 7], { sequences: [], swapIn: [...exchange.swapIn], swapOutToVacated: [...exchange.swapOutToVacated] });
      rows.forEach((row, i) => expect(Array.from(row), `decode ${i}`).toEqual(Array.from(baseline[i])));
      [0, 1, 2].forEach((h) => expect(Array.from(cache.readBlock('host', h)), `host block ${h}`).toEqual(jobB[h]));
    } finally {
      cache.dispose();
    }
  });

  it('an exchange into a host block that a swap-out wrote and a swap-in read in the same step', async () => {
    // Device block 0 (job W) goes to host block 1 and straight back to device block 2 (a round
    // trip through the host); then device block 3 (job V) is exchanged into host block 1. Each
    // write lands after the reads of the block it overwrites: W's bytes reach block 2, V's host 1.
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, hostBlocks: 2, dtype });
    try {
      await run(cache, { tokens: PROMPT.slice(0, 4), startPosition: 0, blocks: [0] });
      await run(cache, { tokens: testIds(4, 384, 8), startPosition: 0, blocks: [3] });
      const [w, v] = [0, 3].map((b) => Array.from(cache.readBlock('device', b)));
      expect(w).not.toEqual(v);
      await fixture().native.step(cache, buildStepPlan({ sequences: [], swapOut: [[0, 1]], swapIn: [[1, 2]], swapOutToVacated: [[3, 1]] }));
      expect(Array.from(cache.readBlock('device', 2))).toEqual(w);
      expect(Array.from(cache.readBlock('host', 1))).toEqual(v);
    } finally {
      cache.dispose();
    }
  });

  it('discard, then recompute by prefill: equal logits within tolerance', async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, dtype });
    try {
      await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
      await run(cache, { tokens: testIds(16, 384, 5), startPosition: 0, blocks: [0, 1, 2, 3] }); // overwritten
      // Recompute in chunks of 4, as a scheduler would after a discard.
      for (let s = 0; s < PROMPT.length; s += 4) {
        await run(cache, { tokens: PROMPT.slice(s, s + 4), startPosition: s, blocks: [7, 6, 5, 4] });
      }
      const rows = await decodeNext(cache, [7, 6, 5, 4]);
      rows.forEach((row, i) => expect(relativeError(row, baseline[i]), `decode ${i}`).toBeLessThan(1e-5));
    } finally {
      cache.dispose();
    }
  });

  it('copy forks a prefix: both branches continue like the original', async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: 8, dtype });
    try {
      await run(cache, { tokens: PROMPT, startPosition: 0, blocks: [0, 1, 2, 3] });
      // Share full blocks 0 and 1, copy the partly filled block 2 (copy-on-write of the tail).
      const rows = await decodeNext(cache, [0, 1, 5, 6], { sequences: [], copy: [[2, 5]] });
      rows.forEach((row, i) => expect(Array.from(row), `forked decode ${i}`).toEqual(Array.from(baseline[i])));
      expect(Array.from(cache.readBlock('device', 2)).slice(0, 8)).toEqual(
        Array.from(cache.readBlock('device', 5)).slice(0, 8),
      );
      const original = await decodeNext(cache, [0, 1, 2, 3]);
      original.forEach((row, i) => expect(Array.from(row), `original decode ${i}`).toEqual(Array.from(baseline[i])));
    } finally {
      cache.dispose();
    }
  });
});
