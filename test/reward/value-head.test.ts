/**
 * trainValueHead (the CD baseline's prefix value model): every prefix of a response regresses onto that
 * response's complete score (checked on a hand-computed case), training lowers the MSE, the result is a
 * reward model that guidedSample uses and that saves and loads as a value head, and bad input is refused
 * without leaking tensors.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { OptionError, TrainingError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel } from '../../src/reward/reward-model.js';
import { batchTargets, isValueHead, valueMse } from '../../src/reward/value-head.js';
import { trainValueHead } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir);
});
afterAll(() => lm.dispose());

// Pair A: chosen 2 tokens, rejected 1 (EOS-padded to 2); pair B: chosen 1 (padded to 3), rejected 3.
const PAIRS: TokenPair[] = [
  { promptIds: [260, 5], chosenIds: [120, 121], rejectedIds: [130] },
  { promptIds: [260, 6], chosenIds: [140], rejectedIds: [150, 151, 152] },
];
const TARGETS: [number, number][] = [[1, -1], [2, 0]];

describe('the regression target', () => {
  it('gives every (pair, prefix) example the complete scores of its two responses, chosen rows first', () => {
    expect(Array.from(batchTargets([{ pair: 1 }, { pair: 0 }, { pair: 1 }], TARGETS))).toEqual([2, 1, 2, 0, -1, 0]);
  });

  it('is the complete score at every prefix row, EOS padding included (hand-computed MSE of constant heads)', async () => {
    const features = await extractPrefixFeatures({ backbone: lm, pairs: PAIRS, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
    const d = lm.config.hiddenSize;
    const constant = (b: number) => RewardHead.fromHost({ kind: 'linear' }, d, [{ name: 'weight', shape: [d, 1], data: new Float32Array(d) }, { name: 'bias', shape: [1], data: Float32Array.of(b) }]);
    try {
      // Rows: A chosen 2 × target 1, A rejected 2 × −1, B chosen 3 × 2, B rejected 3 × 0 (10 rows).
      const zero = constant(0);
      const best = constant(0.6); // the row-weighted mean of the targets: (2 − 2 + 6 + 0) / 10
      expect(await valueMse(zero, features, TARGETS)).toBeCloseTo((2 * 1 + 2 * 1 + 3 * 4 + 0) / 10, 5);
      expect(await valueMse(best, features, TARGETS)).toBeCloseTo((2 * 0.16 + 2 * 2.56 + 3 * 1.96 + 3 * 0.36) / 10, 5);
      zero.dispose();
      best.dispose();
    } finally {
      features.store.dispose();
    }
  });
});

function randomPairs(n: number, seed: number): { pairs: TokenPair[]; targets: [number, number][] } {
  const rng = createRng(seed, 'value-pairs');
  const response = () => Array.from({ length: 2 + Math.floor(rng() * 4) }, () => 120 + Math.floor(rng() * 100));
  const pairs = Array.from({ length: n }, () => ({ promptIds: [260, 5 + Math.floor(rng() * 50)], chosenIds: response(), rejectedIds: response() }));
  // A score the features can predict: whether the response's first token is in the upper half.
  return { pairs, targets: pairs.map((p) => [p.chosenIds[0] >= 170 ? 1 : -1, p.rejectedIds[0] >= 170 ? 1 : -1]) };
}

describe('trainValueHead', () => {
  it('lowers the MSE, is deterministic, guides decoding unchanged, and saves and loads as a value head', async () => {
    const before = tf.memory().numTensors;
    const { pairs, targets } = randomPairs(24, 3);
    const run = () => trainValueHead({ backbone: lm, pairs, targets, epochs: 20, batchSize: 16, lr: 1e-2, seed: 4 });
    const rm = await run();
    const mse = rm.training.mse as { initial: number; final: number };
    expect(mse.final).toBeLessThan(0.5 * mse.initial);
    expect(rm.training.steps).toBe(20 * Math.ceil(pairs.reduce((n, p) => n + Math.max(p.chosenIds.length, p.rejectedIds.length), 0) / 16));
    const again = await run();
    expect((again.training.mse as { final: number }).final).toBe(mse.final);
    again.dispose();
    expect(isValueHead(rm)).toBe(true);
    const [g] = await guidedSample({ lm, rewardModel: rm, promptIds: [[260, 7]], maxNewTokens: 3, beta: 2, seed: 1 });
    expect(g.trace).toHaveLength(g.generatedIds.length);
    const dir = join(await mkdtemp(join(tmpdir(), 'pargs-value-')), 'cd');
    await rm.save(dir);
    const loaded = await loadRewardModel(dir, lm);
    expect(isValueHead(loaded)).toBe(true);
    expect(await loaded.scorePrefixIds([260, 5], [130, 131])).toEqual(await rm.scorePrefixIds([260, 5], [130, 131]));
    loaded.dispose();
    rm.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('refuses mismatched or non-finite targets and a diverging lr, leaving no tensor behind', async () => {
    const before = tf.memory().numTensors;
    const { pairs, targets } = randomPairs(4, 5);
    await expect(trainValueHead({ backbone: lm, pairs, targets: targets.slice(1) })).rejects.toThrow(/targets has 3 entries for 4 pairs/);
    await expect(trainValueHead({ backbone: lm, pairs, targets: [[Number.NaN, 0], ...targets.slice(1)] })).rejects.toBeInstanceOf(OptionError);
    await expect(trainValueHead({ backbone: lm, pairs, targets: targets.map(([a, b]) => [a * 1e30, b * 1e30] as [number, number]), lr: 1e30, clip: 0 })).rejects.toBeInstanceOf(TrainingError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('stops between steps when the signal fires', async () => {
    const { pairs, targets } = randomPairs(8, 6);
    await expect(trainValueHead({ backbone: lm, pairs, targets, epochs: 1000, batchSize: 1, signal: AbortSignal.timeout(200) })).rejects.toThrow(/trainValueHead/);
  });
});
