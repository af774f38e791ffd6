/**
 * Deterministic token ids for workload jobs, so that a run is reproducible (DESIGN.md: "Token ids
 * are synthesised deterministically from the job id").
 *
 * - `segmentTokens(jobId, s, count, vocab)`: the job's own tokens for segment `s`, from a
 *   mulberry32 stream seeded by a hash of (job id, segment index). Different jobs (and different
 *   segments of one job) get different streams.
 * - `prefixTokens(prefixId, count, vocab)`: the shared prompt prefix, seeded by the prefix id
 *   only, so every job naming that prefix gets identical ids (and hence reusable prefix KV). A
 *   shorter prefix is a prefix of a longer one with the same id.
 * - `jobSegmentTokens(job, s, vocab)`: what the engine appends for segment `s`. The first segment
 *   is the prefix tokens (if the job has a prefix) followed by the job's own
 *   `segments[0].inputTokens` tokens; later segments are the job's own tokens only.
 *
 * Every id is uniform in [0, vocabSize): nothing is reserved (no BOS/EOS/special ids are
 * avoided besides ids ≥ vocabSize), since generation length is forced by the workload.
 */
import { EngineError } from '../errors.js';
import type { WorkloadJob } from './format.js';
import { hashString, mulberry32 } from './random.js';

function draw(seedText: string, count: number, vocabSize: number): number[] {
  if (!Number.isSafeInteger(count) || count < 0) {
    throw new EngineError('INVALID_ARGUMENT', `token count must be a non-negative integer, got ${count}`);
  }
  if (!Number.isSafeInteger(vocabSize) || vocabSize < 1 || vocabSize > 2 ** 32) {
    throw new EngineError('INVALID_ARGUMENT', `vocabSize must be an integer in [1, 2^32], got ${vocabSize}`);
  }
  const rng = mulberry32(hashString(seedText));
  const out = new Array<number>(count);
  for (let i = 0; i < count; i++) out[i] = Math.floor(rng() * vocabSize);
  return out;
}

/** The job's own tokens for one segment (the first segment's excludes the shared prefix). */
export function segmentTokens(jobId: string, segmentIndex: number, count: number, vocabSize: number): number[] {
  if (!Number.isSafeInteger(segmentIndex) || segmentIndex < 0) {
    throw new EngineError('INVALID_ARGUMENT', `segmentIndex must be a non-negative integer, got ${segmentIndex}`);
  }
  return draw(`segment\u0000${jobId}\u0000${segmentIndex}`, count, vocabSize);
}

/** The shared prefix's tokens: identical for every job with this prefix id. */
export function prefixTokens(prefixId: string, count: number, vocabSize: number): number[] {
  return draw(`prefix\u0000${prefixId}`, count, vocabSize);
}

/** All tokens appended for segment `segmentIndex` of `job` (prefix + own tokens on segment 0). */
export function jobSegmentTokens(job: WorkloadJob, segmentIndex: number, vocabSize: number): number[] {
  const segment = job.segments[segmentIndex];
  if (segment === undefined) {
    throw new EngineError('INVALID_ARGUMENT', `job '${job.id}' has no segment ${segmentIndex}`);
  }
  const own = segmentTokens(job.id, segmentIndex, segment.inputTokens, vocabSize);
  if (segmentIndex !== 0 || job.prefixId === undefined) return own;
  return prefixTokens(job.prefixId, job.prefixTokens ?? 0, vocabSize).concat(own);
}
