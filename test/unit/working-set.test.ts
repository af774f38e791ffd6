/**
 * Working-set admission (lib/sched/working-set.ts) and astraea's rule 11 built on it: a job whose
 * KV is off the device is let in only while it fits, in the policy's order or (an option) the job
 * likeliest to end first. Every figure is worked out by hand in the comments.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { AstraeaPolicy } from '../../lib/sched/astraea.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import type { SchedulingCandidate } from '../../lib/sched/policy.js';
import { admissionTokens, admitWorkingSet, type AdmissionScope } from '../../lib/sched/working-set.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';
import { cand, ids, waiting } from './scheduling-fixtures.js';

describe('admitWorkingSet', () => {
  // a: on the device, 50 tokens to prefill and 50 of its 100 expected output to come: grows 100.
  const a = cand('a', { kv: 'device', running: true, pendingPrefillTokens: 50, generatedTokens: 50, expectedOutputTokens: 100 });
  // b: new, 500 tokens of context + 100 expected output = 600. c: 400 + 100 = 500. d: on the host, 200 + 100 = 300.
  const b = cand('b', { contextTokens: 500, pendingPrefillTokens: 499, expectedOutputTokens: 100 });
  const c = cand('c', { contextTokens: 400, pendingPrefillTokens: 399, expectedOutputTokens: 100 });
  const d = cand('d', { kv: 'host', contextTokens: 200, expectedOutputTokens: 100 });

  it('lets the device-resident in, then the others most urgent first while each fits', () => {
    // Room 1,000 − a's 100 = 900: b (600) fits, 300 left; c (500) does not; d (300) does.
    expect(ids(admitWorkingSet([a, b, c, d], { freeTokens: 1000, parkableTokens: 0 }))).toEqual(['a', 'b', 'd']);
  });

  it('counts what jobs waiting on tools may give up as room', () => {
    // 600 free + 400 parkable: the same 1,000.
    expect(ids(admitWorkingSet([a, b, c, d], { freeTokens: 600, parkableTokens: 400 }))).toEqual(['a', 'b', 'd']);
    // 300 in all, 200 after a: nothing else fits.
    expect(ids(admitWorkingSet([a, b, c, d], { freeTokens: 300, parkableTokens: 0 }))).toEqual(['a']);
  });

  it('lets the most urgent in when nothing is on the device and nothing fits (the engine must run something)', () => {
    expect(ids(admitWorkingSet([c, b], { freeTokens: 10, parkableTokens: 0 }))).toEqual(['c']);
    expect(admitWorkingSet([], { freeTokens: 10, parkableTokens: 0 })).toEqual([]);
  });

  it("with scope 'round', reserves what a job's next segment will add too (rule 16)", () => {
    // e: new, 200 of context + 100 expected output, and 300 more expected from its next segment:
    // 300 for its segment, 600 for the round. Room 1,000 − a's 100 = 900.
    const e = cand('e', { contextTokens: 200, pendingPrefillTokens: 199, expectedOutputTokens: 100, nextSegmentTokens: 300 });
    expect([admissionTokens(e), admissionTokens(e, 'segment'), admissionTokens(e, 'round')]).toEqual([300, 300, 600]);
    expect(admissionTokens(b, 'round')).toBe(600); // no next segment expected: the same as its segment
    // By segment: e (300), then b (600): 900, both in. By round: e (600), 300 left; b (600) does
    // not fit; d (300) does.
    expect(ids(admitWorkingSet([a, e, b, d], { freeTokens: 1000, parkableTokens: 0 }, undefined, 'segment'))).toEqual(['a', 'e', 'b']);
    expect(ids(admitWorkingSet([a, e, b, d], { freeTokens: 1000, parkableTokens: 0 }, undefined, 'round'))).toEqual(['a', 'e', 'd']);
  });

  it("with scope 'first-round', reserves the next segment only for a job that has not run yet (rule 16)", () => {
    // The same 200 + 100 with 300 more to come, new (e), back from a tool call with its KV on the
    // host (f: segment 1), or new with prompt already computed (g: attained 150): 600 for e by the
    // first round, 300 for f and g, as by the segment; by the round 600 for all three.
    const shape = { contextTokens: 200, expectedOutputTokens: 100, nextSegmentTokens: 300 };
    const e = cand('e', { ...shape, pendingPrefillTokens: 199 });
    const f = cand('f', { ...shape, kv: 'host', segmentIndex: 1, attainedTokens: 150 });
    const g = cand('g', { ...shape, attainedTokens: 150, pendingPrefillTokens: 50 });
    expect([e, f, g].map((x) => admissionTokens(x, 'first-round'))).toEqual([600, 300, 300]);
    expect([e, f, g].map((x) => admissionTokens(x, 'round'))).toEqual([600, 600, 600]);
    // Room 1,000 − a's 100 = 900. First round: f (300), e (600): 900, both in, then nothing for g.
    // By the round: f (600), 300 left; e (600) does not fit; g (600) does not either.
    expect(ids(admitWorkingSet([a, f, e, g], { freeTokens: 1000, parkableTokens: 0 }, undefined, 'first-round'))).toEqual(['a', 'f', 'e']);
    expect(ids(admitWorkingSet([a, f, e, g], { freeTokens: 1000, parkableTokens: 0 }, undefined, 'round'))).toEqual(['a', 'f']);
  });

  it('considers the jobs outside in the order `before` gives, and returns the order given', () => {
    // Largest first: b (600) fits the 900 left after a, 300 left; c (500) does not; d (300) does.
    // Smallest first: d (300), 600 left; c (500), 100 left; b does not fit. Either way the result
    // keeps the order given.
    const largest = (x: SchedulingCandidate, y: SchedulingCandidate) => admissionTokens(y) - admissionTokens(x);
    const smallest = (x: SchedulingCandidate, y: SchedulingCandidate) => admissionTokens(x) - admissionTokens(y);
    expect(ids(admitWorkingSet([a, b, c, d], { freeTokens: 1000, parkableTokens: 0 }, largest))).toEqual(['a', 'b', 'd']);
    expect(ids(admitWorkingSet([a, b, c, d], { freeTokens: 1000, parkableTokens: 0 }, smallest))).toEqual(['a', 'c', 'd']);
    // Nothing on the device and nothing fits: the first in `before`'s order goes in (c, 500 < 600).
    expect(ids(admitWorkingSet([b, c], { freeTokens: 10, parkableTokens: 0 }, smallest))).toEqual(['c']);
  });
});

/** KV 1,000 bytes per token, copies at 1 MB/s: a 100-token context copies one way in 0.1 s. */
function memory(freeTokens: number): MemoryView {
  return { usedFraction: 0.5, waitingTokens: 0, freeTokens, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 1e-3, stepS: 0.05 };
}

describe('astraea: working-set admission (rule 11)', () => {
  // Every tool takes 10 s. n arrived at 0 and needs 550 + 50 = 600 tokens; small arrived at 5 and
  // needs 50 + 50 = 100. With T = 1 s and W the age at t = 10, n (10 + 1)/1 goes before small (5 + 1)/1.
  const n = cand('n', { jobArrivalS: 0, contextTokens: 550, expectedOutputTokens: 50 });
  const small = cand('small', { jobArrivalS: 5, contextTokens: 50, expectedOutputTokens: 50 });
  const policy = () => new AstraeaPolicy({ serviceTime: () => 1, memory: () => memory(100), toolTimeS: () => 10 });

  it('counts as room the KV of a tool wait that rule 3 would move: back after the cheaper of copy and recompute', () => {
    const p = policy();
    // far: 500 tokens, 9 s left > min(2 × 0.5 s round trip, 0.5 s recompute): parkable. soon: 300
    // tokens, 0.1 s left < min(0.6, 0.3): not. Room 100 free + 500 = 600: n fits, then nothing is
    // left for small.
    p.revisitToolWaits([waiting('far', 500, 1, 'device'), waiting('soon', 300, 9.9, 'device')], 10);
    expect(ids(p.order([n, small], 10))).toEqual(['n']);
  });

  it('without this step’s look at the tool waits, only free memory counts: small fits in 100, n does not', () => {
    const p = policy();
    p.revisitToolWaits([waiting('far', 500, 1, 'device')], 10);
    p.order([n, small], 10);
    // The next step's order with no revisit before it: the engine found no tool wait on the device.
    expect(ids(p.order([n, small], 11))).toEqual(['small']);
  });

  it('with admissionOrder likeliest-to-end, lets in first the job likeliest to end with this segment', () => {
    // Room 700; each needs 600: one goes in. old arrived at 0 with 3 segments expected after this
    // one: T = 1 × (1 + 3) = 4 s; it has waited 10 s: ratio 14/4 = 3.5. young waited 1 s with none
    // expected after: T = 1, ratio 2. The order puts old first. But old's kind ends a job with this
    // segment 10% of the time and young's 40%: that option takes young, and the order stays the
    // policy's; the default admits in the order, old.
    const old = cand('old', { jobArrivalS: 0, accumulatedWaitS: 10, contextTokens: 550, expectedOutputTokens: 50, expectedFutureSegments: 3, lastSegmentChance: 0.1 });
    const young = cand('young', { jobArrivalS: 9, accumulatedWaitS: 1, contextTokens: 550, expectedOutputTokens: 50, lastSegmentChance: 0.4 });
    const resident = cand('resident', { kv: 'device', running: true, jobArrivalS: 10, contextTokens: 10, expectedOutputTokens: 0 });
    const withOrder = (admissionOrder?: 'likeliest-to-end' | 'policy', free = 700) =>
      new AstraeaPolicy({ serviceTime: () => 1, memory: () => memory(free), toolTimeS: () => 10, admissionOrder });
    expect(ids(withOrder('likeliest-to-end').order([old, young, resident], 10))).toEqual(['resident', 'young']);
    expect(ids(withOrder().order([old, young, resident], 10))).toEqual(['resident', 'old']);
    expect(ids(withOrder('policy').order([old, young, resident], 10))).toEqual(['resident', 'old']);
    // Both fit in 1,300: the policy's order, old first.
    expect(ids(withOrder('likeliest-to-end', 1300).order([old, young, resident], 10))).toEqual(['resident', 'old', 'young']);
  });

  it('lets a brief segment in before the policy’s order (rule 13), and only a brief one', () => {
    // Room 700. fresh (arrived at 0, waited 10 s): 550 tokens of prompt to compute, 50 out: needs
    // 600, ratio (10 + 1)/1 = 11. back (arrived at 9, waited 1 s): on the host with 600 of context,
    // 32 prompt tokens and 1 token out: needs 601, ratio 2. The policy's order puts fresh first
    // and one of the two fits: rule 13 takes back (32 ≤ 256 prompt, 1 ≤ 2 out), off it takes fresh.
    const fresh = cand('fresh', { jobArrivalS: 0, accumulatedWaitS: 10, contextTokens: 550, pendingPrefillTokens: 550, expectedOutputTokens: 50 });
    const back = cand('back', { kv: 'host', jobArrivalS: 9, accumulatedWaitS: 1, contextTokens: 600, pendingPrefillTokens: 32, expectedOutputTokens: 1 });
    const withRule = (briefFirst?: boolean) => new AstraeaPolicy({ serviceTime: () => 1, memory: () => memory(700), toolTimeS: () => 10, briefFirst });
    expect(ids(withRule().order([fresh, back], 10))).toEqual(['back']);
    expect(ids(withRule(false).order([fresh, back], 10))).toEqual(['fresh']);
    // Three tokens still to come, or a prompt of 257: not brief, the policy's order again.
    const notBrief = [cand('back', { ...back, expectedOutputTokens: 3 }), cand('back', { ...back, pendingPrefillTokens: 257 })];
    for (const other of notBrief) expect(ids(withRule().order([fresh, other], 10))).toEqual(['fresh']);
    // Tokens already generated count against the expected: 5 expected, 3 out, 2 to come is brief.
    expect(ids(withRule().order([fresh, cand('back', { ...back, expectedOutputTokens: 5, generatedTokens: 3 })], 10))).toEqual(['back']);
  });

  it("admits a new job by the KV it needs to come back from its next tool call by default, by the segment's with admissionScope 'segment' (rule 16)", () => {
    // Room 700. long (arrived at 0): 300 of context and 50 out, 400 more expected from its next
    // segment — 350 for the segment, 750 for the round. short (arrived at 1): 200 + 50, no next
    // segment — 250 either way. The order puts long first (W 10 against 9, T 1 each). By the
    // round, long does not fit in 700 and short does; by the segment both fit (600).
    const long = cand('long', { jobArrivalS: 0, contextTokens: 300, pendingPrefillTokens: 299, expectedOutputTokens: 50, nextSegmentTokens: 400 });
    const short = cand('short', { jobArrivalS: 1, contextTokens: 200, pendingPrefillTokens: 199, expectedOutputTokens: 50 });
    const withScope = (admissionScope?: AdmissionScope) => new AstraeaPolicy({ serviceTime: () => 1, memory: () => memory(700), toolTimeS: () => 10, admissionScope });
    expect(ids(withScope().order([long, short], 10))).toEqual(['short']);
    expect(ids(withScope('round').order([long, short], 10))).toEqual(['short']);
    expect(ids(withScope('segment').order([long, short], 10))).toEqual(['long', 'short']);
    // long back from a tool call, its KV on the host (segment 1, 300 computed): by default it
    // needs its segment's 350 alone and both fit; by the round it still needs 750 and waits.
    const back = cand('long', { ...long, kv: 'host', segmentIndex: 1, attainedTokens: 300, pendingPrefillTokens: 0 });
    expect(ids(withScope().order([back, short], 10))).toEqual(['long', 'short']);
    expect(ids(withScope('round').order([back, short], 10))).toEqual(['short']);
  });

  it("shows every ready job with the rule off (the ablation)", () => {
    const p = new AstraeaPolicy({ serviceTime: () => 1, memory: () => memory(100), toolTimeS: () => 10, admission: 'all' });
    expect(ids(p.order([n, small], 10))).toEqual(['n', 'small']);
  });
});

describe('astraea on the simulated engine: admission keeps the working set from thrashing (rule 11)', () => {
  // 24 blocks of 16 tokens, no host pool; a step costs 0.01 s + 0.01 s a token, and copies are
  // slow (50 kB/s at 1 kB a token). Oracle hints give the policy every output length and tool time.
  // - a (t = 0): 80 prompt tokens (a 0.81 s step), 2 out; pauses at 0.99 s on a 0.6 s tool holding
  //   82 tokens (5 full blocks and 2 tokens); back at 1.59 s for 1 token.
  // - r (t = 0.05): 16 tokens, 100 out, decoding from 0.99 s (0.02 s a token: done near 3 s).
  // - b (t = 1): 300 tokens, 50 out. Its prompt alone needs 19 blocks; 16 are free.
  // With the rule, b needs 350 tokens and the room is 256 free less what r will still grow by:
  // b waits. (Rule 3 gives a's KV to the prefix cache meanwhile — b waits for memory — and a's 5
  // full blocks are still there when it returns: it computes only its partial block again.) a
  // and r finish undisturbed, then b runs alone. Without the rule, b's 300-token prompt runs at
  // once (a 3 s step), takes the prefix-cached blocks of a, and r is preempted for memory: both
  // compute their contexts again.
  const jobs: WorkloadJob[] = [
    { id: 'a', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 80, outputTokens: 2, tool: { name: 't', durationS: 0.6 } }, { inputTokens: 1, outputTokens: 1, tool: null }] },
    { id: 'r', arrivalS: 0.05, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 100, tool: null }] },
    { id: 'b', arrivalS: 1, kind: 'k', segments: [{ inputTokens: 300, outputTokens: 50, tool: null }] },
  ];

  async function run(admission: 'working-set' | 'all') {
    const clock = new VirtualClock();
    const backend = new SimulatedBackend(
      { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 },
      { name: 'c', fixedS: 0.01, tokenS: 0.01, contextTokenS: 0, swapBytesPerS: 5e4 },
      16,
      clock,
    );
    const engine = Engine.withBackend(backend, { policy: 'astraea', policyOptions: { admission }, kvBlocks: 24, hostBlocks: 0, clock });
    const done = runWorkload(engine, jobs, clock, { hints: 'oracle' });
    await clock.run();
    const outcomes = await done;
    const stats = engine.stats();
    engine.checkInvariants();
    await engine.close();
    return { outcomes, stats };
  }

  it('with the rule, b waits; a and r finish first, nothing is preempted, and a recomputes less than a block', async () => {
    const { outcomes, stats } = await run('working-set');
    expect(outcomes.map((o) => [o.id, o.error])).toEqual([
      ['a', null],
      ['r', null],
      ['b', null],
    ]);
    expect(stats.preemptions).toBe(0);
    expect(stats.kvTraffic.recomputedPrefillTokens).toBeLessThan(16);
  });

  it('without it (the ablation), b runs at once, r is preempted, and both compute their contexts again', async () => {
    const { outcomes, stats } = await run('all');
    expect(outcomes.map((o) => [o.id, o.error])).toEqual([
      ['b', null],
      ['a', null],
      ['r', null],
    ]);
    expect(stats.preemptions).toBe(1);
    // At least a's whole 82-token context (b's prompt overwrote its cached blocks).
    expect(stats.kvTraffic.recomputedPrefillTokens).toBeGreaterThanOrEqual(82);
  });
});
