/**
 * The tokenizer that `make-model` writes next to random weights: a GPT-2 style byte-level BPE with
 * no merges, so every UTF-8 byte is exactly one token and any string round-trips exactly.
 *
 * Layout of the vocabulary (ids are fixed, tests and the engine may rely on them):
 *   0..255     the 256 byte tokens, in byte order (id === byte value), spelled with the standard
 *              GPT-2 bytes→unicode mapping (so byte 0x20, a space, is the token "Ġ").
 *   256..262   the named special tokens, in SPECIAL_TOKENS order.
 *   263..N-1   `<|reserved_0|>`, `<|reserved_1|>`, ... so that the vocabulary size equals the
 *              model's (`vocabSize`).
 *
 * No BOS is added when encoding (`add_bos_token: false`, a ByteLevel post-processor that adds
 * nothing): the ChatML template carries its own turn markers, like Qwen's. `bos_token` is still
 * declared so callers that want one can prepend `bosId` themselves.
 *
 * `<tool_call>` / `</tool_call>` are added tokens (always matched atomically in text, never split
 * into bytes) but are not flagged `special`, as in Qwen2.5: decoding with `skipSpecialTokens`
 * keeps them, so a tool-call parser downstream still sees them.
 */
import { EngineError } from '../errors.js';
import { addedToken, bpeTokenizerJson } from './tokenizer-json.js';

/** The named special tokens, in id order starting at 256. */
export const SPECIAL_TOKENS = [
  '<|begin_of_text|>',
  '<|end_of_text|>',
  '<|im_start|>',
  '<|im_end|>',
  '<tool_call>',
  '</tool_call>',
  '<|pad|>',
] as const;

/** Added tokens that are matched atomically but are not "special" (kept by skipSpecialTokens). */
const NON_SPECIAL_ADDED = new Set<string>(['<tool_call>', '</tool_call>']);

export const BYTE_TOKEN_COUNT = 256;
export const MIN_BYTE_VOCAB_SIZE = BYTE_TOKEN_COUNT + SPECIAL_TOKENS.length;

/**
 * The standard GPT-2 bytes→unicode table: printable Latin-1 bytes map to themselves, the rest to
 * code points from U+0100 upwards. Index = byte value.
 */
export const BYTE_TO_UNICODE: readonly string[] = (() => {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const table: string[] = new Array(256);
  for (const b of bs) table[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (table[b] === undefined) {
      table[b] = String.fromCharCode(256 + n);
      n++;
    }
  }
  return table;
})();

/** Inverse of BYTE_TO_UNICODE: one code point → its byte. */
export const UNICODE_TO_BYTE: ReadonlyMap<string, number> = new Map(
  BYTE_TO_UNICODE.map((ch, b) => [ch, b] as const),
);

/**
 * The ChatML / Hermes-style template written into tokenizer_config.json. Written with `{%-`/`{{-`
 * everywhere so the only whitespace in the output is what the string literals contain.
 *
 *   <|im_start|>system\n{system}[\n\n# Tools ... <tools>\n{tool json}...\n</tools> ...]<|im_end|>\n
 *   <|im_start|>user\n{content}<|im_end|>\n
 *   <|im_start|>assistant\n{content}<|im_end|>\n                      (plain reply)
 *   <|im_start|>assistant[\n{content}]\n<tool_call>{"name": .., "arguments": ..}</tool_call>...<|im_end|>\n
 *   <|im_start|>user\n<tool_response>\n{content}\n</tool_response>[\n<tool_response>...]<|im_end|>\n
 *   <|im_start|>assistant\n                                             (add_generation_prompt)
 *
 * Consecutive `tool` messages share one user turn. `arguments` may be an object (rendered with
 * tojson) or an already-serialised JSON string (inserted verbatim).
 */
export const CHATML_TOOL_TEMPLATE = String.raw`{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages and messages[0].role == 'system' and messages[0].content %}
{{- messages[0].content }}
{%- else %}
{{- 'You are a helpful assistant.' }}
{%- endif %}
{{- '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
{%- for tool in tools %}
{{- '\n' }}
{{- tool | tojson }}
{%- endfor %}
{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call><|im_end|>\n' }}
{%- elif messages and messages[0].role == 'system' %}
{{- '<|im_start|>system\n' + (messages[0].content or '') + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' %}
{%- if not loop.first %}
{{- '<|im_start|>system\n' + (message.content or '') + '<|im_end|>\n' }}
{%- endif %}
{%- elif message.role == 'user' %}
{{- '<|im_start|>user\n' + (message.content or '') + '<|im_end|>\n' }}
{%- elif message.role == 'assistant' %}
{%- if message.tool_calls %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}
{{- '\n' + message.content }}
{%- endif %}
{%- for tool_call in message.tool_calls %}
{%- if tool_call.function is defined %}
{%- set tool_call = tool_call.function %}
{%- endif %}
{{- '\n<tool_call>{"name": ' }}
{{- tool_call.name | tojson }}
{{- ', "arguments": ' }}
{%- if tool_call.arguments is string %}
{{- tool_call.arguments }}
{%- else %}
{{- tool_call.arguments | tojson }}
{%- endif %}
{{- '}</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- else %}
{{- '<|im_start|>assistant\n' + (message.content or '') + '<|im_end|>\n' }}
{%- endif %}
{%- elif message.role == 'tool' %}
{%- if loop.first or messages[loop.index0 - 1].role != 'tool' %}
{{- '<|im_start|>user' }}
{%- endif %}
{{- '\n<tool_response>\n' + (message.content or '') + '\n</tool_response>' }}
{%- if loop.last or messages[loop.index0 + 1].role != 'tool' %}
{{- '<|im_end|>\n' }}
{%- endif %}
{%- else %}
{{- raise_exception('Unknown message role: ' + message.role) }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
{{- '<|im_start|>assistant\n' }}
{%- endif %}`;

export interface ByteLevelTokenizerFiles {
  /** Contents of tokenizer.json (Hugging Face `tokenizers` format). */
  tokenizerJson: object;
  /** Contents of tokenizer_config.json. */
  tokenizerConfigJson: object;
  /** The named special tokens (not the reserved fillers) → id. */
  specialTokens: Record<string, number>;
}

export function buildByteLevelTokenizer(opts: { vocabSize: number }): ByteLevelTokenizerFiles {
  const vocabSize = opts?.vocabSize;
  if (!Number.isInteger(vocabSize) || vocabSize < MIN_BYTE_VOCAB_SIZE) {
    throw new EngineError(
      'INVALID_ARGUMENT',
      `vocabSize must be an integer >= ${MIN_BYTE_VOCAB_SIZE} (256 bytes + ${SPECIAL_TOKENS.length} special tokens), got ${String(vocabSize)}`,
    );
  }

  const vocab: Record<string, number> = {};
  for (let b = 0; b < BYTE_TOKEN_COUNT; b++) vocab[BYTE_TO_UNICODE[b]] = b;

  const specialTokens: Record<string, number> = {};
  const addedTokens: object[] = [];
  const addToken = (content: string, id: number, special: boolean): void => {
    addedTokens.push(addedToken(id, content, special));
  };
  SPECIAL_TOKENS.forEach((content, i) => {
    const id = BYTE_TOKEN_COUNT + i;
    specialTokens[content] = id;
    addToken(content, id, !NON_SPECIAL_ADDED.has(content));
  });
  for (let id = MIN_BYTE_VOCAB_SIZE, n = 0; id < vocabSize; id++, n++) {
    addToken(`<|reserved_${n}|>`, id, true);
  }

  const tokenizerJson = bpeTokenizerJson({
    addedTokens,
    normalizer: null,
    preTokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    postProcessor: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    vocab,
    merges: [],
  });

  const tokenizerConfigJson = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    add_bos_token: false,
    add_eos_token: false,
    bos_token: '<|begin_of_text|>',
    eos_token: '<|im_end|>',
    pad_token: '<|pad|>',
    unk_token: null,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000_000,
    chat_template: CHATML_TOOL_TEMPLATE,
  };

  return { tokenizerJson, tokenizerConfigJson, specialTokens };
}
