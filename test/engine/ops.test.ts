import { beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { initBackend } from '../../src/engine/backend.js';
import { ACTIVATION_NAMES, activation, gelu, logSigmoid } from '../../src/engine/ops.js';
import { tf } from '../../src/engine/tf.js';

/** erf via 2/√π·e^{-x²}·Σ 2ⁿx^{2n+1}/(2n+1)!!: all terms positive, so exact in doubles up to |x|≈6. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax > 6) return Math.sign(x); // 1 - erf(6) < 1e-17
  let term = ax;
  let sum = ax;
  for (let n = 1; n < 300; n++) {
    term *= (2 * ax * ax) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  const r = Math.min(1, (2 / Math.sqrt(Math.PI)) * Math.exp(-ax * ax) * sum);
  return x < 0 ? -r : r;
}
const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));
const tanhGelu = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

/** Closed forms in plain double-precision JS, one per supported name. */
const CLOSED: Record<string, (x: number) => number> = {
  gelu: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_python: (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)),
  gelu_new: tanhGelu,
  gelu_pytorch_tanh: tanhGelu,
  gelu_accurate: tanhGelu,
  gelu_fast: tanhGelu,
  quick_gelu: (x) => x * sigmoid(1.702 * x),
  silu: (x) => x * sigmoid(x),
  swish: (x) => x * sigmoid(x),
  relu: (x) => Math.max(0, x),
  relu2: (x) => Math.max(0, x) ** 2,
  relu6: (x) => Math.min(6, Math.max(0, x)),
  tanh: Math.tanh,
  sigmoid,
  linear: (x) => x,
};

// Avoids the kinks at 0 and 6, where finite differences and subgradients legitimately differ.
const GRID = Array.from({ length: 30 }, (_, i) => -7.3 + (14.6 * i) / 29);
const close = (a: number, b: number, tol: number): boolean => Math.abs(a - b) <= tol * Math.max(1, Math.abs(b));

describe('engine ops on wasm', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('logSigmoid equals log σ on [-1000, 1000], finite everywhere', () => {
    const xs = [-1000, -300, -100, -30, -10, -1, -0.1, 0, 0.1, 1, 10, 30, 100, 300, 1000];
    for (let i = 0; i <= 100; i++) xs.push(-1000 + 20 * i);
    const got = tf.tidy(() => Array.from(logSigmoid(tf.tensor1d(xs)).dataSync()));
    xs.forEach((x, i) => {
      const want = x < 0 ? x - Math.log1p(Math.exp(x)) : -Math.log1p(Math.exp(-x));
      expect(Number.isFinite(got[i])).toBe(true);
      expect(close(got[i], want, 1e-5)).toBe(true);
    });
  });

  it('logSigmoid differentiates when its input is computed inside the tape: d/dx = 1 - σ(x)', () => {
    const xs = [-1000, -20, -2, -0.5, 0, 0.5, 2, 20, 1000];
    const grad = tf.tidy(() => {
      // x·3 - x·2 = x, but computed on the tape: the case where tf.logSigmoid throws on wasm.
      const f = (x: tf.Tensor): tf.Scalar => tf.sum(logSigmoid(tf.sub(tf.mul(x, 3), tf.mul(x, 2))));
      return Array.from(tf.grad(f)(tf.tensor1d(xs)).dataSync());
    });
    xs.forEach((x, i) => expect(close(grad[i], 1 - sigmoid(x), 1e-5)).toBe(true));
  });

  it('every activation matches its closed form', () => {
    expect([...ACTIVATION_NAMES].sort()).toEqual(Object.keys(CLOSED).sort());
    const grid = [...GRID, -40, -12, 12, 40];
    for (const name of ACTIVATION_NAMES) {
      const got = tf.tidy(() => Array.from(activation(name)(tf.tensor1d(grid)).dataSync()));
      grid.forEach((x, i) => {
        if (!close(got[i], CLOSED[name](x), 1e-4)) throw new Error(`${name}(${x}) = ${got[i]}, want ${CLOSED[name](x)}`);
      });
    }
  });

  it('every activation has a finite gradient matching the closed form derivative', () => {
    const h = 1e-4;
    for (const name of ACTIVATION_NAMES) {
      const got = tf.tidy(() => {
        const f = (x: tf.Tensor): tf.Scalar => tf.sum(activation(name)(tf.mul(x, 1)));
        return Array.from(tf.grad(f)(tf.tensor1d(GRID)).dataSync());
      });
      GRID.forEach((x, i) => {
        const want = (CLOSED[name](x + h) - CLOSED[name](x - h)) / (2 * h);
        expect(Number.isFinite(got[i])).toBe(true);
        if (!close(got[i], want, 1e-3)) throw new Error(`${name}'(${x}) = ${got[i]}, want ${want}`);
      });
    }
  });

  it('gelu(x, kind) agrees with activation(kind) and rejects unknown kinds', () => {
    const diff = tf.tidy(() => {
      const x = tf.tensor1d(GRID);
      return tf.max(tf.abs(tf.sub(gelu(x, 'quick_gelu'), activation('quick_gelu')(x)))).dataSync()[0];
    });
    expect(diff).toBe(0);
    expect(() => gelu(tf.scalar(1), 'nope' as never)).toThrow(OptionError);
  });

  it('unknown activation names throw OptionError listing the supported ones', () => {
    expect(() => activation('bogus')).toThrow(OptionError);
    expect(() => activation('bogus')).toThrow(/"bogus".*gelu_new.*relu6/);
    expect(() => activation('toString')).toThrow(OptionError); // no prototype lookups
  });

  it('gradients leak no tensors', () => {
    const f = (x: tf.Tensor): tf.Scalar => tf.sum(tf.add(activation('gelu')(x), logSigmoid(tf.mul(x, 2))));
    // The tidy callbacks return nothing, so the gradient itself must be released too.
    tf.tidy(() => void tf.grad(f)(tf.tensor1d(GRID))); // warm-up
    const before = tf.memory().numTensors;
    tf.tidy(() => void tf.grad(f)(tf.tensor1d(GRID)));
    expect(tf.memory().numTensors).toBe(before);
    const x = tf.tensor1d(GRID);
    const y = activation('linear')(x);
    x.dispose(); // linear returns its own tensor: disposing the input leaves it usable
    expect(y.dataSync()).toHaveLength(GRID.length);
    y.dispose();
  });
});
