/** The leak check every engine test ends with: every block is back and no job is open. */
import { expect } from 'vitest';
import type { Engine } from '../lib/engine/engine.js';

export function expectNoLeaks(engine: Engine): void {
  engine.checkInvariants();
  const s = engine.stats();
  expect(s.kv.ownedBlocks).toBe(0);
  expect(s.kv.hostFree).toBe(s.kv.hostBlocks);
  expect(s.jobs.open).toBe(0);
}
