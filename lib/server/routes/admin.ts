/**
 * GET /v1/models, GET /health, GET /metrics and POST /v1/jobs/{id}/close. `/health` is public
 * (load balancers probe it without a key), `/metrics` unless the server protects it; the rest
 * need the API key when the server has one (../auth.ts).
 */
import type { FastifyInstance } from 'fastify';
import { JobParams } from '../schemas.js';
import type { ServerContext } from '../context.js';

export function registerAdmin(app: FastifyInstance, ctx: ServerContext, options: { startedS: number; metricsPublic: boolean }): void {
  const { startedS } = options;
  app.get('/v1/models', async () => ({
    object: 'list',
    data: [{ id: ctx.modelName, object: 'model', created: startedS, owned_by: 'astraea', max_model_len: ctx.engine.modelInfo.maxPositionEmbeddings }],
  }));

  app.get('/health', { config: { public: true } }, async () => {
    const s = ctx.engine.stats();
    return { status: 'ok', jobs: s.jobs, kv: { deviceBlocks: s.kv.deviceBlocks, freeBlocks: s.kv.freeBlocks, cachedBlocks: s.kv.cachedBlocks } };
  });

  app.get('/metrics', { config: { public: options.metricsPublic } }, async (_request, reply) => {
    const { contentType, body } = await ctx.metrics.render();
    reply.header('content-type', contentType);
    return body;
  });

  app.post<{ Params: JobParams }>('/v1/jobs/:id/close', { schema: { params: JobParams } }, async (request) => {
    ctx.jobs.close(request.params.id);
    return { id: request.params.id, object: 'job', closed: true };
  });
}
