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

/**
 * What a caller gets for anything thrown where only EngineErrors should come out (a backend's
 * step, following one sequence's token): the error itself if it is one, else INTERNAL with
 * `context` and what was thrown ("step failed: TypeError: x is not a function").
 */
export function asEngineError(error: unknown, context: string): EngineError {
  if (error instanceof EngineError) return error;
  const what = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new EngineError('INTERNAL', `${context}: ${what}`);
}
