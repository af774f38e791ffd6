/**
 * The engine's tokenizer: a thin, strict wrapper over @huggingface/tokenizers (tokenizers.js) that
 * loads a Hugging Face model directory (tokenizer.json, tokenizer_config.json, optionally
 * generation_config.json and chat_template.jinja), encodes/decodes, renders the chat template and
 * detokenizes incrementally for streaming.
 *
 * Decoding never applies `clean_up_tokenization_spaces` unless asked: the streamed text and the
 * final text must be the same string, and byte-level round trips must be exact.
 *
 * Byte-level tokenizers (a top-level `ByteLevel` decoder, the GPT-2 / Llama 3 / Qwen family) take
 * a fast path: each token is mapped to its bytes directly and added tokens are looked up by id.
 * (tokenizers.js scans the whole added-token list for every decoded token, which is slow with
 * thousands of reserved tokens.) Other decoders go through tokenizers.js.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer as HfTokenizer } from '@huggingface/tokenizers';
import { EngineError } from '../errors.js';
import { normalizeMessage } from './chat-messages.js';
import { renderChatTemplate, selectChatTemplate } from './chat-template.js';
import { ByteLevelDecoder, windowedStream, type StreamDecoder } from './stream-decode.js';
import { UNICODE_TO_BYTE } from './byte-tokenizer-files.js';

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatToolCall {
  id?: string;
  type?: 'function';
  function: { name: string; arguments: string | object };
}

export interface ChatMessage {
  role: ChatRole;
  content: string | null;
  tool_calls?: ChatToolCall[];
  tool_call_id?: string;
  name?: string;
}

export interface EncodeOptions {
  /** Let the tokenizer's post-processor add its special tokens (e.g. BOS). Default true, as in HF. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Drop tokens flagged special (and config `additional_special_tokens`). Default false. */
  skipSpecialTokens?: boolean;
  /** Apply HF's clean_up_tokenization_spaces (" ." → "." etc.). Default false, whatever the config says. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface ApplyChatTemplateOptions {
  tools?: object[];
  addGenerationPrompt?: boolean;
  /** Extra template variables (e.g. `enable_thinking`). */
  extra?: Record<string, unknown>;
}

export type { StreamDecoder } from './stream-decode.js';

export interface TokenizerExtras {
  /** Contents of generation_config.json: its eos_token_id (number or list) joins eosIds. */
  generationConfigJson?: object | null;
  /** A chat template that overrides tokenizer_config's (chat_template.jinja). */
  chatTemplate?: string | null;
}

/** The parts of tokenizers.js' Tokenizer used here (its published types do not resolve under NodeNext). */
interface HfTokenizerLike {
  encode(text: string, options?: { add_special_tokens?: boolean }): { ids: (number | undefined)[]; tokens: string[] };
  decode(ids: number[], options?: { skip_special_tokens?: boolean; clean_up_tokenization_spaces?: boolean }): string;
  token_to_id(token: string): number | undefined;
  id_to_token(id: number): string | undefined;
  get_added_tokens_decoder(): Map<number, { content: string; special: boolean }>;
  model: { vocab: ArrayLike<string | undefined>; end_of_word_suffix?: string | null } | null;
  decoder: { config?: { type?: unknown } } | null;
}


export class Tokenizer {
  readonly bosId: number | null;
  readonly eosIds: number[];
  readonly vocabSize: number;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padId: number | null;
  /** The raw `chat_template` value (string, or the named-list form), or null. */
  readonly chatTemplate: string | { name: string; template: string }[] | null;

  private readonly inner: HfTokenizerLike;
  /** Content of every added token, by id. */
  private readonly addedById: Map<number, string>;
  /** Ids dropped by skipSpecialTokens. */
  private readonly specialIds: Set<number>;
  /** The byte-level fast path (a top-level ByteLevel decoder, no end-of-word suffix), else null. */
  private readonly byteLevel: ByteLevelDecoder | null;

  private constructor(inner: HfTokenizerLike, config: Record<string, unknown>, extras: TokenizerExtras) {
    this.inner = inner;

    this.addedById = new Map();
    this.specialIds = new Set();
    for (const [id, tok] of inner.get_added_tokens_decoder()) {
      this.addedById.set(id, tok.content);
      if (tok.special) this.specialIds.add(id);
    }
    const additional = config.additional_special_tokens;
    if (Array.isArray(additional)) {
      for (const t of additional) {
        const content = tokenContent(t);
        const id = content === null ? undefined : inner.token_to_id(content);
        if (id !== undefined) this.specialIds.add(id);
      }
    }

    let size = inner.model?.vocab.length ?? 0;
    for (const id of this.addedById.keys()) size = Math.max(size, id + 1);
    this.vocabSize = size;

    const gen = (extras.generationConfigJson ?? null) as Record<string, unknown> | null;

    this.bosToken = tokenContent(config.bos_token);
    this.eosToken = tokenContent(config.eos_token);
    this.bosId = this.lookup(this.bosToken) ?? idsOf(gen?.bos_token_id)[0] ?? null;
    this.padId = this.lookup(tokenContent(config.pad_token));

    const eos: number[] = [];
    const configEos = this.lookup(this.eosToken);
    if (configEos !== null) eos.push(configEos);
    for (const id of idsOf(gen?.eos_token_id)) {
      if (id >= 0 && id < this.vocabSize && !eos.includes(id)) eos.push(id);
    }
    this.eosIds = eos;

    const fileTemplate = extras.chatTemplate;
    if (typeof fileTemplate === 'string' && fileTemplate.length > 0) {
      this.chatTemplate = fileTemplate;
    } else if (typeof config.chat_template === 'string' || Array.isArray(config.chat_template)) {
      this.chatTemplate = config.chat_template as string | { name: string; template: string }[];
    } else {
      this.chatTemplate = null;
    }

    const byteLevel = inner.decoder?.config?.type === 'ByteLevel' && !inner.model?.end_of_word_suffix;
    this.byteLevel = byteLevel ? new ByteLevelDecoder(this.addedById, this.specialIds, (id) => inner.id_to_token(id)) : null;
  }

  /**
   * Loads `<dir>/tokenizer.json` (required), `tokenizer_config.json`, `generation_config.json`
   * and `chat_template.jinja` (all optional; the .jinja file wins over the config's template,
   * as in transformers).
   */
  static async fromDir(dir: string): Promise<Tokenizer> {
    if (typeof dir !== 'string' || dir.length === 0) {
      throw new EngineError('INVALID_ARGUMENT', 'tokenizer directory must be a non-empty string');
    }
    const root = path.resolve(dir);
    const tokenizerPath = path.join(root, 'tokenizer.json');
    const tokenizerText = await readOptional(tokenizerPath);
    if (tokenizerText === null) {
      throw new EngineError('MODEL_NOT_FOUND', `tokenizer not found: ${tokenizerPath} does not exist`);
    }
    const tokenizerJson = parseJsonFile(tokenizerText, tokenizerPath);

    const configPath = path.join(root, 'tokenizer_config.json');
    const configText = await readOptional(configPath);
    const configJson = configText === null ? null : parseJsonFile(configText, configPath);

    const genPath = path.join(root, 'generation_config.json');
    const genText = await readOptional(genPath);
    const genJson = genText === null ? null : parseJsonFile(genText, genPath);

    const chatTemplate = await readOptional(path.join(root, 'chat_template.jinja'));

    try {
      return Tokenizer.fromJson(tokenizerJson, configJson, { generationConfigJson: genJson, chatTemplate });
    } catch (err) {
      if (err instanceof EngineError && err.code === 'INVALID_TOKENIZER') {
        throw new EngineError('INVALID_TOKENIZER', `${tokenizerPath}: ${err.message}`);
      }
      throw err;
    }
  }

  static fromJson(tokenizerJson: object, tokenizerConfigJson: object | null, extras: TokenizerExtras = {}): Tokenizer {
    if (!isPlainObject(tokenizerJson)) {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json must be a JSON object');
    }
    if (tokenizerConfigJson !== null && tokenizerConfigJson !== undefined && !isPlainObject(tokenizerConfigJson)) {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer_config.json must be a JSON object');
    }
    const extrasGen = extras.generationConfigJson;
    if (extrasGen !== null && extrasGen !== undefined && !isPlainObject(extrasGen)) {
      throw new EngineError('INVALID_TOKENIZER', 'generation_config.json must be a JSON object');
    }
    const json = tokenizerJson as Record<string, unknown>;
    if (!isPlainObject(json.model)) {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json has no "model" object');
    }
    // tokenizers.js insists on these keys being present (null is fine) and on an added_tokens list.
    const normalized: Record<string, unknown> = {
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder: null,
      ...json,
      added_tokens: json.added_tokens ?? [],
    };
    if (!Array.isArray(normalized.added_tokens)) {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json "added_tokens" must be a list');
    }
    checkTokenIds(json.model as Record<string, unknown>, normalized.added_tokens);
    const config = (tokenizerConfigJson ?? {}) as Record<string, unknown>;
    let inner: HfTokenizerLike;
    try {
      inner = new HfTokenizer(normalized, config) as unknown as HfTokenizerLike;
    } catch (err) {
      throw new EngineError('INVALID_TOKENIZER', `unsupported or malformed tokenizer: ${errorMessage(err)}`);
    }
    if (!inner.model) {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json model could not be built');
    }
    return new Tokenizer(inner, config, extras);
  }

  /** Encodes text to ids. Added/special tokens written in the text are matched as single ids. */
  encode(text: string, opts: EncodeOptions = {}): number[] {
    if (typeof text !== 'string') {
      throw new EngineError('INVALID_ARGUMENT', 'encode() expects a string');
    }
    const { ids, tokens } = this.inner.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    for (let i = 0; i < ids.length; i++) {
      if (typeof ids[i] !== 'number') {
        throw new EngineError(
          'INVALID_TOKENIZER',
          `tokenizer produced token ${JSON.stringify(tokens[i])} that has no id (and no unk_token)`,
        );
      }
    }
    return ids as number[];
  }

  /** Decodes ids to text. Unknown or out-of-range ids are an INVALID_ARGUMENT error. */
  decode(ids: number[], opts: DecodeOptions = {}): string {
    if (!Array.isArray(ids)) {
      throw new EngineError('INVALID_ARGUMENT', 'decode() expects an array of token ids');
    }
    for (const id of ids) this.checkId(id);
    if (ids.length === 0) return '';
    const skip = opts.skipSpecialTokens ?? false;
    if (this.byteLevel && !opts.cleanUpTokenizationSpaces) return this.byteLevel.decode(ids, skip);
    return this.decodeInner(ids, skip, opts.cleanUpTokenizationSpaces ?? false);
  }

  /** The id of a token given in its vocabulary spelling (e.g. "<|im_end|>", or "Ġ" for a space byte). */
  tokenId(text: string): number | null {
    if (typeof text !== 'string') return null;
    return this.inner.token_to_id(text) ?? null;
  }

  /** The vocabulary spelling of an id, or null when the id is unknown. */
  idToken(id: number): string | null {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) return null;
    return this.inner.id_to_token(id) ?? null;
  }

  /**
   * The UTF-8 bytes one token stands for, alone (OpenAI's logprobs `bytes`): a byte-level token
   * that is part of a multi-byte character has bytes but no whole character of text. Added tokens
   * are their content; byte-level tokens map their characters through the byte table (or, as
   * the Rust decoder does, are their own UTF-8 when a character is not in it); SentencePiece byte
   * fallback tokens (`<0xE2>`) are that byte; other tokens are their spelling with `▁` as a space.
   */
  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    const added = this.addedById.get(id);
    if (added !== undefined) return new TextEncoder().encode(added);
    const spelling = this.inner.id_to_token(id) ?? '';
    if (this.byteLevel) {
      const out: number[] = [];
      for (const ch of spelling) {
        const b = UNICODE_TO_BYTE.get(ch);
        if (b === undefined) return new TextEncoder().encode(spelling);
        out.push(b);
      }
      return Uint8Array.from(out);
    }
    const fallback = /^<0x([0-9A-Fa-f]{2})>$/.exec(spelling);
    if (fallback) return Uint8Array.of(parseInt(fallback[1], 16));
    return new TextEncoder().encode(spelling.replaceAll('\u2581', ' '));
  }

  /**
   * The ids below vocabSize that name no token (a vocabulary with gaps): nothing can decode them,
   * so they must never be sampled. Empty for every real tokenizer the tests load.
   */
  unspellableIds(): number[] {
    const gaps: number[] = [];
    for (let id = 0; id < this.vocabSize; id++) if (!this.addedById.has(id) && this.inner.id_to_token(id) === undefined) gaps.push(id);
    return gaps;
  }

  /** Whether decode({skipSpecialTokens: true}) drops this id. */
  isSpecialId(id: number): boolean {
    return this.specialIds.has(id);
  }

  /**
   * Renders the conversation with the model's chat template. Tool-call `arguments` given as a JSON
   * string are parsed to an object first (templates expect a mapping, as in transformers); a string
   * that is not a JSON object is passed through unchanged.
   */
  applyChatTemplate(messages: ChatMessage[], opts: ApplyChatTemplateOptions = {}): string {
    if (!Array.isArray(messages)) {
      throw new EngineError('INVALID_ARGUMENT', 'messages must be an array');
    }
    if (opts.tools !== undefined && opts.tools !== null && !Array.isArray(opts.tools)) {
      throw new EngineError('INVALID_ARGUMENT', 'tools must be an array');
    }
    const hasTools = Array.isArray(opts.tools) && opts.tools.length > 0;
    const template = selectChatTemplate(this.chatTemplate, hasTools);
    if (template === null) {
      throw new EngineError(
        'NO_CHAT_TEMPLATE',
        'this model has no chat template (no chat_template in tokenizer_config.json and no chat_template.jinja)',
      );
    }
    return renderChatTemplate(template, {
      messages: messages.map(normalizeMessage),
      tools: opts.tools ?? null,
      addGenerationPrompt: opts.addGenerationPrompt ?? false,
      bosToken: this.bosToken,
      eosToken: this.eosToken,
      extra: opts.extra,
    });
  }

  /**
   * An incremental detokenizer for one generated sequence. The concatenation of everything push()
   * and flush() return equals decode(allIds, opts); text is only released once it is final, so a
   * multi-byte character split across tokens comes out whole, once.
   */
  createStreamDecoder(opts: { skipSpecialTokens?: boolean } = {}): StreamDecoder {
    const skip = opts.skipSpecialTokens ?? false;
    const checkId = (id: number) => this.checkId(id);
    return this.byteLevel ? this.byteLevel.stream(skip, checkId) : windowedStream((ids) => this.decodeInner(ids, skip, false), checkId);
  }

  // --- internals -------------------------------------------------------------------------------

  private lookup(content: string | null): number | null {
    if (content === null) return null;
    return this.inner.token_to_id(content) ?? null;
  }

  private checkId(id: unknown): asserts id is number {
    if (typeof id !== 'number' || !Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new EngineError(
        'INVALID_ARGUMENT',
        `token id ${String(id)} is out of range (vocabulary size ${this.vocabSize})`,
      );
    }
    if (!this.addedById.has(id) && this.inner.id_to_token(id) === undefined) {
      throw new EngineError('INVALID_ARGUMENT', `token id ${id} is not in the vocabulary`);
    }
  }

  private decodeInner(ids: number[], skip: boolean, cleanUp: boolean): string {
    if (ids.length === 0) return '';
    return this.inner.decode(ids, { skip_special_tokens: skip, clean_up_tokenization_spaces: cleanUp });
  }

}

// --- helpers ---------------------------------------------------------------------------------

/** Token fields in tokenizer_config.json are a string or an AddedToken-like {content: ...}. */
function tokenContent(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return null;
}

function idsOf(v: unknown): number[] {
  const list = Array.isArray(v) ? v : [v];
  return list.filter((x): x is number => typeof x === 'number' && Number.isInteger(x));
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

async function readOptional(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw new EngineError('MODEL_NOT_FOUND', `cannot read ${file}: ${errorMessage(err)}`);
  }
}

function parseJsonFile(text: string, file: string): object {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new EngineError('INVALID_TOKENIZER', `${file} is not valid JSON: ${errorMessage(err)}`);
  }
  if (!isPlainObject(value)) {
    throw new EngineError('INVALID_TOKENIZER', `${file} must contain a JSON object`);
  }
  return value;
}

/** Largest id a tokenizer may use: the native side indexes with 32-bit ids. */
const MAX_TOKEN_ID = 2 ** 31 - 2;

/**
 * The vocabulary's ids are what every later step indexes with: each must be a whole number in
 * [0, 2^31 - 1). The library that builds the tokenizer accepts a vocabulary of any shape and
 * fails later, or never, with ids no model row has.
 */
function checkTokenIds(model: Record<string, unknown>, addedTokens: unknown[]): void {
  const isId = (id: unknown) => typeof id === 'number' && Number.isInteger(id) && id >= 0 && id <= MAX_TOKEN_ID;
  const vocab = model.vocab;
  if (vocab !== undefined) {
    if (Array.isArray(vocab)) {
      // Unigram: [piece, score] pairs, the id being the place in the list.
      if (!vocab.every((entry) => Array.isArray(entry) && typeof entry[0] === 'string' && typeof entry[1] === 'number')) {
        throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json model.vocab, a list, must hold [piece, score] pairs');
      }
    } else if (isPlainObject(vocab)) {
      for (const [piece, id] of Object.entries(vocab)) {
        if (!isId(id)) throw new EngineError('INVALID_TOKENIZER', `tokenizer.json model.vocab gives ${JSON.stringify(piece).slice(0, 40)} the id ${JSON.stringify(id)}: ids are whole numbers from 0 to ${MAX_TOKEN_ID}`);
      }
    } else {
      throw new EngineError('INVALID_TOKENIZER', 'tokenizer.json model.vocab must be an object (piece → id) or a list of [piece, score]');
    }
  }
  for (const token of addedTokens) {
    if (!isPlainObject(token) || !isId(token.id) || typeof token.content !== 'string') {
      throw new EngineError('INVALID_TOKENIZER', `tokenizer.json added_tokens entry ${JSON.stringify(token)?.slice(0, 60)} needs an id (a whole number from 0 to ${MAX_TOKEN_ID}) and a string content`);
    }
  }
}
