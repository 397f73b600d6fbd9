import { tf } from '../../src/engine/tf.js';
import { initBackend } from '../../src/engine/backend.js';
await initBackend();
function time(label: string, fn: () => tf.Tensor | tf.Tensor[], flops = 0, n = 5) {
  for (let i = 0; i < 2; i++) tf.dispose(fn());
  const ts: number[] = [];
  for (let i = 0; i < n; i++) { const t0 = performance.now(); const r = fn(); (Array.isArray(r) ? r[0] : r).dataSync(); ts.push(performance.now() - t0); tf.dispose(r); }
  ts.sort((a, b) => a - b); const med = ts[n >> 1];
  console.log(`${label.padEnd(50)} ${med.toFixed(2).padStart(8)} ms ${flops ? (flops / med / 1e6).toFixed(1) + ' GFLOP/s' : ''}`);
}
const BH = 48, T = 128, hd = 64;
const q = tf.randomNormal([BH, T, hd], 0, 1, 'float32', 1);
const kT = tf.randomNormal([BH, hd, T], 0, 1, 'float32', 2);
const k = tf.randomNormal([BH, T, hd], 0, 1, 'float32', 3);
const p = tf.randomNormal([BH, T, T], 0, 1, 'float32', 4);
const v = tf.randomNormal([BH, T, hd], 0, 1, 'float32', 5);
const vT = tf.randomNormal([BH, hd, T], 0, 1, 'float32', 6);
const f = 2 * BH * T * T * hd;
time('scores q·kT plain [48,128,64]x[48,64,128]', () => tf.matMul(q, kT), f);
time('scores q·k transposeB', () => tf.matMul(q, k, false, true), f);
time('context p·v plain', () => tf.matMul(p, v), f);
time('context p·vT transposeB', () => tf.matMul(p, vT, false, true), f);
time('per-head xnn loop scores (unstack+48 mm+stack)', () => tf.tidy(() => { const qs = tf.unstack(q); const ks = tf.unstack(kT); return tf.stack(qs.map((qi, i) => tf.matMul(qi, ks[i]))); }), f);
time('per-head xnn loop context', () => tf.tidy(() => { const ps = tf.unstack(p); const vs = tf.unstack(v); return tf.stack(ps.map((pi, i) => tf.matMul(pi, vs[i]))); }), f);
time('unstack only 48', () => tf.tidy(() => { const qs = tf.unstack(q); return tf.stack(qs); }));
// elementwise
const x = tf.randomNormal([512, 3072], 0, 1, 'float32', 7);
time('tanh [512,3072]', () => tf.tanh(x));
time('sigmoid', () => tf.sigmoid(x));
time('exp', () => tf.exp(x));
time('pow 3', () => tf.pow(x, 3));
time('x*x*x', () => tf.tidy(() => tf.mul(tf.mul(x, x), x)));
time('square', () => tf.square(x));
time('mul scalar', () => tf.mul(x, 0.5));
time('add', () => tf.add(x, x));
time('erf', () => tf.erf(x));
time('softmax [48,128,128]', () => tf.softmax(p));
time('transpose [4,128,12,64]->[4,12,128,64]', () => tf.transpose(tf.reshape(v, [4, 128, 12, 64]), [0, 2, 1, 3]));
time('transpose ->[0,2,3,1]', () => tf.transpose(tf.reshape(v, [4, 128, 12, 64]), [0, 2, 3, 1]));
