/**
 * A TokenConstraint over a compiled xgrammar grammar: its matcher follows the tokens and gives
 * each step's bitmask. xgrammar's mask already has the layout the native sampler takes (32-bit
 * words, id i at bit i % 32 of word i >> 5) and already treats end of sequence as we need: the
 * stop ids are allowed only once the grammar is complete, and then nothing else is. The per-state
 * work is cached by xgrammar when the grammar is compiled (its adaptive token-mask cache), so a
 * step's mask is mostly a copy of precomputed bits.
 */
import type { CompiledGrammar, GrammarMatcher } from '@mlc-ai/web-xgrammar';
import type { TokenConstraint } from './constraint.js';
import { afterBytes, BETWEEN_CHARACTERS, type Utf8Guard, type Utf8State } from './utf8-guard.js';
import type { ConstraintVocabulary } from './vocabulary.js';
import { xgrammar } from './xgrammar-load.js';

export class GrammarConstraint implements TokenConstraint {
  private mask: Uint32Array;
  private disposed = false;
  private utf8: Utf8State = BETWEEN_CHARACTERS;

  private constructor(
    private readonly matcher: GrammarMatcher,
    private readonly eosIds: readonly number[],
    private readonly guard: Utf8Guard | null,
    firstMask: Int32Array,
  ) {
    this.mask = this.guarded(firstMask);
  }

  /** A constraint at the grammar's start, its first mask ready. */
  static async start(grammar: CompiledGrammar, vocabulary: ConstraintVocabulary): Promise<GrammarConstraint> {
    const matcher = await xgrammar().GrammarMatcher.createGrammarMatcher(grammar, vocabulary.eosIds);
    return new GrammarConstraint(matcher, vocabulary.eosIds, vocabulary.utf8Guard, await matcher.getNextTokenBitmask());
  }

  /** The grammar's mask, less what would break UTF-8 (./utf8-guard.ts). */
  private guarded(grammarMask: Int32Array): Uint32Array {
    const words = asWords(grammarMask);
    if (this.guard) {
      const valid = this.guard.mask(this.utf8);
      for (let i = 0; i < words.length; i++) words[i] &= valid[i];
    }
    return words;
  }

  allowedTokens(): Uint32Array {
    return this.mask;
  }

  async accept(token: number): Promise<boolean> {
    if (this.disposed || !this.matcher.acceptToken(token)) return false;
    if (this.guard) {
      const bytes = this.guard.bytesOf(token);
      this.utf8 = (bytes && afterBytes(this.utf8, bytes)) ?? BETWEEN_CHARACTERS;
    }
    // A terminated matcher (it took an end-of-sequence id) has no next mask: the segment ends.
    if (this.matcher.isTerminated()) return true;
    try {
      this.mask = this.guarded(await this.matcher.getNextTokenBitmask());
    } catch (error) {
      // The segment ended (and disposed the matcher) while the mask was being computed.
      if (this.disposed) return false;
      throw error;
    }
    return true;
  }

  isComplete(): boolean {
    return this.matcher.isTerminated() || this.eosIds.some((id) => (this.mask[id >>> 5] >>> (id & 31)) & 1);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.matcher.dispose();
  }
}

/** The same bits as unsigned words, without a copy. */
function asWords(mask: Int32Array): Uint32Array {
  return new Uint32Array(mask.buffer, mask.byteOffset, mask.length);
}
