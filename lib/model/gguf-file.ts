/**
 * Reads the header of a GGUF file (llama.cpp's model format, versions 2 and 3): its metadata and
 * where each tensor's bytes lie. The tensor data itself is not read: the native loader maps the
 * file and takes each tensor at its offset.
 *
 *   magic "GGUF" | version u32 | tensor_count u64 | kv_count u64
 *   kv_count × (key: string | value type u32 | value; an array is element type u32 | count u64 | elements)
 *   tensor_count × (name: string | n_dims u32 | dims u64[n_dims], innermost first | ggml type u32 | offset u64)
 *   padding to `general.alignment` (default 32), then the data section; offsets are relative to it
 *
 * Strings are a u64 byte length and UTF-8 bytes; everything is little-endian. Every read is
 * bounds-checked: a truncated or malformed file is an INVALID_WEIGHTS EngineError naming what broke.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { EngineError } from '../errors.js';

export type GgufValue = number | bigint | boolean | string | GgufValue[];

/**
 * The ggml tensor types this engine can load, by their ggml numbers, with the values and bytes of
 * one block (a float type: one value). Types other than F32, F16, BF16 and Q8_0 are decoded at
 * load (cpp/core/ggml_types.h).
 */
export const GGML_TYPES = {
  F32: { id: 0, values: 1, bytes: 4 },
  F16: { id: 1, values: 1, bytes: 2 },
  Q4_0: { id: 2, values: 32, bytes: 18 },
  Q4_1: { id: 3, values: 32, bytes: 20 },
  Q5_0: { id: 6, values: 32, bytes: 22 },
  Q5_1: { id: 7, values: 32, bytes: 24 },
  Q8_0: { id: 8, values: 32, bytes: 34 },
  Q2_K: { id: 10, values: 256, bytes: 84 },
  Q3_K: { id: 11, values: 256, bytes: 110 },
  Q4_K: { id: 12, values: 256, bytes: 144 },
  Q5_K: { id: 13, values: 256, bytes: 176 },
  Q6_K: { id: 14, values: 256, bytes: 210 },
  IQ4_NL: { id: 20, values: 32, bytes: 18 },
  IQ4_XS: { id: 23, values: 256, bytes: 136 },
  BF16: { id: 30, values: 1, bytes: 2 },
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;

/** ggml's names for the types the engine does not load, only to name them when refusing a file. */
const REFUSED_GGML_TYPES: Record<number, string> = {
  9: 'Q8_1', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S', 21: 'IQ3_S', 22: 'IQ2_S',
  24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64', 29: 'IQ1_M', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

/** "ggml type 16 (IQ2_XXS)": a type number with ggml's name for it, where known. */
export function describeGgmlType(type: number): string {
  const name = (Object.keys(GGML_TYPES) as GgmlTypeName[]).find((k) => GGML_TYPES[k].id === type) ?? REFUSED_GGML_TYPES[type];
  return name === undefined ? `ggml type ${type}` : `ggml type ${type} (${name})`;
}

export interface GgufTensorInfo {
  name: string;
  /** Dimensions as GGUF lists them, innermost (contiguous) first: [cols, rows] for a matrix. */
  dims: number[];
  /** The ggml type number; `typeName` when the engine knows it. */
  type: number;
  typeName: GgmlTypeName | null;
  /** Absolute byte offset of the tensor's data in the file. */
  offset: number;
  /** Bytes of data (null for a type the engine does not know). */
  bytes: number | null;
}

export interface GgufHeader {
  version: number;
  metadata: Map<string, GgufValue>;
  tensors: GgufTensorInfo[];
  alignment: number;
  /** Absolute offset of the data section. */
  dataOffset: number;
  fileBytes: number;
}

const VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
/** Guards against a corrupt count asking for more than any real file holds. */
const MAX_ITEMS = 1 << 26;

/** Bytes of `elements` values of a ggml type (a whole number of its blocks). */
export function ggmlBytes(type: GgmlTypeName, elements: number): number {
  const { values, bytes } = GGML_TYPES[type];
  return (elements / values) * bytes;
}

/** Reads a file front to back through a buffer that grows as the header needs more. */
class Cursor {
  private buffer = Buffer.alloc(0);
  private start = 0; // file offset of buffer[0]
  pos = 0; // absolute file offset

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
  ) {}

  private need(n: number, what: string): number {
    if (this.pos + n > this.size) throw bad(this.path, `truncated: ${what} runs past the end of the file (offset ${this.pos}, ${this.size} bytes)`);
    if (this.pos + n > this.start + this.buffer.length) {
      const keep = this.pos - this.start;
      const length = Math.min(this.size - this.pos, Math.max(n, 1 << 20, this.buffer.length - keep));
      const next = Buffer.alloc(length);
      readSync(this.fd, next, 0, length, this.pos);
      this.buffer = next;
      this.start = this.pos;
    }
    const at = this.pos - this.start;
    this.pos += n;
    return at;
  }

  // Each read takes its offset from need() before touching the buffer: need() may replace it.
  u32(what: string): number {
    const at = this.need(4, what);
    return this.buffer.readUInt32LE(at);
  }
  u64(what: string): number {
    const at = this.need(8, what);
    const value = this.buffer.readBigUInt64LE(at);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw bad(this.path, `${what} is ${value}, beyond any real file`);
    return Number(value);
  }
  string(what: string): string {
    const length = this.u64(`${what}'s length`);
    if (length > this.size) throw bad(this.path, `${what} claims ${length} bytes`);
    const at = this.need(length, what);
    return this.buffer.toString('utf8', at, at + length);
  }
  value(type: number, what: string): GgufValue {
    const read = <T>(bytes: number, get: (b: Buffer, at: number) => T): T => {
      const at = this.need(bytes, what);
      return get(this.buffer, at);
    };
    switch (VALUE_TYPES[type]) {
      case 'u8': return read(1, (b, at) => b.readUInt8(at));
      case 'i8': return read(1, (b, at) => b.readInt8(at));
      case 'u16': return read(2, (b, at) => b.readUInt16LE(at));
      case 'i16': return read(2, (b, at) => b.readInt16LE(at));
      case 'u32': return read(4, (b, at) => b.readUInt32LE(at));
      case 'i32': return read(4, (b, at) => b.readInt32LE(at));
      case 'f32': return read(4, (b, at) => b.readFloatLE(at));
      case 'bool': return read(1, (b, at) => b.readUInt8(at) !== 0);
      case 'string': return this.string(what);
      case 'u64': return read(8, (b, at) => b.readBigUInt64LE(at));
      case 'i64': return read(8, (b, at) => b.readBigInt64LE(at));
      case 'f64': return read(8, (b, at) => b.readDoubleLE(at));
      case 'array': {
        const elementType = this.u32(`${what}'s element type`);
        const count = this.u64(`${what}'s length`);
        if (count > MAX_ITEMS) throw bad(this.path, `${what} claims ${count} elements`);
        const items: GgufValue[] = new Array(count);
        for (let i = 0; i < count; i++) items[i] = this.value(elementType, what);
        return items;
      }
      default:
        throw bad(this.path, `${what} has unknown value type ${type}`);
    }
  }
}

function bad(path: string, message: string): EngineError {
  return new EngineError('INVALID_WEIGHTS', `${path}: not a readable GGUF file: ${message}`);
}

export function readGgufHeader(path: string): GgufHeader {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (error) {
    throw new EngineError('MODEL_NOT_FOUND', `cannot open ${path}: ${(error as Error).message}`);
  }
  try {
    const size = fstatSync(fd).size;
    const c = new Cursor(fd, size, path);
    const magic = c.u32('the magic');
    if (magic !== 0x46554747) throw bad(path, 'it does not start with "GGUF"');
    const version = c.u32('the version');
    if (version !== 2 && version !== 3) throw bad(path, `version ${version} (versions 2 and 3 are read)`);
    const tensorCount = c.u64('the tensor count');
    const kvCount = c.u64('the metadata count');
    if (tensorCount > MAX_ITEMS || kvCount > MAX_ITEMS) throw bad(path, `${tensorCount} tensors and ${kvCount} metadata entries`);

    const metadata = new Map<string, GgufValue>();
    for (let i = 0; i < kvCount; i++) {
      const key = c.string(`metadata key ${i}`);
      metadata.set(key, c.value(c.u32(`the type of ${key}`), key));
    }
    const alignmentValue = metadata.get('general.alignment') ?? 32;
    const alignment = Number(alignmentValue);
    if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0) throw bad(path, `general.alignment ${String(alignmentValue)} is not a power of two`);

    const infos: Omit<GgufTensorInfo, 'offset' | 'bytes'>[] = [];
    const relative: number[] = [];
    for (let i = 0; i < tensorCount; i++) {
      const name = c.string(`tensor ${i}'s name`);
      const nDims = c.u32(`${name}'s dimension count`);
      if (nDims < 1 || nDims > 4) throw bad(path, `${name} has ${nDims} dimensions`);
      const dims = Array.from({ length: nDims }, (_, d) => c.u64(`${name}'s dimension ${d}`));
      const type = c.u32(`${name}'s type`);
      const typeName = (Object.keys(GGML_TYPES) as GgmlTypeName[]).find((k) => GGML_TYPES[k].id === type) ?? null;
      infos.push({ name, dims, type, typeName });
      relative.push(c.u64(`${name}'s offset`));
    }
    const dataOffset = Math.ceil(c.pos / alignment) * alignment;
    const tensors = infos.map((t, i): GgufTensorInfo => {
      const elements = t.dims.reduce((a, b) => a * b, 1);
      const block = t.typeName === null ? 1 : GGML_TYPES[t.typeName].values;
      if (t.dims[0] % block !== 0) throw bad(path, `${t.name} is ${t.typeName} with rows of ${t.dims[0]}, not a multiple of its ${block}-value blocks`);
      const bytes = t.typeName === null ? null : ggmlBytes(t.typeName, elements);
      const offset = dataOffset + relative[i];
      if (relative[i] % alignment !== 0) throw bad(path, `${t.name}'s data is not aligned to ${alignment}`);
      if (bytes !== null && offset + bytes > size) throw bad(path, `${t.name}'s data (${bytes} bytes at ${offset}) runs past the end of the file`);
      return { ...t, offset, bytes };
    });
    return { version, metadata, tensors, alignment, dataOffset, fileBytes: size };
  } finally {
    closeSync(fd);
  }
}

/** The values of a small F32 tensor (e.g. rope_freqs.weight), read from the file at its offset. */
export function readGgufVector(path: string, info: GgufTensorInfo): Float32Array {
  if (info.typeName !== 'F32' || info.bytes === null) throw bad(path, `${info.name} is not an F32 tensor`);
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(info.bytes);
    if (readSync(fd, buffer, 0, info.bytes, info.offset) !== info.bytes) throw bad(path, `${info.name}'s data runs past the end of the file`);
    return new Float32Array(buffer.buffer, buffer.byteOffset, info.bytes / 4).slice();
  } finally {
    closeSync(fd);
  }
}
