/** What loading a broken model directory throws: an EngineError, checked and returned. */
import { expect } from 'vitest';
import { EngineError } from '../../lib/errors.js';
import { loadModel } from '../../lib/model/load.js';

export async function loadError(dir: string, options: { dummy?: boolean } = {}): Promise<EngineError> {
  const error = await loadModel({ model: dir, dummy: options.dummy }).then(
    (m) => {
      m.dispose();
      return null;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EngineError);
  return error as EngineError;
}

export async function expectLoadError(dir: string, code: string, message: RegExp): Promise<void> {
  const error = await loadError(dir);
  expect(error.code).toBe(code);
  expect(error.message).toMatch(message);
}
