/**
 * Which generated tokens a call's content covers, for its logprobs (docs/server.md, "Logprobs").
 *
 * Each token has a span in the raw output text: the text the detokenizer released when it came.
 * A byte-level token that only starts a multi-byte character releases nothing: its span is empty,
 * at the offset of the character it belongs to, which a later token completes. The content a
 * client gets is one slice of the raw text, `raw[start, end)`: the tool-call parser trims leading
 * and trailing whitespace and withholds markup only after the content (a valid Hermes block ends
 * generation; a Mistral `[TOOL_CALLS]` takes the rest), and a stop string cuts the end.
 *
 * A token is covered when its span overlaps the slice, an empty span counting as the character it
 * belongs to. The covered tokens are a contiguous run — leading whitespace tokens before it, tool
 * markup, stop strings and the end-of-sequence token (empty, at the end) after it — and a prefix
 * of the content covers a prefix of that run: what lets a stream hand out each token's logprobs
 * with the chunk that carries its text, and the chunks add up to the whole call's.
 */

/** Where each token's text lies in the raw output. */
export class TokenSpans {
  private readonly starts: number[] = [];
  private readonly ends: number[] = [];
  private length = 0;

  static of(texts: readonly string[]): TokenSpans {
    const spans = new TokenSpans();
    for (const t of texts) spans.push(t);
    return spans;
  }

  /** Appends the next token, which released `text`. */
  push(text: string): void {
    this.starts.push(this.length);
    this.length += text.length;
    this.ends.push(this.length);
  }

  /** Where token i's text starts in the raw output. */
  start(i: number): number {
    return this.starts[i];
  }

  get count(): number {
    return this.starts.length;
  }

  /** The first token past the leading tokens that end at or before `start` (whitespace the content drops). */
  firstCovered(start: number): number {
    let i = 0;
    while (i < this.starts.length && Math.max(this.ends[i], this.starts[i] + 1) <= start) i++;
    return i;
  }

  /** One past the last token that starts before `end`: the tokens of raw[0, end). */
  coveredEnd(end: number): number {
    // Starts never decrease: a binary search, since a stream asks once per chunk.
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] < end) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * Where `content` lies in `raw`: at 0 (completions, or a chat cut by a stop string, which is not
 * trimmed) or after the leading whitespace (the tool-call parser's trim). Null when it is neither
 * (content that is not one slice of the output, which the parsers never produce today).
 */
export function contentSlice(raw: string, content: string): { start: number; end: number } | null {
  const leading = raw.length - raw.trimStart().length;
  for (const start of [leading, 0]) {
    if (raw.startsWith(content, start)) return { start, end: start + content.length };
  }
  return null;
}

/**
 * The tokens `content` covers, [from, to), and where the content starts in the raw output
 * (`rawText`: the text the tokens released, or the segment's text when the final flush made it
 * longer, an unfinished character becoming U+FFFD).
 */
export function coveredRange(spans: TokenSpans, rawText: string, content: string): { from: number; to: number; contentStart: number } {
  const slice = contentSlice(rawText, content);
  // Not one slice: every token with text before the end (not a final end-of-sequence token).
  if (slice === null) return { from: 0, to: spans.coveredEnd(rawText.length), contentStart: 0 };
  if (slice.end === slice.start) return { from: 0, to: 0, contentStart: slice.start };
  return { from: spans.firstCovered(slice.start), to: spans.coveredEnd(slice.end), contentStart: slice.start };
}
