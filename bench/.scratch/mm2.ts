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
const f = 2 * BH * T * T * hd;
const qs = tf.unstack(q), ks = tf.unstack(kT);
time('48 xnn mm pre-sliced, cached b', () => qs.map((qi, i) => tf.matMul(qi, ks[i])), f);
time('48 xnn mm pre-sliced, fresh b (clone)', () => tf.tidy(() => qs.map((qi, i) => tf.matMul(qi, tf.clone(ks[i])))), f);
time('48 xnn mm fresh b (mul 1)', () => tf.tidy(() => qs.map((qi, i) => tf.matMul(qi, tf.mul(ks[i], 1)))), f);
const q2 = tf.reshape(q, [BH * T, hd]);
time('48 row slices 2D', () => Array.from({ length: BH }, (_, i) => tf.slice(q2, [i * T, 0], [T, hd])));
time('48 slices 3D', () => Array.from({ length: BH }, (_, i) => tf.slice(q, [i, 0, 0], [1, T, hd])));
time('split 48 3D', () => tf.split(q, BH, 0));
time('unstack 48', () => tf.unstack(q));
const flat = tf.reshape(q, [-1]);
time('48 slices 1D', () => Array.from({ length: BH }, (_, i) => tf.slice(flat, [i * T * hd], [T * hd])));
time('stack 48 [128,64]', () => tf.stack(qs));
time('concat 48 [128,64] axis0', () => tf.concat(qs, 0));
time('concat 12 [128,64] axis1', () => tf.concat(qs.slice(0, 12), 1));
time('one xnn mm [512,768]x[768,3072]', () => tf.matMul(tf.reshape(q, [128*48*64/768, 768]).slice([0,0],[512,768]), tf.randomNormal([768,3072],0,1,'float32',3)), 2*512*768*3072);
