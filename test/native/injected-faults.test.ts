/**
 * A backend step that fails — a device error (an EngineError) or a bug (a thrown TypeError) — fails
 * the segments in that step and nothing else: a job waiting on its tool meanwhile resumes with the
 * same tokens as in a run without the fault, a job that arrives afterwards generates the same as
 * it would have, no block leaks, and the engine keeps serving. The fault is injected by wrapping
 * the real native backend (tiny model, greedy), so everything else is production code.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BackendStep } from '../../lib/engine/backend.js';
import { Engine } from '../../lib/engine/engine.js';
import { NativeBackend } from '../../lib/engine/native-backend.js';
import { EngineError } from '../../lib/errors.js';
import { loadModel } from '../../lib/model/load.js';
import { WrappedBackend } from '../wrapped-backend.js';
import { makeFixture, removeDir } from './fixtures.js';

const BLOCKS = 32;
const A_PROMPT = [10, 11, 12, 13, 14];
const B_PROMPT = [20, 21, 22];
const WAITER_PROMPT = [30, 31, 32, 33];
const TOOL_RESULT = [40, 41, 42];
const LATE_PROMPT = [50, 51];

let dir: string;
beforeAll(async () => {
  dir = await makeFixture('llama');
});
afterAll(() => removeDir(dir));

interface Outcome {
  a: PromiseSettledResult<number[]>;
  b: PromiseSettledResult<number[]>;
  waiterAfterTool: number[];
  late: number[];
  failedSteps: number;
}

/**
 * A job pauses on a tool; jobs A and B then decode side by side, and `fault` may fail a step of
 * theirs; the paused job resumes and a late job arrives after A and B are over.
 */
async function scenario(fault: (step: BackendStep) => Error | null): Promise<Outcome> {
  const model = await loadModel({ model: dir });
  const backend = new WrappedBackend(await NativeBackend.open(model, { blockSize: 16, deviceBlocks: BLOCKS, hostBlocks: BLOCKS }), { fault });
  const engine = Engine.withBackend(backend, { kvBlocks: BLOCKS, policy: 'astraea' });
  try {
    const greedy = { ignoreEos: true } as const;
    const waiter = engine.createJob();
    await waiter.generate({ tokens: WAITER_PROMPT, maxTokens: 3, endsWithToolCall: true, ...greedy }).done;

    const [a, b] = [engine.createJob(), engine.createJob()];
    const settled = await Promise.allSettled([
      a.generate({ tokens: A_PROMPT, maxTokens: 6, ...greedy }).done.then((r) => r.tokens),
      b.generate({ tokens: B_PROMPT, maxTokens: 6, ...greedy }).done.then((r) => r.tokens),
    ]);
    a.close();
    b.close();

    const waiterAfterTool = (await waiter.resume({ tokens: TOOL_RESULT, maxTokens: 4, ...greedy }).done).tokens;
    waiter.close();
    const late = engine.createJob();
    const lateTokens = (await late.generate({ tokens: LATE_PROMPT, maxTokens: 4, ...greedy }).done).tokens;
    late.close();

    engine.checkInvariants();
    expect(engine.stats().kv.ownedBlocks).toBe(0);
    return { a: settled[0], b: settled[1], waiterAfterTool, late: lateTokens, failedSteps: backend.failed };
  } finally {
    await engine.close();
  }
}

/** Fails the step in which job A's sequence decodes at `position` (its third generated token). */
function failAtAsThirdToken(error: () => Error): (step: BackendStep) => Error | null {
  const position = A_PROMPT.length + 2;
  let done = false;
  return (step) => {
    if (done) return null;
    const hit = step.sequences.length >= 2 && step.sequences.some((s) => s.startPosition === position && s.tokens.length === 1);
    if (!hit) return null;
    done = true;
    return error();
  };
}

describe('a backend step that fails', () => {
  let clean: Outcome;
  beforeAll(async () => {
    clean = await scenario(() => null);
  });

  it('without a fault: every job generates', () => {
    expect(clean.failedSteps).toBe(0);
    expect(clean.a.status).toBe('fulfilled');
    expect(clean.b.status).toBe('fulfilled');
    expect(clean.waiterAfterTool).toHaveLength(4);
    expect(clean.late).toHaveLength(4);
  });

  it.each([
    ['a device error (an EngineError)', () => new EngineError('DEVICE_ERROR', 'the device went away'), 'DEVICE_ERROR', /the device went away/],
    ['a bug (a TypeError)', () => new TypeError("Cannot read properties of undefined (reading 'x')"), 'INTERNAL', /step failed: TypeError: Cannot read properties of undefined/],
  ])('%s fails the jobs in that step, and only them', async (_label, error, code, message) => {
    const faulty = await scenario(failAtAsThirdToken(error));
    expect(faulty.failedSteps).toBe(1);
    for (const r of [faulty.a, faulty.b]) {
      expect(r.status).toBe('rejected');
      const reason = (r as PromiseRejectedResult).reason;
      expect(reason).toBeInstanceOf(EngineError);
      expect(reason.code).toBe(code);
      expect(reason.message).toMatch(message);
    }
    // The job that was waiting on its tool, and the job that came later: as without the fault.
    expect(faulty.waiterAfterTool).toEqual(clean.waiterAfterTool);
    expect(faulty.late).toEqual(clean.late);
  });
});
