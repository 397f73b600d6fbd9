/** TRL's per-row `margin`: −log σ(Δ − m) per pair, carried from the pair through the examples to the loss. */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { gatherBatch, pairMargins } from '../../src/reward/examples.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { bradleyTerryPrefixLoss } from '../../src/reward/loss.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadPreferences } from '../../src/data/load.js';
import { type TrainEvent } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

/** −log σ(z) in float64. */
const nll = (z: number): number => Math.log1p(Math.exp(-z));

describe('bradleyTerryPrefixLoss with per-pair margins', () => {
  it('is the mean of −log σ(Δᵢ − mᵢ), with the gradient of that expression', () => {
    const rc = [2, 0.5, -1, 3];
    const rr = [1, 1, -3, 3];
    const m = [0, 1.5, -0.5, 2];
    const before = tf.memory().numTensors;
    const [c, r, margins] = [tf.tensor1d(rc), tf.tensor1d(rr), tf.tensor1d(m)];
    const expected = rc.reduce((s, _, i) => s + nll(rc[i] - rr[i] - m[i]), 0) / rc.length;
    const value = (options: Parameters<typeof bradleyTerryPrefixLoss>[2]): number => {
      const loss = bradleyTerryPrefixLoss(c, r, options);
      const v = loss.dataSync()[0];
      loss.dispose();
      return v;
    };
    expect(value({ margins })).toBeCloseTo(expected, 6);
    // The per-pair margins replace the global one.
    expect(value({ margins, margin: 10 })).toBeCloseTo(expected, 6);
    const grad = tf.grad((x: tf.Tensor) => bradleyTerryPrefixLoss(x as tf.Tensor1D, r, { margins }))(c);
    const sigma = (z: number): number => 1 / (1 + Math.exp(-z));
    const data = grad.dataSync();
    rc.forEach((_, i) => expect(data[i]).toBeCloseTo(-(1 - sigma(rc[i] - rr[i] - m[i])) / rc.length, 6));
    tf.dispose([c, r, margins, grad]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('differs from the margin-free loss by exactly the margin shift', () => {
    const [c, r] = [tf.tensor1d([0.3]), tf.tensor1d([0.1])];
    const withMargin = bradleyTerryPrefixLoss(c, r, { margins: tf.tensor1d([1]) }).dataSync()[0];
    expect(withMargin).toBeCloseTo(nll(0.2 - 1), 6);
    expect(bradleyTerryPrefixLoss(c, r).dataSync()[0]).toBeCloseTo(nll(0.2), 6);
  });
});

describe('margins from pairs to batches', () => {
  const pair = (margin?: number): TokenPair => ({ promptIds: [1], chosenIds: [2, 3], rejectedIds: [4], ...(margin === undefined ? {} : { margin }) });

  it('pairMargins falls back to the global margin, and is undefined when no pair has one', () => {
    expect(pairMargins([pair(), pair()], 0.5)).toBeUndefined();
    expect(pairMargins([pair(), pair(2), pair(-1)], 0.5)).toEqual([0.5, 2, -1]);
  });

  let lm: CausalLM;
  beforeAll(async () => {
    lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 16 })).dir);
  });
  afterAll(() => lm.dispose());

  it('gatherBatch gives each example its pair’s margin', async () => {
    const pairs = [pair(0.5), pair(2)];
    const features = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
    const batch = [{ pair: 1, row: 0, weight: 1 }, { pair: 0, row: 1, weight: 1 }, { pair: 1, row: 1, weight: 1 }];
    expect([...(gatherBatch(features, batch, pairMargins(pairs, 0)) as { margins: Float32Array }).margins]).toEqual([2, 0.5, 2]);
    expect(gatherBatch(features, batch).margins).toBeUndefined();
  });

  it('trainPartialRM: per-pair margins equal to the global margin train the same head; other margins another one', async () => {
    const pairs = Array.from({ length: 12 }, (_, i) => ({ promptIds: [260, 10 + i], chosenIds: [120, 140 + i, 130], rejectedIds: [130, 150 + i, 120] }));
    const train = async (ps: TokenPair[], margin: number): Promise<number[]> => {
      const rm = await trainPartialRM({ backbone: lm, pairs: ps, epochs: 1, batchSize: 8, lr: 0.05, seed: 3, margin });
      const values = (await rm.head.toHost()).flatMap((p) => [...p.data]);
      rm.dispose();
      return values;
    };
    const global = await train(pairs, 0.5);
    expect(await train(pairs.map((p) => ({ ...p, margin: 0.5 })), 0)).toEqual(global);
    expect(await train(pairs.map((p, i) => ({ ...p, margin: i % 2 ? 3 : 0.5 })), 0)).not.toEqual(global);
  });

  it('trainPartialRM: the encoded event says how conversational pairs were rendered', async () => {
    const user = (content: string) => ({ role: 'user', content });
    const assistant = (content: string) => ({ role: 'assistant', content });
    const rows = [0, 1, 2, 3].map((i) => ({ prompt: [user(`q${i}`)], chosen: [assistant('yes good')], rejected: [assistant('no')], margin: i }));
    const events: TrainEvent[] = [];
    const rm = await trainPartialRM({ backbone: lm, pairs: await loadPreferences(rows), epochs: 1, seed: 1, onProgress: (e) => events.push(e) });
    rm.dispose();
    expect(events.find((e) => e.kind === 'encoded')).toMatchObject({ kind: 'encoded', conversationRendering: 'hh-transcript', report: { kept: 4 } });
  });
});
