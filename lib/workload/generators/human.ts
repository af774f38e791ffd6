/**
 * How long a person takes to answer a chat message: read the reply, think, type the next message.
 *
 *   replyS = readTokens / READ_TOKENS_PER_S + min(typedTokens / TYPE_TOKENS_PER_S, MAX_TYPING_S) + think
 *
 * All assumptions (no trace here records human reply times in a chat):
 * - reading 240 words/min, about the usual figure for silent reading of non-fiction;
 * - typing 40 words/min, a little below the usual figure for keyboard typing (people also type on
 *   phones in support chats);
 * - 0.75 words per token (the usual rule of thumb for English with GPT-style tokenizers);
 * - typing is capped at MAX_TYPING_S: a longer message is taken to be pasted;
 * - think time lognormal(median 2 s, σ 0.75): reaction, deciding what to say.
 * So a 50-token reply answered with a 30-token message takes ≈ 9 + 34 + 2 ≈ 45 s; a 300-token
 * answer read and answered with 20 tokens ≈ 1.5 min.
 */
import { lognormal, type Rng } from '../random.js';

const WORDS_PER_TOKEN = 0.75;
export const READ_TOKENS_PER_S = 240 / 60 / WORDS_PER_TOKEN;
export const TYPE_TOKENS_PER_S = 40 / 60 / WORDS_PER_TOKEN;
export const MAX_TYPING_S = 120;
const THINK_MEDIAN_S = 2;
const THINK_SIGMA = 0.75;

/** Seconds a person takes to read `readTokens` and answer with `typedTokens` (one draw for think time). */
export function humanReplyS(rng: Rng, readTokens: number, typedTokens: number): number {
  const typingS = Math.min(typedTokens / TYPE_TOKENS_PER_S, MAX_TYPING_S);
  return readTokens / READ_TOKENS_PER_S + typingS + lognormal(rng, THINK_MEDIAN_S, THINK_SIGMA);
}
