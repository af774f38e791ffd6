/**
 * Writes a safetensors file: an 8-byte little-endian header length, a JSON header padded with
 * spaces to 8-byte alignment (so F32 data is aligned when mapped), then the tensors' bytes.
 * Tensors are streamed one by one; the file is never held in memory whole.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { EngineError } from '../errors.js';
import type { TensorDtype } from '../native/types.js';

export interface TensorToWrite {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  data: Uint8Array;
}

const BYTES_PER_ELEMENT = { F32: 4, F16: 2, BF16: 2 } as const;

/**
 * `headerTensors` fixes the layout; `readTensor` is then asked for each tensor's bytes in that
 * order, so a caller can produce one tensor at a time.
 */
export function writeSafetensors(
  path: string,
  headerTensors: { name: string; dtype: TensorDtype; shape: number[] }[],
  readTensor: (name: string) => Uint8Array,
  metadata: Record<string, string> = {},
): void {
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const t of headerTensors) {
    if (t.dtype === 'Q8_0') {
      // A model quantized at load holds Q8_0 matrices; safetensors has no such type (write the
      // model in its own dtype and load it with dtype 'q8' again).
      throw new EngineError('INVALID_ARGUMENT', `tensor ${t.name} is Q8_0, which a safetensors file cannot hold`);
    }
    const bytes = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.alloc(8);
  head.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));

  const fd = openSync(path, 'w');
  try {
    writeSync(fd, head);
    writeSync(fd, json);
    for (const t of headerTensors) {
      const data = readTensor(t.name);
      const expected = t.shape.reduce((a, b) => a * b, 1) * BYTES_PER_ELEMENT[t.dtype as TensorToWrite['dtype']];
      if (data.byteLength !== expected) {
        throw new Error(`tensor ${t.name}: ${data.byteLength} bytes given, ${expected} expected`);
      }
      writeSync(fd, data);
    }
  } finally {
    closeSync(fd);
  }
}
