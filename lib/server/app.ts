/**
 * The OpenAI-compatible HTTP server: fastify, one engine, the routes in ./routes. Every error,
 * the server's own and fastify's (a bad body, a body too large), leaves in OpenAI's error shape.
 * `close()` stops taking calls, lets the ones in flight finish, then closes every job.
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { HttpError, toHttpError } from './errors.js';
import { protectRoutes } from './auth.js';
import { JobTable } from './job-table.js';
import { ServerMetrics } from './metrics.js';
import { ServerContext } from './context.js';
import { registerAdmin } from './routes/admin.js';
import { registerChat } from './routes/chat.js';
import { registerCompletions } from './routes/completions.js';

export interface ServerOptions {
  /** The name clients give as `model` (default 'astraea'). */
  modelName?: string;
  /**
   * When set, every route needs `Authorization: Bearer <apiKey>` except `/health` and, unless
   * `protectMetrics`, `/metrics` (./auth.ts; docs/security.md).
   */
  apiKey?: string;
  /** With `apiKey`: `/metrics` needs the key too (default false: scrapers usually have none). */
  protectMetrics?: boolean;
  /** Largest request body, bytes (default 4 MiB). */
  bodyLimit?: number;
  /** max_tokens when a call gives none (default 256). */
  defaultMaxTokens?: number;
  /** Calls waiting to be scheduled before new ones get a 429 (default 256). */
  maxWaiting?: number;
  /** Seconds a job may sit idle before it is closed and its KV freed (default 600). */
  jobIdleS?: number;
  /** Idle jobs kept at most; beyond it the least recently used are closed (default 1024). */
  maxIdleJobs?: number;
  /**
   * Join a call that names no job to the job whose conversation it extends (default true: agents
   * that resend their history get job scheduling and kept KV without changing; a wrong join
   * cannot change an output, which depends only on the messages — it only moves KV).
   */
  autoBind?: boolean;
  /** fastify's logger (default off). */
  logger?: boolean;
}

export interface AstraeaServer {
  app: FastifyInstance;
  context: ServerContext;
}

export function buildServer(engine: Engine, options: ServerOptions = {}): AstraeaServer {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: options.bodyLimit ?? 4 * 1024 * 1024,
    // Validation as JSON Schema says, no silent coercion: "max_tokens": "12" is a 400.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  const metrics = new ServerMetrics(engine, options.modelName ?? 'astraea');
  const jobs = new JobTable(engine, {
    idleS: options.jobIdleS ?? 600,
    maxIdleJobs: options.maxIdleJobs ?? 1024,
    autoBind: options.autoBind ?? true,
    onJobEnd: (jctS, toolS) => metrics.observeJob(jctS, toolS),
  });
  const context = new ServerContext(engine, jobs, metrics, options.modelName ?? 'astraea', options.defaultMaxTokens ?? 256, options.maxWaiting ?? 256);

  // Before any route exists: the key is checked on every route as the router matched it.
  const auth = options.apiKey === undefined ? null : protectRoutes(app, options.apiKey);

  app.setErrorHandler((error: FastifyError, _request, reply) => {
    let http: HttpError;
    if (error.validation) {
      const first = error.validation[0];
      const base = `${error.validationContext ?? 'body'}${first?.instancePath ? first.instancePath.replaceAll('/', '.') : ''}`;
      const unknownField = first?.keyword === 'additionalProperties' ? (first.params as { additionalProperty?: string }).additionalProperty : undefined;
      if (unknownField !== undefined) {
        // Never dropped silently: a field this server does not know may change what the caller expects.
        const param = `${base}.${unknownField}`;
        http = new HttpError(400, `${param} is not a field this server knows (docs/server.md, "OpenAI compatibility")`, 'invalid_request_error', 'unknown_field', param);
      } else {
        http = new HttpError(400, `${base} ${first?.message ?? 'is invalid'}`, 'invalid_request_error', 'invalid_value', base);
      }
    } else if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      http = new HttpError(413, error.message, 'invalid_request_error', 'body_too_large');
    } else if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500 && !(error instanceof HttpError)) {
      http = new HttpError(error.statusCode, error.message, 'invalid_request_error', error.code?.toLowerCase() ?? null);
    } else {
      http = toHttpError(error);
    }
    if (http.status === 429) reply.header('retry-after', '1');
    reply.status(http.status).send(http.body());
  });
  app.setNotFoundHandler(auth === null ? {} : { preHandler: auth.notFoundPreHandler }, (request, reply) => {
    reply.status(404).send(new HttpError(404, `no route ${request.method} ${request.url}`, 'invalid_request_error', 'unknown_route').body());
  });

  // Draining: once close() begins, a keep-alive connection is ended as soon as its response is
  // done, or its idle socket would hold close() open for good.
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    reply.raw.on('finish', () => {
      const socket = request.raw.socket;
      if (closing && typeof socket?.end === 'function') socket.end(); // (inject's fake socket has none)
    });
  });

  registerChat(app, context);
  registerCompletions(app, context);
  registerAdmin(app, context, { startedS: Math.floor(Date.now() / 1000), metricsPublic: !(options.protectMetrics ?? false) });
  app.addHook('onClose', async () => jobs.dispose());
  return { app, context };
}
