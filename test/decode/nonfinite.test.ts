/** Decoding refuses non-finite rewards and overflowing β·r with a DecodingError instead of sampling noise. */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { chooseCandidate, guidedScores } from '../../src/decode/policy.js';
import { DecodingError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
/** r = 5 for every input: β = 1e308 makes β·r = Infinity. */
let constantRm: PartialRewardModel;
/** A diverged head held in memory (bias NaN), as a training run without the divergence check left it. */
let nanRm: PartialRewardModel;
const PROMPTS = [[260, 11, 12], [260, 40]];

beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir);
  const d = lm.config.hiddenSize;
  const params = (bias: number) => [
    { name: 'weight', shape: [d, 1], data: new Float32Array(d) },
    { name: 'bias', shape: [1], data: Float32Array.of(bias) },
  ];
  constantRm = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'linear' }, d, params(5)), 'partial');
  const nanHead = RewardHead.fromHost({ kind: 'linear' }, d, params(0));
  tf.tidy(() => nanHead.variables.get('bias')!.assign(tf.tensor1d([NaN])));
  nanRm = new PartialRewardModel(lm, nanHead, 'partial');
});
afterAll(() => [constantRm, nanRm, lm].forEach((x) => x.dispose()));

const base = { promptIds: PROMPTS, topK: 4, maxNewTokens: 3, seed: 1, stop: { eos: false } };

describe('non-finite guided decoding', () => {
  it.each([
    ['sample', { kind: 'sample' as const }],
    ['greedy', { kind: 'greedy' as const }],
  ])('beta 1e308 (%s) → DecodingError naming β and the row, no leaked tensors', async (_, mode) => {
    const before = tf.memory().numTensors;
    const err = await guidedSample({ ...base, lm, rewardModel: constantRm, beta: 1e308, mode }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(DecodingError);
    expect((err as Error).message).toMatch(/row 0, candidate 0: β·r overflows \(β = 1e\+308, r = 5\)/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('ARGS with weight 1e308 → DecodingError', async () => {
    await expect(argsSample({ ...base, lm, rewardModel: constantRm, weight: 1e308 })).rejects.toThrow(DecodingError);
  });

  it('a NaN reward → DecodingError in guidedSample and in bestOfN', async () => {
    const before = tf.memory().numTensors;
    await expect(guidedSample({ ...base, lm, rewardModel: nanRm, beta: 1 })).rejects.toThrow(/r = NaN/);
    await expect(bestOfN({ lm, rewardModel: nanRm, promptIds: PROMPTS, n: 2, maxNewTokens: 2, seed: 1 })).rejects.toThrow(/sample 0 of prompt 0 got reward NaN/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('policy: guidedScores and chooseCandidate refuse NaN / +∞ and keep −∞ log-probabilities legal', () => {
    expect(() => guidedScores([-1, -2], [0, Infinity], 1, 3)).toThrow(/row 3, candidate 1/);
    // A NaN β given to the pure function is a bad argument (guidedSample's own β is checked as an option).
    expect(() => guidedScores([-1], [0], Number.NaN)).toThrow(OptionError);
    expect(Array.from(guidedScores([-1, -Infinity], [1, 1], 2))).toEqual([1, -Infinity]);
    expect(() => chooseCandidate([0, Number.NaN], { kind: 'greedy' }, 0.5)).toThrow(DecodingError);
    expect(() => chooseCandidate([Infinity, 0], { kind: 'sample' }, 0.5)).toThrow(DecodingError);
    expect(chooseCandidate([-Infinity, 0], { kind: 'sample' }, 0.5)).toBe(1);
  });
});
