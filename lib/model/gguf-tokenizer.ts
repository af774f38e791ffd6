/**
 * The tokenizer of a GGUF file, rebuilt from its metadata as the tokenizer.json (Hugging Face
 * `tokenizers` format) the checkpoint it came from would have, for Tokenizer.fromJson.
 *
 * Only byte-level BPE (`tokenizer.ggml.model == 'gpt2'`: Llama 3, Qwen2, GPT-2 style) is built,
 * and only for a pre-tokenizer (`tokenizer.ggml.pre`) whose split this file knows: the regexes
 * are those of the published tokenizer.json files. Anything else (SentencePiece 'llama', an
 * unknown pre-tokenizer) gives no tokenizer and the reason: a tokenizer that splits text
 * differently from the model's own would feed it ids it was not trained on, silently.
 *
 *   tokenizer.ggml.tokens      → model.vocab (id = place in the list)
 *   tokenizer.ggml.merges      → model.merges ("a b")
 *   tokenizer.ggml.token_type  → 3 (control): a special added token; 4 (user-defined): an added token
 *   bos/eos/eot/eom/padding_token_id, add_bos_token, tokenizer.chat_template → tokenizer_config
 */
import { EngineError } from '../errors.js';
import type { GgufHeader, GgufValue } from './gguf-file.js';
import { Tokenizer } from './tokenizer.js';

/** GPT-2's split, the one ByteLevel applies itself when use_regex is on. */
const GPT2 = 'gpt2';
/** Llama 3's split (its tokenizer.json): digits in runs of at most three. */
const LLAMA3_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's split (its tokenizer.json): Llama 3's with every digit on its own. */
const QWEN2_SPLIT = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

interface PreTokenizerPlan {
  split: string; // GPT2, or a regex for a Split before a regex-less ByteLevel
  normalizer: object | null;
  ignoreMerges: boolean;
}

/** `tokenizer.ggml.pre` values (llama.cpp's names) → what the checkpoint's tokenizer.json does. */
const PRE_TOKENIZERS: Record<string, PreTokenizerPlan> = {
  default: { split: GPT2, normalizer: null, ignoreMerges: false },
  gpt2: { split: GPT2, normalizer: null, ignoreMerges: false },
  'llama-bpe': { split: LLAMA3_SPLIT, normalizer: null, ignoreMerges: true },
  qwen2: { split: QWEN2_SPLIT, normalizer: { type: 'NFC' }, ignoreMerges: false },
};

const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

export interface GgufTokenizerFiles {
  tokenizerJson: object;
  tokenizerConfigJson: object;
  generationConfigJson: object;
}

/** Why a file's tokenizer is not built, or null when it is. */
export function ggufTokenizerUnsupported(metadata: Map<string, GgufValue>): string | null {
  const model = metadata.get('tokenizer.ggml.model');
  if (model === undefined) return 'the GGUF file has no tokenizer (no tokenizer.ggml.model)';
  if (model !== 'gpt2') return `GGUF tokenizer model "${String(model)}" is not supported (byte-level BPE, "gpt2", is)`;
  const pre = metadata.get('tokenizer.ggml.pre') ?? 'default';
  if (typeof pre !== 'string' || !(pre in PRE_TOKENIZERS)) {
    return `GGUF pre-tokenizer "${String(pre)}" is not supported (supported: ${Object.keys(PRE_TOKENIZERS).join(', ')})`;
  }
  return null;
}

function stringList(metadata: Map<string, GgufValue>, key: string, required: boolean): string[] {
  const value = metadata.get(key);
  if (value === undefined && !required) return [];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new EngineError('INVALID_TOKENIZER', `the GGUF file's ${key} must be a list of strings`);
  }
  return value as string[];
}

function tokenId(metadata: Map<string, GgufValue>, key: string, count: number): number | null {
  const value = metadata.get(key);
  if (value === undefined) return null;
  const id = typeof value === 'bigint' ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new EngineError('INVALID_TOKENIZER', `the GGUF file's ${key} is not a token id`);
  // llama.cpp's converter writes -1 as a u32 for "none"; an id past the list is no token.
  return id < count ? id : null;
}

/** The tokenizer.json, tokenizer_config.json and generation_config.json a byte-level BPE GGUF implies. */
export function ggufTokenizerFiles(header: GgufHeader): GgufTokenizerFiles {
  const m = header.metadata;
  const unsupported = ggufTokenizerUnsupported(m);
  if (unsupported) throw new EngineError('UNSUPPORTED_MODEL', unsupported);
  const plan = PRE_TOKENIZERS[(m.get('tokenizer.ggml.pre') as string | undefined) ?? 'default'];
  const tokens = stringList(m, 'tokenizer.ggml.tokens', true);
  const merges = stringList(m, 'tokenizer.ggml.merges', false).map((merge) => {
    const parts = merge.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new EngineError('INVALID_TOKENIZER', `GGUF merge ${JSON.stringify(merge)} is not two tokens separated by one space`);
    return parts;
  });
  const typesValue = m.get('tokenizer.ggml.token_type') ?? [];
  if (!Array.isArray(typesValue) || typesValue.length > tokens.length) {
    throw new EngineError('INVALID_TOKENIZER', "the GGUF file's tokenizer.ggml.token_type must be a list no longer than its tokens");
  }

  const vocab: [string, number][] = [];
  const seen = new Set<string>();
  const addedTokens: object[] = [];
  tokens.forEach((content, id) => {
    // A string listed twice keeps its first id (as llama.cpp's text → id map does).
    if (!seen.has(content)) vocab.push([content, id]);
    seen.add(content);
    const type = Number(typesValue[id] ?? 1);
    if (type === TOKEN_TYPE_CONTROL || type === TOKEN_TYPE_USER_DEFINED) {
      addedTokens.push({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: type === TOKEN_TYPE_CONTROL });
    }
  });

  const bos = tokenId(m, 'tokenizer.ggml.bos_token_id', tokens.length);
  const eos = tokenId(m, 'tokenizer.ggml.eos_token_id', tokens.length);
  const pad = tokenId(m, 'tokenizer.ggml.padding_token_id', tokens.length);
  const stopIds = [eos, tokenId(m, 'tokenizer.ggml.eot_token_id', tokens.length), tokenId(m, 'tokenizer.ggml.eom_token_id', tokens.length)];
  const addBos = m.get('tokenizer.ggml.add_bos_token') === true && bos !== null;
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: plan.split === GPT2 };
  const preTokenizer =
    plan.split === GPT2
      ? { ...byteLevel, trim_offsets: true }
      : {
          type: 'Sequence',
          pretokenizers: [{ type: 'Split', pattern: { Regex: plan.split }, behavior: 'Isolated', invert: false }, byteLevel],
        };
  const bosToken = bos === null ? null : tokens[bos];
  const postProcessor = addBos
    ? {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: bosToken, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [{ SpecialToken: { id: bosToken, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: bosToken, type_id: 1 } }, { Sequence: { id: 'B', type_id: 1 } }],
        special_tokens: { [bosToken as string]: { id: bosToken, ids: [bos], tokens: [bosToken] } },
      }
    : byteLevel;

  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: addedTokens,
    normalizer: plan.normalizer,
    pre_tokenizer: preTokenizer,
    post_processor: postProcessor,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: plan.ignoreMerges,
      vocab: Object.fromEntries(vocab),
      merges,
    },
  };
  const template = m.get('tokenizer.chat_template');
  const tokenizerConfigJson = {
    add_bos_token: addBos,
    add_eos_token: false,
    bos_token: bosToken,
    eos_token: eos === null ? null : tokens[eos],
    pad_token: pad === null ? null : tokens[pad],
    unk_token: null,
    clean_up_tokenization_spaces: false,
    chat_template: typeof template === 'string' ? template : null,
  };
  const generationConfigJson = { bos_token_id: bos, eos_token_id: [...new Set(stopIds.filter((id) => id !== null))] };
  return { tokenizerJson, tokenizerConfigJson, generationConfigJson };
}

/** The file's tokenizer, or null and why (see ggufTokenizerUnsupported). */
export function ggufTokenizer(header: GgufHeader): { tokenizer: Tokenizer | null; reason: string | null } {
  const reason = ggufTokenizerUnsupported(header.metadata);
  if (reason) return { tokenizer: null, reason };
  const files = ggufTokenizerFiles(header);
  const tokenizer = Tokenizer.fromJson(files.tokenizerJson, files.tokenizerConfigJson, { generationConfigJson: files.generationConfigJson });
  return { tokenizer, reason: null };
}
