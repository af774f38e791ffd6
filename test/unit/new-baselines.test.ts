/**
 * The three newer baselines: ThunderAgent (program pause/resume under memory pressure), Tokencake
 * (offload at a tool call, upload before the predicted return, a reserve for critical agents) and
 * MORI (idleness-ranked device/host tiers). Each defining rule is pinned by calling the policy
 * directly with hand-built views, then shown through the engine on the simulator (exact in
 * virtual time).
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import type { MemoryView } from '../../lib/sched/kv-waste.js';
import { MoriPolicy } from '../../lib/sched/mori.js';
import type { PausedJobView, SegmentEndView } from '../../lib/sched/policy.js';
import { createPolicy, POLICY_NAMES, type PolicyName } from '../../lib/sched/registry.js';
import { ThunderAgentPolicy } from '../../lib/sched/thunderagent.js';
import { TokencakePolicy } from '../../lib/sched/tokencake.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import type { WorkloadJob } from '../../lib/workload/format.js';
import { runWorkload } from '../../lib/workload/replay.js';
import { cand, ids, waiting } from './scheduling-fixtures.js';

const paused = (jobId: string, contextTokens: number, over: Partial<PausedJobView> = {}): PausedJobView => ({ jobId, kind: 'k', contextTokens, tool: 't', ...over });


const toolEnd = (jobId: string): SegmentEndView => ({ jobId, kind: 'k', segmentIndex: 0, reason: 'tool_call', generatedTokens: 2, computedPromptTokens: 0, tool: 't' });

describe('ThunderAgentPolicy', () => {
  it('without pressure keeps an acting program’s KV and changes nothing later', () => {
    const p = new ThunderAgentPolicy({ capacityTokens: () => 10_000 });
    expect(ids(p.order([cand('a', { running: true }), cand('b', { running: true })], 0))).toEqual(['a', 'b']);
    expect(p.onToolWait(paused('a', 100), 0.1)).toBe('preserve');
    // 100 + 100 + 2 × 256 = 712 tokens needed of 10,000: nothing to pause at any check.
    expect(p.order([cand('b', { running: true })], 10)).toHaveLength(1);
    expect(p.revisitToolWaits([waiting('a', 100, 10, 'device')], 10).size).toBe(0);
    expect(p.isPaused('a')).toBe(false);
  });

  it('under pressure pauses the shortest acting program first (its KV goes), and holds it when it returns', () => {
    // Buffer 0, capacity 1,220 tokens, a check every 5 s.
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1220, decodeBufferTokens: 0, checkIntervalS: 5 });
    // t = 0: r (100), a (500), b (300) arrive, 900 ≤ 1,220: each is admitted at once.
    expect(ids(p.order([cand('r', { running: true, contextTokens: 100 }), cand('a', { contextTokens: 500 }), cand('b', { contextTokens: 300 })], 0))).toEqual(['r', 'a', 'b']);
    expect(p.onToolWait(paused('a', 500), 0.5)).toBe('preserve');
    expect(p.onToolWait(paused('b', 300), 0.5)).toBe('preserve');
    // t = 5, a check: r has grown to 700. Active need 700 + 500 + 300 = 1,500 > 1,220: pause the
    // shortest acting program, b (300) → 1,200 ≤ 1,220, so a (500) stays.
    p.order([cand('r', { running: true, contextTokens: 700 })], 5);
    expect(p.isPaused('b')).toBe(true);
    expect(p.isPaused('a')).toBe(false);
    // Before the next step b's device KV is released to the prefix cache; a's stays.
    expect([...p.revisitToolWaits([waiting('a', 500, 4.5, 'device'), waiting('b', 300, 4.5, 'device')], 5)]).toEqual([['b', 'release']]);
    // t = 6: a and b return; n1 (350) and n2 (150) arrive. a is active and runs; b waits in the
    // queue; the new programs queue behind it (the queue is not empty).
    // (a has its KV; b's was released and n1, n2 have none: all but the last token to prefill.)
    const at6 = [
      cand('r', { running: true, contextTokens: 700 }),
      cand('a', { contextTokens: 510, pendingPrefillTokens: 9, segmentQueuedS: 6 }),
      cand('b', { contextTokens: 310, pendingPrefillTokens: 309, segmentQueuedS: 6 }),
      cand('n1', { contextTokens: 350, pendingPrefillTokens: 349, segmentQueuedS: 6.1 }),
      cand('n2', { contextTokens: 150, pendingPrefillTokens: 149, segmentQueuedS: 6.2 }),
    ];
    expect(ids(p.order(at6, 6))).toEqual(['r', 'a']);
  });

  it('resumes queued programs by priority group, the shortest first, while they fit', () => {
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1220, decodeBufferTokens: 0, checkIntervalS: 5 });
    p.order([cand('r', { running: true, contextTokens: 100 }), cand('a', { contextTokens: 500 }), cand('b', { contextTokens: 300 })], 0);
    p.onToolWait(paused('a', 500), 0.5);
    p.onToolWait(paused('b', 300), 0.5);
    p.order([cand('r', { running: true, contextTokens: 700 })], 5); // pauses b, as above
    const queued = [
      cand('b', { contextTokens: 310, pendingPrefillTokens: 309, segmentQueuedS: 6 }),
      cand('n1', { contextTokens: 350, pendingPrefillTokens: 349, segmentQueuedS: 6.1 }),
      cand('n2', { contextTokens: 150, pendingPrefillTokens: 149, segmentQueuedS: 6.2 }),
    ];
    p.order([cand('r', { running: true, contextTokens: 700 }), cand('a', { contextTokens: 510, segmentQueuedS: 6 }), ...queued], 6);
    p.onJobClosed('r');
    p.onGroupClosed('r');
    // t = 8: no check yet (last at 5): only a runs.
    expect(ids(p.order([cand('a', { running: true, contextTokens: 510 }), ...queued], 8))).toEqual(['a']);
    // t = 10, a check: 1,220 − 510 = 710 left. First the program that ran before, b (310) → 400
    // left; then the new ones shortest first: n2 (150) → 250 left; n1 (350) no longer fits.
    // (Largest first would have taken n1 and left no room for n2.)
    expect(ids(p.order([cand('a', { running: true, contextTokens: 510 }), ...queued], 10))).toEqual(['a', 'b', 'n2']);
    expect(p.isPaused('n1')).toBe(true);
  });

  it('at a check pauses acting programs, the shortest first, to let a waiting program in', () => {
    // Buffer 0, capacity 1,000. a (400) and b (300) are admitted and go to their tools with their
    // KV kept (700 ≤ 1,000); c (250) arrives and runs; at t = 1 it grows to 290 (990 in all).
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1000, decodeBufferTokens: 0, checkIntervalS: 5 });
    p.order([cand('a', { running: true, contextTokens: 400 }), cand('b', { running: true, contextTokens: 300 })], 0);
    expect(p.onToolWait(paused('a', 400), 0.5)).toBe('preserve');
    expect(p.onToolWait(paused('b', 300), 0.5)).toBe('preserve');
    expect(ids(p.order([cand('c', { contextTokens: 250, pendingPrefillTokens: 249, segmentQueuedS: 0.6 })], 0.6))).toEqual(['c']);
    // d (200) arrives at t = 1: 990 + 200 > 1,000, so it queues (no check until t = 5).
    const d = cand('d', { contextTokens: 200, pendingPrefillTokens: 199, segmentQueuedS: 1 });
    expect(ids(p.order([cand('c', { running: true, contextTokens: 290 }), d], 1))).toEqual(['c']);
    // t = 5, a check: nothing overflows (990 ≤ 1,000), but d waits with a call to run. Pausing
    // the shortest acting program, b (300), leaves 1,000 − 690 = 310 ≥ 200: d goes in, a keeps
    // its KV. (Before this rule d waited until a program finished.)
    expect(ids(p.order([cand('c', { running: true, contextTokens: 290 }), d], 5))).toEqual(['c', 'd']);
    expect([p.isPaused('b'), p.isPaused('a'), p.isPaused('d')]).toEqual([true, false, false]);
  });

  it('with no acting program left, marks the shortest reasoning one and pauses it at its tool call', () => {
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1000, decodeBufferTokens: 0, checkIntervalS: 5 });
    p.order([cand('big', { running: true, contextTokens: 500 }), cand('small', { running: true, contextTokens: 300 })], 0);
    // t = 5: 800 + 300 = 1,100 > 1,000 and nobody acts: mark small (300) → 800 ≤ 1,000.
    p.order([cand('big', { running: true, contextTokens: 800 }), cand('small', { running: true, contextTokens: 300 })], 5);
    expect(p.isMarked('small')).toBe(true);
    expect(p.isMarked('big')).toBe(false);
    expect(p.onToolWait(paused('small', 300), 5.5)).toBe('release');
    expect(p.isPaused('small')).toBe(true);
    expect(p.onToolWait(paused('big', 800), 5.6)).toBe('preserve');
  });

  it('admits the head of the queue when nothing else would run', () => {
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1000 });
    // 5,000 + 256 never fits, but an order with nothing in it would stall the engine.
    expect(ids(p.order([cand('huge', { contextTokens: 5000, pendingPrefillTokens: 4999 })], 0))).toEqual(['huge']);
  });

  it('puts a held-back call that still has KV last instead of leaving it out', () => {
    const p = new ThunderAgentPolicy({ capacityTokens: () => 1000, decodeBufferTokens: 0 });
    p.order([cand('r', { running: true, contextTokens: 600 }), cand('q', { contextTokens: 300, pendingPrefillTokens: 299 })], 0);
    p.onToolWait(paused('q', 300), 0.1);
    // t = 5: r grew to 800; 800 + 300 > 1,000: q (acting) is paused. Its tool returns before the
    // release: it is held back, but with 295 of its 300 tokens computed it is shown last.
    p.order([cand('r', { running: true, contextTokens: 800 })], 5);
    expect(p.isPaused('q')).toBe(true);
    expect(ids(p.order([cand('r', { running: true, contextTokens: 800 }), cand('q', { contextTokens: 300, pendingPrefillTokens: 4, segmentQueuedS: 5 })], 5.01))).toEqual(['r', 'q']);
    // With its KV released first, the same call is left out.
    expect(ids(p.order([cand('r', { running: true, contextTokens: 800 }), cand('q', { contextTokens: 300, pendingPrefillTokens: 299, segmentQueuedS: 5 })], 5.02))).toEqual(['r']);
  });

  it('reclaims the longest-waiting preserved KV first, leaving it to the prefix cache', () => {
    const p = new ThunderAgentPolicy();
    expect(p.reclaimOrder([waiting('x', 100, 1, 'device'), waiting('y', 50, 3, 'device')], 3)).toEqual(['y', 'x']);
    expect(p.reclaimAction(waiting('x', 100, 1, 'device'), 3)).toBe('discard');
    expect(p.preemption).toBe('recompute');
  });
});

describe('TokencakePolicy', () => {
  // 1,000 B per token at 1e6 B/s: a context of 100 tokens copies one way in 0.1 s.
  const memory = (): MemoryView => ({ usedFraction: 0.5, waitingTokens: 0, kvBytesPerToken: 1000, swapBytesPerS: 1e6, prefillSPerToken: 0.001, stepS: 0.01 });

  it('offloads at a tool call only when the call outlasts the copy out and back', () => {
    const p = new TokencakePolicy({ memory, toolTimeS: (_t, hint) => hint ?? 1 });
    // Round trip 2 × 0.1 = 0.2 s.
    expect(p.onToolWait(paused('a', 100, { expectedToolS: 0.5 }), 0)).toBe('swap');
    expect(p.onToolWait(paused('b', 100, { expectedToolS: 0.15 }), 0)).toBe('preserve');
    expect(p.onToolWait(paused('c', 100, { expectedToolS: 0.2 }), 0)).toBe('preserve'); // not longer: no gain
  });

  it('names an offloaded job for upload once its predicted remaining time is within the copy time plus the lead, not earlier', () => {
    // A 1 s call (hint), copy back 0.1 s, lead 0.05 s: named once remaining ≤ 0.15 s.
    const p = new TokencakePolicy({ memory, uploadLeadS: 0.05 });
    const at = (waitedS: number) => p.prefetchToolWaits([waiting('a', 100, waitedS, 'host', { expectedToolS: 1 })], waitedS);
    expect(at(0.5)).toEqual([]); // remaining 0.5
    expect(at(0.8)).toEqual([]); // remaining 0.2 > 0.15: the device memory stays lent
    expect(at(0.9)).toEqual(['a']); // remaining 0.1: the copy (0.1 s) lands before the return
    // Earliest predicted return first: b (remaining 0.05) before a (0.1).
    expect(p.prefetchToolWaits([waiting('a', 100, 0.9, 'host', { expectedToolS: 1 }), waiting('b', 100, 0.95, 'host', { expectedToolS: 1 })], 1)).toEqual(['b', 'a']);
  });

  it('the lead defaults to the measured step time', () => {
    // Lead 0.01 s (memory().stepS): named once remaining ≤ 0.11 s.
    const p = new TokencakePolicy({ memory });
    expect(p.prefetchToolWaits([waiting('a', 100, 0.85, 'host', { expectedToolS: 1 })], 1)).toEqual([]); // 0.15
    expect(p.prefetchToolWaits([waiting('a', 100, 0.9, 'host', { expectedToolS: 1 })], 1)).toEqual(['a']); // 0.1
  });

  it('keeps a reserved pool for critical-path agents: other agents wait rather than take it', () => {
    // Capacity 4,000 tokens, reserve at most 0.3 × 4,000 = 1,200.
    const p = new TokencakePolicy({ memory, capacityTokens: () => 4000 });
    // A coder (9 segments ahead, 1,000 tokens) calls a tool.
    p.order([cand('coder1', { kind: 'coder', running: true, contextTokens: 1000, expectedFutureSegments: 9 })], 0);
    p.onToolWait(paused('coder1', 1000, { kind: 'coder' }), 0);
    // New calls: no KV yet (everything but the last token still to prefill).
    const chat = (id: string, contextTokens: number, over = {}) => cand(id, { kind: 'chat', contextTokens, pendingPrefillTokens: contextTokens - 1, expectedFutureSegments: 0, ...over });
    const step = [
      chat('chat1', 2000, { running: true, pendingPrefillTokens: 0 }),
      chat('chat2', 800, { segmentQueuedS: 1 }),
      chat('chat3', 500, { segmentQueuedS: 2 }),
      cand('coder2', { kind: 'coder', contextTokens: 1000, pendingPrefillTokens: 999, expectedFutureSegments: 9, segmentQueuedS: 3 }),
    ];
    // Priorities (weight 0.5): coder path 10, KV 1,000; chat path 1, KV (2,000 + 800 + 500)/3
    // = 1,100. coder 0.5 · 10/10 + 0.5 · 1,000/1,100 ≈ 0.95; chat 0.5 · 1/10 + 0.5 · 1 = 0.55:
    // coder is critical. Reserve min(1,200, 1,000 + 1,000) = 1,200; shared pool 2,800.
    // Running chat1 holds 2,000: chat2 (800) fits the shared pool exactly, chat3 (500) waits.
    // coder2 is critical: 2,800 + 1,000 ≤ 4,000, admitted, in its place (first come, first served).
    expect(p.criticalKinds()).toEqual(new Set(['coder']));
    expect(ids(p.order(step, 3))).toEqual(['chat1', 'chat2', 'coder2']);
    // A held-back call that already has its KV (back from a short call it kept KV through) goes
    // last instead: the planner can take that memory back only from a call in the order.
    expect(ids(p.order([...step.slice(0, 2), { ...step[2], pendingPrefillTokens: 4 }, step[3]], 3))).toEqual(['chat1', 'chat2', 'coder2', 'chat3']);
    // Without a reserve chat3 takes the room first (3,300 ≤ 4,000) and coder2 (4,300 > 4,000) waits.
    const open = new TokencakePolicy({ memory, capacityTokens: () => 4000, maxReservedFraction: 0 });
    open.order([cand('coder1', { kind: 'coder', running: true, contextTokens: 1000, expectedFutureSegments: 9 })], 0);
    expect(ids(open.order(step, 3))).toEqual(['chat1', 'chat2', 'chat3']);
  });

  it('with one agent type every agent is critical: the reserve changes nothing, the whole pool still binds', () => {
    const step = [cand('a', { running: true, contextTokens: 600 }), cand('b', { contextTokens: 300, pendingPrefillTokens: 299, segmentQueuedS: 1 }), cand('c', { contextTokens: 200, pendingPrefillTokens: 199, segmentQueuedS: 2 })];
    // 600 + 300 = 900 ≤ 1,000: b in; 900 + 200 > 1,000: c waits, with or without a reserve.
    expect(ids(new TokencakePolicy({ memory, capacityTokens: () => 1000 }).order(step, 2))).toEqual(['a', 'b']);
    expect(ids(new TokencakePolicy({ memory, capacityTokens: () => 1000, maxReservedFraction: 0 }).order(step, 2))).toEqual(['a', 'b']);
  });

  it('does not name for upload a job the planner took back in the plan just made (its copy out has not run)', () => {
    const p = new TokencakePolicy({ memory, uploadLeadS: 0.05 });
    const x = waiting('x', 100, 0.95, 'host', { expectedToolS: 1 }); // remaining 0.05: due
    p.order([], 0.95);
    expect(p.reclaimAction({ ...x, kv: 'device' }, 0.95)).toBe('swap');
    expect(p.prefetchToolWaits([x], 0.95)).toEqual([]);
    p.order([], 0.96); // the next plan
    expect(p.prefetchToolWaits([{ ...x, waitedS: 0.96 }], 0.96)).toEqual(['x']);
  });

  it('takes back preserved KV of non-critical agents first, the latest predicted return first, to the host', () => {
    const p = new TokencakePolicy({ memory });
    p.order([cand('c', { kind: 'coder', expectedFutureSegments: 9, contextTokens: 1000 }), cand('x', { kind: 'chat', contextTokens: 10 }), cand('y', { kind: 'chat', contextTokens: 10 })], 0);
    const views = [
      waiting('c', 1000, 0.1, 'device', { kind: 'coder', expectedToolS: 5 }),
      waiting('x', 10, 0.1, 'device', { kind: 'chat', expectedToolS: 1 }),
      waiting('y', 10, 0.1, 'device', { kind: 'chat', expectedToolS: 3 }),
    ];
    expect(p.reclaimOrder(views, 0.1)).toEqual(['y', 'x', 'c']);
    expect(p.reclaimAction(views[0], 0.1)).toBe('swap');
  });
});

describe('MoriPolicy', () => {
  /** A job queued at `queuedS` that calls a tool at `toolAtS`. */
  const call = (p: MoriPolicy, jobId: string, queuedS: number, toolAtS: number, contextTokens = 400) => {
    p.order([cand(jobId, { segmentQueuedS: queuedS, contextTokens })], queuedS);
    p.onSegmentEnd(toolEnd(jobId), toolAtS);
  };

  it('scores idleness as the share of recent time spent waiting on tools', () => {
    const p = new MoriPolicy();
    call(p, 'a', 0, 1); // busy 0 → 1, then a tool call
    // t = 2, still waiting: busy 1, idle 1 → 0.5.
    expect(p.idleness('a', 2)).toBe(0.5);
    // The tool returned at 4 (the next call queued then); at t = 5: busy 1 + 1, idle 3 → 0.6.
    p.order([cand('a', { segmentQueuedS: 4 })], 4);
    expect(p.idleness('a', 5)).toBe(0.6);
    expect(p.idleness('unknown', 5)).toBe(0);
  });

  it('forgets cycles older than the window', () => {
    const p = new MoriPolicy({ windowCycles: 1 });
    call(p, 'a', 0, 1); // busy 1
    p.order([cand('a', { segmentQueuedS: 9 })], 9); // idle 8: cycle (1, 8)
    p.onSegmentEnd(toolEnd('a'), 10); // busy 1
    p.order([cand('a', { segmentQueuedS: 11 })], 11); // idle 1: cycle (1, 1); (1, 8) drops out
    // t = 12: window (1, 1) + busy 1 so far → 1 / 3.
    expect(p.idleness('a', 12)).toBeCloseTo(1 / 3, 12);
  });

  it('keeps the busiest programs on the device and moves the most idle to the host', () => {
    // Device tier: 0.9 × 1,000 = 900 tokens; three programs of 400 tokens.
    const p = new MoriPolicy({ capacityTokens: () => 1000 });
    call(p, 'busy', 0, 9); // busy 9 of 10 s at t = 10 → 0.1
    call(p, 'mid', 0, 5); // busy 5, idle 5 → 0.5
    call(p, 'idle', 0, 1); // busy 1, idle 9 → 0.9
    expect(p.idleness('busy', 10)).toBeCloseTo(0.1, 12);
    // Ranked busy (400), mid (800 ≤ 900), idle (1,200 > 900): the boundary falls before idle.
    expect(p.deviceTier(10)).toEqual(new Set(['busy', 'mid']));
    expect(p.onToolWait(paused('busy', 400), 10)).toBe('preserve');
    const moved = p.revisitToolWaits([waiting('busy', 400, 1, 'device'), waiting('mid', 400, 5, 'device'), waiting('idle', 400, 9, 'device')], 10);
    expect([...moved]).toEqual([['idle', 'swap']]);
    // Preserved KV the planner takes back: the most idle first, to the host.
    expect(p.reclaimOrder([waiting('busy', 400, 1, 'device'), waiting('mid', 400, 5, 'device')], 10)).toEqual(['mid', 'busy']);
    expect(p.reclaimAction(waiting('mid', 400, 5, 'device'), 10)).toBe('swap');
  });

  it('moves the boundary with capacity: less room sends the next most idle out, more brings the offloaded back', () => {
    let capacity = 1000;
    const p = new MoriPolicy({ capacityTokens: () => capacity });
    call(p, 'busy', 0, 9);
    call(p, 'mid', 0, 5);
    call(p, 'idle', 0, 1);
    // 0.9 × 500 = 450: only busy fits; mid's device KV goes to the host.
    capacity = 500;
    expect([...p.revisitToolWaits([waiting('busy', 400, 1, 'device'), waiting('mid', 400, 5, 'device')], 10)]).toEqual([['mid', 'swap']]);
    // 0.9 × 1,400 = 1,260 ≥ 1,200: all three fit; the offloaded come back, the busier first.
    capacity = 1400;
    expect(p.prefetchToolWaits([waiting('idle', 400, 9, 'host'), waiting('mid', 400, 5, 'host')], 10)).toEqual(['mid', 'idle']);
    expect(p.preemption).toBe('swap');
    // Not one the planner has just taken back to the host in this plan: its copy out is still owed.
    p.order([], 10);
    p.reclaimAction(waiting('mid', 400, 5, 'device'), 10);
    expect(p.prefetchToolWaits([waiting('idle', 400, 9, 'host'), waiting('mid', 400, 5, 'host')], 10)).toEqual(['idle']);
  });
});

describe('the registry', () => {
  it('builds the three by name and checks their options', () => {
    expect(POLICY_NAMES.slice(POLICY_NAMES.indexOf('continuum') + 1, POLICY_NAMES.indexOf('continuum') + 4)).toEqual(['thunderagent', 'tokencake', 'mori']);
    const env = {
      memory: (): MemoryView => ({ usedFraction: 0.25, waitingTokens: 0, kvBytesPerToken: 1000, swapBytesPerS: 1e9, prefillSPerToken: 0.001, freeTokens: 768 }),
      toolTimeS: () => 1,
      toolRemainingS: () => 1,
      toolOutlasts: (_tool: string, _elapsedS: number, moveCostS: number) => 1 > moveCostS,
      toolTimeQuantileS: () => undefined,
      costs: { prefillSPerToken: 0.001, decodeStepS: 0.01 },
      scale: { tokens: 1, time: 1 },
    };
    for (const name of ['thunderagent', 'tokencake', 'mori'] as PolicyName[]) expect(createPolicy(name, env).name).toBe(name);
    // The pool read off the memory view: 768 free / (1 − 0.25) = 1,024 tokens. MORI's device
    // tier holds 0.9 × 1,024 = 921.6: one program of 900 tokens fits, a second does not.
    const mori = createPolicy('mori', env) as MoriPolicy;
    mori.order([cand('a', { contextTokens: 900 }), cand('b', { contextTokens: 900, segmentQueuedS: 1 })], 1);
    expect(mori.deviceTier(1)).toEqual(new Set(['a']));
    expect(() => createPolicy('tokencake', env, { maxReservedFraction: 2 })).toThrow();
    expect(() => createPolicy('mori', env, { windowCycles: 0 })).toThrow();
    expect(() => createPolicy('thunderagent', env, { checkIntervalS: -1 })).toThrow();
  });
});

// ---------------------------------------------------------------------------------------------
// Through the engine, on the simulator.

const MODEL = { name: 't', vocabSize: 1000, maxPositionEmbeddings: 8192, kvBytesPerToken: 1000 };
// 10 ms a step plus 1 ms a token; a block of 16 tokens (16,000 B) copies in 16 µs.
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };

async function simulate(policy: PolicyName, policyOptions: Record<string, unknown>, jobs: WorkloadJob[], kvBlocks: number, hints: 'oracle' | 'none' = 'none') {
  const clock = new VirtualClock();
  const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy, policyOptions, kvBlocks, hostBlocks: 64, clock });
  const done = runWorkload(engine, jobs, clock, { hints });
  await clock.run();
  const outcomes = await done;
  const stats = engine.stats({ jobs: true });
  engine.checkInvariants();
  await engine.close();
  return { outcomes, stats };
}

type Stats = Awaited<ReturnType<typeof simulate>>['stats'];
const decisionsOf = (stats: Stats, id: string, segment = 0) =>
  stats.jobAccounts!.find((a) => a.id === id)!.segments[segment].decisions.map((d) => [d.action, d.cause, d.atS] as const);
const actions = (stats: Stats, id: string, segment = 0) => decisionsOf(stats, id, segment).map(([a, c]) => [a, c]);

describe('the new baselines through the engine', () => {
  it('thunderagent: under pressure the shorter acting program is paused first, its KV released', async () => {
    // 12 blocks = 192 tokens. 'short' (48 + 2 = 50 tokens) and 'long' (64 + 2 = 66) call a 3 s
    // tool; 'grow' decodes from 16 to 136 tokens meanwhile. Buffer 16 per program, a check every
    // 0.1 s. Need = 50 + 66 + grow + 3 × 16 > 192 once grow > 28: short (the shorter acting
    // program) is paused. Then 66 + grow + 2 × 16 > 192 once grow > 94: long is paused. Each
    // release comes before the planner would have had to reclaim (block counts 4 + 5 + grow's
    // stay within 12 until then), so nothing is reclaimed or preempted.
    const jobs: WorkloadJob[] = [
      { id: 'short', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 3 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'long', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 64, outputTokens: 2, tool: { name: 't', durationS: 3 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'grow', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 120, tool: null }] },
    ];
    const { outcomes, stats } = await simulate('thunderagent', { decodeBufferTokens: 16, checkIntervalS: 0.1 }, jobs, 12);
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    const short = decisionsOf(stats, 'short');
    const long = decisionsOf(stats, 'long');
    expect(short.map(([a, c]) => [a, c])).toEqual([['preserve', 'tool_wait'], ['release', 'tool_wait']]);
    expect(long.map(([a, c]) => [a, c])).toEqual([['preserve', 'tool_wait'], ['release', 'tool_wait']]);
    expect(short[1][2]).toBeLessThan(long[1][2]); // the shorter first
    expect(stats.preemptions).toBe(0);
    expect(stats.reclaimedToolWaits).toBe(0);

    // With room for everything (64 blocks) nothing is paused: both keep their KV and resume on it.
    const roomy = await simulate('thunderagent', { decodeBufferTokens: 16, checkIntervalS: 0.1 }, jobs, 64);
    expect(actions(roomy.stats, 'short')).toEqual([['preserve', 'tool_wait']]);
    expect(actions(roomy.stats, 'long')).toEqual([['preserve', 'tool_wait']]);
    expect(roomy.outcomes.find((o) => o.id === 'short')!.breakdown.kvRecoveryS).toBe(0);
  });

  it('tokencake: the KV goes to the host at the tool call and is back before the tool returns', async () => {
    // 'waiter' (48 + 2 = 50 tokens) calls a 1 s tool, hinted; 'busy' decodes meanwhile (11 ms
    // steps). Copy back 50 × 1,000 B / 1e9 B/s = 50 µs; lead 0.05 s: the upload is decided at the
    // first plan with remaining ≤ 0.05005 s, i.e. 0.94995 s or more into the call and less than
    // one step (0.011 s) after that, well before the return.
    const jobs: WorkloadJob[] = [
      { id: 'waiter', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 't', durationS: 1 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'busy', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 400, tool: null }] },
    ];
    const { outcomes, stats } = await simulate('tokencake', { uploadLeadS: 0.05 }, jobs, 64, 'oracle');
    expect(outcomes.map((o) => o.error)).toEqual([null, null]);
    const [out, back] = decisionsOf(stats, 'waiter');
    expect([out, back].map(([a, c]) => [a, c])).toEqual([['swap', 'tool_wait'], ['swap_in', 'prefetch']]);
    const intoCallS = back[2] - out[2];
    expect(intoCallS).toBeGreaterThanOrEqual(0.9499);
    expect(intoCallS).toBeLessThan(0.9499 + 0.011);
    expect(outcomes.find((o) => o.id === 'waiter')!.breakdown.kvRecoveryS).toBe(0);
    // Out once and in once, 4 blocks each way, never recomputed.
    expect(stats.kvTraffic.swapOutBytes).toBe(64_000);
    expect(stats.kvTraffic.swapInBytes).toBe(64_000);
    expect(stats.kvTraffic.recomputedPrefillTokens).toBe(0);
  });

  it('mori: the idle program moves to the host, the busy one keeps the device, and it comes back when room frees', async () => {
    // 16 blocks = 256 tokens; the device tier holds 0.9 × 256 = 230.4 tokens. 'a-idle' (48 + 2 =
    // 50 tokens) calls a 2 s tool at about 0.07 s, alone: it stays on the device (preserve).
    // 'z-busy' arrives at 0.1 s (176 + 2 = 178 tokens) and makes three 0.01 s calls, 6 tokens
    // more each cycle. Its tool calls are short, so it is the busier; 178 + 50 = 228 ≤ 230.4 still
    // fits, but once its second call is queued (182 tokens) 232 > 230.4 puts the more idle a-idle
    // past the boundary, and its KV goes to the host before the next plan (block counts 4 + 12
    // never exceed 16 before that, so the planner never has to reclaim). z-busy keeps its KV at
    // every call. After z-busy has ended, 'late' (arriving at 1 s, 16 + 100 tokens) makes the
    // engine plan again; a-idle (50) and late fit the tier, so a-idle's KV is brought back during
    // its call, and it resumes (about 2.07 s, late still running) with no KV recovery.
    const busySegments = [
      { inputTokens: 176, outputTokens: 2, tool: { name: 'quick', durationS: 0.01 } },
      { inputTokens: 4, outputTokens: 2, tool: { name: 'quick', durationS: 0.01 } },
      { inputTokens: 4, outputTokens: 2, tool: { name: 'quick', durationS: 0.01 } },
      { inputTokens: 4, outputTokens: 2, tool: null },
    ];
    const jobs: WorkloadJob[] = [
      { id: 'a-idle', arrivalS: 0, kind: 'k', segments: [{ inputTokens: 48, outputTokens: 2, tool: { name: 'slow', durationS: 2 } }, { inputTokens: 4, outputTokens: 2, tool: null }] },
      { id: 'z-busy', arrivalS: 0.1, kind: 'k', segments: busySegments },
      { id: 'late', arrivalS: 1, kind: 'k', segments: [{ inputTokens: 16, outputTokens: 100, tool: null }] },
    ];
    const { outcomes, stats } = await simulate('mori', {}, jobs, 16);
    expect(outcomes.map((o) => o.error)).toEqual([null, null, null]);
    expect(actions(stats, 'a-idle')).toEqual([
      ['preserve', 'tool_wait'],
      ['swap', 'tool_wait'],
      ['swap_in', 'prefetch'],
    ]);
    for (let s = 0; s < 3; s++) expect(actions(stats, 'z-busy', s)).toEqual([['preserve', 'tool_wait']]);
    expect(stats.reclaimedToolWaits).toBe(0);
    const [, out, back] = decisionsOf(stats, 'a-idle');
    expect(out[2]).toBeGreaterThan(0.1);
    expect(back[2]).toBe(1); // the first plan after late arrives
    expect(outcomes.find((o) => o.id === 'a-idle')!.breakdown.kvRecoveryS).toBe(0);
  });
});
