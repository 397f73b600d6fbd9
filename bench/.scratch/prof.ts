import { tf } from '../../src/engine/tf.js';
import { initBackend } from '../../src/engine/backend.js';
import { Transformer } from '../../src/lm/transformer.js';
import { GPT2_SMALL, LLAMA_4x256, configOf, randomParams } from '../engine-model.js';

const which = process.argv[2] ?? 'prefill';
const shape = process.argv[3] === 'llama' ? LLAMA_4x256 : GPT2_SMALL;
await initBackend();
const c = configOf(shape);
const params = randomParams(c, 1);
const model = new Transformer(c, params);
const ids = (B: number, T: number) => Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (b * 131 + t * 17) % c.vocabSize));

async function run(fn: () => tf.TensorContainer, label: string) {
  for (let i = 0; i < 2; i++) tf.dispose(fn() as tf.Tensor[]);
  const t0 = performance.now();
  const N = 3;
  for (let i = 0; i < N; i++) { const r = fn(); tf.dispose(r as tf.Tensor[]); }
  const wall = (performance.now() - t0) / N;
  const info = await tf.profile(() => { const r = fn(); tf.dispose(r as tf.Tensor[]); });
  const agg = new Map<string, { ms: number; n: number }>();
  let tot = 0;
  for (const k of info.kernels) {
    const ms = (k.kernelTimeMs as number) ?? 0;
    const key = k.name + ' ' + (k.name === 'BatchMatMul' || k.name==='_FusedMatMul' ? JSON.stringify(k.inputShapes) : '');
    const e = agg.get(key) ?? { ms: 0, n: 0 };
    e.ms += ms; e.n++; agg.set(key, e); tot += ms;
  }
  console.log(`${label}: wall ${wall.toFixed(1)} ms, kernel sum ${tot.toFixed(1)} ms, kernels ${info.kernels.length}`);
  [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25).forEach(([k, v]) => console.log(`  ${v.ms.toFixed(1).padStart(8)} ms ${String(v.n).padStart(4)}× ${k}`));
}

if (which === 'prefill') {
  const x = ids(4, 128);
  await run(() => { const o = model.forward({ ids: x, logits: 'last' }); return [o.hidden, o.logits!]; }, 'prefill B4 T128');
} else {
  const pre = model.forward({ ids: ids(1, 64), logits: 'none', returnCache: true });
  pre.hidden.dispose();
  const cache = pre.cache!;
  await run(() => { const o = model.forward({ ids: [[5]], cache, logits: 'last', returnCache: true }); o.cache!.dispose(); return [o.hidden, o.logits!]; }, 'step B1');
  const bc = cache.broadcast(10);
  await run(() => { const o = model.forward({ ids: ids(10, 1), cache: bc, logits: 'none', returnCache: true }); o.cache!.dispose(); const l = model.logitsFromHidden(tf.slice(o.hidden, [0,0,0],[1,1,c.hiddenSize])); return [o.hidden, l]; }, 'step B10');
}
