/**
 * The server's agent jobs: which HTTP calls belong to one job, and the engine job that holds its
 * history and KV between calls.
 *
 * - A call that names its job (`job_id`, `x-astraea-job-id`) is that job's next call: created on
 *   first use, one call at a time (a second while one runs is a 409).
 * - Any other call joins the job whose last messages and reply its own messages extend
 *   (./conversation-key.ts). If that job is busy, the call forks it: a new job in the same group
 *   whose engine job shares the busy one's KV copy-on-write (the parallel branches of one run:
 *   parallel tool calls, subagents). A call that extends no job starts one.
 * - A hint — OpenAI's `prompt_cache_key`, the gateway's `x-session-token` — groups calls, it never
 *   locks them: calls with one hint are jobs of one group (scheduled as one job's fan-out), a call
 *   joins only a job of its hint's group, and a call that extends none starts a new job in the
 *   group (sharing the prefix through the cache) rather than replacing anyone's context.
 * Without `autoBind`, calls that name no job never join one (each hint still forms a group).
 * Between calls the engine job waits — on its tool, or on the person's next turn
 * (GenerateOptions.keepOpen) — and the policy decides its KV; a call resumes it and prefills only
 * what its messages add. An engine job that ended anyway (a cancelled call) is replaced by a new
 * one on the next call, which finds the history in the prefix cache. Jobs idle for `idleS` are
 * closed, freeing their KV; one timer sweeps them.
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
  /** The engine group of all its engine jobs: its hint's group, a forked job's, or its own id. */
  groupId: string;
  /** The hint group it belongs to, if a hint bound it. */
  hint: HintGroup | null;
  /** A job forked from a busy one: its first engine job shares that engine job's KV. */
  forkOf: Job | null;
  /** When its first call arrived and its last call ended (ms), and the time between calls. */
  startedMs: number;
  lastEndMs: number | null;
  betweenCallsMs: number;
}

/** The jobs of one hint (a prompt cache key or session token, under one cache salt). */
interface HintGroup {
  readonly key: string;
  readonly groupId: string;
  readonly jobs: Set<BoundJob>;
}

/** How a call names what it belongs to. */
export interface CallBinding {
  /** `job_id` or `x-astraea-job-id`: the job itself. */
  explicitId: string | null;
  /** `prompt_cache_key` or `x-session-token`: a group. */
  hint: string | null;
  messages: readonly ChatMessage[];
  cacheSalt: string | null;
}

/** A hint under a cache salt: the salted fingerprint of no messages keeps salts apart. */
function hintKey(hint: string, cacheSalt: string | null): string {
  return `${conversationKey([], cacheSalt)}:${hint}`;
}

export class JobTable {
  private readonly jobs = new Map<string, BoundJob>();
  private readonly byKey = new Map<string, BoundJob>();
  private readonly hints = new Map<string, HintGroup>();
  /** Calls that forked a busy job, since the table was made. */
  forks = 0;
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

  /** Open hint groups (each a group of jobs scheduled as one). */
  get hintGroups(): number {
    return this.hints.size;
  }

  /**
   * The job a chat call belongs to, marked busy (see the header for the rules). Only a named job
   * refuses a call: when it is busy, or was opened under another cache salt (its KV must never
   * serve this call). A call joins by conversation only a job of its own salt and hint.
   */
  acquire(call: CallBinding): BoundJob {
    const { explicitId, cacheSalt } = call;
    const hint = call.hint === null ? null : hintKey(call.hint, cacheSalt);
    let job: BoundJob | undefined;
    if (explicitId !== null) {
      job = this.jobs.get(explicitId);
      if (job !== undefined && job.cacheSalt !== cacheSalt) {
        throw new HttpError(409, `job ${explicitId} was opened with another cache_salt; a job keeps the salt of its first call`, 'invalid_request_error', 'cache_salt_mismatch');
      }
      if (job?.busy) throw new HttpError(409, `job ${explicitId} is already generating; a job named by id runs one call at a time`, 'invalid_request_error', 'job_busy');
      job ??= this.create(explicitId, cacheSalt, hint, null);
    } else {
      const extended = this.options.autoBind ? this.extendedJob(call.messages, cacheSalt, hint) : undefined;
      if (extended === undefined) {
        job = this.create(`job-${randomUUID()}`, cacheSalt, hint, null);
      } else if (!extended.busy) {
        job = extended;
      } else {
        // Parallel calls extending one job: a branch of its fan-out, sharing its KV.
        job = this.create(`job-${randomUUID()}`, cacheSalt, extended.hint?.key ?? null, extended);
        this.forks++;
      }
    }
    this.jobs.delete(job.id); // re-inserted last: the map's order is least recently used first
    this.jobs.set(job.id, job);
    job.busy = true;
    job.lastUsedMs = Date.now();
    if (job.lastEndMs !== null) job.betweenCallsMs += job.lastUsedMs - job.lastEndMs;
    return job;
  }

  /** The job whose last conversation the messages extend, longest first; only within the hint's group if a hint is given. */
  private extendedJob(messages: readonly ChatMessage[], cacheSalt: string | null, hint: string | null): BoundJob | undefined {
    for (const key of prefixKeys(messages, cacheSalt)) {
      const found = this.byKey.get(key);
      if (found !== undefined && (found.hint?.key ?? null) === hint) return found;
    }
    return undefined;
  }

  /**
   * The engine job to run the call on: the one waiting on a tool, else a fresh one (a fork's first
   * shares its parent's KV). A fresh one is told the job's history (JobOptions.history): the model
   * calls its conversation already holds — one per assistant turn, whichever server made them (a
   * call a gateway moved here from another replica brings them all) — and the time since the job's
   * first call here, so the policy ranks it as the job it is, not as a new one.
   */
  engineJobFor(job: BoundJob, kind: string | undefined, messages: readonly ChatMessage[]): { engineJob: Job; resume: boolean } {
    if (job.engineJob && job.engineJob.state === 'tool_wait') return { engineJob: job.engineJob, resume: true };
    this.closeEngineJob(job);
    job.generations++;
    const parent = job.forkOf !== null && this.engine.hasJob(job.forkOf.id) ? job.forkOf.id : undefined;
    job.forkOf = null;
    const history = { segments: messages.filter((m) => m.role === 'assistant').length, ageS: Math.max(0, Date.now() - job.startedMs) / 1000 };
    job.engineJob = this.engine.createJob({ id: `${job.id}.${job.generations}`, kind, cacheSalt: job.cacheSalt ?? undefined, group: job.groupId, forkOf: parent, history });
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

  private create(id: string, cacheSalt: string | null, hintKey: string | null, forkOf: BoundJob | null): BoundJob {
    const now = Date.now();
    const hint = hintKey === null ? null : this.hintGroup(hintKey);
    const job: BoundJob = {
      id,
      engineJob: null,
      busy: false,
      lastUsedMs: now,
      key: null,
      generations: 0,
      cacheSalt,
      groupId: forkOf?.groupId ?? hint?.groupId ?? id,
      hint,
      forkOf: forkOf?.engineJob ?? null,
      startedMs: now,
      lastEndMs: null,
      betweenCallsMs: 0,
    };
    hint?.jobs.add(job);
    this.jobs.set(id, job);
    return job;
  }

  /** The group of a hint, made when its first job is. */
  private hintGroup(key: string): HintGroup {
    let group = this.hints.get(key);
    if (group === undefined) {
      group = { key, groupId: `group-${randomUUID()}`, jobs: new Set() };
      this.hints.set(key, group);
    }
    return group;
  }

  private forget(job: BoundJob): void {
    this.closeEngineJob(job);
    job.forkOf = null;
    if (job.hint !== null && job.hint.jobs.delete(job) && job.hint.jobs.size === 0 && this.hints.get(job.hint.key) === job.hint) this.hints.delete(job.hint.key);
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
