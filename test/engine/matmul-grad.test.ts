import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { maxAbsDiff, onBackend, randomValues, sizeOf } from './helpers.js';

// Captured before initBackend replaces it: the reference the patched gradient must reproduce.
const stock = tf.getGradient(tf.BatchMatMul);

interface Case {
  label: string;
  batchA: number[];
  batchB: number[];
  outBatch: number[];
}
const M = 3;
const K = 5;
const N = 4;
const CASES: Case[] = [
  { label: '2-D', batchA: [], batchB: [], outBatch: [] },
  { label: '3-D batched', batchA: [3], batchB: [3], outBatch: [3] },
  { label: '4-D', batchA: [2, 3], batchB: [2, 3], outBatch: [2, 3] },
  { label: 'broadcast: A lower rank', batchA: [], batchB: [4], outBatch: [4] },
  { label: 'broadcast: B lower rank', batchA: [2, 3], batchB: [], outBatch: [2, 3] },
  { label: 'broadcast: B batch 1', batchA: [4], batchB: [1], outBatch: [4] },
  { label: 'broadcast: A batch 1,1 vs 4-D', batchA: [1, 1], batchB: [2, 3], outBatch: [2, 3] },
];
const FLAGS: Array<[boolean, boolean]> = [
  [false, false],
  [false, true],
  [true, false],
  [true, true],
];

function shapes(c: Case, tA: boolean, tB: boolean) {
  return {
    a: [...c.batchA, ...(tA ? [K, M] : [M, K])],
    b: [...c.batchB, ...(tB ? [N, K] : [K, N])],
    out: [...c.outBatch, M, N],
  };
}

/** dL/dA, dL/dB of L = Σ matMul(A, B, tA, tB) ⊙ W through tf.grads on the active backend. */
function tapeGrads(c: Case, tA: boolean, tB: boolean): number[][] {
  const s = shapes(c, tA, tB);
  return tf.tidy(() => {
    const a = tf.tensor(randomValues(sizeOf(s.a), 1), s.a);
    const b = tf.tensor(randomValues(sizeOf(s.b), 2), s.b);
    const w = tf.tensor(randomValues(sizeOf(s.out), 3), s.out);
    const f = (x: tf.Tensor, y: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.matMul(x, y, tA, tB), w));
    return tf.grads(f)([a, b]).map((g) => Array.from(g.dataSync()));
  });
}

/**
 * Independent reference on cpu: the stock gradient applied to inputs broadcast to full batch
 * shape (where it is valid), then summed back through tf.broadcastTo's own gradient.
 */
function stockGrads(c: Case, tA: boolean, tB: boolean): number[][] {
  const s = shapes(c, tA, tB);
  return tf.tidy(() => {
    const a = tf.tensor(randomValues(sizeOf(s.a), 1), s.a);
    const b = tf.tensor(randomValues(sizeOf(s.b), 2), s.b);
    const w = tf.tensor(randomValues(sizeOf(s.out), 3), s.out);
    const aFull = tf.broadcastTo(a, [...c.outBatch, ...s.a.slice(-2)]);
    const bFull = tf.broadcastTo(b, [...c.outBatch, ...s.b.slice(-2)]);
    const g = stock.gradFunc(w, [aFull, bFull], { transposeA: tA, transposeB: tB }) as Record<string, () => tf.Tensor>;
    const collapse = (x: tf.Tensor, full: tf.Tensor, shape: number[]): tf.Tensor =>
      tf.grad((v: tf.Tensor) => tf.sum(tf.mul(tf.broadcastTo(v, full.shape), x)))(tf.zeros(shape));
    return [collapse(g.a(), aFull, s.a), collapse(g.b(), bFull, s.b)].map((t) => Array.from(t.dataSync()));
  });
}

describe('BatchMatMul gradient patch', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'cpu', log: () => {} }); // initialise both backends
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  for (const c of CASES) {
    for (const [tA, tB] of FLAGS) {
      it(`${c.label}, transposeA=${tA}, transposeB=${tB}: wasm = cpu = stock`, async () => {
        const wasm = await onBackend('wasm', () => tapeGrads(c, tA, tB));
        const cpu = await onBackend('cpu', () => tapeGrads(c, tA, tB));
        const ref = await onBackend('cpu', () => stockGrads(c, tA, tB));
        for (const i of [0, 1]) {
          expect(maxAbsDiff(wasm[i], cpu[i])).toBeLessThanOrEqual(1e-4);
          expect(maxAbsDiff(wasm[i], ref[i])).toBeLessThanOrEqual(1e-4);
        }
      });
    }
  }

  it('on wasm, the backward pass runs no transposed product', async () => {
    const kernel = tf.getKernel(tf.BatchMatMul, 'wasm');
    const original = kernel.kernelFunc;
    const seen: string[] = [];
    kernel.kernelFunc = (args) => {
      const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
      seen.push(`${transposeA}/${transposeB}`);
      return original(args);
    };
    try {
      await onBackend('wasm', () => {
        for (const [tA, tB] of FLAGS) tapeGrads(CASES[2], tA, tB);
      });
    } finally {
      kernel.kernelFunc = original;
    }
    // Forward products carry the caller's flags; every backward one must be plain.
    const backward = seen.filter((_, i) => i % 3 !== 0);
    expect(seen).toHaveLength(12);
    expect(backward.every((f) => f === 'false/false')).toBe(true);
  });

  it('leaks no tensors', async () => {
    await onBackend('wasm', () => {
      tapeGrads(CASES[3], true, true); // warm-up: first call may cache backend state
      const before = tf.memory().numTensors;
      tapeGrads(CASES[3], true, false);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
