/** Shared assertion: `fn` throws an EngineError with this code (and messages containing or matching these). */
import { expect } from 'vitest';
import { EngineError } from '../../lib/errors.js';

export function expectCode(fn: () => unknown, code: string, ...fragments: (string | RegExp)[]): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EngineError);
  const err = caught as EngineError;
  expect(err.code).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
}
