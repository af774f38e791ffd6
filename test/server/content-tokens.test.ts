/**
 * Which tokens a call's content covers (lib/server/content-tokens.ts), on hand-made outputs: each
 * case lists the text every token released and the content the client gets, and the expected
 * tokens are worked out by hand from the rule (a token is covered when its text overlaps the
 * content; a token that released nothing counts as the character it starts).
 */
import { describe, expect, it } from 'vitest';
import { coveredRange, TokenSpans } from '../../lib/server/content-tokens.js';
import { stopSafeLength } from '../../lib/server/sse-writer.js';

function range(texts: string[], content: string, rawText = texts.join('')) {
  return coveredRange(TokenSpans.of(texts), rawText, content);
}

describe('the tokens content covers', () => {
  it('every token of plain text, not the end-of-sequence token (empty, at the end)', () => {
    expect(range(['He', 'llo', ''], 'Hello')).toEqual({ from: 0, to: 2, contentStart: 0 });
  });

  it('a byte that only starts a character belongs with the character a later token completes', () => {
    // 0xC3 releases nothing; 0xA9 releases "é".
    expect(range(['a', '', 'é', 'b'], 'aéb')).toEqual({ from: 0, to: 4, contentStart: 0 });
    // Content that ends before the character leaves both of its tokens out.
    expect(range(['a', '', 'é', 'b'], 'a')).toEqual({ from: 0, to: 1, contentStart: 0 });
    // An unfinished character at the end becomes U+FFFD in the segment's text: its byte is covered.
    expect(range(['a', ''], 'a\uFFFD', 'a\uFFFD')).toEqual({ from: 0, to: 2, contentStart: 0 });
  });

  it('leading whitespace the parser drops and tool-call markup after the content are not covered', () => {
    const texts = [' ', '\n', 'Hi', ' ', '<tool_call>', '{"name": "f", "arguments": {}}', '</tool_call>'];
    expect(range(texts, 'Hi')).toEqual({ from: 2, to: 3, contentStart: 2 });
  });

  it('a stop string and what follows it are not covered; a token that carries content and the stop string is', () => {
    expect(range(['a', 'b', 'E', 'N', 'D'], 'ab')).toEqual({ from: 0, to: 2, contentStart: 0 });
    expect(range(['ab', 'cE', 'ND'], 'abc')).toEqual({ from: 0, to: 2, contentStart: 0 });
  });

  it('no content: no tokens', () => {
    expect(range(['<tool_call>', '{"name": "f"}', '</tool_call>'], '')).toMatchObject({ from: 0, to: 0 });
  });

  it('the tokens of a prefix of the content are a prefix of the content\'s', () => {
    const spans = TokenSpans.of([' ', 'a', '', 'é', 'bc', 'd']);
    // Content "aébcd" starts at 1. Its prefixes: "a" → token 1; "aé" → tokens 1–3; "aéb" → 1–4.
    expect(spans.firstCovered(1)).toBe(1);
    expect(spans.coveredEnd(1 + 1)).toBe(2);
    expect(spans.coveredEnd(1 + 2)).toBe(4);
    expect(spans.coveredEnd(1 + 3)).toBe(5);
    expect(spans.coveredEnd(1 + 5)).toBe(6);
  });
});

describe('what a stream may send before a stop string is ruled out', () => {
  it.each([
    ['abc', ['END'], 3],
    ['abcE', ['END'], 3],
    ['abcEN', ['END'], 3],
    ['abcENDxy', ['END'], 3],
    ['abcEx', ['END'], 5],
    ['abcEN', ['ENDX', 'N'], 4],
    ['abcEN', [], 5],
  ] as [string, string[], number][])('%s with stops %o: %i characters', (raw, stop, safe) => {
    expect(stopSafeLength(raw, stop)).toBe(safe);
  });

  it('searching from an earlier answer gives the same answer', () => {
    expect(stopSafeLength('abcENDxy', ['END'], 3)).toBe(3);
    expect(stopSafeLength('abcEx', ['END'], 3)).toBe(5);
  });
});
