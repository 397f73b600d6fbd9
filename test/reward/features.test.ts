/** One-pass prefix features and rewards equal running the backbone on every truncated prefix. */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import { bradleyTerryPrefixLoss } from '../../src/reward/loss.js';
import { planPair } from '../../src/reward/prefixes.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 41 })).dir);
});
afterAll(() => lm.dispose());

/** Final hidden state at the last token of `ids`, from a forward of exactly those ids. */
async function lastHidden(ids: number[]): Promise<Float32Array> {
  const out = lm.forward({ ids: [ids], logits: 'none' });
  const d = lm.config.hiddenSize;
  const all = (await out.hidden.data()) as Float32Array;
  out.hidden.dispose();
  return all.slice((ids.length - 1) * d, ids.length * d);
}

const pairs = [
  { promptIds: [260, 10, 11, 12], chosenIds: [20, 21, 22, 23, 24], rejectedIds: [30, 31] },
  { promptIds: [260, 40], chosenIds: [50], rejectedIds: [60, 61, 62] },
  { promptIds: [260, 70, 71, 72, 73, 74, 75], chosenIds: [80, 81, 82], rejectedIds: [90, 91, 92] },
];

describe('one-pass prefix features', () => {
  it('equal the last hidden state of each truncated prefix run alone (EOS alignment pads the shorter side)', async () => {
    const f = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, tokensPerBatch: 16 });
    const d = lm.config.hiddenSize;
    const eos = lm.generation.eosTokenIds[0];
    for (const [p, pair] of pairs.entries()) {
      const L = Math.max(pair.chosenIds.length, pair.rejectedIds.length);
      for (const [side, response] of [[0, pair.chosenIds], [1, pair.rejectedIds]] as const) {
        const padded = [...response, ...new Array<number>(L - response.length).fill(eos)];
        const rows = f.store.get(p, side);
        expect(rows.length).toBe(L * d);
        for (let i = 1; i <= L; i++) {
          const alone = await lastHidden([...pair.promptIds, ...padded.slice(0, i)]);
          const fromPass = rows.subarray((i - 1) * d, i * d);
          for (let k = 0; k < d; k++) expect(fromPass[k]).toBeCloseTo(alone[k], 4);
        }
      }
    }
    expect(f.stats.sequences).toBe(6);
    f.store.dispose();
  });

  it('shortest alignment, minPrefix and full mode pick the documented positions', () => {
    const pair = pairs[0];
    const shortest = planPair(pair, { mode: 'partial', alignment: 'shortest', minPrefix: 1, eosId: 0 })!;
    expect(shortest.prefixLengths).toEqual([1, 2]);
    expect(shortest.chosenPositions).toEqual([4, 5]);
    const min2 = planPair(pair, { mode: 'partial', alignment: 'eos', minPrefix: 2, eosId: 0 })!;
    expect(min2.prefixLengths).toEqual([2, 3, 4, 5]);
    expect(min2.rejectedSequence).toEqual([260, 10, 11, 12, 30, 31, 0, 0, 0]);
    const full = planPair(pair, { mode: 'full', alignment: 'eos', minPrefix: 1, eosId: 0 })!;
    expect([full.chosenPositions, full.rejectedPositions]).toEqual([[8], [5]]);
    expect(planPair(pairs[1], { mode: 'partial', alignment: 'shortest', minPrefix: 2, eosId: 0 })).toBeNull();
  });

  it('spills to a float16 file past the memory budget and reads back the same features (to f16 precision)', async () => {
    const inMemory = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
    const spilled = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, memoryBudgetBytes: 1 });
    expect(spilled.store.usage.diskBytes).toBeGreaterThan(0);
    for (const p of [0, 1, 2]) {
      const a = inMemory.store.get(p, 0);
      const b = spilled.store.get(p, 0);
      for (let k = 0; k < a.length; k++) expect(Math.abs(a[k] - b[k])).toBeLessThanOrEqual(Math.abs(a[k]) * 1e-3 + 1e-4);
    }
    inMemory.store.dispose();
    spilled.store.dispose();
  });

  it('a shard holds exactly its pairs', async () => {
    const f = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, shard: { index: 1, count: 2 } });
    expect(f.pairIndices).toEqual([1]);
    f.store.dispose();
  });
});

describe('PartialRewardModel.scorePrefixes', () => {
  it('gives the reward of every truncated prefix from one pass', async () => {
    const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'mlp', hidden: 8 }, lm.config.hiddenSize, createRng(1, 'head-init')), 'partial');
    const prompt = [260, 5, 6, 7];
    const response = [8, 9, 10, 11];
    const rewards = await rm.scorePrefixIds(prompt, response);
    for (let i = 1; i <= response.length; i++) {
      const h = await lastHidden([...prompt, ...response.slice(0, i)]);
      const r = tf.tidy(() => rm.rewardsFromHidden(tf.tensor2d(h, [1, h.length])).dataSync()[0]);
      expect(rewards[i - 1]).toBeCloseTo(r, 4);
    }
    const text = await rm.scorePrefixes('the', ' theme');
    expect(text.length).toBe(rm.encode('the', ' theme').responseIds.length);
    expect(await rm.score('the', ' theme')).toBe(text.at(-1));
    rm.dispose();
  });
});

describe('bradleyTerryPrefixLoss', () => {
  it('equals mean softplus(−(Δ − margin)), stays finite at ±1000, and honours weights', () => {
    const rc = tf.tensor1d([2, -1000, 1000, 0]);
    const rr = tf.tensor1d([1, 1000, -1000, 0]);
    const sp = (x: number) => Math.log1p(Math.exp(-Math.abs(x))) + Math.max(x, 0);
    const expected = [sp(-1), 2000, 0, Math.LN2].reduce((a, b) => a + b) / 4;
    expect(bradleyTerryPrefixLoss(rc, rr).dataSync()[0]).toBeCloseTo(expected, 3);
    expect(bradleyTerryPrefixLoss(tf.tensor1d([2]), tf.tensor1d([1]), { margin: 1 }).dataSync()[0]).toBeCloseTo(Math.LN2, 6);
    const w = tf.tensor1d([1, 0, 0, 1]);
    expect(bradleyTerryPrefixLoss(rc, rr, { weights: w }).dataSync()[0]).toBeCloseTo((sp(-1) + Math.LN2) / 2, 6);
    const grad = tf.grad((x: tf.Tensor) => bradleyTerryPrefixLoss(x as tf.Tensor1D, tf.tensor1d([0])))(tf.tensor1d([0]));
    expect(grad.dataSync()[0]).toBeCloseTo(-0.5, 6); // d/dx −log σ(x) at 0 = −(1 − σ(0))
  });
});
