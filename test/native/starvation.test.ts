/**
 * Starvation: a long compute-heavy job among an endless stream of short I/O-heavy jobs. One
 * sequence runs per step, so every step the policy chooses between the long job and the short
 * ones. The long job first does a heavy segment (300 tokens of work: past astraea-paper's Q0
 * quota and autellix's first level), so when it resumes it ranks below every fresh short job
 * under the service-based policies.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { EngineOptions } from '../../lib/engine/types.js';
import { AutellixPolicy } from '../../lib/sched/autellix.js';
import { testIds } from './fixtures.js';

const LONG_TOKENS = 40;
/** The bound: the long job ends before this many short jobs have completed. */
const BOUND_SHORT_JOBS = 40;
/** The stream stops after this many short jobs, so a starving policy still ends the test. */
const STREAM_CAP = 3 * BOUND_SHORT_JOBS;

/** Returns how many short jobs completed while the long job was still unfinished. */
async function shortJobsBeforeLong(policy: EngineOptions['policy']): Promise<number> {
  const engine = await Engine.create({ model: 'tiny', policy, kvBlocks: 256, blockSize: 4, maxBatchSequences: 1, maxBatchTokens: 16 });
  try {
    let longDone = false;
    let shortCompleted = 0;
    let shortStarted = 0;
    const long = engine.createJob({ id: 'long', kind: 'compute' });
    await long.generate({ tokens: testIds(12, 384, 1), maxTokens: 300, ignoreEos: true, endsWithToolCall: true }).done;
    const longResult = long.resume({ tokens: [3, 4], maxTokens: LONG_TOKENS, ignoreEos: true }).done.then((r) => {
      longDone = true;
      return r;
    });
    // Three short tool-using jobs are always in the system until the long one ends (or the cap).
    const runShort = async (): Promise<void> => {
      while (!longDone && shortStarted < STREAM_CAP) {
        const job = engine.createJob({ kind: 'io' });
        shortStarted++;
        await job.generate({ tokens: testIds(4, 384, shortStarted), maxTokens: 2, ignoreEos: true, endsWithToolCall: true }).done;
        await job.resume({ tokens: [7, 8], maxTokens: 2, ignoreEos: true }).done;
        job.close();
        if (!longDone) shortCompleted++;
      }
    };
    await Promise.all([runShort(), runShort(), runShort()]);
    expect((await longResult).tokens).toHaveLength(LONG_TOKENS);
    long.close();
    engine.checkInvariants();
    return shortCompleted;
  } finally {
    await engine.close();
  }
}

describe('starvation', () => {
  it.each(['fcfs', 'infercept', 'continuum'] as const)(`%s (job or segment arrival order) bounds it below ${BOUND_SHORT_JOBS} short jobs`, async (policy) => {
    expect(await shortJobsBeforeLong(policy)).toBeLessThan(BOUND_SHORT_JOBS);
  });

  it(`autellix's starvation promotion (1 ms here) bounds it below ${BOUND_SHORT_JOBS} short jobs`, async () => {
    expect(await shortJobsBeforeLong(new AutellixPolicy({ starvationS: 0.001 }))).toBeLessThan(BOUND_SHORT_JOBS);
  });

  it('astraea (aging from every queue) finishes it while the stream still runs', async () => {
    // Its bound is the aging rule: the demoted job returns to Q0 once (W + T)/T > 8, i.e. after
    // waiting 7 of its predicted service times (~60 short jobs here), not when the stream ends.
    expect(await shortJobsBeforeLong('astraea')).toBeLessThan(STREAM_CAP - 20);
  });

  it('astraea-paper, as the paper specifies it, starves a demoted job: aging lifts only the lowest queue', async () => {
    // The long job sits in Q1, above the lowest queue, so it is never aged; fresh Q0 jobs always
    // win. This is the paper's known limitation, kept in the faithful policy on purpose; the
    // product policy must meet the bound above.
    expect(await shortJobsBeforeLong('astraea-paper')).toBeGreaterThanOrEqual(BOUND_SHORT_JOBS);
  });
});
