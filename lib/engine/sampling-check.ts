/**
 * A segment's sampling options, checked when it is submitted: a bad value is the caller's
 * INVALID_ARGUMENT there, instead of an INVALID_PLAN that would fail the whole batch's step
 * (the native plan check stays, as the last line). Ranges are OpenAI's where it has one. The seed
 * is not checked: the plan takes it modulo 2^32, as it always has.
 */
import { EngineError } from '../errors.js';
import type { SamplingOptions } from '../step.js';
import { MAX_TOP_LOGPROBS } from '../native/plan.js';

export function checkSampling(sampling: SamplingOptions | undefined): void {
  if (!sampling) return;
  const bad = (why: string) => {
    throw new EngineError('INVALID_ARGUMENT', `sampling.${why}`);
  };
  const { temperature, topK, topP, minP, presencePenalty, frequencyPenalty, logprobs, topLogprobs } = sampling;
  if (temperature !== undefined && !(Number.isFinite(temperature) && temperature >= 0)) bad(`temperature must be a finite number >= 0, got ${temperature}`);
  if (topK !== undefined && !(Number.isInteger(topK) && topK >= 0 && topK <= 2 ** 31 - 1)) bad(`topK must be an integer >= 0, got ${topK}`);
  if (topP !== undefined && !(topP > 0 && topP <= 1)) bad(`topP must be in (0, 1], got ${topP}`);
  if (minP !== undefined && !(minP >= 0 && minP <= 1)) bad(`minP must be in [0, 1], got ${minP}`);
  if (presencePenalty !== undefined && !(presencePenalty >= -2 && presencePenalty <= 2)) bad(`presencePenalty must be in [-2, 2], got ${presencePenalty}`);
  if (frequencyPenalty !== undefined && !(frequencyPenalty >= -2 && frequencyPenalty <= 2)) bad(`frequencyPenalty must be in [-2, 2], got ${frequencyPenalty}`);
  if (logprobs !== undefined && typeof logprobs !== 'boolean') bad('logprobs must be true or false');
  if (topLogprobs !== undefined) {
    if (!(Number.isInteger(topLogprobs) && topLogprobs >= 0 && topLogprobs <= MAX_TOP_LOGPROBS)) bad(`topLogprobs must be an integer in [0, ${MAX_TOP_LOGPROBS}], got ${topLogprobs}`);
    if (topLogprobs > 0 && !logprobs) bad('topLogprobs needs logprobs: true');
  }
}
