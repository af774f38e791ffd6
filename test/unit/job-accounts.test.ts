/**
 * Per-job, per-segment KV accounting (EngineStats.jobAccounts), on the simulator: every decision
 * with its cause and bytes, and recomputed prompt tokens, for a job that swaps at its tool wait
 * and a job that discards.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy, ToolWaitKvAction } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { runWorkload } from '../../lib/workload/replay.js';
import type { WorkloadJob } from '../../lib/workload/format.js';

/** Arrival order; every job's KV gets `action` at each tool wait. */
function fixedKv(action: ToolWaitKvAction): Policy {
  return { name: `always-${action}`, preemption: 'recompute', order: (c) => [...c], onToolWait: () => action };
}

// 1000 bytes of KV per token → a 16-token block is 16,000 bytes.
const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };

async function run(action: ToolWaitKvAction) {
  const clock = new VirtualClock();
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy: fixedKv(action), kvBlocks: 64, hostBlocks: 64, clock });
  // 40 prompt tokens, 5 generated, a 1 s tool, 10 tool-result tokens, 3 generated.
  const job: WorkloadJob = { id: 'j', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 40, outputTokens: 5, tool: { name: 'search', durationS: 1 } }, { inputTokens: 10, outputTokens: 3, tool: null }] };
  const done = runWorkload(engine, [job], clock);
  await clock.run();
  await done;
  const stats = engine.stats({ jobs: true });
  await engine.close();
  return stats;
}

describe('per-job KV accounting', () => {
  it('a swap at the tool wait: its bytes out in segment 0, the same bytes back in segment 1, nothing recomputed', async () => {
    // At the pause the job has 40 + 5 = 45 tokens of context with KV for 44 (the last sampled
    // token is not yet computed) in ceil(45 / 16) = 3 blocks: 48,000 bytes each way.
    const stats = await run('swap');
    const [account] = stats.jobAccounts!;
    expect(account.id).toBe('j');
    expect(account.segments.map((s) => s.decisions.map((d) => [d.action, d.cause, d.bytes]))).toEqual([
      [['swap', 'tool_wait', 48000]],
      [['swap_in', 'resume', 48000]],
    ]);
    expect([account.swapOutBytes, account.swapInBytes, account.recomputedPrefillTokens]).toEqual([48000, 48000, 0]);
    expect(stats.kvTraffic.swapOutBytes).toBe(48000);
  });

  it('a discard: no bytes moved; the resumed segment recomputes what the prefix cache lost', async () => {
    // Discard returns full blocks to the prefix cache (a roomy pool keeps them): 2 full blocks
    // (32 tokens) are hits of the 55-token context, so the resume step runs 23 tokens and samples
    // from the last: 22 prompt tokens computed, 10 of them new input → 12 recomputed.
    const stats = await run('discard');
    const [account] = stats.jobAccounts!;
    expect(account.segments.map((s) => s.decisions.map((d) => [d.action, d.cause, d.bytes]))).toEqual([[['discard', 'tool_wait', 0]], []]);
    expect(account.segments.map((s) => s.recomputedPrefillTokens)).toEqual([0, 12]);
    expect(account.recomputedPrefillTokens).toBe(12);
  });

  it('accounts only on request', async () => {
    expect((await run('preserve')).jobAccounts![0].segments[0].decisions.map((d) => d.action)).toEqual(['preserve']);
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { kvBlocks: 8, clock });
    expect(engine.stats().jobAccounts).toBeUndefined();
    await engine.close();
  });
});
