/**
 * A BPE tokenizer.json (Hugging Face `tokenizers` format) assembled from the parts that differ
 * between the tokenizers this engine writes itself (make-model's byte tokenizer, the ones rebuilt
 * from GGUF metadata); the fields every such file shares are fixed here, in the order
 * `tokenizers` writes them.
 */

export interface BpeTokenizerJsonParts {
  addedTokens: object[];
  normalizer: object | null;
  preTokenizer: object | null;
  postProcessor: object | null;
  decoder: object | null;
  vocab: Record<string, number>;
  /** "a b" strings or [a, b] pairs (the newer form, which allows a space inside a piece), by rank. */
  merges: (string | [string, string])[];
  /** Content of the token that stands for what the vocabulary cannot spell; null: none. */
  unkToken?: string | null;
  /** Consecutive unknown characters become one unk_token. */
  fuseUnk?: boolean;
  /** A character with no piece is spelled by its UTF-8 bytes as `<0xNN>` pieces. */
  byteFallback?: boolean;
  ignoreMerges?: boolean;
}

/** An added token: matched in text as a whole before the model runs; `special` ones are dropped by skip_special_tokens. */
export function addedToken(id: number, content: string, special: boolean): object {
  return { id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special };
}

export function bpeTokenizerJson(parts: BpeTokenizerJsonParts): object {
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: parts.addedTokens,
    normalizer: parts.normalizer,
    pre_tokenizer: parts.preTokenizer,
    post_processor: parts.postProcessor,
    decoder: parts.decoder,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: parts.unkToken ?? null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: parts.fuseUnk ?? false,
      byte_fallback: parts.byteFallback ?? false,
      ignore_merges: parts.ignoreMerges ?? false,
      vocab: parts.vocab,
      merges: parts.merges,
    },
  };
}
