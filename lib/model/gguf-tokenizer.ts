/**
 * The tokenizer of a GGUF file, rebuilt from its metadata as the tokenizer.json (Hugging Face
 * `tokenizers` format) the checkpoint it came from would have, for Tokenizer.fromJson.
 *
 * Two kinds of vocabulary (`tokenizer.ggml.model`) are built:
 * - 'gpt2', byte-level BPE (Llama 3, Qwen2, GPT-2 style), for a pre-tokenizer
 *   (`tokenizer.ggml.pre`) whose split this file knows: the regexes are those of the published
 *   tokenizer.json files.
 * - 'llama', SentencePiece BPE (Mistral 7B, Llama 2, ...): merges derived from the pieces' scores,
 *   byte fallback, "▁" for a space (./gguf-spm-tokenizer.ts).
 * Anything else (WordPiece 'bert', Unigram 't5', an unknown pre-tokenizer) gives no tokenizer and
 * the reason: a tokenizer that splits text differently from the model's own would feed it ids it
 * was not trained on, silently.
 *
 *   tokenizer.ggml.tokens      → model.vocab (id = place in the list)
 *   tokenizer.ggml.merges      → model.merges (gpt2)
 *   tokenizer.ggml.scores      → model.merges (llama; derived, see gguf-spm-tokenizer.ts)
 *   tokenizer.ggml.token_type  → 3 (control), 2 (unknown): a special added token; 4 (user-defined):
 *                                an added token (the three llama.cpp matches whole in text)
 *   bos/eos/eot/eom/padding/unknown_token_id, add_bos_token, add_eos_token, tokenizer.chat_template
 *                              → post_processor, tokenizer_config, generation_config
 *
 * A 'llama' file that leaves a key out gets llama.cpp's default: BOS 1, EOS 2, unknown 0, BOS
 * added, space prefix added.
 */
import { EngineError } from '../errors.js';
import type { GgufHeader, GgufValue } from './gguf-file.js';
import { sentencePieceParts, sentencePieceScores } from './gguf-spm-tokenizer.js';
import { Tokenizer } from './tokenizer.js';
import { addedToken, bpeTokenizerJson, type BpeTokenizerJsonParts } from './tokenizer-json.js';

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
  // llama.cpp's other names for the same Llama 3 split.
  llama3: { split: LLAMA3_SPLIT, normalizer: null, ignoreMerges: true },
  'llama-v3': { split: LLAMA3_SPLIT, normalizer: null, ignoreMerges: true },
  qwen2: { split: QWEN2_SPLIT, normalizer: { type: 'NFC' }, ignoreMerges: false },
};

const TOKEN_TYPE_UNKNOWN = 2;
const TOKEN_TYPE_CONTROL = 3;
const TOKEN_TYPE_USER_DEFINED = 4;

/**
 * What llama.cpp assumes for a key a SentencePiece ('llama') file leaves out. (For 'gpt2' it assumes
 * GPT-2's id 11, right for no other model; here an absent id is no token.)
 */
const SENTENCEPIECE_DEFAULTS = { bosId: 1, eosId: 2, unknownId: 0, addBos: true };
const BYTE_LEVEL_DEFAULTS = { bosId: null, eosId: null, unknownId: null, addBos: false };

export interface GgufTokenizerFiles {
  tokenizerJson: object;
  tokenizerConfigJson: object;
  generationConfigJson: object;
}

/** Why a file's tokenizer is not built, or null when it is. */
export function ggufTokenizerUnsupported(metadata: Map<string, GgufValue>): string | null {
  const model = metadata.get('tokenizer.ggml.model');
  if (model === undefined) return 'the GGUF file has no tokenizer (no tokenizer.ggml.model)';
  if (model === 'llama') return null;
  if (model !== 'gpt2') return `GGUF tokenizer model "${String(model)}" is not supported (byte-level BPE "gpt2" and SentencePiece "llama" are)`;
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

/** The id under `key` (`fallback` when the key is absent), or null for none. */
function tokenId(metadata: Map<string, GgufValue>, key: string, count: number, fallback: number | null = null): number | null {
  const value = metadata.get(key) ?? fallback;
  if (value === null) return null;
  const id = typeof value === 'bigint' ? Number(value) : value;
  if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new EngineError('INVALID_TOKENIZER', `the GGUF file's ${key} is not a token id`);
  // llama.cpp's converter writes -1 as a u32 for "none"; an id past the list is no token.
  return id < count ? id : null;
}

function flag(metadata: Map<string, GgufValue>, key: string, fallback: boolean): boolean {
  const value = metadata.get(key);
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new EngineError('INVALID_TOKENIZER', `the GGUF file's ${key} must be a boolean`);
  return value;
}

/** HF's TemplateProcessing that puts BOS before and/or EOS after each sequence, or null when it adds neither. */
function specialTokensProcessor(tokens: string[], bos: number | null, eos: number | null): object | null {
  if (bos === null && eos === null) return null;
  const around = (sequence: string, typeId: number): object[] => [
    ...(bos === null ? [] : [{ SpecialToken: { id: tokens[bos], type_id: typeId } }]),
    { Sequence: { id: sequence, type_id: typeId } },
    ...(eos === null ? [] : [{ SpecialToken: { id: tokens[eos], type_id: typeId } }]),
  ];
  const specialTokens: Record<string, object> = {};
  for (const id of [bos, eos]) if (id !== null) specialTokens[tokens[id]] = { id: tokens[id], ids: [id], tokens: [tokens[id]] };
  return { type: 'TemplateProcessing', single: around('A', 0), pair: [...around('A', 0), ...around('B', 1)], special_tokens: specialTokens };
}

type ModelParts = Omit<BpeTokenizerJsonParts, 'addedTokens' | 'postProcessor' | 'vocab'> & {
  /** The post-processor when neither BOS nor EOS is added. */
  plainPostProcessor: object | null;
};

function byteLevelParts(metadata: Map<string, GgufValue>): ModelParts {
  const plan = PRE_TOKENIZERS[(metadata.get('tokenizer.ggml.pre') as string | undefined) ?? 'default'];
  const merges = stringList(metadata, 'tokenizer.ggml.merges', false).map((merge) => {
    const parts = merge.split(' ');
    if (parts.length !== 2 || !parts[0] || !parts[1]) throw new EngineError('INVALID_TOKENIZER', `GGUF merge ${JSON.stringify(merge)} is not two tokens separated by one space`);
    return parts as [string, string];
  });
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: plan.split === GPT2 };
  const preTokenizer =
    plan.split === GPT2
      ? { ...byteLevel, trim_offsets: true }
      : {
          type: 'Sequence',
          pretokenizers: [{ type: 'Split', pattern: { Regex: plan.split }, behavior: 'Isolated', invert: false }, byteLevel],
        };
  return {
    normalizer: plan.normalizer,
    preTokenizer,
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    merges,
    ignoreMerges: plan.ignoreMerges,
    plainPostProcessor: byteLevel,
  };
}

/** The tokenizer.json, tokenizer_config.json and generation_config.json a GGUF file's tokenizer metadata implies. */
export function ggufTokenizerFiles(header: GgufHeader): GgufTokenizerFiles {
  const m = header.metadata;
  const unsupported = ggufTokenizerUnsupported(m);
  if (unsupported) throw new EngineError('UNSUPPORTED_MODEL', unsupported);
  const sentencePiece = m.get('tokenizer.ggml.model') === 'llama';
  const tokens = stringList(m, 'tokenizer.ggml.tokens', true);
  const typesValue = m.get('tokenizer.ggml.token_type') ?? [];
  if (!Array.isArray(typesValue) || typesValue.length > tokens.length) {
    throw new EngineError('INVALID_TOKENIZER', "the GGUF file's tokenizer.ggml.token_type must be a list no longer than its tokens");
  }

  // A string listed twice keeps its first id (as llama.cpp's text → id map does).
  const idOf = new Map<string, number>();
  const addedTokens: object[] = [];
  tokens.forEach((content, id) => {
    if (!idOf.has(content)) idOf.set(content, id);
    const type = Number(typesValue[id] ?? 1);
    if (type === TOKEN_TYPE_CONTROL || type === TOKEN_TYPE_UNKNOWN || type === TOKEN_TYPE_USER_DEFINED) {
      addedTokens.push(addedToken(id, content, type !== TOKEN_TYPE_USER_DEFINED));
    }
  });

  const defaults = sentencePiece ? SENTENCEPIECE_DEFAULTS : BYTE_LEVEL_DEFAULTS;
  const bos = tokenId(m, 'tokenizer.ggml.bos_token_id', tokens.length, defaults.bosId);
  const eos = tokenId(m, 'tokenizer.ggml.eos_token_id', tokens.length, defaults.eosId);
  const pad = tokenId(m, 'tokenizer.ggml.padding_token_id', tokens.length);
  const unknown = sentencePiece ? tokenId(m, 'tokenizer.ggml.unknown_token_id', tokens.length, defaults.unknownId) : null;
  const stopIds = [eos, tokenId(m, 'tokenizer.ggml.eot_token_id', tokens.length), tokenId(m, 'tokenizer.ggml.eom_token_id', tokens.length)];
  const addBos = flag(m, 'tokenizer.ggml.add_bos_token', defaults.addBos) && bos !== null;
  const addEos = flag(m, 'tokenizer.ggml.add_eos_token', false) && eos !== null;
  const unkToken = unknown === null ? null : tokens[unknown];

  const { plainPostProcessor, ...model } = sentencePiece
    ? {
        ...sentencePieceParts({
          idOf,
          scores: sentencePieceScores(m.get('tokenizer.ggml.scores'), tokens.length),
          addSpacePrefix: flag(m, 'tokenizer.ggml.add_space_prefix', true),
          unkToken,
        }),
        plainPostProcessor: null,
      }
    : byteLevelParts(m);
  const tokenizerJson = bpeTokenizerJson({
    ...model,
    addedTokens,
    postProcessor: specialTokensProcessor(tokens, addBos ? bos : null, addEos ? eos : null) ?? plainPostProcessor,
    vocab: Object.fromEntries(idOf),
  });
  const template = m.get('tokenizer.chat_template');
  const tokenizerConfigJson = {
    add_bos_token: addBos,
    add_eos_token: addEos,
    bos_token: bos === null ? null : tokens[bos],
    eos_token: eos === null ? null : tokens[eos],
    pad_token: pad === null ? null : tokens[pad],
    unk_token: unkToken,
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
