import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { maxAbsDiff, onBackend, randomValues } from './helpers.js';

const ROWS = 5;
const DIM = 3;
const IDS = [0, 2, 2, 4, 2, 0]; // repeated ids must accumulate; row 1 and 3 get nothing

/** d/dtable Σ gather(table, ids) ⊙ W on the active backend. */
function gatherGrad(): number[] {
  return tf.tidy(() => {
    const table = tf.tensor2d(randomValues(ROWS * DIM, 7), [ROWS, DIM]);
    const ids = tf.tensor1d(IDS, 'int32');
    const w = tf.tensor2d(randomValues(IDS.length * DIM, 8), [IDS.length, DIM]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids), w)))(table);
    return Array.from(g.dataSync());
  });
}

describe('UnsortedSegmentSum on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: () => {} });
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('gather gradient equals cpu and the closed form (repeated ids accumulate)', async () => {
    const w = randomValues(IDS.length * DIM, 8);
    const expected = new Array<number>(ROWS * DIM).fill(0);
    IDS.forEach((row, i) => {
      for (let j = 0; j < DIM; j++) expected[row * DIM + j] += w[i * DIM + j];
    });
    const wasm = await onBackend('wasm', gatherGrad);
    const cpu = await onBackend('cpu', gatherGrad);
    expect(maxAbsDiff(wasm, expected)).toBeLessThanOrEqual(1e-6);
    expect(maxAbsDiff(wasm, cpu)).toBeLessThanOrEqual(1e-6);
    expect(wasm.slice(DIM, 2 * DIM)).toEqual([0, 0, 0]); // row 1 never gathered
  });

  it('gather along axis 1 matches cpu', async () => {
    const run = (): number[] =>
      tf.tidy(() => {
        const table = tf.tensor3d(randomValues(2 * 6 * 3, 9), [2, 6, 3]);
        const ids = tf.tensor2d([1, 1, 5, 0], [2, 2], 'int32');
        const w = tf.tensor(randomValues(2 * 4 * 3, 10), [2, 2, 2, 3]);
        const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, ids, 1), w)))(table);
        return Array.from(g.dataSync());
      });
    expect(maxAbsDiff(await onBackend('wasm', run), await onBackend('cpu', run))).toBeLessThanOrEqual(1e-6);
  });

  it('drops out-of-range ids, handles 2-D ids and int32 values', async () => {
    await onBackend('wasm', () => {
      const a = tf.tidy(() =>
        tf.unsortedSegmentSum(tf.tensor2d([1, 2, 3, 4, 5, 6, 7, 8], [4, 2]), tf.tensor1d([0, -1, 3, 0], 'int32'), 3).arraySync(),
      );
      expect(a).toEqual([[8, 10], [0, 0], [0, 0]]);
      const b = tf.tidy(() => {
        const x = tf.tensor3d([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], [2, 3, 2]);
        const ids = tf.tensor2d([0, 1, 0, 2, 2, 1], [2, 3], 'int32');
        // tfjs types ids as 1-D, but the kernel contract (as in TensorFlow) covers x's leading axes.
        return tf.unsortedSegmentSum(x, ids as unknown as tf.Tensor1D, 3).arraySync();
      });
      expect(b).toEqual([[6, 8], [14, 16], [16, 18]]);
      const c = tf.tidy(() => {
        const r = tf.unsortedSegmentSum(tf.tensor1d([5, 6, 7], 'int32'), tf.tensor1d([1, 1, 0], 'int32'), 2);
        return { dtype: r.dtype, values: r.arraySync() };
      });
      expect(c).toEqual({ dtype: 'int32', values: [7, 11] });
    });
  });

  it('is linear in the number of ids, not rows × ids (large vocabulary)', async () => {
    await onBackend('wasm', () => {
      const start = performance.now();
      const sum = tf.tidy(() => {
        const table = tf.zeros([200_000, 16]); // a large embedding table
        const ids = tf.tensor1d(Array.from({ length: 4096 }, (_, i) => (i * 48_611) % 200_000), 'int32');
        return tf.sum(tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids)))(table)).dataSync()[0];
      });
      expect(sum).toBe(4096 * 16);
      expect(performance.now() - start).toBeLessThan(5_000); // O(rows·ids) would take minutes
    });
  });

  it('leaks neither tensors nor wasm buffers', async () => {
    await onBackend('wasm', () => {
      gatherGrad();
      const tensors = tf.memory().numTensors;
      const buffers = tf.engine().backend.numDataIds();
      gatherGrad();
      expect(tf.memory().numTensors).toBe(tensors);
      expect(tf.engine().backend.numDataIds()).toBe(buffers);
    });
  });
});
