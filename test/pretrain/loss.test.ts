import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { OptionError } from '../../src/errors.js';
import { meanCrossEntropy, targetLogProbs } from '../../src/pretrain/loss.js';
import { createRng } from '../../src/random.js';

beforeAll(async () => {
  await initBackend();
});

/** Float64 log-softmax cross-entropy and its gradient (p − onehot)/N, by hand. */
function reference(z: Float32Array, targets: number[], V: number): { loss: number; grad: Float64Array } {
  const N = targets.length;
  const grad = new Float64Array(N * V);
  let loss = 0;
  for (let n = 0; n < N; n++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, z[n * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[n * V + v] - max);
    const lse = max + Math.log(sum);
    loss += lse - z[n * V + targets[n]];
    for (let v = 0; v < V; v++) grad[n * V + v] = (Math.exp(z[n * V + v] - lse) - (v === targets[n] ? 1 : 0)) / N;
  }
  return { loss: loss / N, grad };
}

describe('cross-entropy', () => {
  const V = 13;
  const targets = [0, 12, 5, 5, 7, 1];
  const rng = createRng(3, 'test-logits');
  const z = Float32Array.from({ length: targets.length * V }, () => (rng() - 0.5) * 8);

  it('gives the log-softmax loss and gradient of a hand computation', () => {
    const ref = reference(z, targets, V);
    const x = tf.tensor3d(z, [2, 3, V]);
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => meanCrossEntropy(t, targets))(x);
    expect(value.dataSync()[0]).toBeCloseTo(ref.loss, 5);
    expect(grad.shape).toEqual([2, 3, V]);
    const g = grad.dataSync();
    for (let i = 0; i < g.length; i++) expect(g[i]).toBeCloseTo(ref.grad[i], 6);
    tf.dispose([x, value, grad]);
  });

  it('stays finite for extreme logits (no underflowed log 0)', () => {
    const x = tf.mul(tf.tensor2d(z, [targets.length, V]), 1000);
    const lp = targetLogProbs(x, targets).dataSync();
    const ref = reference(x.dataSync() as Float32Array, targets, V);
    expect(Array.from(lp).every(Number.isFinite)).toBe(true);
    const mean = -Array.from(lp).reduce((a, b) => a + b, 0) / targets.length;
    expect(mean / ref.loss).toBeCloseTo(1, 5);
    x.dispose();
  });

  it('rejects targets outside the vocabulary or of the wrong count', () => {
    const x = tf.zeros([2, V]);
    expect(() => meanCrossEntropy(x, [0, V])).toThrow(OptionError);
    expect(() => meanCrossEntropy(x, [0])).toThrow(/targets/);
    x.dispose();
  });
});
