/**
 * The simulator prices a step's swaps by the native rule (lib/sim/swap-schedule.ts is the copy
 * of cpp/core/swap_schedule.h): on random valid plans — block tables, swap-outs, swap-ins,
 * exchanges and copies that share blocks in every way the rule distinguishes — the swaps the native step ran
 * beside its compute are exactly the ones the simulator counts as background.
 */
import { describe, expect, it } from 'vitest';
import { buildStepPlan, type PlannedStep } from '../../lib/native/plan.js';
import { splitSwaps } from '../../lib/sim/swap-schedule.js';
import type { BlockPair } from '../../lib/step.js';
import { mulberry32 } from '../../lib/workload/random.js';
import { useFixtureModel } from './fixtures.js';

const BS = 4;
const DEVICE = 24;
const HOST = 16;
const fixture = useFixtureModel('llama');

/** `n` distinct ids of [0, limit), in random order. */
function distinct(rng: () => number, limit: number, n: number): number[] {
  const ids = Array.from({ length: limit }, (_, i) => i);
  for (let i = limit - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [ids[i], ids[j]] = [ids[j], ids[i]];
  }
  return ids.slice(0, n);
}

/**
 * A valid plan: no block is a destination twice in one list. Swap-in and copy destinations are
 * drawn from the same small pool as the swap-out sources and the block tables, so chains (a block
 * swapped out and reused by a swap-in, a host block written and read) and overlaps with the
 * forward pass are common.
 */
function randomPlan(rng: () => number): PlannedStep {
  const pick = (n: number) => Math.floor(rng() * n);
  const tables = distinct(rng, DEVICE, 6);
  const sequences = Array.from({ length: pick(3) }, (_, s) => {
    const blocks = tables.slice(s * 2, s * 2 + 2);
    return { tokens: [1 + pick(300)], startPosition: blocks.length * BS - 1, blocks };
  });
  const pairs = (srcLimit: number, dstLimit: number, n: number): BlockPair[] => {
    const dst = distinct(rng, dstLimit, n);
    return dst.map((d) => [pick(srcLimit), d] as const);
  };
  const swapOut = pairs(DEVICE, HOST, pick(6));
  const swapIn = pairs(HOST, DEVICE, pick(6));
  const copy = pairs(DEVICE, DEVICE, pick(3)).filter(([a, b]) => a !== b);
  // Chain deliberately now and then: a swap-in into a swapped-out block, from a host block just written.
  if (swapOut.length > 0 && rng() < 0.5 && !swapIn.some(([, d]) => d === swapOut[0][0])) swapIn.push([swapOut[0][1], swapOut[0][0]]);
  const ins = dedupeDestinations(swapIn);
  // An exchange now and then, into host blocks a swap-in reads (some of them a swap-out's
  // destination too: the chain a round trip through the host makes).
  const vacatable = [...new Set(ins.map(([h]) => h))];
  const swapOutToVacated = rng() < 0.5 ? vacatable.slice(0, 1 + pick(2)).map((h) => [pick(DEVICE), h] as const) : [];
  return { sequences, swapOut, swapIn: ins, copy, swapOutToVacated };
}

function dedupeDestinations(pairs: BlockPair[]): BlockPair[] {
  const seen = new Set<number>();
  return pairs.filter(([, d]) => !seen.has(d) && (seen.add(d), true));
}

describe('the swap schedule, native and simulated', () => {
  it('agree on which swaps run beside the compute, over 300 random plans', async () => {
    const cache = fixture().native.createKvCache({ blockSize: BS, deviceBlocks: DEVICE, hostBlocks: HOST });
    const rng = mulberry32(2026);
    let chains = 0;
    let exchanges = 0;
    let blockingSeen = 0;
    try {
      for (let i = 0; i < 300; i++) {
        const plan = randomPlan(rng);
        const result = await fixture().native.step(cache, buildStepPlan(plan));
        const split = splitSwaps({ sequences: plan.sequences, swapOut: plan.swapOut ?? [], swapIn: plan.swapIn ?? [], copy: plan.copy, swapOutToVacated: plan.swapOutToVacated });
        expect({ plan: i, background: result.overlappedSwapBlocks }).toEqual({ plan: i, background: split.background });
        if ((plan.swapIn ?? []).some(([, d]) => (plan.swapOut ?? []).some(([s]) => s === d))) chains++;
        if ((plan.swapOutToVacated ?? []).length > 0) exchanges++;
        blockingSeen += split.blocking;
      }
    } finally {
      cache.dispose();
    }
    // The plans did exercise the rule: chained swaps and blocking swaps both occurred.
    expect(chains).toBeGreaterThan(30);
    expect(exchanges).toBeGreaterThan(30);
    expect(blockingSeen).toBeGreaterThan(100);
  });
});
