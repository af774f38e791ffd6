/**
 * vLLM's `sha256_cbor_64bit` block hash (lib/kv-events/block-hash.ts), checked against bytes
 * written out by hand here: the canonical CBOR of each input (RFC 8949 heads worked out byte by
 * byte), SHA-256 from node:crypto, and the 64-bit cut as vLLM writes it —
 * `int.from_bytes(digest, "big") & (2**64 - 1)` — on the hex digest, not through the code's
 * readBigUInt64BE.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hashBlockTokens, noneHash, sha256Cbor64bit } from '../../lib/kv-events/block-hash.js';
import { encodeCbor } from '../../lib/kv-events/cbor.js';

/** vLLM's cut: the whole digest as a big-endian integer, masked to its low 64 bits. */
function low64(bytes: number[]): bigint {
  const hex = createHash('sha256').update(Uint8Array.from(bytes)).digest('hex');
  return BigInt(`0x${hex}`) & ((1n << 64n) - 1n);
}

const ascii = (s: string) => [...s].map((c) => c.charCodeAt(0));

describe('canonical CBOR of what vLLM hashes', () => {
  it('writes each integer in its shortest head', () => {
    expect([...encodeCbor(0)]).toEqual([0x00]);
    expect([...encodeCbor(23)]).toEqual([0x17]);
    expect([...encodeCbor(24)]).toEqual([0x18, 0x18]);
    expect([...encodeCbor(255)]).toEqual([0x18, 0xff]);
    expect([...encodeCbor(256)]).toEqual([0x19, 0x01, 0x00]);
    expect([...encodeCbor(65535)]).toEqual([0x19, 0xff, 0xff]);
    expect([...encodeCbor(65536)]).toEqual([0x1a, 0x00, 0x01, 0x00, 0x00]);
    expect([...encodeCbor(0xffffffff)]).toEqual([0x1a, 0xff, 0xff, 0xff, 0xff]);
    expect([...encodeCbor(2 ** 32)]).toEqual([0x1b, 0, 0, 0, 1, 0, 0, 0, 0]);
    expect([...encodeCbor(0xffffffffffffffffn)]).toEqual([0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });

  it('writes text, arrays and null as cbor2 and Go canonical CBOR do', () => {
    expect([...encodeCbor('')]).toEqual([0x60]);
    expect([...encodeCbor('42')]).toEqual([0x62, 0x34, 0x32]);
    expect([...encodeCbor('é')]).toEqual([0x62, 0xc3, 0xa9]); // UTF-8 byte length, not characters
    expect([...encodeCbor(null)]).toEqual([0xf6]);
    expect([...encodeCbor([])]).toEqual([0x80]);
    expect([...encodeCbor(new Array(23).fill(1))]).toEqual([0x97, ...new Array(23).fill(1)]);
    expect([...encodeCbor(new Array(24).fill(1))]).toEqual([0x98, 0x18, ...new Array(24).fill(1)]);
  });

  it('refuses what vLLM never hashes for a text block', () => {
    expect(() => encodeCbor(-1)).toThrow(RangeError);
    expect(() => encodeCbor(1.5)).toThrow(RangeError);
    expect(() => encodeCbor(1n << 64n)).toThrow(RangeError);
  });
});

describe("vLLM's sha256_cbor_64bit", () => {
  it('NONE_HASH is the hash of the seed string (llm-d: HashSeed "", vLLM: PYTHONHASHSEED)', () => {
    expect(noneHash('')).toBe(low64([0x60]));
    expect(noneHash('42')).toBe(low64([0x62, ...ascii('42')]));
    expect(noneHash('')).not.toBe(noneHash('42'));
  });

  it('a block is the hash of [parent, [tokens], extra] with an 8-byte parent', () => {
    const parent = 0x0123456789abcdefn;
    const tokens = [0, 23, 24, 255, 256, 65535, 65536];
    const bytes = [
      0x83, // array of 3
      0x1b, 0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, // the parent, uint64
      0x87, // array of 7 tokens
      0x00, 0x17, 0x18, 0x18, 0x18, 0xff, 0x19, 0x01, 0x00, 0x19, 0xff, 0xff, 0x1a, 0x00, 0x01, 0x00, 0x00,
      0xf6, // extra keys: None
    ];
    expect([...encodeCbor([parent, tokens, null])]).toEqual(bytes);
    expect(hashBlockTokens(parent, tokens)).toBe(low64(bytes));
  });

  it('a small parent takes a short head too (canonical), and a salt rides as [salt]', () => {
    // parent 5, tokens [1, 2], extra ("ab",)
    const bytes = [0x83, 0x05, 0x82, 0x01, 0x02, 0x81, 0x62, 0x61, 0x62];
    expect(hashBlockTokens(5n, [1, 2], ['ab'])).toBe(low64(bytes));
    expect(sha256Cbor64bit([5n, [1, 2], ['ab']])).toBe(low64(bytes));
  });

  it('chains: block 1 hashes block 0 as its parent, from NONE_HASH of seed ""', () => {
    const first = [10, 11, 12, 13];
    const second = [14, 15, 16, 17];
    const none = low64([0x60]);
    const noneBytes = [...Buffer.from(none.toString(16).padStart(16, '0'), 'hex')];
    // none is at least 2^56 with probability 255/256; this seed's value is (checked below), so 8 bytes.
    expect(none >= 1n << 56n).toBe(true);
    const block0 = low64([0x83, 0x1b, ...noneBytes, 0x84, 10, 11, 12, 13, 0xf6]);
    const block0Bytes = [...Buffer.from(block0.toString(16).padStart(16, '0'), 'hex')];
    const head = block0 >= 1n << 32n ? [0x1b, ...block0Bytes] : null;
    expect(head).not.toBeNull(); // a value below 2^32 would need a shorter head
    const block1 = low64([0x83, ...head!, 0x84, 14, 15, 16, 17, 0xf6]);
    const h0 = hashBlockTokens(noneHash(''), first);
    expect(h0).toBe(block0);
    expect(hashBlockTokens(h0, second)).toBe(block1);
  });
});
