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
  expectEngineError(caught, code, fragments);
}

/** The same for a promise: `fn()` rejects with an EngineError with this code and message. */
export async function expectCodeAsync(fn: () => Promise<unknown>, code: string, ...fragments: (string | RegExp)[]): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (error) {
    caught = error;
  }
  expectEngineError(caught, code, fragments);
}

function expectEngineError(caught: unknown, code: string, fragments: readonly (string | RegExp)[]): void {
  expect(caught).toBeInstanceOf(EngineError);
  const err = caught as EngineError;
  expect(err.code).toBe(code);
  for (const f of fragments) {
    if (typeof f === 'string') expect(err.message).toContain(f);
    else expect(err.message).toMatch(f);
  }
}
