/** Cached forwards over a layer range (toLayer / fromLayer + residual) give the whole model's step, split in two. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { OptionError } from '../../src/errors.js';
import { leftPad, type CausalLM } from '../../src/lm/causal-lm.js';
import type { KVCache } from '../../src/lm/kv-cache.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const lms: CausalLM[] = [];
beforeAll(async () => {
  for (const modelType of ['llama', 'gpt2'] as const) lms.push(await loadCausalLM((await writeTinyModel({ modelType, seed: 81, hidden: 32, layers: 3 })).dir));
});
afterAll(() => lms.forEach((lm) => lm.dispose()));

const close = async (a: tf.Tensor, b: tf.Tensor): Promise<void> => {
  const x = (await a.data()) as Float32Array;
  const y = (await b.data()) as Float32Array;
  expect(x.length).toBe(y.length);
  x.forEach((v, i) => expect(Math.abs(v - y[i])).toBeLessThan(1e-4));
};

describe.each([['llama', 0], ['gpt2', 1]] as const)('layer-range forwards (%s)', (_name, index) => {
  it('prefill and a step split at layer 1 equal the whole model, with caches of each range', async () => {
    const lm = lms[index];
    const before = tf.memory().numTensors;
    const rows = [[260, 5, 6, 7], [260, 9]];
    const { ids, mask } = leftPad(rows, lm.padId);
    const whole = lm.prefill(rows);
    const lower = lm.forward({ ids, mask, toLayer: 1, returnCache: true });
    const residual = tf.reshape(lower.hidden, [-1, 32]) as tf.Tensor2D; // [B·T, d]
    const top = lm.forward({ ids, mask, residual, fromLayer: 1, logits: 'last', returnCache: true });
    await close(top.logits as tf.Tensor, whole.logits);
    const [lowerCache, topCache] = [lower.cache as KVCache, top.cache as KVCache];
    expect([lowerCache.firstLayer, lowerCache.layers.length, topCache.firstLayer, topCache.layers.length]).toEqual([0, 1, 1, 2]);

    const step = lm.step(whole.cache, [30, 31]);
    const lowerStep = lm.forward({ ids: [[30], [31]], cache: lowerCache, toLayer: 1, returnCache: true });
    const stepResidual = tf.reshape(lowerStep.hidden, [2, 32]) as tf.Tensor2D; // [B, d]
    const topStep = lm.forward({ ids: [[30], [31]], residual: stepResidual, fromLayer: 1, cache: topCache, logits: 'last', returnCache: true });
    await close(topStep.logits as tf.Tensor, step.logits);

    expect(() => lm.forward({ ids: [[30], [31]], cache: topCache, toLayer: 1 })).toThrow(/cache holds layers \[1, 3\), this forward runs \[0, 1\)/);
    expect(() => lm.forward({ ids: [[30], [31]], residual: stepResidual })).toThrow(OptionError);
    expect(() => lm.forward({ ids: [[30], [31]], fromLayer: 1 })).toThrow(/pass residual/);
    expect(() => lm.forward({ ids: [[30]], residual: stepResidual, fromLayer: 1 })).toThrow(/residual has shape \[2,32\]/);

    [whole.logits, whole.hidden, step.logits, step.hidden, lower.hidden, residual, top.hidden, top.logits as tf.Tensor, lowerStep.hidden, stepResidual, topStep.hidden, topStep.logits as tf.Tensor].forEach((t) => t.dispose());
    [whole.cache, step.cache, lowerCache, topCache, lowerStep.cache as KVCache, topStep.cache as KVCache].forEach((c) => c.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });
});
