/**
 * A tiny simulated machine with round numbers, for tests that work JCTs out by hand. contextTokenS
 * is 0, so a step of k tokens costs fixedS + k·tokenS = 0.01 + 0.001·k: a decode step 0.011 s, a
 * prefill of N tokens 0.01 + N/1000. A 16-token block is 16 × 1000 B = 16,000 B and copies in
 * 16,000 / 1e9 = 1.6e-5 s.
 */
import type { SimulationProfile } from '../../lib/sim/cost-model.js';

export const ROUND_NUMBER_PROFILE: SimulationProfile = {
  model: { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 },
  costs: { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 },
  deviceBlocks: 64,
  hostBlocks: 64,
  maxBatchTokens: 512,
  maxBatchSequences: 8,
};
