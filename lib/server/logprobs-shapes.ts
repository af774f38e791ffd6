/**
 * Logprobs in OpenAI's two shapes, from the engine's per-token `{ logprob, top: [{ id, logprob }] }`
 * (SamplingOptions.logprobs; the raw distribution after the vocabulary mask, before penalties,
 * temperature and cuts: docs/architecture.md, "Sampling"):
 *
 * - chat: `{ content: [{ token, logprob, bytes, top_logprobs: [{ token, logprob, bytes }] }] }`;
 * - legacy completions: `{ tokens, token_logprobs, top_logprobs: [{ text: logprob }], text_offset }`.
 *
 * A token's text is its own bytes decoded alone, so a byte that only starts a multi-byte character
 * reads U+FFFD while `bytes` holds the byte, as OpenAI gives it. A special token is listed with its
 * own text (`<|im_end|>`) although the reply's text drops it (./special-tokens.ts): its
 * log-probability is the model's as any other's. Without a tokenizer a token reads
 * `token_id:<id>` (vLLM's spelling) and has no bytes.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import type { SampledLogprobs } from '../step.js';
import type { SegmentResult } from '../engine/types.js';
import { coveredRange, TokenSpans } from './content-tokens.js';
import type { SpecialTextRanges } from './special-tokens.js';

export interface TokenText {
  text: string;
  bytes: number[] | null;
}

/** Token ids to their text and bytes, each id decoded once per call. */
export class TokenTexts {
  private readonly cache = new Map<number, TokenText>();
  private readonly utf8 = new TextDecoder('utf-8', { fatal: false, ignoreBOM: true });

  constructor(private readonly tokenizer: Tokenizer | null) {}

  of(id: number): TokenText {
    let entry = this.cache.get(id);
    if (entry === undefined) {
      if (this.tokenizer === null) {
        entry = { text: `token_id:${id}`, bytes: null };
      } else {
        const bytes = this.tokenizer.tokenBytes(id);
        entry = { text: this.utf8.decode(bytes), bytes: Array.from(bytes) };
      }
      this.cache.set(id, entry);
    }
    return entry;
  }
}

/** One sampled token and what the engine returned for it. */
export interface TokenLogprobs {
  id: number;
  logprobs: SampledLogprobs;
}

/** Tokens a piece of content covers, with where each one's text starts in the content. */
export interface CoveredLogprobs {
  tokens: TokenLogprobs[];
  textOffsets: number[];
}

/**
 * Tokens [from, to) of a segment, offsets counted from `contentStart` in its raw output, in the
 * returned text's characters: `visible` maps a raw position past the special tokens' text that
 * the reply drops (./special-tokens.ts).
 */
export function coveredLogprobs(ids: readonly number[], logprobs: readonly SampledLogprobs[], spans: TokenSpans, from: number, to: number, contentStart: number, visible: SpecialTextRanges | null = null): CoveredLogprobs {
  const out: CoveredLogprobs = { tokens: [], textOffsets: [] };
  const position = (raw: number) => (visible ? visible.visiblePosition(raw) : raw);
  const start = position(contentStart);
  for (let i = from; i < to; i++) {
    out.tokens.push({ id: ids[i], logprobs: logprobs[i] });
    out.textOffsets.push(Math.max(0, position(spans.start(i)) - start));
  }
  return out;
}

/** The chat shape's `content` entries of these tokens. */
export function chatLogprobs(tokens: readonly TokenLogprobs[], texts: TokenTexts): { content: object[] } {
  return {
    content: tokens.map(({ id, logprobs }) => {
      const { text, bytes } = texts.of(id);
      return {
        token: text,
        logprob: logprobs.logprob,
        bytes,
        top_logprobs: logprobs.top.map((t) => {
          const alt = texts.of(t.id);
          return { token: alt.text, logprob: t.logprob, bytes: alt.bytes };
        }),
      };
    }),
  };
}

/**
 * The legacy shape of these tokens; `textOffsets[i]` is where token i's text starts in the
 * completion's text (a byte that only starts a character: where that character starts).
 * `top_logprobs` maps text to log-probability, so alternatives with the same text (the partial
 * bytes of different characters) keep the likelier one's, which comes first.
 */
export function legacyLogprobs(tokens: readonly TokenLogprobs[], texts: TokenTexts, textOffsets: readonly number[]) {
  return {
    tokens: tokens.map(({ id }) => texts.of(id).text),
    token_logprobs: tokens.map(({ logprobs }) => logprobs.logprob),
    top_logprobs: tokens.map(({ logprobs }) => {
      const top: Record<string, number> = Object.create(null);
      for (const t of logprobs.top) {
        const alt = texts.of(t.id).text;
        if (!(alt in top)) top[alt] = t.logprob;
      }
      return top;
    }),
    text_offset: [...textOffsets],
  };
}

/**
 * The logprobs of a whole segment's `content` (the chat message's content, or a completion's
 * text): the tokens it covers (./content-tokens.ts), from the texts the tokens released. Null when
 * the segment has none (the call did not ask).
 */
export function segmentLogprobs(result: SegmentResult, tokenTexts: readonly string[], content: string, visible: SpecialTextRanges | null = null): CoveredLogprobs | null {
  if (!result.logprobs) return null;
  const spans = TokenSpans.of(tokenTexts);
  const output = tokenTexts.join('');
  const range = coveredRange(spans, result.text.length > output.length ? result.text : output, content);
  return coveredLogprobs(result.tokens, result.logprobs, spans, range.from, range.to, range.contentStart, visible);
}
