/**
 * Special tokens out of the reply text (vLLM's `skip_special_tokens`, default true): a reply's
 * `content` (chat), `text` (completions) and streamed deltas never hold the text of a token the
 * tokenizer flags special (`<|im_end|>` under ignore_eos, a random model's `<|reserved_7|>`).
 *
 * The engine decodes with special tokens kept, and its stop strings and tool-call parsers read
 * that text: tool-call markers that are special tokens in some families (Mistral's
 * `[TOOL_CALLS]` and `[ARGS]`, Llama 3.1's `<|python_tag|>`) must reach the parsers, or the calls
 * are lost. So the reply is cut from the engine's text as before (content is a slice of it,
 * ./content-tokens.ts) and only then loses the special tokens' text: each special token released
 * its own text as the end of what it released (the byte-level decoder releases a held, unfinished
 * character first; a windowed decoder the special's text), so where that text lies in the output
 * is known token by token, and a slice of the output drops exactly those characters — a marker
 * that the parser took as a call is not in the content anyway, one it could not read is dropped.
 *
 * Not as Hugging Face's decode with skip_special_tokens: there a skipped token vanishes before
 * decoding, so the bytes of a character split around it join; here the character the special
 * interrupted stays U+FFFD, as the engine's text has it. A model writes a special token inside a
 * character only by chance.
 */
import type { Tokenizer } from '../model/tokenizer.js';
import { contentSlice } from './content-tokens.js';

/** Where the special tokens' text lies in a segment's output, fed token by token. */
export class SpecialTextRanges {
  /** [start, end) in the output, in order and disjoint. */
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  /** The text of each range (the special's own). */
  private readonly texts: string[] = [];
  /** Characters in ranges [0, r], per r. */
  private readonly hiddenThrough: number[] = [];
  private length = 0;

  /** `skip` false: nothing is dropped (the request's `skip_special_tokens: false`). */
  constructor(
    private readonly tokenizer: Tokenizer | null,
    private readonly skip: boolean,
  ) {}

  /** The ranges of a finished segment's tokens, from the text each released. */
  static of(tokenizer: Tokenizer | null, skip: boolean, ids: readonly number[], texts: readonly string[]): SpecialTextRanges {
    const ranges = new SpecialTextRanges(tokenizer, skip);
    texts.forEach((text, i) => ranges.push(ids[i], text));
    return ranges;
  }

  /** Appends the next token, which released `text`. */
  push(id: number, text: string): void {
    this.length += text.length;
    if (!this.skip || this.tokenizer === null || !this.tokenizer.isSpecialId(id)) return;
    const own = specialText(this.tokenizer, id);
    // A decoder that wrote the special otherwise (none known) keeps it rather than cut a wrong range.
    if (own.length === 0 || !text.endsWith(own)) return;
    this.starts.push(this.length - own.length);
    this.ends.push(this.length);
    this.texts.push(own);
    this.hiddenThrough.push((this.hiddenThrough.at(-1) ?? 0) + own.length);
  }

  /** `piece`, which lies at `at` in the output, without the special tokens' text. */
  strip(piece: string, at: number): string {
    let out = '';
    let from = 0; // piece[0, from) is dealt with
    for (let r = this.firstEndingAfter(at); r < this.starts.length && this.starts[r] < at + piece.length; r++) {
      const start = Math.max(0, this.starts[r] - at);
      out += piece.slice(from, start);
      from = Math.max(from, this.ends[r] - at);
    }
    return out + piece.slice(from);
  }

  /**
   * Where output position `at` falls in the text without the special tokens' (a position inside
   * a special's text falls where that text was): the legacy logprobs' `text_offset`.
   */
  visiblePosition(at: number): number {
    // Ranges [0, n) start before `at`; all but the last end by `at` (they are disjoint and in order).
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < at) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) return at;
    const last = lo - 1;
    const hidden = this.hiddenThrough[last] - (this.ends[last] - Math.min(this.ends[last], at));
    return at - hidden;
  }

  /**
   * A segment's content (or text) without the special tokens' text, given the output it was cut
   * from. Content that is not one slice of the output (which the parsers never produce) loses
   * every occurrence of the specials' text instead.
   */
  stripContent(output: string, content: string): string {
    if (this.starts.length === 0) return content;
    const slice = contentSlice(output, content);
    if (slice !== null) return this.strip(content, slice.start);
    let out = content;
    for (const text of new Set(this.texts)) out = out.replaceAll(text, '');
    return out;
  }

  /** The first range that ends after `at` (binary search: ranges are in order). */
  private firstEndingAfter(at: number): number {
    let lo = 0;
    let hi = this.ends.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ends[mid] <= at) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

const textOfSpecial = new WeakMap<Tokenizer, Map<number, string>>();

/** The text a special token stands for (its content), decoded once per tokenizer and id. */
function specialText(tokenizer: Tokenizer, id: number): string {
  let byId = textOfSpecial.get(tokenizer);
  if (!byId) textOfSpecial.set(tokenizer, (byId = new Map()));
  let text = byId.get(id);
  if (text === undefined) {
    text = new TextDecoder().decode(tokenizer.tokenBytes(id));
    byId.set(id, text);
  }
  return text;
}
