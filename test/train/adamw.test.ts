import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { AdamW } from '../../src/train/adamw.js';
import { clipByGlobalNorm } from '../../src/train/clip.js';

beforeAll(async () => {
  await initBackend();
});

/** torch.optim.AdamW for one scalar, in float64. */
function reference(p: number, grads: number[], lrs: number[], o: { b1: number; b2: number; eps: number; wd: number }): number {
  let m = 0;
  let v = 0;
  grads.forEach((g, i) => {
    const t = i + 1;
    m = o.b1 * m + (1 - o.b1) * g;
    v = o.b2 * v + (1 - o.b2) * g * g;
    p *= 1 - lrs[i] * o.wd;
    const mHat = m / (1 - o.b1 ** t);
    const vHat = v / (1 - o.b2 ** t);
    p -= (lrs[i] * mHat) / (Math.sqrt(vHat) + o.eps);
  });
  return p;
}

describe('AdamW', () => {
  it('matches the closed form of a single step, with decay on matrices only and bias correction', () => {
    const w = tf.variable(tf.tensor2d([[0.5, -1.0]]), true); // decayed
    const g = tf.variable(tf.tensor1d([2.0]), true); // a norm: not decayed
    const opt = new AdamW([{ name: 'w', variable: w, decay: true }, { name: 'g', variable: g, decay: false }], { beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 });
    const lr = 0.01;
    opt.apply({ w: tf.tensor2d([[0.3, -0.2]]), g: tf.tensor1d([0.5]) }, lr);
    // After one step with bias correction m̂ = g, v̂ = g², so the move is lr·g/(|g| + ε) ≈ lr·sign(g).
    const ws = w.dataSync();
    expect(ws[0]).toBeCloseTo(0.5 * (1 - lr * 0.1) - lr * (0.3 / (0.3 + 1e-8)), 7);
    expect(ws[1]).toBeCloseTo(-1.0 * (1 - lr * 0.1) + lr * (0.2 / (0.2 + 1e-8)), 7);
    expect(g.dataSync()[0]).toBeCloseTo(2.0 - lr, 7);
    expect(opt.step).toBe(1);
    opt.dispose();
    w.dispose();
    g.dispose();
  });

  it('matches torch.optim.AdamW over several steps with changing learning rates', () => {
    const o = { b1: 0.8, b2: 0.9, eps: 1e-6, wd: 0.5 };
    const grads = [0.7, -0.1, 0.25, 2.0];
    const lrs = [0.1, 0.05, 0.2, 0.01];
    const x = tf.variable(tf.tensor2d([[1.5]]), true);
    const opt = new AdamW([{ name: 'x', variable: x, decay: true }], { beta1: o.b1, beta2: o.b2, eps: o.eps, weightDecay: o.wd });
    grads.forEach((gv, i) => tf.tidy(() => opt.apply({ x: tf.tensor2d([[gv]]) }, lrs[i])));
    expect(x.dataSync()[0]).toBeCloseTo(reference(1.5, grads, lrs, o), 6);
    opt.dispose();
    x.dispose();
  });

  it('saves and restores its state exactly', async () => {
    const make = (): { v: tf.Variable; opt: AdamW } => {
      const v = tf.variable(tf.tensor2d([[0.1, 0.2], [0.3, 0.4]]), true);
      return { v, opt: new AdamW([{ name: 'v', variable: v, decay: true }]) };
    };
    const g1 = tf.tensor2d([[0.01, -0.3], [1.2, 0.004]]);
    const g2 = tf.tensor2d([[-0.5, 0.02], [0.3, 0.7]]);
    const a = make();
    a.opt.apply({ v: g1 }, 0.05);
    const saved = await a.opt.state();
    const b = make();
    b.v.assign(tf.tensor2d(a.v.dataSync() as Float32Array, [2, 2]));
    b.opt.restore(saved);
    a.opt.apply({ v: g2 }, 0.03);
    b.opt.apply({ v: g2 }, 0.03);
    expect(Array.from(new Uint32Array(b.v.dataSync().buffer))).toEqual(Array.from(new Uint32Array(a.v.dataSync().buffer)));
    expect(b.opt.step).toBe(2);
    for (const x of [a, b]) {
      x.opt.dispose();
      x.v.dispose();
    }
    g1.dispose();
    g2.dispose();
  });
});

describe('clipByGlobalNorm', () => {
  it('scales all gradients by maxNorm / norm only when the norm exceeds maxNorm', () => {
    tf.tidy(() => {
      const grads = { a: tf.tensor1d([3, 0]), b: tf.tensor2d([[0, 4]]) }; // global norm 5
      const clipped = clipByGlobalNorm(grads, 1);
      expect(clipped.norm.dataSync()[0]).toBeCloseTo(5, 6);
      expect(Array.from(clipped.grads.a.dataSync())).toEqual([expect.closeTo(0.6, 6), 0]);
      expect(Array.from(clipped.grads.b.dataSync())).toEqual([0, expect.closeTo(0.8, 6)]);
      const kept = clipByGlobalNorm(grads, 10);
      expect(Array.from(kept.grads.a.dataSync())).toEqual([3, 0]);
    });
  });
});
