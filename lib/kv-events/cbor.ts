/**
 * The little of CBOR (RFC 8949) that vLLM's block hash serialises, in canonical form — what
 * Python's `cbor2.dumps(value, canonical=True)` and Go's `cbor.CanonicalEncOptions()` write for
 * these values, byte for byte:
 *
 * - an unsigned integer in the shortest head: major type 0, the value in the initial byte when
 *   < 24, else one, two, four or eight big-endian bytes after 0x18 / 0x19 / 0x1a / 0x1b;
 * - a text string: major type 3, the UTF-8 byte length as a head, then the bytes;
 * - an array (Python's tuple and list alike): major type 4, the element count as a head, then
 *   the elements;
 * - null (Python's None): 0xf6.
 *
 * Canonical form only constrains integer heads and map key order here (there are no maps), so
 * this is the whole rule for block hashes. Negative integers, floats, bytes and maps are refused:
 * vLLM never puts them in the hash of a text-only block, and guessing their form would be a bug
 * waiting to happen.
 */
export type CborValue = number | bigint | string | null | readonly CborValue[];

const MAX_UINT64 = (1n << 64n) - 1n;

/** Canonical CBOR bytes of `value`. */
export function encodeCbor(value: CborValue): Uint8Array {
  const out: number[] = [];
  write(out, value);
  return Uint8Array.from(out);
}

function write(out: number[], value: CborValue): void {
  if (value === null) {
    out.push(0xf6);
  } else if (typeof value === 'number' || typeof value === 'bigint') {
    head(out, 0, toUint(value));
  } else if (typeof value === 'string') {
    const bytes = Buffer.from(value, 'utf8');
    head(out, 3, BigInt(bytes.length));
    for (const b of bytes) out.push(b);
  } else {
    head(out, 4, BigInt(value.length));
    for (const element of value) write(out, element);
  }
}

function toUint(value: number | bigint): bigint {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`CBOR: ${value} is not a safe integer`);
  const big = BigInt(value);
  if (big < 0n || big > MAX_UINT64) throw new RangeError(`CBOR: ${value} is not an unsigned 64-bit integer`);
  return big;
}

/** The initial byte (major type in the top 3 bits) and the shortest argument for `argument`. */
function head(out: number[], major: number, argument: bigint): void {
  const type = major << 5;
  if (argument < 24n) {
    out.push(type | Number(argument));
    return;
  }
  const width = argument <= 0xffn ? 1 : argument <= 0xffffn ? 2 : argument <= 0xffffffffn ? 4 : 8;
  out.push(type | { 1: 24, 2: 25, 4: 26, 8: 27 }[width]!);
  for (let i = width - 1; i >= 0; i--) out.push(Number((argument >> BigInt(8 * i)) & 0xffn));
}
