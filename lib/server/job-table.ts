/**
 * The server's agent jobs: which HTTP calls belong to one job, and the engine job that holds its
 * history and KV between calls.
 *
 * A call names its job through `job_id` (body), `x-astraea-job-id`, OpenAI's `prompt_cache_key`
 * or the `x-session-token` header of the Kubernetes inference gateway. A call with none joins the
 * job whose last messages and reply its own messages extend (`autoBind`; ./conversation-key.ts);
 * if that job is busy the call forks a new job, which still shares the prefix cache. Other calls
 * are jobs of one call. Between calls the engine job waits — on its tool, or on the person's next
 * turn (GenerateOptions.keepOpen) — and the policy decides its KV; a call resumes it and prefills
 * only what its messages add. An engine job that ended anyway (a cancelled call) is replaced by a
 * new one on the next call, which finds the history in the prefix cache. Jobs idle for `idleS`
 * are closed, freeing their KV; one timer sweeps them.
 */
import { randomUUID } from 'node:crypto';
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { ChatMessage } from '../model/tokenizer.js';
import { conversationKey, prefixKeys } from './conversation-key.js';
import { HttpError, notFound } from './errors.js';

export interface JobTableOptions {
  /** Seconds a job may sit idle before it is closed. */
  idleS: number;
  /** Idle jobs kept at most; beyond it the least recently used are closed (each open job costs every engine step a little). */
  maxIdleJobs: number;
  /** Join id-less calls to the job whose conversation they extend. */
  autoBind: boolean;
  /** A job ended: seconds from its first call to the end of its last, and between calls (tools). */
  onJobEnd?: (jctS: number, toolS: number) => void;
}

export interface BoundJob {
  readonly id: string;
  /** The engine job holding the history, or null between engine jobs. */
  engineJob: Job | null;
  busy: boolean;
  lastUsedMs: number;
  /** Fingerprint of the last call's messages plus its reply (for auto-binding). */
  key: string | null;
  /** How many engine jobs this job has had (their ids are `${id}.${n}`). */
  generations: number;
  /** The cache_salt of its first call: every later call must bring the same one. */
  cacheSalt: string | null;
  /** When its first call arrived and its last call ended (ms), and the time between calls. */
  startedMs: number;
  lastEndMs: number | null;
  betweenCallsMs: number;
}

export class JobTable {
  private readonly jobs = new Map<string, BoundJob>();
  private readonly byKey = new Map<string, BoundJob>();
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly engine: Engine,
    private readonly options: JobTableOptions,
  ) {
    this.sweeper = setInterval(() => this.expire(Date.now()), Math.max(250, (options.idleS * 1000) / 4));
    this.sweeper.unref();
  }

  get size(): number {
    return this.jobs.size;
  }

  get(id: string): BoundJob | undefined {
    return this.jobs.get(id);
  }

  /**
   * The job a chat call belongs to, marked busy: the named one (created if new), else the one
   * whose conversation the messages extend, else a new one. A named job that is busy is an error,
   * and so is one opened under another cache salt (its KV must never serve this call); a call
   * joins by conversation only a job with its own salt.
   */
  acquire(explicitId: string | null, messages: readonly ChatMessage[], cacheSalt: string | null = null): BoundJob {
    let job: BoundJob | undefined;
    if (explicitId !== null) {
      job = this.jobs.get(explicitId);
      if (job !== undefined && job.cacheSalt !== cacheSalt) {
        throw new HttpError(409, `job ${explicitId} was opened with another cache_salt; a job keeps the salt of its first call`, 'invalid_request_error', 'cache_salt_mismatch');
      }
      if (job?.busy) throw new HttpError(409, `job ${explicitId} is already generating; a job runs one call at a time`, 'invalid_request_error', 'job_busy');
    } else if (this.options.autoBind) {
      for (const key of prefixKeys(messages, cacheSalt)) {
        const found = this.byKey.get(key);
        if (found) {
          if (!found.busy) job = found;
          break; // a busy match forks: the new job shares the prefix cache, not the history
        }
      }
    }
    job ??= this.create(explicitId ?? `job-${randomUUID()}`, cacheSalt);
    this.jobs.delete(job.id); // re-inserted last: the map's order is least recently used first
    this.jobs.set(job.id, job);
    job.busy = true;
    job.lastUsedMs = Date.now();
    if (job.lastEndMs !== null) job.betweenCallsMs += job.lastUsedMs - job.lastEndMs;
    return job;
  }

  /** The engine job to run the call on: the one waiting on a tool, else a fresh one. */
  engineJobFor(job: BoundJob, kind?: string): { engineJob: Job; resume: boolean } {
    if (job.engineJob && job.engineJob.state === 'tool_wait') return { engineJob: job.engineJob, resume: true };
    this.closeEngineJob(job);
    job.generations++;
    job.engineJob = this.engine.createJob({ id: `${job.id}.${job.generations}`, kind, cacheSalt: job.cacheSalt ?? undefined });
    return { engineJob: job.engineJob, resume: false };
  }

  /** The call is over: remember what the conversation now is; an engine job that ended is closed. */
  release(job: BoundJob, conversation: readonly ChatMessage[] | null): void {
    job.busy = false;
    job.lastUsedMs = job.lastEndMs = Date.now();
    if (job.key !== null && this.byKey.get(job.key) === job) this.byKey.delete(job.key);
    job.key = conversation === null ? null : conversationKey(conversation, job.cacheSalt);
    if (job.key !== null) this.byKey.set(job.key, job);
    if (job.engineJob && job.engineJob.state !== 'tool_wait') this.closeEngineJob(job);
    if (!this.jobs.has(job.id)) this.forget(job); // closed while the call ran
    this.trimIdle();
  }

  /** Closes the least recently used idle jobs beyond maxIdleJobs. */
  private trimIdle(): void {
    let idle = 0;
    for (const job of this.jobs.values()) if (!job.busy) idle++;
    for (const job of [...this.jobs.values()]) {
      if (idle <= this.options.maxIdleJobs) break;
      if (job.busy) continue;
      this.forget(job);
      idle--;
    }
  }

  /** Ends a job now (POST /v1/jobs/{id}/close): a call in progress is cancelled. */
  close(id: string): void {
    const job = this.jobs.get(id);
    if (!job) throw notFound(`no open job ${id}`, 'unknown_job');
    this.forget(job);
  }

  /** Closes every job idle for longer than idleS. */
  expire(nowMs: number): void {
    for (const job of [...this.jobs.values()]) {
      if (!job.busy && nowMs - job.lastUsedMs > this.options.idleS * 1000) this.forget(job);
    }
  }

  /** Closes every job and stops the sweeper. */
  dispose(): void {
    clearInterval(this.sweeper);
    for (const job of [...this.jobs.values()]) this.forget(job);
  }

  private create(id: string, cacheSalt: string | null): BoundJob {
    const now = Date.now();
    const job: BoundJob = { id, engineJob: null, busy: false, lastUsedMs: now, key: null, generations: 0, cacheSalt, startedMs: now, lastEndMs: null, betweenCallsMs: 0 };
    this.jobs.set(id, job);
    return job;
  }

  private forget(job: BoundJob): void {
    this.closeEngineJob(job);
    if (this.jobs.delete(job.id) && job.lastEndMs !== null) {
      this.options.onJobEnd?.((job.lastEndMs - job.startedMs) / 1000, job.betweenCallsMs / 1000);
    }
    if (job.key !== null && this.byKey.get(job.key) === job) this.byKey.delete(job.key);
    job.key = null;
  }

  private closeEngineJob(job: BoundJob): void {
    job.engineJob?.close();
    job.engineJob = null;
  }
}
