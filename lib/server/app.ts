/**
 * The OpenAI-compatible HTTP server: fastify, one engine, the routes in ./routes. Every error,
 * the server's own and fastify's (a bad body, a body too large), leaves in OpenAI's error shape.
 * `close()` stops taking calls, lets the ones in flight finish, then closes every job.
 */
import Fastify, { LogController, type FastifyError, type FastifyInstance } from 'fastify';
import type { Engine } from '../engine/engine.js';
import { HttpError, shuttingDown, toHttpError } from './errors.js';
import { protectRoutes } from './auth.js';
import { callRoute, logEveryCall, noteCall } from './call-log.js';
import { CallsInFlight } from './in-flight.js';
import { JobTable } from './job-table.js';
import { ServerMetrics } from './metrics.js';
import { ServerContext } from './context.js';
import { registerAdmin } from './routes/admin.js';
import { registerChat } from './routes/chat.js';
import { registerCompletions } from './routes/completions.js';

/** How long cut responses, and connections left open after a drain, get before they are closed. */
const CUT_GRACE_MS = 1000;

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
  /**
   * fastify's pino logger (default off): one line per call (./call-log.ts). `{ stream }` writes
   * the JSON lines there instead of stdout (tests read them).
   */
  logger?: boolean | { stream: { write(line: string): void } };
}

export interface AstraeaServer {
  app: FastifyInstance;
  context: ServerContext;
  /**
   * Stops taking calls (`/health` and any new call get a 503 at once), lets the calls in flight
   * finish for up to `timeoutS` seconds, then cuts the rest — each ends with a
   * `server_shutting_down` error (a 503, or an error event before a stream's `[DONE]`) and its KV
   * is freed — and closes the server and every job. The engine stays the caller's to close.
   * Resolves with how many calls were cut. A second call shortens the deadline to its own.
   */
  drain(timeoutS: number): Promise<{ cut: number }>;
}

export function buildServer(engine: Engine, options: ServerOptions = {}): AstraeaServer {
  const app = Fastify({
    logger: typeof options.logger === 'object' ? { level: 'info', stream: options.logger.stream } : (options.logger ?? false),
    // One line per call instead (./call-log.ts): fastify's own are two per request, without the job.
    logController: new LogController({ disableRequestLogging: true }),
    // Calls that arrive while the server drains get our 503 (OpenAI's error shape), not fastify's.
    return503OnClosing: false,
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

  // First of all hooks, so every call gets its line, even one refused by the key or a drain.
  logEveryCall(app);
  const inFlight = new CallsInFlight();
  app.addHook('onRequest', async (request, reply) => {
    if (callRoute(request.url) !== null) inFlight.enter(reply.raw);
  });

  // Before any route exists: the key is checked on every route as the router matched it.
  const auth = options.apiKey === undefined ? null : protectRoutes(app, options.apiKey);

  app.setErrorHandler((error: FastifyError, request, reply) => {
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
    noteCall(request, { error: http.message, code: http.code });
    reply.status(http.status).send(http.body());
  });
  app.setNotFoundHandler(auth === null ? {} : { preHandler: auth.notFoundPreHandler }, (request, reply) => {
    reply.status(404).send(new HttpError(404, `no route ${request.method} ${request.url}`, 'invalid_request_error', 'unknown_route').body());
  });

  // Draining (`drain`, or close()): the server still listens, so a load balancer's probe of
  // /health gets a 503 and sends no more, and a call that still arrives gets a 503 to retry
  // elsewhere; a keep-alive connection is ended as soon as its response is done, or its idle
  // socket would hold close() open for good.
  app.addHook('preClose', async () => {
    context.draining = true;
  });
  app.addHook('onRequest', async (request, reply) => {
    if (context.draining) {
      reply.header('connection', 'close');
      if (request.url === '/health') return reply.status(503).send({ status: 'draining' });
      return reply.status(503).send(shuttingDown().body());
    }
    reply.raw.on('finish', () => {
      const socket = request.raw.socket;
      if (context.draining && typeof socket?.end === 'function') socket.end(); // (inject's fake socket has none)
    });
  });

  registerChat(app, context);
  registerCompletions(app, context);
  registerAdmin(app, context, { startedS: Math.floor(Date.now() / 1000), metricsPublic: !(options.protectMetrics ?? false) });
  app.addHook('onClose', async () => jobs.dispose());

  let drained: Promise<void> | null = null;
  let deadline: NodeJS.Timeout | null = null;
  let hardStop: NodeJS.Timeout | null = null;
  let cut = 0;
  const drain = async (timeoutS: number): Promise<{ cut: number }> => {
    context.draining = true;
    if (deadline) clearTimeout(deadline);
    deadline = setTimeout(() => {
      cut += engine.cancelAll();
      // A cut response ends at once unless its client stopped reading (its socket is full): such
      // connections are closed after a grace, or one slow reader would hold the drain open.
      hardStop ??= setTimeout(() => app.server.closeAllConnections(), CUT_GRACE_MS);
    }, Math.max(0, timeoutS) * 1000);
    // The listener stays open until the calls are done (new ones meanwhile get a 503). Then
    // connections that carry no call (a client's spare one) get a grace before they are closed,
    // or they would hold close() until the client drops them.
    drained ??= inFlight.idle().then(() => {
      const sweep = setTimeout(() => app.server.closeAllConnections(), CUT_GRACE_MS);
      return app.close().finally(() => clearTimeout(sweep));
    });
    try {
      await drained;
    } finally {
      clearTimeout(deadline);
      if (hardStop) clearTimeout(hardStop);
    }
    return { cut };
  };
  return { app, context, drain };
}
