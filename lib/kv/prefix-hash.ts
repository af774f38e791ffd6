/**
 * Chained block hashes for automatic prefix caching (the idea of vLLM v1's `hash_block_tokens`):
 * the key of a full block covers its own token ids and, through the parent key, every token before
 * it, so equal keys mean equal prefixes.
 *
 * The key is 64 bits from two independent 32-bit lanes (a MurmurHash3-style lane and an
 * xxHash32-style lane, different seeds and constants), packed as four 16-bit UTF-16 code units so it
 * can key a `Map` directly and be built and unpacked without formatting numbers (the planner hashes
 * every waiting job's context each step; hex formatting was most of that cost). For 10^6 blocks a 64-bit collision has probability about n^2 / 2^65 ≈ 3e-8; the
 * block manager also compares the stored token ids and parent key on every hit, so a collision
 * could only ever matter in the parent chain, never inside one block.
 */
import { createHash } from 'node:crypto';
import { fmix32 } from '../util/hash.js';

/** Four UTF-16 code units: lane A's high and low halves, then lane B's. */
export type BlockHash = string;

const SEED_A = 0x9747b28c;
const SEED_B = 0x165667b1;
const M1 = 0xcc9e2d51;
const M2 = 0x1b873593;
const P1 = 0x9e3779b1;
const P2 = 0x85ebca77;
const P3 = 0xc2b2ae3d;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function pack(a: number, b: number): BlockHash {
  return String.fromCharCode(a >>> 16, a & 0xffff, b >>> 16, b & 0xffff);
}

/** Murmur3 body round: mixes one 32-bit word into lane A. */
function roundA(h: number, word: number): number {
  let k = Math.imul(word, M1);
  k = rotl(k, 15);
  k = Math.imul(k, M2);
  h ^= k;
  h = rotl(h, 13);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

/** xxHash32 accumulator round: mixes one 32-bit word into lane B. */
function roundB(h: number, word: number): number {
  h = (h + Math.imul(word, P2)) | 0;
  h = rotl(h, 13);
  return Math.imul(h, P1);
}

/**
 * Key of the block holding `tokens[start..end)` whose prefix has key `parent` (null for the
 * first block). Token ids are taken as 32-bit integers.
 */
export function hashBlock(parent: BlockHash | null, tokens: readonly number[], start: number, end: number): BlockHash {
  let a = SEED_A;
  let b = SEED_B;
  if (parent !== null) {
    const pa = ((parent.charCodeAt(0) << 16) | parent.charCodeAt(1)) >>> 0;
    const pb = ((parent.charCodeAt(2) << 16) | parent.charCodeAt(3)) >>> 0;
    // Each lane sees both parent lanes, so the chain carries all 64 bits forward.
    a = roundA(roundA(a, pa), pb);
    b = roundB(roundB(b, pb), pa);
  } else {
    // Distinguishes "no parent" from a parent whose lanes happen to be zero.
    a = roundA(a, 0x5bd1e995);
    b = roundB(b, 0x27d4eb2f);
  }
  for (let i = start; i < end; i++) {
    const t = tokens[i] | 0;
    a = roundA(a, t);
    b = roundB(b, t);
  }
  const n = end - start;
  a = fmix32(a ^ n);
  b = fmix32(Math.imul(b ^ n, P3) ^ rotl(b, 17));
  return pack(a, b);
}

/**
 * The root of a salted prefix chain (vLLM's `cache_salt`): the parent key of the first block for
 * every sequence with this salt, where unsalted sequences have none. A chain under one salt can
 * then never produce another salt's keys, and a hit is verified against the stored parent, so one
 * tenant's cached prefix is never a hit for another. SHA-256, not the lanes above: the lanes are
 * invertible, so from a guessed prefix someone could pick a salt whose root equals a real block
 * key and probe that chain; a 64-bit preimage of SHA-256 is out of reach. Once per job.
 */
export function saltRoot(salt: string): BlockHash {
  const d = createHash('sha256').update('astraea cache_salt\0').update(salt, 'utf8').digest();
  return String.fromCharCode(d.readUInt16BE(0), d.readUInt16BE(2), d.readUInt16BE(4), d.readUInt16BE(6));
}

/** Keys of the first `count` full blocks of `tokens` (each `blockSize` long), chained from the start. */
export function chainHashes(tokens: readonly number[], blockSize: number, count: number, root: BlockHash | null = null): BlockHash[] {
  const out: BlockHash[] = [];
  let parent: BlockHash | null = root;
  for (let i = 0; i < count; i++) {
    parent = hashBlock(parent, tokens, i * blockSize, (i + 1) * blockSize);
    out.push(parent);
  }
  return out;
}
