// Independent safetensors reader for the test reference model.
//
// This deliberately shares nothing with the engine's loader: if both read a
// file the same wrong way, the comparison tests would pass while both are
// broken. Everything is widened to float64 so the reference computes in
// double precision regardless of the storage dtype.
//
// Format: [u64 little-endian header length N][N bytes of JSON header][data].
// The header maps tensor names to {dtype, shape, data_offsets: [begin, end]},
// with offsets relative to the first byte after the header. An optional
// "__metadata__" entry holds string->string metadata and is not a tensor.

import { readFileSync } from 'node:fs';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  values: Float64Array;
}

const BYTES_PER_ELEMENT: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Read one or more shards into a single name -> tensor map. */
export function readSafetensors(paths: string[]): Map<string, SafetensorsTensor> {
  const tensors = new Map<string, SafetensorsTensor>();
  for (const path of paths) {
    readShard(path, readFileSync(path), tensors);
  }
  return tensors;
}

function readShard(path: string, file: Buffer, into: Map<string, SafetensorsTensor>): void {
  if (file.length < 8) throw new Error(`${path}: too short for a safetensors header`);
  const headerLength = file.readBigUInt64LE(0);
  if (headerLength > BigInt(file.length - 8)) {
    throw new Error(`${path}: header length ${headerLength} exceeds file size ${file.length}`);
  }
  const dataStart = 8 + Number(headerLength);
  const dataLength = file.length - dataStart;
  const header = JSON.parse(file.toString('utf8', 8, dataStart)) as Record<string, any>;

  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (into.has(name)) throw new Error(`${path}: tensor ${name} appears in more than one shard`);

    const dtype = entry.dtype as string;
    if (!(dtype in BYTES_PER_ELEMENT)) {
      throw new Error(`${path}: tensor ${name} has unsupported dtype ${dtype}`);
    }
    const elementBytes = BYTES_PER_ELEMENT[dtype as SafetensorsDtype];

    const shape = entry.shape as number[];
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new Error(`${path}: tensor ${name} has an invalid shape`);
    }
    // An empty shape is a scalar: one element.
    const count = shape.reduce((a, b) => a * b, 1);

    const [begin, end] = entry.data_offsets as [number, number];
    if (!Number.isInteger(begin) || !Number.isInteger(end) || begin < 0 || end < begin || end > dataLength) {
      throw new Error(`${path}: tensor ${name} has data_offsets [${begin}, ${end}] outside the data (${dataLength} bytes)`);
    }
    if (end - begin !== count * elementBytes) {
      throw new Error(`${path}: tensor ${name} spans ${end - begin} bytes, expected ${count} x ${elementBytes}`);
    }

    // A DataView reads unaligned little-endian values, so we need no copy.
    const view = new DataView(file.buffer, file.byteOffset + dataStart + begin, end - begin);
    const values = new Float64Array(count);
    for (let i = 0; i < count; i++) {
      if (dtype === 'F32') values[i] = view.getFloat32(i * 4, true);
      else if (dtype === 'F16') values[i] = f16BitsToNumber(view.getUint16(i * 2, true));
      else values[i] = bf16BitsToNumber(view.getUint16(i * 2, true));
    }
    into.set(name, { dtype: dtype as SafetensorsDtype, shape: [...shape], values });
  }
}

/**
 * IEEE 754 binary16: 1 sign bit, 5 exponent bits (bias 15), 10 fraction bits.
 * Decoded arithmetically rather than through a typed-array trick so the
 * conversion is visibly independent of whatever the engine does.
 */
export function f16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  // Subnormal: 0.fraction x 2^-14 = fraction x 2^-24 (also gives +/-0).
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/**
 * bfloat16: the top 16 bits of a float32 — 1 sign bit, 8 exponent bits
 * (bias 127), 7 fraction bits.
 */
export function bf16BitsToNumber(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 7) & 0xff;
  const fraction = bits & 0x7f;
  // Subnormal: 0.fraction x 2^-126 = fraction x 2^-133.
  if (exponent === 0) return sign * fraction * 2 ** -133;
  if (exponent === 0xff) return fraction === 0 ? sign * Infinity : NaN;
  return sign * (1 + fraction / 128) * 2 ** (exponent - 127);
}
