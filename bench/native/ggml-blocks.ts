/**
 * Quantizes F32 rows into llama.cpp's block types (the ones the engine reads and decodes:
 * cpp/core/ggml_types.h), for test fixtures and benchmark models. Each encoder picks its integer
 * codes with a plain rule (not llama.cpp's error-minimizing search: any codes are valid blocks),
 * packs them as the format lays them out, and returns beside the bytes the values those codes
 * stand for, computed from the integers by the format's formula (`decoded`). A decoder that
 * unpacks the bytes differently from how they were packed here cannot reproduce `decoded`.
 *
 * Every product in the formulas is exact in F32 (an F16 scale has 11 significant bits, the codes
 * at most 8; IQ4_XS's d·(scale − 32)·level at most 11 + 6 + 7), except Q6_K's d·scale·q, which F32
 * rounds once; so `decoded` rounds each value once, as an F32 decoder does.
 *
 * Layouts, per block of one row (little-endian; F16 = IEEE half):
 *   Q4_0 18 B: d | 16 B, byte j = value j (low nibble), value j+16 (high); x = (q − 8)·d
 *   Q4_1 20 B: d | m | 16 B as Q4_0; x = q·d + m
 *   Q5_0 22 B: d | u32 fifth bits (bit j: value j) | 16 B as Q4_0; x = (q − 16)·d
 *   Q5_1 24 B: d | m | u32 fifth bits | 16 B; x = q·d + m
 *   Q2_K 84 B: 16 B scales (low nibble scale, high nibble min, per 16 values) | 64 B 2-bit q | d | dmin
 *   Q3_K 110 B: 32 B high bits | 64 B 2-bit q | 12 B 6-bit scales | d; x = d·(scale − 32)·(q − 4)
 *   Q4_K 144 B: d | dmin | 12 B 6-bit scales and mins (per 32 values) | 128 B 4-bit q
 *   Q5_K 176 B: d | dmin | 12 B scales and mins | 32 B fifth bits | 128 B 4-bit q
 *   Q6_K 210 B: 128 B low nibbles | 64 B high two bits | 16 int8 scales (per 16 values) | d
 *   IQ4_NL 18 B: d | 16 B of 4-bit indices as Q4_0; x = d·IQ4_LEVELS[index]
 *   IQ4_XS 136 B: d | u16 scale high bits | 4 B scale low nibbles | 128 B indices (per 32 values:
 *     16 B as IQ4_NL); x = d·(scale − 32)·IQ4_LEVELS[index], six-bit scales
 * (cpp/core/ggml_types.cc spells out which bit holds which value.)
 */

export const BLOCK_TYPES = {
  Q4_0: { values: 32, bytes: 18 },
  Q4_1: { values: 32, bytes: 20 },
  Q5_0: { values: 32, bytes: 22 },
  Q5_1: { values: 32, bytes: 24 },
  Q2_K: { values: 256, bytes: 84 },
  Q3_K: { values: 256, bytes: 110 },
  Q4_K: { values: 256, bytes: 144 },
  Q5_K: { values: 256, bytes: 176 },
  Q6_K: { values: 256, bytes: 210 },
  IQ4_NL: { values: 32, bytes: 18 },
  IQ4_XS: { values: 256, bytes: 136 },
} as const;
export type BlockTypeName = keyof typeof BLOCK_TYPES;

export interface EncodedBlocks {
  /** The rows in the type's layout, row after row. */
  bytes: Uint8Array;
  /** The value every position decodes to (F32), from the codes chosen. */
  decoded: Float32Array;
}

/** F32 bits → F16 bits, round to nearest even (finite inputs). */
export function floatBitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const abs = bits & 0x7fffffff;
  if (abs >= 0x477ff000) return sign | 0x7c00; // overflow
  if (abs < 0x38800000) {
    // subnormal or zero: shift the 24-bit significand into place, round half to even
    if (abs < 0x33000000) return sign;
    const mant = (abs & 0x7fffff) | 0x800000;
    const shift = 126 - (abs >>> 23);
    const halfBits = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    return sign | (rem > mid || (rem === mid && halfBits & 1) ? halfBits + 1 : halfBits);
  }
  let h = (abs - 0x38000000) >>> 13;
  const rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
  return sign | h;
}

export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const bitsOf = new DataView(new ArrayBuffer(4));
/** A number rounded to F16, as its bits and its value. */
function half(x: number): { bits: number; value: number } {
  bitsOf.setFloat32(0, x, true);
  const bits = floatBitsToHalf(bitsOf.getUint32(0, true));
  return { bits, value: halfToFloat(bits) };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));
/** round(x / step) clamped to [lo, hi]; lo when the step is 0. */
const code = (x: number, step: number, lo: number, hi: number) => (step === 0 ? clamp(0, lo, hi) : clamp(Math.round(x / step), lo, hi));

function extremes(x: Float32Array, from: number, n: number): { min: number; max: number; signedMax: number } {
  let min = Infinity, max = -Infinity, signedMax = 0;
  for (let i = from; i < from + n; i++) {
    min = Math.min(min, x[i]);
    max = Math.max(max, x[i]);
    if (Math.abs(x[i]) > Math.abs(signedMax)) signedMax = x[i];
  }
  return { min, max, signedMax };
}

/** Writes one block of `values` values at out[o…], filling decoded[v…]. */
type BlockEncoder = (x: Float32Array, v: number, out: Uint8Array, o: number, decoded: Float32Array) => void;

// 32-value blocks. `offset`: the code of zero (8 or 16; 0 for the _1 types, which store a min).
function legacyEncoder(bitsPerValue: 4 | 5, withMin: boolean): BlockEncoder {
  const top = (1 << bitsPerValue) - 1;
  const offset = withMin ? 0 : 1 << (bitsPerValue - 1);
  return (x, v, out, o, decoded) => {
    const { min, max, signedMax } = extremes(x, v, 32);
    const d = half(withMin ? (max - Math.min(min, max)) / top : signedMax / -offset);
    const m = half(withMin ? min : 0);
    const view = new DataView(out.buffer, out.byteOffset);
    view.setUint16(o, d.bits, true);
    let at = o + 2;
    if (withMin) {
      view.setUint16(at, m.bits, true);
      at += 2;
    }
    const q = new Array<number>(32);
    for (let j = 0; j < 32; j++) {
      q[j] = withMin ? code(x[v + j] - m.value, d.value, 0, top) : code(x[v + j], d.value, -offset, top - offset) + offset;
      decoded[v + j] = Math.fround(withMin ? q[j] * d.value + m.value : (q[j] - offset) * d.value);
    }
    if (bitsPerValue === 5) {
      let high = 0;
      for (let j = 0; j < 32; j++) if (q[j] & 16) high |= 1 << j;
      view.setUint32(at, high >>> 0, true);
      at += 4;
    }
    for (let j = 0; j < 16; j++) out[at + j] = (q[j] & 15) | ((q[j + 16] & 15) << 4);
  };
}

// Q4_K / Q5_K's 12 bytes of six-bit scales and mins for 8 sub-blocks.
function packScaleMinK4(scales: number[], mins: number[], out: Uint8Array, o: number): void {
  for (let j = 0; j < 4; j++) {
    out[o + j] = (scales[j] & 63) | ((scales[j + 4] >> 4) << 6);
    out[o + j + 4] = (mins[j] & 63) | ((mins[j + 4] >> 4) << 6);
    out[o + j + 8] = (scales[j + 4] & 15) | ((mins[j + 4] & 15) << 4);
  }
}

function kEncoder(bitsPerValue: 4 | 5): BlockEncoder {
  const top = (1 << bitsPerValue) - 1;
  return (x, v, out, o, decoded) => {
    const steps: number[] = [], floors: number[] = [];
    for (let s = 0; s < 8; s++) {
      const { min, max } = extremes(x, v + 32 * s, 32);
      const floor = Math.min(0, min);
      steps.push((max - floor) / top);
      floors.push(-floor);
    }
    const d = half(Math.max(...steps) / 63), dmin = half(Math.max(...floors) / 63);
    const scales = steps.map((s) => code(s, d.value, 0, 63)), mins = floors.map((f) => code(f, dmin.value, 0, 63));
    const view = new DataView(out.buffer, out.byteOffset);
    view.setUint16(o, d.bits, true);
    view.setUint16(o + 2, dmin.bits, true);
    packScaleMinK4(scales, mins, out, o + 4);
    const qh = bitsPerValue === 5 ? o + 16 : -1;
    const qs = bitsPerValue === 5 ? o + 48 : o + 16;
    for (let s = 0; s < 8; s++) {
      const step = d.value * scales[s], shift = dmin.value * mins[s];
      for (let l = 0; l < 32; l++) {
        const q = code(x[v + 32 * s + l] + shift, step, 0, top);
        decoded[v + 32 * s + l] = Math.fround(step * q - shift);
        const p = s >> 1;
        out[qs + 32 * p + l] |= (q & 15) << (s & 1 ? 4 : 0);
        if (q & 16) out[qh + l] |= 1 << s;
      }
    }
  };
}

const encodeQ2K: BlockEncoder = (x, v, out, o, decoded) => {
  const steps: number[] = [], floors: number[] = [];
  for (let s = 0; s < 16; s++) {
    const { min, max } = extremes(x, v + 16 * s, 16);
    const floor = Math.min(0, min);
    steps.push((max - floor) / 3);
    floors.push(-floor);
  }
  const d = half(Math.max(...steps) / 15), dmin = half(Math.max(...floors) / 15);
  const view = new DataView(out.buffer, out.byteOffset);
  for (let s = 0; s < 16; s++) {
    const sc = code(steps[s], d.value, 0, 15), mn = code(floors[s], dmin.value, 0, 15);
    out[o + s] = sc | (mn << 4);
    const step = d.value * sc, shift = dmin.value * mn;
    // Sub-block s = 8h + 2j + part holds values 128h + 32j + 16·part + i, bits 2j of q byte 32h + 16·part + i.
    const h = s >> 3, j = (s >> 1) & 3, part = s & 1;
    for (let i = 0; i < 16; i++) {
      const l = 16 * part + i, at = 128 * h + 32 * j + l;
      const q = code(x[v + at] + shift, step, 0, 3);
      decoded[v + at] = Math.fround(step * q - shift);
      out[o + 16 + 32 * h + l] |= q << (2 * j);
    }
  }
  view.setUint16(o + 80, d.bits, true);
  view.setUint16(o + 82, dmin.bits, true);
};

const encodeQ3K: BlockEncoder = (x, v, out, o, decoded) => {
  const steps: number[] = [];
  for (let s = 0; s < 16; s++) steps.push(extremes(x, v + 16 * s, 16).signedMax / -4);
  const d = half(Math.max(...steps.map(Math.abs)) / 32);
  for (let s = 0; s < 16; s++) {
    const sc = code(steps[s], d.value, -32, 31); // stored + 32 in six bits
    const u = sc + 32;
    out[o + 96 + (s < 8 ? s : s - 8)] |= (u & 15) << (s < 8 ? 0 : 4);
    out[o + 96 + 8 + (s % 4)] |= (u >> 4) << (2 * (s >> 2));
    const step = d.value * sc;
    const h = s >> 3, j = (s >> 1) & 3, part = s & 1;
    for (let i = 0; i < 16; i++) {
      const l = 16 * part + i, at = 128 * h + 32 * j + l;
      const q = code(x[v + at], step, -4, 3) + 4; // 0…7: low two bits in qs, the third in hmask
      decoded[v + at] = Math.fround(step * (q - 4));
      out[o + 32 + 32 * h + l] |= (q & 3) << (2 * j);
      if (q & 4) out[o + l] |= 1 << (4 * h + j);
    }
  }
  new DataView(out.buffer, out.byteOffset).setUint16(o + 108, d.bits, true);
};

const encodeQ6K: BlockEncoder = (x, v, out, o, decoded) => {
  const steps: number[] = [];
  for (let s = 0; s < 16; s++) steps.push(extremes(x, v + 16 * s, 16).signedMax / -32);
  const d = half(Math.max(...steps.map(Math.abs)) / 127);
  const view = new DataView(out.buffer, out.byteOffset);
  for (let s = 0; s < 16; s++) view.setInt8(o + 192 + s, code(steps[s], d.value, -128, 127));
  for (let h = 0; h < 2; h++) {
    for (let k = 0; k < 4; k++) {
      for (let l = 0; l < 32; l++) {
        const at = 128 * h + 32 * k + l;
        const sc = view.getInt8(o + 192 + 8 * h + 2 * k + (l >> 4));
        const step = d.value * sc;
        const q = code(x[v + at], step, -32, 31) + 32;
        decoded[v + at] = Math.fround(step * (q - 32));
        out[o + 64 * h + (k & 1 ? 32 : 0) + l] |= (q & 15) << (k >= 2 ? 4 : 0);
        out[o + 128 + 32 * h + l] |= (q >> 4) << (2 * k);
      }
    }
  }
  view.setUint16(o + 208, d.bits, true);
};

/** The 16 levels an IQ4 index picks from (llama.cpp's kvalues_iq4nl). */
export const IQ4_LEVELS = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113] as const;

/** The index of the level nearest x / step (the first of two equally near; level 1's when step is 0). */
function nearestLevel(x: number, step: number): number {
  const target = step === 0 ? 0 : x / step;
  let best = 0;
  for (let i = 1; i < 16; i++) if (Math.abs(target - IQ4_LEVELS[i]) < Math.abs(target - IQ4_LEVELS[best])) best = i;
  return best;
}

/**
 * The step that puts a group's value of largest magnitude on an end level: −127 for even groups,
 * 113 for odd ones. The levels are not symmetric, so either sign is a fair scale; alternating
 * them gives IQ4_XS scales on both sides of 32, and so both values of their top bits.
 */
const iq4Step = (signedMax: number, group: number) => signedMax / (group % 2 === 0 ? IQ4_LEVELS[0] : IQ4_LEVELS[15]);

/** 32 values at x[at…] as indices of `step`'s levels, packed as Q4_0's nibbles at out[q…]. */
function packIq4(x: Float32Array, at: number, step: number, out: Uint8Array, q: number, decoded: Float32Array): void {
  for (let j = 0; j < 32; j++) {
    const index = nearestLevel(x[at + j], step);
    decoded[at + j] = Math.fround(step * IQ4_LEVELS[index]);
    out[q + (j & 15)] |= index << (j < 16 ? 0 : 4);
  }
}

const encodeIq4Nl: BlockEncoder = (x, v, out, o, decoded) => {
  const d = half(iq4Step(extremes(x, v, 32).signedMax, v / 32));
  new DataView(out.buffer, out.byteOffset).setUint16(o, d.bits, true);
  packIq4(x, v, d.value, out, o + 2, decoded);
};

const encodeIq4Xs: BlockEncoder = (x, v, out, o, decoded) => {
  const steps: number[] = [];
  for (let s = 0; s < 8; s++) steps.push(iq4Step(extremes(x, v + 32 * s, 32).signedMax, s));
  const d = half(Math.max(...steps.map(Math.abs)) / 32);
  let scalesHigh = 0;
  for (let s = 0; s < 8; s++) {
    const sc = code(steps[s], d.value, -32, 31); // stored + 32 in six bits
    const u = sc + 32;
    out[o + 4 + (s >> 1)] |= (u & 15) << (s & 1 ? 4 : 0);
    scalesHigh |= (u >> 4) << (2 * s);
    packIq4(x, v + 32 * s, Math.fround(d.value * sc), out, o + 8 + 16 * s, decoded);
  }
  const view = new DataView(out.buffer, out.byteOffset);
  view.setUint16(o, d.bits, true);
  view.setUint16(o + 2, scalesHigh, true);
};

const ENCODERS: Record<BlockTypeName, BlockEncoder> = {
  Q4_0: legacyEncoder(4, false),
  Q4_1: legacyEncoder(4, true),
  Q5_0: legacyEncoder(5, false),
  Q5_1: legacyEncoder(5, true),
  Q2_K: encodeQ2K,
  Q3_K: encodeQ3K,
  Q4_K: kEncoder(4),
  Q5_K: kEncoder(5),
  Q6_K: encodeQ6K,
  IQ4_NL: encodeIq4Nl,
  IQ4_XS: encodeIq4Xs,
};

/** rows × cols F32 values (cols a multiple of the type's block) in `type`'s layout. */
export function encodeBlocks(type: BlockTypeName, values: Float32Array, rows: number, cols: number): EncodedBlocks {
  const { values: per, bytes } = BLOCK_TYPES[type];
  if (cols % per !== 0) throw new Error(`ggml-blocks: ${type} rows need a multiple of ${per} values, got ${cols}`);
  const blocks = (rows * cols) / per;
  const out = new Uint8Array(blocks * bytes);
  const decoded = new Float32Array(rows * cols);
  for (let b = 0; b < blocks; b++) ENCODERS[type](values, b * per, out, b * bytes, decoded);
  return { bytes: out, decoded };
}
