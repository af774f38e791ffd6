import { describe, expect, it } from 'vitest';
import { FakeClock, systemClock } from '../../lib/agent/clock.js';
import { JobStateMachine, type JobState, type KvState } from '../../lib/agent/job-state.js';
import { expectCode } from './expect-code.js';


/** Drives a fresh job on its own clock into `state`. */
function jobIn(state: JobState): { job: JobStateMachine; clock: FakeClock } {
  const clock = new FakeClock(10);
  const job = new JobStateMachine('j', clock);
  if (state === 'waiting') return { job, clock };
  job.startSegment(100);
  clock.advance(1);
  job.scheduled();
  if (state === 'running') return { job, clock };
  clock.advance(1);
  if (state === 'finished') {
    job.endSegment('stop');
    return { job, clock };
  }
  job.endSegment('tool_call', { name: 't' });
  if (state === 'tool_wait') return { job, clock };
  clock.advance(1);
  job.toolReturned(20);
  if (state === 'ready') return { job, clock };
  job.cancel();
  return { job, clock };
}

describe('FakeClock', () => {
  it('advances and sets, never backwards', () => {
    const c = new FakeClock();
    expect(c.now()).toBe(0);
    c.advance(1.5);
    c.set(2);
    expect(c.now()).toBe(2);
    expectCode(() => c.set(1), 'INVALID_ARGUMENT');
    expectCode(() => c.advance(-1), 'INVALID_ARGUMENT');
    expect(new FakeClock(7).now()).toBe(7);
  });

  it('systemClock reads seconds monotonically', () => {
    const a = systemClock.now();
    expect(systemClock.now()).toBeGreaterThanOrEqual(a);
  });
});

describe('JobStateMachine scripted scenario', () => {
  it('accounts JCT, queueing, tool, running, TTFT and per-segment timings', () => {
    const clock = new FakeClock(0);
    const job = new JobStateMachine('job-1', clock);
    expect(job.arrivalTime).toBe(0);
    expect(job.state).toBe('waiting');
    expect(job.kv).toBe('none');
    job.startSegment(1000);

    clock.set(0.3);
    expect(job.accumulatedWaitS()).toBeCloseTo(0.3, 12);
    clock.set(0.5);
    job.scheduled();
    expect(job.state).toBe('running');
    expect(job.kv).toBe('resident');
    job.prefillComputed(1000);

    clock.set(0.6);
    expect(job.accumulatedWaitS()).toBeCloseTo(0.5, 12); // running does not add to W
    clock.set(0.7);
    job.tokenGenerated();
    clock.set(0.9);
    job.tokenGenerated(9);

    clock.set(1.0);
    job.endSegment('tool_call', { name: 'search' });
    expect(job.state).toBe('tool_wait');
    expect(job.kv).toBe('resident');

    clock.set(2.0);
    expect(job.accumulatedWaitS()).toBeCloseTo(0.5, 12); // tool time is not W
    const mid = job.metrics();
    expect(mid.jctS).toBeNull();
    expect(mid.toolS).toBeCloseTo(1.0, 12);
    expect(mid.runningS).toBeCloseTo(0.5, 12);

    clock.set(3.0);
    job.toolReturned(200);
    expect(job.state).toBe('ready');
    clock.set(3.1);
    expect(job.accumulatedWaitS()).toBeCloseTo(0.6, 12);
    clock.set(3.2);
    job.scheduled();
    job.prefillComputed(200);

    clock.set(3.5);
    job.preempted('discarded');
    expect(job.state).toBe('waiting');
    expect(job.kv).toBe('discarded');
    clock.set(3.75);
    expect(job.accumulatedWaitS()).toBeCloseTo(0.95, 12);

    clock.set(4.0);
    job.scheduled();
    expect(job.kv).toBe('resident');
    job.prefillComputed(1210); // the whole context again: 1000 + 10 + 200
    clock.set(4.2);
    job.tokenGenerated(5);

    clock.set(4.6);
    job.endSegment('stop');
    expect(job.state).toBe('finished');
    expect(job.kv).toBe('none');

    clock.set(9);
    const m = job.metrics();
    expect(m.jctS).toBeCloseTo(4.6, 12);
    expect(m.queueingS).toBeCloseTo(1.2, 12);
    expect(m.toolS).toBeCloseTo(2.0, 12);
    expect(m.runningS).toBeCloseTo(1.4, 12);
    expect(m.queueingS + m.toolS + m.runningS).toBeCloseTo(m.jctS!, 12);
    expect(m.ttftS).toBeCloseTo(0.7, 12);
    expect(m.segments).toBe(2);
    expect(m.outputTokens).toBe(15);
    expect(m.recomputedPrefillTokens).toBe(1410 - 200); // segment 1 computed beyond its 200 input
    expect(job.accumulatedWaitS()).toBeCloseTo(1.2, 12); // frozen once terminal

    const [s0, s1] = job.segments;
    expect(s0).toEqual({
      index: 0, queuedAt: 0, firstScheduledAt: 0.5, firstTokenAt: 0.7, endedAt: 1.0,
      inputTokens: 1000, outputTokens: 10, prefillTokensComputed: 1000, endReason: 'tool_call',
      tool: { name: 'search', startedAt: 1.0, endedAt: 3.0 },
    });
    expect(s1).toEqual({
      index: 1, queuedAt: 3.0, firstScheduledAt: 3.2, firstTokenAt: 4.2, endedAt: 4.6,
      inputTokens: 200, outputTokens: 5, prefillTokensComputed: 1410, endReason: 'stop', tool: null,
    });

    expect(job.transitions.map((t) => [t.at, t.from, t.to])).toEqual([
      [0.5, 'waiting', 'running'],
      [1.0, 'running', 'tool_wait'],
      [3.0, 'tool_wait', 'ready'],
      [3.2, 'ready', 'running'],
      [3.5, 'running', 'waiting'],
      [4.0, 'waiting', 'running'],
      [4.6, 'running', 'finished'],
    ]);
  });

  it('counts time from an arrival earlier than construction as queueing', () => {
    const clock = new FakeClock(5);
    const job = new JobStateMachine('late', clock, 2);
    job.startSegment(10);
    expect(job.segments[0]!.queuedAt).toBe(5);
    expect(job.accumulatedWaitS()).toBe(3);
    clock.advance(1);
    job.scheduled();
    job.tokenGenerated();
    clock.advance(1);
    job.endSegment('length');
    const m = job.metrics();
    expect(m.jctS).toBe(5);
    expect(m.queueingS).toBe(4);
    expect(m.ttftS).toBe(4);
    expect(job.segments[0]!.endReason).toBe('length');
  });

  it('rejects an arrival in the future', () => {
    expectCode(() => new JobStateMachine('f', new FakeClock(1), 2), 'INVALID_ARGUMENT', 'f');
  });

  it('startSegment in ready restates the open segment input size', () => {
    const { job } = jobIn('ready');
    job.startSegment(77);
    expect(job.segments.length).toBe(2);
    expect(job.segments[1]!.inputTokens).toBe(77);
    expect(job.state).toBe('ready');
  });
});

describe('illegal transitions throw INVALID_STATE', () => {
  type Action = [string, (j: JobStateMachine) => void];
  const actions: Action[] = [
    ['startSegment', (j) => j.startSegment(1)],
    ['scheduled', (j) => j.scheduled()],
    ['preempted', (j) => j.preempted('discarded')],
    ['tokenGenerated', (j) => j.tokenGenerated()],
    ['prefillComputed', (j) => j.prefillComputed(1)],
    ['endSegment', (j) => j.endSegment('stop')],
    ['toolReturned', (j) => j.toolReturned(1)],
    ['cancel', (j) => j.cancel()],
  ];
  const legal: Record<JobState, string[]> = {
    waiting: ['startSegment', 'cancel'], // a started-but-unscheduled job is covered below
    running: ['tokenGenerated', 'prefillComputed', 'preempted', 'endSegment', 'cancel'],
    tool_wait: ['toolReturned', 'cancel'],
    ready: ['startSegment', 'scheduled', 'cancel'],
    finished: [],
    cancelled: [],
  };

  for (const state of Object.keys(legal) as JobState[]) {
    for (const [name, act] of actions) {
      const ok = legal[state].includes(name);
      it(`${name} in ${state} ${ok ? 'is allowed' : 'throws'}`, () => {
        const { job } = jobIn(state);
        if (ok) {
          expect(() => act(job)).not.toThrow();
        } else {
          expectCode(() => act(job), 'INVALID_STATE', 'job j', state, name);
          expect(job.state).toBe(state);
        }
      });
    }
  }

  it('scheduled before any segment exists throws', () => {
    const job = new JobStateMachine('empty', new FakeClock());
    expectCode(() => job.scheduled(), 'INVALID_STATE', 'empty', 'waiting', 'scheduled');
  });

  it('startSegment twice on a new job throws', () => {
    const job = new JobStateMachine('twice', new FakeClock());
    job.startSegment(5);
    expectCode(() => job.startSegment(5), 'INVALID_STATE', 'twice', 'startSegment');
  });

  it('startSegment in ready after the segment ran once throws', () => {
    const { job } = jobIn('ready');
    job.scheduled();
    job.preempted('swapped');
    expect(job.state).toBe('waiting');
    expectCode(() => job.startSegment(5), 'INVALID_STATE');
  });

  it('rejects bad arguments with INVALID_ARGUMENT', () => {
    const { job } = jobIn('running');
    expectCode(() => job.tokenGenerated(0), 'INVALID_ARGUMENT');
    expectCode(() => job.tokenGenerated(1.5), 'INVALID_ARGUMENT');
    expectCode(() => job.prefillComputed(-1), 'INVALID_ARGUMENT');
    expectCode(() => job.endSegment('tool_call'), 'INVALID_ARGUMENT');
    expectCode(() => job.endSegment('stop', { name: 'x' }), 'INVALID_ARGUMENT');
    expect(job.state).toBe('running');
    expectCode(() => new JobStateMachine('n', new FakeClock()).startSegment(-3), 'INVALID_ARGUMENT');
  });
});

describe('cancel', () => {
  for (const state of ['waiting', 'running', 'tool_wait', 'ready'] as JobState[]) {
    it(`from ${state} ends the job and its open segment`, () => {
      const { job, clock } = jobIn(state);
      clock.advance(0.5);
      const before = job.metrics();
      job.cancel();
      expect(job.state).toBe('cancelled');
      expect(job.kv).toBe('none');
      const m = job.metrics();
      expect(m.jctS).toBeCloseTo(clock.now() - job.arrivalTime, 12);
      expect(m.queueingS + m.toolS + m.runningS).toBeCloseTo(m.jctS!, 12);
      expect(m.queueingS).toBeCloseTo(before.queueingS, 12);
      const last = job.segments[job.segments.length - 1];
      if (state === 'tool_wait') {
        expect(last!.endReason).toBe('tool_call');
        expect(last!.tool!.endedAt).toBeNull();
      } else if (last !== undefined) {
        expect(last.endReason).toBe('cancelled');
        expect(last.endedAt).toBe(clock.now());
      }
      clock.advance(5);
      expect(job.metrics().jctS).toBeCloseTo(m.jctS!, 12);
      expect(job.transitions.at(-1)).toEqual({ at: clock.now() - 5, from: state, to: 'cancelled' });
    });
  }

  it('from a never-started job', () => {
    const job = new JobStateMachine('x', new FakeClock());
    job.cancel();
    expect(job.segments.length).toBe(0);
    expect(job.metrics().jctS).toBe(0);
  });
});

describe('KV sub-state', () => {
  it('walks resident -> swapping_out -> swapped -> swapping_in -> resident during a tool wait', () => {
    const { job } = jobIn('tool_wait');
    for (const kv of ['swapping_out', 'swapped', 'swapping_in', 'resident'] as KvState[]) {
      job.setKv(kv);
      expect(job.kv).toBe(kv);
    }
    job.setKv('discarded');
    expect(job.kv).toBe('discarded');
  });

  it('allows aborting a swap-out and dropping a swapped copy', () => {
    const { job } = jobIn('tool_wait');
    job.setKv('swapping_out');
    job.setKv('resident');
    job.setKv('swapping_out');
    job.setKv('swapped');
    job.setKv('discarded');
    expect(job.kv).toBe('discarded');
  });

  const invalid: [KvState[], KvState][] = [
    [[], 'swapped'],
    [[], 'swapping_in'],
    [[], 'none'],
    [[], 'resident'],
    [['discarded'], 'resident'],
    [['discarded'], 'swapping_in'],
    [['swapping_out'], 'swapping_in'],
    [['swapping_out'], 'discarded'],
    [['swapping_out', 'swapped'], 'resident'],
    [['swapping_out', 'swapped', 'swapping_in'], 'swapped'],
  ];
  for (const [path, target] of invalid) {
    it(`rejects ${['resident', ...path].join(' -> ')} -> ${target}`, () => {
      const { job } = jobIn('tool_wait');
      for (const kv of path) job.setKv(kv);
      expectCode(() => job.setKv(target), 'INVALID_STATE', 'job j', target, 'setKv');
      expect(job.kv).toBe(path.at(-1) ?? 'resident');
    });
  }

  it('moves while waiting after a swap preemption and while ready', () => {
    const { job } = jobIn('running');
    job.preempted('swapped');
    expect(job.kv).toBe('swapped');
    job.setKv('swapping_in');
    job.scheduled();
    expect(job.kv).toBe('resident');

    const r = jobIn('ready').job;
    r.setKv('swapping_out');
    r.setKv('swapped');
    r.setKv('swapping_in');
    r.setKv('resident');
    expect(r.kv).toBe('resident');
  });

  it('is fixed while running or terminal, and before any KV exists', () => {
    expectCode(() => jobIn('running').job.setKv('swapping_out'), 'INVALID_STATE', 'running', 'setKv');
    expectCode(() => jobIn('finished').job.setKv('resident'), 'INVALID_STATE', 'finished', 'setKv');
    expectCode(() => jobIn('cancelled').job.setKv('resident'), 'INVALID_STATE', 'cancelled', 'setKv');
    expectCode(() => jobIn('waiting').job.setKv('resident'), 'INVALID_STATE', 'none', 'resident');
  });

  it('cannot schedule while the KV is being swapped out', () => {
    const { job } = jobIn('ready');
    job.setKv('swapping_out');
    expectCode(() => job.scheduled(), 'INVALID_STATE', 'job j', 'ready', 'scheduled', 'swapping_out');
    job.setKv('swapped');
    job.scheduled();
    expect(job.kv).toBe('resident');
  });
});
