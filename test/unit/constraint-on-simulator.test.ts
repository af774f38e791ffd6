/**
 * The simulator draws tokens without logits, so it cannot keep to a token mask: a constrained
 * segment on it is refused up front (UNSUPPORTED) rather than failing mid-run, and the job that
 * asked can still run unconstrained.
 */
import { describe, expect, it } from 'vitest';
import type { TokenConstraint } from '../../lib/constrain/constraint.js';
import { Engine } from '../../lib/engine/engine.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';
import { expectNoLeaks } from '../expect-no-leaks.js';
import { expectCode } from './expect-code.js';

const MODEL = { name: 't', vocabSize: 64, maxPositionEmbeddings: 1024, kvBytesPerToken: 1000 };
const COSTS = { name: 'c', fixedS: 0.01, tokenS: 0.001, contextTokenS: 0, swapBytesPerS: 1e9 };

/** Allows every id; never asked, since the engine refuses before planning. */
const anything: TokenConstraint = {
  allowedTokens: () => new Uint32Array(2).fill(0xffffffff),
  accept: () => true,
  isComplete: () => true,
  dispose: () => {},
};

describe('a constraint on the simulator', () => {
  it('is refused with UNSUPPORTED, and the job still runs without one', async () => {
    const clock = new VirtualClock();
    const engine = Engine.withBackend(new SimulatedBackend(MODEL, COSTS, 16, clock), { policy: 'fcfs', kvBlocks: 8, hostBlocks: 0, clock });
    const job = engine.createJob({ id: 'j' });
    expectCode(() => job.generate({ tokens: [1, 2, 3], maxTokens: 2, constraint: anything }), 'UNSUPPORTED', 'simulator');
    const done = job.generate({ tokens: [1, 2, 3], maxTokens: 2, ignoreEos: true }).done;
    await clock.run(); // the simulator's steps advance its virtual clock
    expect((await done).tokens).toHaveLength(2);
    job.close();
    expectNoLeaks(engine);
    await engine.close();
  });
});
