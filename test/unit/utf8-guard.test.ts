/**
 * The UTF-8 guard against RFC 3629's table of well-formed byte sequences, worked by hand: which
 * byte may follow which, and the masks it gives a small byte vocabulary.
 */
import { describe, expect, it } from 'vitest';
import { afterBytes, BETWEEN_CHARACTERS, nextUtf8State, Utf8Guard } from '../../lib/constrain/utf8-guard.js';
import { tokenBytes } from '../../lib/constrain/vocabulary.js';

const valid = (...bytes: number[]) => afterBytes(BETWEEN_CHARACTERS, Uint8Array.from(bytes));

describe('UTF-8 guard', () => {
  it('accepts well-formed sequences and ends between characters', () => {
    expect(valid(0x41)).toEqual(BETWEEN_CHARACTERS); // 'A'
    expect(valid(0xc3, 0xa9)).toEqual(BETWEEN_CHARACTERS); // 'é'
    expect(valid(0xe2, 0x82, 0xac)).toEqual(BETWEEN_CHARACTERS); // '€'
    expect(valid(0xf0, 0x9f, 0x98, 0x80)).toEqual(BETWEEN_CHARACTERS); // U+1F600
    expect(valid(0xe2, 0x82)).toEqual({ owed: 1, low: 0x80, high: 0xbf }); // a prefix: one byte owed
  });

  it('refuses overlong forms, surrogates, code points past U+10FFFF and stray bytes', () => {
    expect(valid(0xc0, 0x80)).toBeNull(); // overlong NUL
    expect(valid(0xc1)).toBeNull();
    expect(valid(0xe0, 0x9f)).toBeNull(); // overlong 3-byte: E0 needs A0–BF
    expect(valid(0xed, 0xa0)).toBeNull(); // U+D800, a surrogate: ED needs 80–9F
    expect(valid(0xf0, 0x8f)).toBeNull(); // overlong 4-byte: F0 needs 90–BF
    expect(valid(0xf4, 0x90)).toBeNull(); // past U+10FFFF: F4 needs 80–8F
    expect(valid(0xf5)).toBeNull();
    expect(valid(0x80)).toBeNull(); // a continuation byte with nothing before it
    expect(valid(0xc3, 0x41)).toBeNull(); // a character cut short
    expect(nextUtf8State(BETWEEN_CHARACTERS, 0xff)).toBeNull();
  });

  it('masks a byte vocabulary by state; end of sequence only between characters', () => {
    // ids: 0 'A', 1 0xC3, 2 0xA9, 3 0x9F, 4 0xE0, 5 the token 0xC3 0xA9 ('é' whole), 6 a special token, 7 end of sequence
    const bytes = [Uint8Array.of(0x41), Uint8Array.of(0xc3), Uint8Array.of(0xa9), Uint8Array.of(0x9f), Uint8Array.of(0xe0), Uint8Array.of(0xc3, 0xa9), null, null];
    const guard = new Utf8Guard(bytes, 1, [7]);
    const ids = (mask: Uint32Array) => [...Array(32).keys()].filter((id) => (mask[0] >>> id) & 1);
    expect(ids(guard.mask(BETWEEN_CHARACTERS))).toEqual([0, 1, 4, 5, 7]);
    expect(ids(guard.mask(valid(0xc3)!))).toEqual([2, 3]); // any continuation byte
    expect(ids(guard.mask(valid(0xe0)!))).toEqual([2]); // A0–BF only: 0xA9 yes, 0x9F no
  });

  it('reads a token\'s bytes off its spelling', () => {
    expect([...tokenBytes('Ġa', 'byte_level')!]).toEqual([0x20, 0x61]); // 'Ġ' is the space byte
    expect([...tokenBytes('Ã©', 'byte_level')!]).toEqual([0xc3, 0xa9]);
    expect([...tokenBytes('<0x0A>', 'byte_fallback')!]).toEqual([0x0a]);
    expect([...tokenBytes('▁é', 'byte_fallback')!]).toEqual([0x20, 0xc3, 0xa9]);
    expect(tokenBytes('', 'byte_level')).toBeNull();
  });
});
