import { describe, expect, it } from 'vitest';
import {
  attentionPairs,
  CPU_SMALL,
  H100_LLAMA3_8B,
  simulationProfile,
  stepSeconds,
  type StepCostModel,
} from '../../lib/sim/cost-model.js';
import { expectCode } from './expect-code.js';


// A block of 1e6 bytes at 1e9 B/s copies in 1 ms.
const COSTS: StepCostModel = { name: 'test', fixedS: 0.01, tokenS: 0.001, contextTokenS: 1e-6, swapBytesPerS: 1e9 };
const BLOCK_BYTES = 1e6;

describe('stepSeconds', () => {
  it('prices compute as fixed + per token + per context token', () => {
    // 0.01 + 100 × 0.001 + 1000 × 1e-6 = 0.01 + 0.1 + 0.001 = 0.111
    const t = stepSeconds(COSTS, BLOCK_BYTES, { tokens: 100, contextTokens: 1000, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 });
    expect(t.elapsedS).toBeCloseTo(0.111, 12);
    expect(t.blockingSwapS).toBe(0);
    expect(t.overlappedSwapS).toBe(0);
  });

  it('adds blocking swaps before the compute and hides overlapped swaps shorter than it', () => {
    // compute 0.111 (above); blocking 2 × 1 ms = 0.002; overlapped 3 × 1 ms = 0.003 < 0.111, hidden.
    // elapsed = 0.002 + max(0.111, 0.003) = 0.113
    const t = stepSeconds(COSTS, BLOCK_BYTES, { tokens: 100, contextTokens: 1000, blockingSwapBlocks: 2, overlappedSwapBlocks: 3 });
    expect(t.elapsedS).toBeCloseTo(0.113, 12);
    expect(t.blockingSwapS).toBeCloseTo(0.002, 12);
    expect(t.overlappedSwapS).toBeCloseTo(0.003, 12);
  });

  it('lets overlapped swaps longer than the compute set the step time', () => {
    // compute 0.111; overlapped 200 × 1 ms = 0.2 > 0.111; elapsed = 0.002 + 0.2 = 0.202
    const t = stepSeconds(COSTS, BLOCK_BYTES, { tokens: 100, contextTokens: 1000, blockingSwapBlocks: 2, overlappedSwapBlocks: 200 });
    expect(t.elapsedS).toBeCloseTo(0.202, 12);
    expect(t.overlappedSwapS).toBeCloseTo(0.2, 12);
  });

  it('charges a swap-only step the swap time alone (no fixed per-step cost)', () => {
    // No tokens: compute 0. elapsed = 0.002 blocking + max(0, 0.003) = 0.005 (not + fixedS 0.01).
    const t = stepSeconds(COSTS, BLOCK_BYTES, { tokens: 0, contextTokens: 0, blockingSwapBlocks: 2, overlappedSwapBlocks: 3 });
    expect(t.elapsedS).toBeCloseTo(0.005, 12);
    const empty = stepSeconds(COSTS, BLOCK_BYTES, { tokens: 0, contextTokens: 0, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 });
    expect(empty.elapsedS).toBe(0);
  });

  it('prices a decode step of the H100 profile from its documented figures', () => {
    // One sequence, one token at position 1023 (context 1024, 1024 attention pairs):
    // 6.5e-3 + 27e-6 + 1024 × 0.05e-6 + 1024 × 1e-9 = 0.0065 + 0.000027 + 0.0000512 + 0.000001024
    // = 0.006579224
    const t = stepSeconds(H100_LLAMA3_8B.costs, 16 * H100_LLAMA3_8B.model.kvBytesPerToken, {
      tokens: 1,
      contextTokens: 1024,
      attentionPairs: attentionPairs(1023, 1),
      sequences: 1,
      blockingSwapBlocks: 1,
      overlappedSwapBlocks: 0,
    });
    // Blocking swap of one 16-token block: 16 × 131072 B = 2,097,152 B at 25e9 B/s = 8.388608e-5 s.
    expect(t.blockingSwapS).toBeCloseTo(8.388608e-5, 15);
    expect(t.elapsedS).toBeCloseTo(0.006579224 + 8.388608e-5, 12);
  });

  it('counts attention pairs: one per position for a decode token, a triangle for a prefill chunk', () => {
    expect(attentionPairs(1023, 1)).toBe(1024);
    // 3 tokens from position 0 attend to 1, 2 and 3 positions: 6. From position 10: 11 + 12 + 13 = 36.
    expect(attentionPairs(0, 3)).toBe(6);
    expect(attentionPairs(10, 3)).toBe(36);
  });

  it('adds attention pairs, sequences and the per-step overhead to the compute', () => {
    // 0.111 (the first case) + 36 pairs × 1e-4 + 2 sequences × 0.002 + 0.005 overhead
    // = 0.111 + 0.0036 + 0.004 + 0.005 = 0.1236
    const costs: StepCostModel = { ...COSTS, attentionPairS: 1e-4, sequenceS: 0.002, stepOverheadS: 0.005 };
    const t = stepSeconds(costs, BLOCK_BYTES, { tokens: 100, contextTokens: 1000, attentionPairs: 36, sequences: 2, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 });
    expect(t.elapsedS).toBeCloseTo(0.1236, 12);
  });

  it('roofline: the weights and the token work overlap (the larger one counts)', () => {
    // fixedS 0.01, tokenS 0.001: 4 tokens → max(0.01, 0.004) = 0.01; 100 tokens → max(0.01, 0.1) = 0.1.
    // Plus 1000 context tokens × 1e-6 = 0.001 each.
    const costs: StepCostModel = { ...COSTS, roofline: true };
    const small = stepSeconds(costs, BLOCK_BYTES, { tokens: 4, contextTokens: 1000, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 });
    const large = stepSeconds(costs, BLOCK_BYTES, { tokens: 100, contextTokens: 1000, blockingSwapBlocks: 0, overlappedSwapBlocks: 0 });
    expect(small.elapsedS).toBeCloseTo(0.011, 12);
    expect(large.elapsedS).toBeCloseTo(0.101, 12);
  });
});

describe('simulationProfile', () => {
  it('finds the built-in profiles by name', () => {
    expect(simulationProfile('h100-llama3-8b')).toBe(H100_LLAMA3_8B);
    expect(simulationProfile('cpu-small')).toBe(CPU_SMALL);
  });

  it('rejects an unknown name with INVALID_ARGUMENT', () => {
    expectCode(() => simulationProfile('a100-llama'), 'INVALID_ARGUMENT');
    expectCode(() => simulationProfile(''), 'INVALID_ARGUMENT');
    expectCode(() => simulationProfile('CPU-SMALL'), 'INVALID_ARGUMENT');
  });

  // SIMULATION_PROFILES is an object literal: inherited members must not count as profiles.
  it('rejects names of Object.prototype members with INVALID_ARGUMENT', () => {
    for (const name of ['toString', 'constructor', 'hasOwnProperty', '__proto__']) {
      expectCode(() => simulationProfile(name), 'INVALID_ARGUMENT');
    }
  });
});
