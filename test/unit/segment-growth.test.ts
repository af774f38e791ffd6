/** lib/predict/segment-growth.ts: what a later segment adds to a job's context, per kind. */
import { describe, expect, it } from 'vitest';
import { SegmentGrowthPredictor } from '../../lib/predict/segment-growth.js';
import { expectCode } from './expect-code.js';

describe('SegmentGrowthPredictor', () => {
  it('is the mean of what later segments of the kind added, 0 for a kind never seen', () => {
    const p = new SegmentGrowthPredictor();
    for (const tokens of [40, 60, 110]) p.observe('coder', tokens);
    p.observe('chat', 7);
    expect(p.perSegment('coder')).toBe(70); // (40 + 60 + 110) / 3
    expect(p.perSegment('chat')).toBe(7);
    expect(p.perSegment('airline')).toBe(0);
  });

  it('forgets beyond its window', () => {
    const p = new SegmentGrowthPredictor(2);
    for (const tokens of [1000, 10, 30]) p.observe('k', tokens); // the window is now (10, 30)
    expect(p.perSegment('k')).toBe(20);
  });

  it('refuses a negative or non-finite count', () => {
    const p = new SegmentGrowthPredictor();
    expectCode(() => p.observe('k', -1), 'INVALID_ARGUMENT');
    expectCode(() => p.observe('k', Number.NaN), 'INVALID_ARGUMENT');
    expect(p.perSegment('k')).toBe(0);
  });
});
