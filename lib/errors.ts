/**
 * The one error type the engine throws. `code` is stable and machine-readable; `message` says
 * what was wrong and, where it helps, what to do. The native addon raises this same class (it is
 * handed the constructor at load time), so callers catch one type everywhere.
 */
export class EngineError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = 'EngineError';
    this.code = code;
  }
}

export function isEngineError(value: unknown): value is EngineError {
  return value instanceof EngineError;
}
