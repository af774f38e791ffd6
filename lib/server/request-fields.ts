/**
 * The OpenAI request fields the schemas (./schemas.ts) let through but whose values this server
 * cannot honour, and the sampling fields as the engine's SamplingOptions. The rule: never a silent
 * 200 — a field whose value would change what OpenAI returns, and that this server does not
 * honour, is a 400 naming it; a field that changes nothing here (`user`, `metadata`, `store: false`, ...) is
 * accepted. Fields no schema lists are a 400 too (the schemas forbid additional properties). The
 * table of every field is docs/server.md, "OpenAI compatibility".
 */
import { randomInt } from 'node:crypto';
import type { SamplingOptions } from '../step.js';
import { badRequest } from './errors.js';

/** The fields both routes share that this module reads. */
export interface SamplingFields {
  temperature?: number | null;
  top_p?: number | null;
  top_k?: number | null;
  min_p?: number | null;
  presence_penalty?: number | null;
  frequency_penalty?: number | null;
  seed?: number | null;
  n?: number | null;
  logit_bias?: Record<string, number> | null;
  store?: boolean | null;
  skip_special_tokens?: boolean | null;
}

export interface ChatOnlyFields {
  logprobs?: boolean | null;
  top_logprobs?: number | null;
  modalities?: string[] | null;
  parallel_tool_calls?: boolean | null;
  audio?: unknown;
  prediction?: unknown;
  web_search_options?: unknown;
  functions?: unknown;
  function_call?: unknown;
  reasoning_effort?: unknown;
  verbosity?: unknown;
}

export interface CompletionOnlyFields {
  logprobs?: number | null;
  best_of?: number | null;
  echo?: boolean | null;
  suffix?: string | null;
}

const unsupported = (field: string, why: string) => badRequest(`${field} is not supported: ${why}`, field, 'unsupported_field');

/** What both routes refuse. */
function checkCommon(body: SamplingFields): void {
  if (body.logit_bias != null && Object.keys(body.logit_bias).length > 0) throw unsupported('logit_bias', 'no per-token bias; send {} or leave it out');
  // OpenAI's store keeps the completion for its dashboard; nothing is stored here.
  if (body.store === true) throw unsupported('store', 'completions are not stored; send false or leave it out');
}

/** Fields present with any value other than null are refused, each with why. */
const CHAT_REFUSED: Record<string, string> = {
  audio: 'no audio output',
  prediction: 'no predicted outputs',
  web_search_options: 'no web search',
  functions: 'the deprecated functions API; send tools',
  function_call: 'the deprecated functions API; send tool_choice',
  // Reasoning templates read these (gpt-oss's reasoning_effort); the template gets neither here.
  reasoning_effort: 'the chat template is not given it',
  verbosity: 'the chat template is not given it',
};

export function checkChatFields(body: SamplingFields & ChatOnlyFields): void {
  checkCommon(body);
  for (const [field, why] of Object.entries(CHAT_REFUSED)) {
    if ((body as Record<string, unknown>)[field] != null) throw unsupported(field, why);
  }
  if (body.modalities != null && body.modalities.some((m) => m !== 'text')) throw unsupported('modalities', 'text only');
  if ((body.top_logprobs ?? 0) > 0 && body.logprobs !== true) throw badRequest('top_logprobs needs logprobs: true', 'top_logprobs', 'invalid_value');
}

export function checkCompletionFields(body: SamplingFields & CompletionOnlyFields): void {
  checkCommon(body);
  // best_of = n is n choices; a larger best_of asks for candidates ranked by likelihood, refused.
  if (body.best_of != null && body.best_of !== (body.n ?? 1)) throw unsupported('best_of', 'no ranking of candidates (best_of = n, or leave it out)');
  if (body.echo === true) throw unsupported('echo', 'the prompt is not echoed');
  if (body.suffix != null && body.suffix !== '') throw unsupported('suffix', 'no insertion (fill-in-the-middle)');
}

/**
 * The engine's sampling options. Defaults are OpenAI's (temperature 1), not the Node API's
 * (greedy). `top_k` -1 or 0 (vLLM's "no cut") is no cut. `logprobs` asks for the sampled token's
 * log-probability and `topLogprobs` alternatives.
 */
export function samplingOptions(body: SamplingFields, logprobs: { topLogprobs: number } | null): SamplingOptions {
  const sampling: SamplingOptions = { temperature: body.temperature ?? 1, topP: body.top_p ?? 1 };
  if (body.top_k != null && body.top_k > 0) sampling.topK = body.top_k;
  if (body.min_p != null) sampling.minP = body.min_p;
  if (body.presence_penalty != null) sampling.presencePenalty = body.presence_penalty;
  if (body.frequency_penalty != null) sampling.frequencyPenalty = body.frequency_penalty;
  if (body.seed != null) sampling.seed = body.seed;
  if (logprobs !== null) {
    sampling.logprobs = true;
    sampling.topLogprobs = logprobs.topLogprobs;
  }
  return sampling;
}

/**
 * vLLM's `skip_special_tokens` (both routes; the schema has checked it is a boolean or null):
 * absent or null is true, the reply's text then has no special token's (./special-tokens.ts).
 */
export function skipsSpecialTokens(body: SamplingFields): boolean {
  return body.skip_special_tokens ?? true;
}

/**
 * The logprobs a call asks for, or null. The simulator (and the tests' scripted model) has no
 * logits, so it cannot give them: a 400 rather than a reply without them.
 */
export function wantedLogprobs(asked: boolean, topLogprobs: number, backendKind: string): { topLogprobs: number } | null {
  if (!asked) return null;
  if (backendKind === 'sim') throw unsupported('logprobs', 'this backend (the simulator) computes no logits');
  return { topLogprobs };
}

/**
 * Each choice's seed: the call's seed plus the choice's index (so choice 0 draws what the same
 * call with n = 1 draws). No seed: a random base, as OpenAI draws afresh on every call — the
 * engine's own default seed (0) would make every unseeded call at a temperature draw alike.
 */
export function choiceSeeds(seed: number | null | undefined, n: number): number[] {
  const base = seed ?? randomInt(2 ** 31);
  return Array.from({ length: n }, (_, i) => base + i);
}
