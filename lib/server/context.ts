/** What the routes share: the engine, the job table, the metrics, and the server's limits. */
import type { Engine } from '../engine/engine.js';
import { HttpError, notFound } from './errors.js';
import type { JobTable } from './job-table.js';
import type { ServerMetrics } from './metrics.js';

export class ServerContext {
  constructor(
    readonly engine: Engine,
    readonly jobs: JobTable,
    readonly metrics: ServerMetrics,
    readonly modelName: string,
    readonly defaultMaxTokens: number,
    /** Calls that may wait to be scheduled before new ones are turned away with a 429. */
    readonly maxWaiting: number,
  ) {}

  checkModel(model: string): void {
    if (model !== this.modelName) throw notFound(`model "${model}" does not exist; this server serves "${this.modelName}"`, 'model_not_found');
  }

  checkCapacity(): void {
    if (this.engine.waitingCount >= this.maxWaiting) {
      throw new HttpError(429, `the server is full: ${this.maxWaiting} calls are waiting to be scheduled; retry later`, 'rate_limit_error', 'queue_full');
    }
  }
}
