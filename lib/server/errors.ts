/**
 * Errors in OpenAI's JSON shape — `{ error: { message, type, param, code } }` — with the status
 * that fits, so the official clients raise their own error classes (BadRequestError,
 * NotFoundError, RateLimitError, ...). Engine errors are mapped by their code.
 */
import { EngineError } from '../errors.js';

export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly code: string | null = null,
    readonly param: string | null = null,
  ) {
    super(message);
    this.name = 'HttpError';
  }

  body(): { error: { message: string; type: string; param: string | null; code: string | null } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export const badRequest = (message: string, param: string | null = null, code: string | null = null) =>
  new HttpError(400, message, 'invalid_request_error', code, param);
export const notFound = (message: string, code: string) => new HttpError(404, message, 'invalid_request_error', code);
/** The server is draining (SIGTERM): this replica takes no new calls; a client retries elsewhere. */
export const shuttingDown = (message = 'the server is shutting down: it takes no new calls') => new HttpError(503, message, 'server_error', 'server_shutting_down');

/** Engine error codes and the statuses they become; anything else is a server error. */
const ENGINE_STATUS: Record<string, [status: number, type: string]> = {
  INVALID_ARGUMENT: [400, 'invalid_request_error'],
  CONTEXT_TOO_LONG: [400, 'invalid_request_error'],
  OUT_OF_BLOCKS: [400, 'invalid_request_error'],
  NO_TOKENIZER: [400, 'invalid_request_error'],
  NO_CHAT_TEMPLATE: [400, 'invalid_request_error'],
  INVALID_TEMPLATE: [400, 'invalid_request_error'],
  UNKNOWN_JOB: [404, 'invalid_request_error'],
  JOB_FINISHED: [404, 'invalid_request_error'],
  JOB_BUSY: [409, 'invalid_request_error'],
  DUPLICATE_JOB: [409, 'invalid_request_error'],
  ENGINE_CLOSED: [503, 'server_error'],
  /** A feature this server cannot provide (constrained decoding without its library or on the simulator). */
  UNSUPPORTED: [501, 'server_error'],
};

/** Any thrown value as an HttpError; engine codes travel as OpenAI's `code` (lower case). */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof EngineError) {
    const [status, type] = ENGINE_STATUS[error.code] ?? [500, 'server_error'];
    const code = error.code === 'CONTEXT_TOO_LONG' ? 'context_length_exceeded' : error.code.toLowerCase();
    return new HttpError(status, error.message, type, code);
  }
  return new HttpError(500, `internal error: ${(error as Error)?.message ?? String(error)}`, 'server_error');
}
