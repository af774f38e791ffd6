/**
 * sortNearlyOrdered must give exactly what a stable sort gives: checked against
 * Array.prototype.sort (the reference) on random items with many ties, with coarse keys that
 * agree with the order, that agree only in part, that say nothing, and that are unusable.
 */
import { describe, expect, it } from 'vitest';
import { sortNearlyOrdered } from '../../lib/sched/ordering.js';

interface Item {
  id: number;
  group: number;
  score: number;
  arrival: number;
}

/** mulberry32: reproducible draws. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** Items drawn from few distinct values, so `compare` ties many of them. */
function items(n: number, seed: number): Item[] {
  const r = rng(seed);
  return Array.from({ length: n }, (_, id) => ({ id, group: Math.floor(r() * 3), score: 1 + Math.floor(r() * 20) / 4, arrival: Math.floor(r() * 5) }));
}

// Ties on (group, score, arrival) are left to the stable sort: the id is not compared.
const compare = (a: Item, b: Item) => a.group - b.group || b.score - a.score || a.arrival - b.arrival;

describe('sortNearlyOrdered', () => {
  const sizes = [0, 1, 63, 64, 65, 100, 1000, 3000];
  const keys: [string, (x: Item) => number][] = [
    ['agreeing', (x) => x.group + 0.5 / x.score],
    ['coarser', (x) => x.group + 1],
    ['constant', () => 1],
    ['disagreeing', (x) => 10 - x.group + x.score],
  ];
  for (const [name, key] of keys) {
    it(`equals the stable sort with a ${name} coarse key`, () => {
      for (const n of sizes) {
        for (let seed = 1; seed <= 3; seed++) {
          const input = items(n, seed * 1000 + n);
          const expected = [...input].sort(compare).map((x) => x.id);
          expect(sortNearlyOrdered(input, key, compare).map((x) => x.id)).toEqual(expected);
        }
      }
    });
  }

  it('falls back to the plain sort on a key that is not positive and finite', () => {
    const input = items(500, 7);
    const expected = [...input].sort(compare).map((x) => x.id);
    for (const bad of [0, -1, NaN, Infinity]) {
      expect(sortNearlyOrdered(input, (x) => (x.id === 250 ? bad : 1 + x.group), compare).map((x) => x.id)).toEqual(expected);
    }
  });

  it('leaves its input as it was', () => {
    const input = items(200, 9);
    const before = input.map((x) => x.id);
    sortNearlyOrdered(input, (x) => x.group + 1, compare);
    expect(input.map((x) => x.id)).toEqual(before);
  });
});
