/** What the routes share: the engine, the job table, the metrics, and the server's limits. */
import type { Engine } from '../engine/engine.js';
import { HttpError, notFound, shuttingDown } from './errors.js';
import type { JobTable } from './job-table.js';
import type { ServerMetrics } from './metrics.js';

export class ServerContext {
  /** Set when the server starts draining (../app.ts, `drain`): no new calls, the rest finish or are cut. */
  draining = false;

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

  /**
   * What a call gets when its segment was cancelled by the server, not by its client: at the
   * drain deadline a 503 (retry elsewhere); otherwise `otherwise` (its job was closed under it).
   */
  cutError(otherwise: HttpError): HttpError {
    return this.draining ? shuttingDown('this call was cut: the server is shutting down and its drain deadline passed') : otherwise;
  }

  checkCapacity(): void {
    if (this.engine.waitingCount >= this.maxWaiting) {
      throw new HttpError(429, `the server is full: ${this.maxWaiting} calls are waiting to be scheduled; retry later`, 'rate_limit_error', 'queue_full');
    }
  }
}
