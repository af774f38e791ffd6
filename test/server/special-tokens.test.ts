/**
 * Special tokens' text out of a reply (lib/server/special-tokens.ts), on real tokenizers
 * (../fixtures/real-tokenizers.ts): tokens are decoded one at a time as the engine decodes them
 * (special tokens kept), and the reply text drops exactly the text of the ids the tokenizer flags
 * special. Expected strings are written out by hand.
 */
import { describe, expect, it } from 'vitest';
import { Tokenizer } from '../../lib/model/tokenizer.js';
import { SpecialTextRanges } from '../../lib/server/special-tokens.js';
import { realTokenizerFiles, type FamilyName } from '../fixtures/real-tokenizers.js';

const tokenizers = new Map<FamilyName, Tokenizer>();
function tokenizer(family: FamilyName): Tokenizer {
  let t = tokenizers.get(family);
  if (!t) {
    const files = realTokenizerFiles(family);
    tokenizers.set(family, (t = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson)));
  }
  return t;
}

/** Text pieces and special tokens (by name) in order → ids, as a model would generate them. */
function ids(t: Tokenizer, parts: (string | { special: string })[]): number[] {
  return parts.flatMap((p) => (typeof p === 'string' ? t.encode(p, { addSpecialTokens: false }) : [t.tokenId(p.special)!]));
}

/** What the engine's decoder releases per token (special tokens kept), and the ranges fed with it. */
function decodeAsEngine(t: Tokenizer, tokens: number[], skip = true): { texts: string[]; output: string; ranges: SpecialTextRanges } {
  const decoder = t.createStreamDecoder();
  const texts = tokens.map((id) => decoder.push(id));
  texts[texts.length - 1] += decoder.flush();
  return { texts, output: texts.join(''), ranges: SpecialTextRanges.of(t, skip, tokens, texts) };
}

describe('special tokens out of the reply text', () => {
  const qwen = () => tokenizer('qwen3');

  it('Qwen3: special ids mid-text leave no trace; added tokens that are not special stay', () => {
    const t = qwen();
    const tokens = ids(t, ['Hello', { special: '<|endoftext|>' }, ' wörld', { special: '<|box_start|>' }, { special: '<|vision_pad|>' }, '!', { special: '<|fim_middle|>' }, ' ok']);
    const { output, ranges } = decodeAsEngine(t, tokens);
    expect(output).toBe('Hello<|endoftext|> wörld<|box_start|><|vision_pad|>!<|fim_middle|> ok'); // the engine keeps them
    // <|fim_middle|> is an added token the tokenizer does not flag special: it stays, as in HF.
    expect(ranges.stripContent(output, output)).toBe('Hello wörld!<|fim_middle|> ok');
    // skip_special_tokens false: the text as the engine has it.
    expect(decodeAsEngine(t, tokens, false).ranges.stripContent(output, output)).toBe(output);
  });

  it('a slice of the output (a content after trimming, a stream piece) drops the specials inside it only', () => {
    const t = qwen();
    const tokens = ids(t, ['  ', { special: '<|endoftext|>' }, 'ab', { special: '<|box_end|>' }, 'cd']);
    const { output, ranges } = decodeAsEngine(t, tokens);
    expect(output).toBe('  <|endoftext|>ab<|box_end|>cd');
    // The content the tool-call parser returns is trimmed: it starts after the two spaces.
    expect(ranges.stripContent(output, output.trim())).toBe('ab' + 'cd');
    // Pieces at any boundary, even inside a special's text, add up to the whole.
    for (let cut = 0; cut <= output.length; cut++) {
      expect(ranges.strip(output.slice(0, cut), 0) + ranges.strip(output.slice(cut), cut), `cut ${cut}`).toBe('  abcd');
    }
    // Positions in the text without them (the legacy text_offset): '  ' 0–1, '<|endoftext|>' 2–14,
    // 'ab' 15–16, '<|box_end|>' 17–27, 'cd' 28–29.
    expect([0, 2, 8, 15, 16, 17, 20, 28, 30].map((p) => ranges.visiblePosition(p))).toEqual([0, 2, 2, 2, 3, 4, 4, 4, 6]);
    const at = output.indexOf('<|box_end|>') + 3;
    expect(ranges.strip(output.slice(at, at + 5), at)).toBe(''); // wholly inside the special's text
  });

  it('Qwen3 tool-call markup is no special token: a reply with <tool_call> keeps it for the parser and the text', () => {
    const t = qwen();
    const tokens = ids(t, ['Hi', { special: '<tool_call>' }, '{}', { special: '</tool_call>' }]);
    const { output, ranges } = decodeAsEngine(t, tokens);
    expect(ranges.stripContent(output, output)).toBe('Hi<tool_call>{}</tool_call>');
  });

  it('a special token inside a multi-byte character: the character stays U+FFFD (the engine text has it so)', () => {
    const t = qwen();
    // "é" is the bytes C3 A9, byte-level tokens "Ã" and "©".
    const tokens = [t.tokenId('Ã')!, t.tokenId('<|endoftext|>')!, t.tokenId('©')!];
    const { output, ranges } = decodeAsEngine(t, tokens);
    expect(output).toBe('\uFFFD<|endoftext|>\uFFFD');
    expect(ranges.stripContent(output, output)).toBe('\uFFFD\uFFFD');
  });

  it('Mistral (SentencePiece, the windowed decoder): </s> between words is dropped, the space after it stays', () => {
    const t = tokenizer('mistral');
    const eos = t.tokenId('</s>')!;
    expect(t.isSpecialId(eos)).toBe(true);
    const tokens = [...t.encode('Hello', { addSpecialTokens: false }), eos, ...t.encode('Hello world', { addSpecialTokens: false }).slice(1)];
    const { output, ranges } = decodeAsEngine(t, tokens);
    expect(output).toBe('Hello</s> world');
    expect(ranges.stripContent(output, output)).toBe('Hello world');
  });

  it('content that is not one slice of the output loses every occurrence of the specials', () => {
    const t = qwen();
    const tokens = ids(t, ['a', { special: '<|endoftext|>' }, 'b']);
    const { ranges } = decodeAsEngine(t, tokens);
    expect(ranges.stripContent('zzz', 'x<|endoftext|>y')).toBe('xy');
  });
});
