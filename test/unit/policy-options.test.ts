/**
 * The options a policy chosen by name takes (lib/sched/policy-options.ts): every key and value is
 * checked where the policy is built, so a typo fails with the choices named instead of running a
 * default, or a rule half-off, under another name. That the tables list every option and every
 * choice of each policy's options type, and no other, the compiler checks (OptionsTable); here,
 * that the checks apply them and each listed choice builds.
 */
import { describe, expect, it } from 'vitest';
import { Engine } from '../../lib/engine/engine.js';
import { EngineError } from '../../lib/errors.js';
import { checkPolicyOptions, choicesOf, POLICY_OPTIONS } from '../../lib/sched/policy-options.js';
import { createPolicy, POLICY_NAMES, type PolicyEnvironment } from '../../lib/sched/registry.js';
import { SimulatedBackend } from '../../lib/sim/sim-backend.js';
import { VirtualClock } from '../../lib/sim/virtual-clock.js';

const env: PolicyEnvironment = {
  memory: () => ({ usedFraction: 0, waitingTokens: 0, freeTokens: 1000, kvBytesPerToken: 1000, swapBytesPerS: 1e9, prefillSPerToken: 1e-3 }),
  toolTimeS: () => 1,
  toolRemainingS: () => 1,
  toolTimeQuantileS: () => undefined,
  toolOutlasts: () => true,
  costs: { prefillSPerToken: 1e-3, decodeStepS: 0.02 },
  scale: { tokens: 1, time: 1 },
};

/** The message `checkPolicyOptions` throws with, or null when it accepts. */
function refusal(policy: (typeof POLICY_NAMES)[number], options: Record<string, unknown>): string | null {
  try {
    checkPolicyOptions(policy, options);
    return null;
  } catch (error) {
    expect(error).toBeInstanceOf(EngineError);
    return (error as EngineError).message;
  }
}

describe('checkPolicyOptions', () => {
  it('names the options a policy has when given one it has not', () => {
    expect(refusal('astraea', { kvrule: 'watermark' })).toMatch(/^astraea has no option "kvrule" \(options: .*kvRule/);
    expect(refusal('fcfs', { preemption: 'swap' })).toBe('fcfs has no option "preemption"');
    // An option of another policy is not one of this one's.
    expect(refusal('mori', { checkIntervalS: 1 })).toMatch(/^mori has no option "checkIntervalS"/);
  });

  it('takes a choice only from its list, booleans as booleans', () => {
    expect(refusal('astraea', { batchWidth: 'all', kvRule: 'watermark', briefFirst: false })).toBeNull();
    expect(refusal('astraea', { batchWidth: 'fitt' })).toBe('astraea option batchWidth: expected one of fit, all, got "fitt"');
    expect(refusal('astraea', { briefFirst: 'no' })).toBe('astraea option briefFirst: expected one of true, false, got "no"');
    expect(refusal('infercept', { preemption: 'Swap' })).toBe('infercept option preemption: expected one of recompute, swap, got "Swap"');
  });

  it('takes numbers within their bounds: closed, open above a minimum, integers', () => {
    expect(refusal('astraea', { highWatermark: 1, tailSlack: Infinity })).toBeNull();
    expect(refusal('astraea', { highWatermark: 1.2 })).toBe('astraea option highWatermark: expected a number ≥ 0 and ≤ 1, got 1.2');
    expect(refusal('astraea', { highWatermark: '0.9' })).toBe('astraea option highWatermark: expected a number ≥ 0 and ≤ 1, got "0.9"');
    expect(refusal('autellix', { starvationS: 0 })).toBe('autellix option starvationS: expected a number > 0, got 0');
    expect(refusal('thunderagent', { decodeBufferTokens: -1 })).toBe('thunderagent option decodeBufferTokens: expected a number ≥ 0, got -1');
    expect(refusal('thunderagent', { checkIntervalS: Number.NaN })).toBe('thunderagent option checkIntervalS: expected a number ≥ 0, got NaN');
    expect(refusal('mori', { windowCycles: 2.5 })).toBe('mori option windowCycles: expected an integer ≥ 1, got 2.5');
    expect(refusal('mori', { deviceFraction: 0 })).toBe('mori option deviceFraction: expected a number > 0 and ≤ 1, got 0');
    expect(refusal('mori', { deviceFraction: 1, windowCycles: 3 })).toBeNull();
  });

  it('takes thresholds as positive numbers, strictly ascending', () => {
    expect(refusal('astraea-paper', { thresholds: [256, 1024, Infinity] })).toBeNull();
    const wanted = 'a list of numbers > 0, ascending (a:b:c on the command line)';
    expect(refusal('astraea-paper', { thresholds: [1024, 256] })).toBe(`astraea-paper option thresholds: expected ${wanted}, got [1024,256]`);
    expect(refusal('autellix', { levelThresholds: [] })).toBe(`autellix option levelThresholds: expected ${wanted}, got []`);
    expect(refusal('autellix', { levelThresholds: 256 })).toBe(`autellix option levelThresholds: expected ${wanted}, got 256`);
    expect(refusal('autellix', { levelThresholds: [0, 5] })).toMatch(/expected a list of numbers > 0/);
  });

  it('passes over an option given as undefined (the default)', () => {
    expect(refusal('astraea', { batchWidth: undefined })).toBeNull();
  });
});

describe('createPolicy', () => {
  it('checks the options of a policy chosen by name before building it, for every policy', () => {
    for (const name of POLICY_NAMES) {
      expect(() => createPolicy(name, env, { nonsense: 1 }), name).toThrow(`${name} has no option "nonsense"`);
      expect(createPolicy(name, env, {}), name).toBeDefined();
    }
    expect(() => createPolicy('astraea', env, { admission: 'some' })).toThrow('astraea option admission: expected one of working-set, all, got "some"');
    expect(() => createPolicy('lifo' as never, env)).toThrow('unknown policy "lifo"');
  });

  it('builds every policy with each choice of every option that has a list of choices', () => {
    for (const name of POLICY_NAMES) {
      for (const [key, values] of Object.entries(POLICY_OPTIONS[name])) {
        for (const value of choicesOf(values) ?? []) expect(createPolicy(name, env, { [key]: value }), `${name}.${key}=${String(value)}`).toBeDefined();
      }
    }
  });
});

describe('Engine', () => {
  it('refuses a named policy’s bad option when it is built, with the EngineError of createPolicy', async () => {
    const clock = new VirtualClock();
    const backend = () =>
      new SimulatedBackend(
        { name: 't', vocabSize: 1000, maxPositionEmbeddings: 4096, kvBytesPerToken: 1000 },
        { name: 'c', fixedS: 0.01, tokenS: 0.01, contextTokenS: 0, swapBytesPerS: 5e4 },
        16,
        clock,
      );
    const build = (policyOptions: Record<string, unknown>) => Engine.withBackend(backend(), { policy: 'astraea', policyOptions, kvBlocks: 24, hostBlocks: 0, clock });
    expect(() => build({ batchWidth: 'none' })).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: 'astraea option batchWidth: expected one of fit, all, got "none"' }));
    const engine = build({ batchWidth: 'all' });
    await engine.close();
  });

  it('refuses it in Engine.create before it loads a model', async () => {
    // The model path does not exist: the option's error comes first.
    await expect(Engine.create({ model: '/nonexistent/model', policy: 'mori', policyOptions: { windowCycles: 0 } })).rejects.toThrow('mori option windowCycles: expected an integer ≥ 1, got 0');
  });
});
