/**
 * What `vllm:kv_cache_usage_perc` (Engine.kvUsage) tells a router: blocks held by jobs, less the
 * blocks held only by jobs waiting on tools — KV the engine keeps by choice and gives back when
 * running jobs need room, and that a vLLM server would not hold at all.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { Policy } from '../../lib/sched/policy.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };
const keepAtToolWaits: Policy = { name: 'keep', preemption: 'recompute', order: (c) => [...c], onToolWait: () => 'preserve' };

describe('the KV usage a router sees', () => {
  it('counts a running job\'s blocks and not those kept for a job waiting on its tool', async () => {
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy: keepAtToolWaits, kvBlocks: 64, hostBlocks: 0, clock });
    const jobs: WorkloadJob[] = [
      // 48 prompt tokens + 2 generated: 49 tokens with KV at the tool call, ceil(49 / 16) = 4 blocks, kept for 10 s.
      { id: 'paused', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 10 } }, { inputTokens: 1, outputTokens: 1, tool: null }] },
      // 20 prompt tokens decoding 150 more (12 ms a step): still running at 1 s.
      { id: 'running', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 20, outputTokens: 150, tool: null }] },
    ];
    const done = runWorkload(engine, jobs, clock);
    await clock.run(1);
    const kv = engine.stats().kv;
    const paused = 4;
    expect(engine.stats().jobs).toMatchObject({ running: 1, toolWait: 1 });
    expect(kv.ownedBlocks).toBeGreaterThan(paused);
    const runningBlocks = kv.ownedBlocks - paused;
    expect(engine.kvUsage).toBe(runningBlocks / 64);
    await clock.run();
    expect((await done).filter((o) => o.error)).toEqual([]);
    expect(engine.kvUsage).toBe(0);
    await engine.close();
  });
});
