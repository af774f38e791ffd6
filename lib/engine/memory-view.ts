/** Device memory as the KV policies see it: what the jobs hold, and the work waiting for memory. */
import type { BlockManager } from '../kv/block-manager.js';
import type { MemoryView } from '../sched/kv-waste.js';
import type { EngineBackend } from './backend.js';
import type { JobRecord } from './job-record.js';

export function memoryView(
  jobs: Iterable<JobRecord>,
  blocks: BlockManager,
  backend: Pick<EngineBackend, 'info' | 'swapBytesPerS'>,
  costs: { prefillSPerToken: number; decodeStepS: number },
): MemoryView {
  const kv = blocks.stats();
  let waitingTokens = 0;
  for (const r of jobs) if (r.wantsToRun && r.state.state !== 'running') waitingTokens += r.tokens.length - r.computedTokens;
  return {
    usedFraction: kv.ownedBlocks / kv.deviceBlocks,
    waitingTokens,
    kvBytesPerToken: backend.info.kvBytesPerToken,
    swapBytesPerS: backend.swapBytesPerS,
    prefillSPerToken: costs.prefillSPerToken,
    freeTokens: (kv.freeBlocks + kv.cachedBlocks) * blocks.blockSize,
    stepS: costs.decodeStepS,
    hostFreeTokens: kv.hostFree * blocks.blockSize,
  };
}
