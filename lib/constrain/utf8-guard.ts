/**
 * Keeps a constrained output valid UTF-8. xgrammar 0.1.27 matches characters leniently on a
 * byte-level vocabulary: after `[^"\\]` it allows lead bytes C0, C1 and F5–F7, and any
 * continuation byte after E0, ED, F0 or F4 — overlong forms, surrogates, code points past
 * U+10FFFF. A model writing single bytes can then spell invalid UTF-8, which decodes to U+FFFD
 * and breaks minLength/maxLength (xgrammar counts one character where the text has several).
 *
 * The guard follows the bytes generated so far as a UTF-8 decoder state (how many continuation
 * bytes are owed, and the range the next one must be in — RFC 3629's table) and masks the tokens
 * whose bytes would break it; end of sequence only between characters. A state's mask is
 * computed once per vocabulary (there are 8 states) and then ANDed into the grammar's mask.
 */
export interface Utf8State {
  /** Continuation bytes still owed (0: between characters). */
  owed: number;
  /** The range the next continuation byte must be in (RFC 3629 narrows the first one). */
  low: number;
  high: number;
}

export const BETWEEN_CHARACTERS: Utf8State = { owed: 0, low: 0x80, high: 0xbf };

/** The state after `byte`, or null when the byte cannot come next. */
export function nextUtf8State(state: Utf8State, byte: number): Utf8State | null {
  if (state.owed > 0) {
    if (byte < state.low || byte > state.high) return null;
    return state.owed === 1 ? BETWEEN_CHARACTERS : { owed: state.owed - 1, low: 0x80, high: 0xbf };
  }
  if (byte <= 0x7f) return BETWEEN_CHARACTERS;
  if (byte >= 0xc2 && byte <= 0xdf) return { owed: 1, low: 0x80, high: 0xbf };
  if (byte === 0xe0) return { owed: 2, low: 0xa0, high: 0xbf }; // no overlong 3-byte forms
  if (byte === 0xed) return { owed: 2, low: 0x80, high: 0x9f }; // no surrogates
  if (byte >= 0xe1 && byte <= 0xef) return { owed: 2, low: 0x80, high: 0xbf };
  if (byte === 0xf0) return { owed: 3, low: 0x90, high: 0xbf }; // no overlong 4-byte forms
  if (byte >= 0xf1 && byte <= 0xf3) return { owed: 3, low: 0x80, high: 0xbf };
  if (byte === 0xf4) return { owed: 3, low: 0x80, high: 0x8f }; // nothing past U+10FFFF
  return null; // a stray continuation byte, C0, C1, F5–FF
}

/** The state after a token's bytes, or null when they break UTF-8. */
export function afterBytes(state: Utf8State, bytes: Uint8Array): Utf8State | null {
  let s: Utf8State | null = state;
  for (let i = 0; i < bytes.length && s; i++) s = nextUtf8State(s, bytes[i]);
  return s;
}

const key = (s: Utf8State) => `${s.owed}:${s.low}:${s.high}`;

export class Utf8Guard {
  private readonly masks = new Map<string, Uint32Array>();

  /**
   * `tokenBytes`: each id's bytes (null for an id that spells nothing: special tokens, which the
   * grammar never allows anyway); `stopIds` may end the output between characters.
   */
  constructor(
    private readonly tokenBytes: readonly (Uint8Array | null)[],
    private readonly maskWords: number,
    private readonly stopIds: readonly number[],
  ) {}

  /** The ids that keep the output valid UTF-8 from `state`. */
  mask(state: Utf8State): Uint32Array {
    let mask = this.masks.get(key(state));
    if (mask) return mask;
    mask = new Uint32Array(this.maskWords);
    this.tokenBytes.forEach((bytes, id) => {
      if (bytes !== null && bytes.length > 0 && afterBytes(state, bytes) !== null) mask![id >>> 5] |= 1 << (id & 31);
    });
    if (state.owed === 0) for (const id of this.stopIds) mask[id >>> 5] |= 1 << (id & 31);
    this.masks.set(key(state), mask);
    return mask;
  }

  bytesOf(id: number): Uint8Array | null {
    return this.tokenBytes[id] ?? null;
  }
}
