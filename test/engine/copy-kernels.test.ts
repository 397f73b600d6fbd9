/**
 * The wasm Slice / SplitV / Unpack / GatherV2 replacements (src/engine/wasm/copy-kernels.ts) return
 * exactly what the cpu backend returns, for every rank, dtype and axis the forward pass and decoding use.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { onBackend, randomValues, sizeOf } from './helpers.js';

type Dtype = 'float32' | 'int32' | 'bool';

function make(shape: number[], dtype: Dtype, seed: number): tf.Tensor {
  const v = randomValues(sizeOf(shape), seed);
  if (dtype === 'float32') return tf.tensor(v, shape);
  if (dtype === 'int32') return tf.tensor(Int32Array.from(v, (x) => Math.round(x * 1000)), shape, 'int32');
  return tf.tensor(Uint8Array.from(v, (x) => (x > 0 ? 1 : 0)), shape, 'bool');
}

/** Runs `fn` on both backends and returns [wasm, cpu] results as {shape, values} lists. */
async function both(fn: () => tf.Tensor | tf.Tensor[]): Promise<[unknown, unknown]> {
  const run = (): unknown => {
    const r = fn();
    const list = Array.isArray(r) ? r : [r];
    const out = list.map((t) => ({ shape: t.shape, dtype: t.dtype, values: Array.from(t.dataSync()) }));
    tf.dispose(list);
    return out;
  };
  return [await onBackend('wasm', run), await onBackend('cpu', run)];
}

const SHAPES: number[][] = [[7], [5, 6], [3, 4, 5], [2, 3, 4, 5], [2, 2, 3, 2, 3]];

describe('wasm copy kernels', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: () => {} });
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('replaces the stock wasm kernels', () => {
    for (const name of [tf.Slice, tf.SplitV, tf.Unpack, tf.GatherV2, tf.Concat]) {
      const config = tf.getKernel(name, 'wasm') as unknown as Record<symbol, unknown>;
      expect(config[Symbol.for('pargs.wasmCopyKernels')]).toBe(true);
    }
  });

  it.each(SHAPES)('slice matches cpu at every begin/size pattern (shape %j)', async (...shape: number[]) => {
    for (const dtype of ['float32', 'int32', 'bool'] as Dtype[]) {
      const cases = [shape.map(() => 0), shape.map((d) => Math.floor(d / 2)), shape.map((d) => d - 1)];
      for (const begin of cases) {
        for (const full of [true, false]) {
          const size = shape.map((d, i) => (full && i > 0 ? d - begin[i] : Math.max(1, d - begin[i] - 1)));
          const [w, c] = await both(() => tf.tidy(() => tf.slice(make(shape, dtype, 1), begin, size)));
          expect(w).toEqual(c);
        }
      }
    }
  });

  it('split, unstack and gather match cpu on every axis', async () => {
    const shape = [3, 4, 6, 5];
    for (const dtype of ['float32', 'int32'] as Dtype[]) {
      for (let axis = 0; axis < shape.length; axis++) {
        const split = await both(() => tf.tidy(() => tf.split(make(shape, dtype, 2), [1, shape[axis] - 1], axis)));
        expect(split[0]).toEqual(split[1]);
        const unstacked = await both(() => tf.tidy(() => tf.unstack(make(shape, dtype, 3), axis)));
        expect(unstacked[0]).toEqual(unstacked[1]);
        const ids = [shape[axis] - 1, 0, 1, 0]; // repeats and any order, as cache broadcasts use
        const gathered = await both(() => tf.tidy(() => tf.gather(make(shape, dtype, 4), tf.tensor1d(ids, 'int32'), axis)));
        expect(gathered[0]).toEqual(gathered[1]);
        const grown = shape.map((d, i) => (i === axis ? 1 : d)); // appending one slot, as a KV cache does
        const joined = await both(() => tf.tidy(() => tf.concat([make(shape, dtype, 5), make(grown, dtype, 6), make(shape, dtype, 7)], axis)));
        expect(joined[0]).toEqual(joined[1]);
      }
    }
  });

  it('gather takes 2-D indices and batchDims like cpu', async () => {
    const x = (): tf.Tensor => make([2, 5, 3], 'float32', 5);
    const ids2d = (): tf.Tensor => tf.tensor2d([[4, 0], [1, 1]], [2, 2], 'int32');
    const plain = await both(() => tf.tidy(() => tf.gather(x(), ids2d(), 1)));
    expect(plain[0]).toEqual(plain[1]);
    const batched = await both(() => tf.tidy(() => tf.gather(x(), ids2d(), 1, 1)));
    expect(batched[0]).toEqual(batched[1]);
  });

  it('concat skips empty inputs and takes bool like cpu', async () => {
    const withEmpty = await both(() => tf.tidy(() => tf.concat([tf.zeros([2, 0, 3]), make([2, 4, 3], 'float32', 8), make([2, 1, 3], 'float32', 9)], 1)));
    expect(withEmpty[0]).toEqual(withEmpty[1]);
    const bools = await both(() => tf.tidy(() => tf.concat([make([3, 2], 'bool', 10), make([3, 5], 'bool', 11)], 1)));
    expect(bools[0]).toEqual(bools[1]);
  });

  it('gather rejects an index outside the axis, as the stock kernel does', async () => {
    await onBackend('wasm', () => {
      const x = tf.zeros([4, 2]);
      const ids = tf.tensor1d([4], 'int32');
      expect(() => tf.gather(x, ids)).toThrow(/index value 4 is not in \[0, 3\]/);
      tf.dispose([x, ids]);
    });
  });

  it('leaks no tensors', async () => {
    await onBackend('wasm', () => {
      const x = make([4, 6, 8], 'float32', 6);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        tf.dispose([tf.slice(x, [1, 0, 2], [2, 6, 3]), ...tf.split(x, 2, 1), ...tf.unstack(x, 2), tf.gather(x, tf.tensor1d([3, 3], 'int32'), 0)]);
      }
      // the gather index tensors are not disposed above: 3 of them
      expect(tf.memory().numTensors - before).toBe(3);
      x.dispose();
    });
  });
});
