/**
 * A call's n choices (OpenAI's `n`): choice 0 runs on the call's own engine job, choices 1..n−1 on
 * forks of it (JobOptions.forkOf), which share its computed KV copy-on-write instead of prefilling
 * the prompt again, each drawing with its own seed (./request-fields.ts, choiceSeeds). A fork
 * lives for the call: it never keeps KV for a next call (`keepOpen: false`), and `close()` ends
 * every fork on every path — done, failed, or the client gone.
 */
import type { Engine } from '../engine/engine.js';
import type { Job } from '../engine/job.js';
import type { Segment } from '../engine/segment.js';
import type { GenerateOptions } from '../engine/types.js';

export interface ChoiceForks {
  /** Choices 1..n−1, in order. */
  segments: Segment[];
  /** Closes every fork (their KV is freed); safe to call more than once. */
  close(): void;
}

/**
 * Starts one fork of `parentId` per seed, each running `options` with that seed through `start`
 * (which may prepare per-segment state, as constrained decoding does, before submitting). If one
 * fails to start, the forks already made are closed and the error is thrown.
 */
export async function startChoiceForks(
  engine: Engine,
  parent: { id: string; cacheSalt?: string; kind?: string },
  seeds: readonly (number | undefined)[],
  options: GenerateOptions,
  start: (job: Job, options: GenerateOptions) => Segment | Promise<Segment>,
): Promise<ChoiceForks> {
  const jobs: Job[] = [];
  const close = () => {
    for (const job of jobs.splice(0)) job.close();
  };
  const segments: Segment[] = [];
  try {
    for (const seed of seeds) {
      const job = engine.createJob({ forkOf: parent.id, cacheSalt: parent.cacheSalt, kind: parent.kind });
      jobs.push(job);
      const sampling = { ...options.sampling, ...(seed === undefined ? {} : { seed }) };
      segments.push(await start(job, { ...options, sampling, keepOpen: false }));
    }
  } catch (error) {
    close();
    throw error;
  }
  return { segments, close };
}
