/**
 * Hostile model directories: a valid directory (config.json, model.safetensors, tokenizer.json,
 * tokenizer_config.json) with one thing broken the way a corrupted download, a careless
 * conversion or an attacker would break it. Each case is drawn from a seeded generator, so a
 * failure names a (seed, index) that reproduces it. The operators aim at what a loader trusts:
 * the safetensors header's length, shapes whose element count overflows 64 bits, offsets outside
 * or across the data, dtypes whose size disagrees, deep JSON, numbers where strings belong,
 * NaN / Inf weights, and tokenizer and template files of the wrong shape.
 *
 * Used by test/native/hostile-model.test.ts (1,000 cases) and bench/fuzz/hostile-models.ts (as many
 * as asked for).
 */
import { hashString, mulberry32, type Rng } from '../../lib/workload/random.js';

/** File name → contents. A file missing from a case is removed from the directory. */
export type ModelFiles = Record<string, Buffer>;

export interface HostileCase {
  index: number;
  /** The operator and what it did, to reproduce and to count by. */
  operator: string;
  detail: string;
  files: ModelFiles;
}

/** Values that are wrong almost anywhere a loader expects a count, a size, a name or a flag. */
const HOSTILE_VALUES: unknown[] = [
  0, -1, 1, 2, 3, 1.5, -0.5, 1e12, 1e13, 1e300, -1e300, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 2 ** 63, 2 ** 64,
  '12', '', 'NaN', null, true, false, [], [1, 2], {}, { a: 1 }, 'x'.repeat(10_000),
];

const CONFIG_KEYS = [
  'hidden_size', 'num_hidden_layers', 'num_attention_heads', 'num_key_value_heads', 'head_dim', 'intermediate_size',
  'vocab_size', 'max_position_embeddings', 'rms_norm_eps', 'rope_theta', 'rope_scaling', 'rope_parameters',
  'tie_word_embeddings', 'eos_token_id', 'bos_token_id', 'sliding_window', 'model_type', 'architectures', 'hidden_act',
  'attention_bias', 'mlp_bias', 'torch_dtype',
];

const DTYPES: unknown[] = ['F32', 'F16', 'BF16', 'F64', 'I8', 'U8', 'I64', 'BOOL', 'F8_E4M3', '', 'f32', 42, null];

/** A crafted element count that wraps to 0 in 64-bit arithmetic (2^64), with an empty byte range. */
const WRAPPING_SHAPES = [[2 ** 32, 2 ** 32], [2 ** 33, 2 ** 31], [2 ** 40, 2 ** 24], [65536, 65536, 65536, 65536]];

const TEMPLATES = [
  '{% for m in messages %}{{ m.content }}',
  '{{ messages[0].content | nosuchfilter }}',
  '{% if true %}'.repeat(5_000) + 'x' + '{% endif %}'.repeat(5_000),
  '{{ raise_exception("refused by the template") }}',
  '{{ messages.nosuchmethod() }}',
  '{% set x = 1 / 0 %}{{ x }}',
  '{{ ',
];

function pick<T>(rng: Rng, items: readonly T[]): T {
  return items[Math.floor(rng() * items.length)];
}

function deepJson(depth: number): string {
  return '['.repeat(depth) + ']'.repeat(depth);
}

interface Safetensors {
  header: Record<string, any>;
  data: Buffer;
}

function readSafetensors(bytes: Buffer): Safetensors {
  const length = Number(bytes.readBigUInt64LE(0));
  return { header: JSON.parse(bytes.subarray(8, 8 + length).toString('utf8')), data: bytes.subarray(8 + length) };
}

function writeSafetensors(headerText: string, data: Buffer): Buffer {
  const json = Buffer.from(headerText);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([head, json, data]);
}

function tensorNames(header: Record<string, unknown>): string[] {
  return Object.keys(header).filter((name) => name !== '__metadata__');
}

function flipBytes(rng: Rng, bytes: Buffer, from: number, to: number, count: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 0; i < count && to > from; i++) out[from + Math.floor(rng() * (to - from))] = Math.floor(rng() * 256);
  return out;
}

type Operator = (rng: Rng, files: ModelFiles) => string;

/** Each operator edits `files` in place and says what it did. */
const OPERATORS: Record<string, Operator> = {
  'weights/truncate': (rng, f) => {
    const size = f['model.safetensors'].length;
    const at = Math.floor(rng() * size);
    f['model.safetensors'] = f['model.safetensors'].subarray(0, at);
    return `cut to ${at} of ${size} bytes`;
  },
  'weights/header-length': (rng, f) => {
    const bytes = Buffer.from(f['model.safetensors']);
    const length = bytes.readBigUInt64LE(0);
    const value = pick(rng, [0n, 1n, 2n, length - 1n, length + 1n, BigInt(bytes.length), 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]);
    bytes.writeBigUInt64LE(value, 0);
    f['model.safetensors'] = bytes;
    return `header length ${value}`;
  },
  'weights/header-bytes': (rng, f) => {
    const bytes = f['model.safetensors'];
    const length = Number(bytes.readBigUInt64LE(0));
    const count = 1 + Math.floor(rng() * 4);
    f['model.safetensors'] = flipBytes(rng, bytes, 8, 8 + length, count);
    return `${count} header bytes changed`;
  },
  'weights/tensor-field': (rng, f) => {
    const st = readSafetensors(f['model.safetensors']);
    const name = pick(rng, tensorNames(st.header));
    const field = pick(rng, ['dtype', 'shape', 'data_offsets', 'entry']);
    const value = field === 'dtype' ? pick(rng, DTYPES) : pick(rng, HOSTILE_VALUES);
    if (field === 'entry') st.header[name] = value;
    else st.header[name][field] = value;
    f['model.safetensors'] = writeSafetensors(JSON.stringify(st.header), st.data);
    return `${name}.${field} = ${JSON.stringify(value)?.slice(0, 40)}`;
  },
  'weights/wrapping-shape': (rng, f) => {
    const st = readSafetensors(f['model.safetensors']);
    const name = pick(rng, tensorNames(st.header));
    const shape = pick(rng, WRAPPING_SHAPES);
    const begin = st.header[name].data_offsets[0];
    st.header[name].shape = shape;
    st.header[name].data_offsets = [begin, begin];
    f['model.safetensors'] = writeSafetensors(JSON.stringify(st.header), st.data);
    return `${name}.shape = ${JSON.stringify(shape)}, no bytes`;
  },
  'weights/offsets': (rng, f) => {
    const st = readSafetensors(f['model.safetensors']);
    const names = tensorNames(st.header);
    const name = pick(rng, names);
    const [begin, end] = st.header[name].data_offsets as [number, number];
    const other = st.header[pick(rng, names)].data_offsets as [number, number];
    const size = st.data.length;
    const offsets = pick(rng, [
      [end, begin], [begin + 1, end + 1], [size - (end - begin) + 4, size + 4], [other[0], other[0] + (end - begin)],
      [-1, end - begin - 1], [begin + 0.5, end + 0.5], [begin, 2 ** 64], [2 ** 63, 2 ** 63 + (end - begin)], [begin], [begin, end, end],
    ]);
    st.header[name].data_offsets = offsets;
    f['model.safetensors'] = writeSafetensors(JSON.stringify(st.header), st.data);
    return `${name}.data_offsets = ${JSON.stringify(offsets)}`;
  },
  'weights/structure': (rng, f) => {
    const st = readSafetensors(f['model.safetensors']);
    const name = pick(rng, tensorNames(st.header));
    const entry = JSON.stringify(st.header[name]);
    const kind = pick(rng, ['drop', 'duplicate-key', 'extra', 'metadata', 'deep', 'not-object', 'invalid-utf8']);
    let text = JSON.stringify(st.header);
    if (kind === 'drop') {
      delete st.header[name];
      text = JSON.stringify(st.header);
    } else if (kind === 'duplicate-key') {
      // Two entries of one name: JSON allows it syntactically, the format does not.
      text = `{${JSON.stringify(name)}:${entry},${text.slice(1)}`;
    } else if (kind === 'extra') {
      st.header['model.layers.99.unknown.weight'] = { ...st.header[name] };
      text = JSON.stringify(st.header);
    } else if (kind === 'metadata') {
      st.header.__metadata__ = pick(rng, HOSTILE_VALUES);
      text = JSON.stringify(st.header);
    } else if (kind === 'deep') {
      text = `{"__metadata__":${deepJson(100_000)},${text.slice(1)}`;
    } else if (kind === 'not-object') {
      text = pick(rng, ['[]', '"x"', '42', 'null', '']);
    }
    const bytes = writeSafetensors(text, st.data);
    if (kind === 'invalid-utf8') {
      // A byte that can start no UTF-8 sequence, inside the tensor's name.
      bytes[bytes.indexOf(Buffer.from(JSON.stringify(name))) + 1] = 0xff;
    }
    f['model.safetensors'] = bytes;
    return `${kind} (${name})`;
  },
  'weights/dtype-size': (rng, f) => {
    // A supported dtype of another size with the shape adjusted so the byte count agrees: the
    // header is self-consistent and only the config's shapes can refuse it.
    const st = readSafetensors(f['model.safetensors']);
    const name = pick(rng, tensorNames(st.header));
    const t = st.header[name];
    if (t.dtype !== 'F32') return `${name} is ${t.dtype}: unchanged`;
    t.dtype = pick(rng, ['F16', 'BF16']);
    t.shape = [...t.shape.slice(0, -1), t.shape[t.shape.length - 1] * 2];
    f['model.safetensors'] = writeSafetensors(JSON.stringify(st.header), st.data);
    return `${name} as ${t.dtype} ${JSON.stringify(t.shape)}`;
  },
  'weights/non-finite': (rng, f) => {
    const bytes = Buffer.from(f['model.safetensors']);
    const length = Number(bytes.readBigUInt64LE(0));
    const header = JSON.parse(bytes.subarray(8, 8 + length).toString('utf8'));
    const name = pick(rng, tensorNames(header));
    const [begin, end] = header[name].data_offsets as [number, number];
    const value = pick(rng, [NaN, Infinity, -Infinity]);
    const everywhere = rng() < 0.5;
    for (let o = 8 + length + begin; o + 4 <= 8 + length + end; o += 4) if (everywhere || rng() < 0.01) bytes.writeFloatLE(value, o);
    f['model.safetensors'] = bytes;
    return `${name}: ${value} in ${everywhere ? 'every' : 'some'} element(s)`;
  },
  'config/field': (rng, f) => {
    const config = JSON.parse(f['config.json'].toString('utf8'));
    const key = pick(rng, CONFIG_KEYS);
    const value = pick(rng, HOSTILE_VALUES);
    config[key] = value;
    f['config.json'] = Buffer.from(JSON.stringify(config));
    return `${key} = ${JSON.stringify(value)?.slice(0, 40)}`;
  },
  'config/drop': (rng, f) => {
    const config = JSON.parse(f['config.json'].toString('utf8'));
    const key = pick(rng, Object.keys(config));
    delete config[key];
    f['config.json'] = Buffer.from(JSON.stringify(config));
    return `no ${key}`;
  },
  'config/text': (rng, f) => {
    const text = f['config.json'];
    const kind = pick(rng, ['truncate', 'bytes', 'deep', 'not-object', 'missing']);
    if (kind === 'truncate') f['config.json'] = text.subarray(0, Math.floor(rng() * text.length));
    else if (kind === 'bytes') f['config.json'] = flipBytes(rng, text, 0, text.length, 1 + Math.floor(rng() * 4));
    else if (kind === 'deep') f['config.json'] = Buffer.from(`{"hidden_size":${deepJson(100_000)}}`);
    else if (kind === 'not-object') f['config.json'] = Buffer.from(pick(rng, ['[]', '"x"', '42', 'null', '']));
    else delete f['config.json'];
    return kind;
  },
  'tokenizer/text': (rng, f) => {
    const file = pick(rng, ['tokenizer.json', 'tokenizer_config.json']);
    const text = f[file];
    const kind = pick(rng, ['truncate', 'bytes', 'deep', 'not-object']);
    if (kind === 'truncate') f[file] = text.subarray(0, Math.floor(rng() * text.length));
    else if (kind === 'bytes') f[file] = flipBytes(rng, text, 0, text.length, 1 + Math.floor(rng() * 4));
    else if (kind === 'deep') f[file] = Buffer.from(`{"model":${deepJson(100_000)}}`);
    else f[file] = Buffer.from(pick(rng, ['[]', '"x"', '42', 'null', '']));
    return `${file}: ${kind}`;
  },
  'tokenizer/field': (rng, f) => {
    const tokenizer = JSON.parse(f['tokenizer.json'].toString('utf8'));
    const path = pick(rng, ['model', 'model.type', 'model.vocab', 'model.merges', 'added_tokens', 'pre_tokenizer', 'normalizer', 'decoder', 'post_processor']);
    const value = pick(rng, HOSTILE_VALUES);
    const [head, tail] = path.split('.');
    if (tail) tokenizer[head][tail] = value;
    else tokenizer[head] = value;
    f['tokenizer.json'] = Buffer.from(JSON.stringify(tokenizer));
    return `${path} = ${JSON.stringify(value)?.slice(0, 40)}`;
  },
  'tokenizer/ids': (rng, f) => {
    const tokenizer = JSON.parse(f['tokenizer.json'].toString('utf8'));
    const vocab = tokenizer.model.vocab as Record<string, number>;
    const piece = pick(rng, Object.keys(vocab));
    const id = pick(rng, [-1, 1e9, 2 ** 31, 0.5, vocab[pick(rng, Object.keys(vocab))], '7', null]);
    const where = pick(rng, ['vocab', 'added']);
    if (where === 'vocab') vocab[piece] = id as number;
    else tokenizer.added_tokens.push({ id, content: `<hostile ${String(id)}>`, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
    f['tokenizer.json'] = Buffer.from(JSON.stringify(tokenizer));
    return `${where} id ${String(id)}`;
  },
  'tokenizer/config-field': (rng, f) => {
    const config = JSON.parse(f['tokenizer_config.json'].toString('utf8'));
    const key = pick(rng, ['chat_template', 'eos_token', 'bos_token', 'added_tokens_decoder', 'additional_special_tokens', 'model_max_length']);
    const value = key === 'chat_template' && rng() < 0.7 ? pick(rng, TEMPLATES) : pick(rng, HOSTILE_VALUES);
    config[key] = value;
    f['tokenizer_config.json'] = Buffer.from(JSON.stringify(config));
    return `${key} = ${JSON.stringify(value)?.slice(0, 40)}`;
  },
};

export const OPERATOR_NAMES = Object.keys(OPERATORS);

/** `count` cases from `seed`, each the pristine files with one operator applied. */
export function* hostileCases(pristine: ModelFiles, count: number, seed: number): Generator<HostileCase> {
  const rng = mulberry32(hashString(`hostile-models/${seed}`));
  for (let index = 0; index < count; index++) {
    const operator = OPERATOR_NAMES[index % OPERATOR_NAMES.length];
    const files: ModelFiles = { ...pristine };
    const detail = OPERATORS[operator](rng, files);
    yield { index, operator, detail, files };
  }
}
