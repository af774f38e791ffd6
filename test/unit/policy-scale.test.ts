import { describe, expect, it } from 'vitest';
import type { AstraeaPaperPolicy } from '../../lib/sched/astraea-paper.js';
import type { AutellixPolicy } from '../../lib/sched/autellix.js';
import type { ContinuumPolicy } from '../../lib/sched/continuum.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import { createPolicy, type PolicyEnvironment } from '../../lib/sched/registry.js';
import type { ThunderAgentPolicy } from '../../lib/sched/thunderagent.js';
import { simulate } from '../../lib/sim/simulate.js';
import { generateWorkload } from '../../lib/workload/generators/index.js';

/** A policy environment at the given workload scale; nothing else matters to these tests. */
const env = (tokens: number, time: number): PolicyEnvironment => ({
  memory: (): MemoryView => ({ usedFraction: 0, waitingTokens: 0, kvBytesPerToken: 1000, swapBytesPerS: 1e9, prefillSPerToken: 0.001 }),
  toolTimeS: () => 1,
  toolRemainingS: () => 1,
  toolOutlasts: (_tool, _elapsedS, moveCostS) => 1 > moveCostS,
  toolTimeQuantileS: () => undefined,
  costs: { prefillSPerToken: 0.001, decodeStepS: 0.01 },
  scale: { tokens, time },
});

describe("the policies' published constants follow the workload's scale", () => {
  it('keeps the published figures at full scale', () => {
    const thunder = createPolicy('thunderagent', env(1, 1)) as ThunderAgentPolicy;
    expect([thunder.checkIntervalS, thunder.decodeBufferTokens]).toEqual([5, 256]);
    const autellix = createPolicy('autellix', env(1, 1)) as AutellixPolicy;
    expect([autellix.starvationS, autellix.levelThresholds]).toEqual([10, [256, 1024, 4096, 16384]]);
    expect((createPolicy('continuum', env(1, 1)) as ContinuumPolicy).defaultTtlS).toBe(2);
    expect((createPolicy('astraea', env(1, 1)) as AstraeaPaperPolicy).mlfq.thresholds).toEqual([256, 1024, 4096, Infinity]);
  });

  it('multiplies seconds by the time scale and tokens by the token scale', () => {
    // The CPU bench's coding scale: tokens ×0.006, time ×0.02.
    const thunder = createPolicy('thunderagent', env(0.006, 0.02)) as ThunderAgentPolicy;
    expect(thunder.checkIntervalS).toBeCloseTo(0.1, 12); // 5 s × 0.02
    expect(thunder.decodeBufferTokens).toBe(2); // round(256 × 0.006 = 1.536)
    const autellix = createPolicy('autellix', env(0.006, 0.02)) as AutellixPolicy;
    expect(autellix.starvationS).toBeCloseTo(0.2, 12);
    [1.536, 6.144, 24.576, 98.304].forEach((t, i) => expect(autellix.levelThresholds[i]).toBeCloseTo(t, 9));
    expect((createPolicy('continuum', env(0.006, 0.02)) as ContinuumPolicy).defaultTtlS).toBeCloseTo(0.04, 12);
    const paper = createPolicy('astraea-paper', env(0.1, 0.1)) as AstraeaPaperPolicy;
    [25.6, 102.4, 409.6, Infinity].forEach((t, i) => expect(paper.mlfq.thresholds[i]).toBeCloseTo(t, 9));
  });

  it('lets an explicit option win over the scaled default', () => {
    const thunder = createPolicy('thunderagent', env(0.006, 0.02), { checkIntervalS: 7 }) as ThunderAgentPolicy;
    expect(thunder.checkIntervalS).toBe(7);
    const astraea = createPolicy('astraea', env(0.1, 0.1), { levels: 2 }) as AstraeaPaperPolicy;
    expect(astraea.mlfq.thresholds).toEqual([256, Infinity]);
  });

  it('reaches the policies from a scaled workload through the simulator', async () => {
    // At time ×0.02 ThunderAgent checks memory every 0.1 s: a run of a few seconds sees tens of
    // checks, not one every 5 s. The same jobs, told they are full scale, differ in outcome.
    const workload = generateWorkload('coding', { jobs: 6, load: 2, seed: 3, scale: { tokens: 0.006, time: 0.02 } });
    const run = (options: { workloadScale?: { tokens: number; time: number }; policyOptions?: Record<string, unknown> }) =>
      simulate(workload.jobs, { profile: 'cpu-small', policy: 'thunderagent', kvBlocks: 96, ...options });
    const [scaled, byHand, unscaled] = await Promise.all([
      run({ workloadScale: workload.params.scale }),
      // The scaled constants worked out by hand (5 s × 0.02; round(256 × 0.006)), given explicitly.
      run({ policyOptions: { checkIntervalS: 0.1, decodeBufferTokens: 2 } }),
      run({}),
    ]);
    const jcts = (r: Awaited<ReturnType<typeof simulate>>) => r.outcomes.map((o) => o.jctS);
    expect(scaled.outcomes.every((o) => o.error === null)).toBe(true);
    expect(jcts(scaled)).toEqual(jcts(byHand));
    expect(jcts(scaled)).not.toEqual(jcts(unscaled));
  });
});
