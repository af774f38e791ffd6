/**
 * The soak's short version (bench/server/soak-run.ts; the script runs it for hours): a minute of
 * agent jobs over HTTP with aborted streams, two calls at once on a job, jobs closed during their
 * calls, malformed bodies, slow readers and forced tool calls, on a 48-block pool that preempts and
 * swaps. No response may break the rules (no 5xx, every error an OpenAI error body, every
 * completed stream ends with [DONE]), and once every job is closed nothing may be left: no block
 * owned on either pool, no job open or running, no call waiting.
 */
import { describe, expect, it } from 'vitest';
import { runSoak } from '../../bench/server/soak-run.js';

describe('soak', () => {
  it('a minute of faulty agent traffic: every response by the rules, nothing left at the end', async () => {
    const report = await runSoak({ durationS: 60, concurrency: 8, kvBlocks: 48, seed: 1, maxTokens: 48, toolMs: 200 });
    expect(report.violations).toEqual([]);
    expect(report.end).toEqual({ ownedBlocks: 0, hostOwned: 0, runningJobs: 0, openJobs: 0, waiting: 0 });
    // Every kind of fault was exercised, and the traffic was real: most calls completed.
    for (const n of Object.values(report.faults)) expect(n).toBeGreaterThan(0);
    expect(report.statuses['200']).toBeGreaterThan(report.calls / 2);
    expect(report.statuses['409']).toBeGreaterThan(0); // two calls at once on a named job
    expect(Object.keys(report.statuses).filter((s) => /^5/.test(s))).toEqual([]);
    // The pool was tight enough to matter: jobs were preempted, or their KV swapped or dropped.
    const { preemptions, swappedToolWaits, discardedToolWaits } = report.pressure;
    expect(preemptions + swappedToolWaits + discardedToolWaits).toBeGreaterThan(0);
  }, 180_000);
});
