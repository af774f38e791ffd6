/**
 * The engine's measured step costs. Steps are generated from a known linear cost, the H100
 * profile's: 6.5 ms per step, 27 µs per prompt token, 40 µs per decode token.
 */
import { describe, expect, it } from 'vitest';
import { StepCosts } from '../../lib/predict/step-costs.js';

const stepS = (prefill: number, decode: number) => 6.5e-3 + 27e-6 * prefill + 40e-6 * decode;

describe('StepCosts', () => {
  it('finds the marginal cost of a prompt token in mixed steps', () => {
    const costs = new StepCosts();
    for (let i = 0; i < 50; i++) {
      const prefill = (i * 397) % 4096;
      const decode = 1 + ((i * 31) % 64);
      costs.observe(prefill, decode, stepS(prefill, decode));
    }
    expect(costs.prefillSPerToken).toBeCloseTo(27e-6, 9);
  });

  it("does not charge a step's fixed cost to the prompt tokens of prefill-only steps", () => {
    // Dividing each step by its tokens would give 92 µs for a 100-token chunk and 27.8 µs for 8,000.
    const costs = new StepCosts();
    for (let i = 0; i < 20; i++) costs.observe(100, 0, stepS(100, 0));
    for (let i = 0; i < 20; i++) costs.observe(8000, 0, stepS(8000, 0));
    for (let i = 0; i < 20; i++) costs.observe(0, 16, stepS(0, 16));
    expect(costs.prefillSPerToken).toBeCloseTo(27e-6, 9);
  });

  it('uses the average cost per token of prefill-only steps until it can fit', () => {
    const costs = new StepCosts(0.5);
    costs.observe(100, 0, stepS(100, 0)); // 9.2e-3 / 100 = 92 µs: 0.002 + 0.5 × (92e-6 − 0.002)
    expect(costs.prefillSPerToken).toBeCloseTo(0.002 + 0.5 * (92e-6 - 0.002), 12);
    // Only decode steps after that: nothing separates the prompt-token cost, so it stays.
    for (let i = 0; i < 20; i++) costs.observe(0, 8, stepS(0, 8));
    expect(costs.prefillSPerToken).toBeCloseTo(0.002 + 0.5 * (92e-6 - 0.002), 12);
  });

  it('decodeStepS follows the time of steps that decode', () => {
    const costs = new StepCosts(0.5);
    costs.observe(0, 10, 0.01); // 0.02 + 0.5 × (0.01 − 0.02) = 0.015
    expect(costs.decodeStepS).toBeCloseTo(0.015, 12);
    costs.observe(500, 0, 1); // prefill-only: not a decode step
    expect(costs.decodeStepS).toBeCloseTo(0.015, 12);
    costs.observe(100, 10, 0.03); // a mixed step is the time between two tokens too: 0.015 + 0.5 × 0.015
    expect(costs.decodeStepS).toBeCloseTo(0.0225, 12);
  });

  it('batchShape is the fit’s fixed cost and per-sequence cost once steps separate them, with b beside', () => {
    const costs = new StepCosts();
    expect(costs.batchShape).toBeNull(); // nothing seen
    for (let i = 0; i < 50; i++) {
      const prefill = (i * 397) % 4096;
      const decode = 1 + ((i * 31) % 64);
      costs.observe(prefill, decode, stepS(prefill, decode));
    }
    const shape = costs.batchShape!;
    expect(shape.fixedS).toBeCloseTo(6.5e-3, 9);
    expect(shape.tokenS).toBeCloseTo(27e-6, 9);
    expect(shape.sequenceS).toBeCloseTo(40e-6, 9);
  });

  it('batchShape stays null while only one kind of step is seen (nothing separates a from c)', () => {
    const costs = new StepCosts();
    for (let i = 0; i < 20; i++) costs.observe(0, 8, stepS(0, 8));
    expect(costs.batchShape).toBeNull();
  });
});
