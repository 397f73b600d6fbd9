/**
 * Pretraining step benchmark: milliseconds per optimizer update (forward + backward through the shared
 * Transformer, cross-entropy, clipping, AdamW) for a few Llama shapes at vocabulary 4096.
 *
 *   npx tsx bench/pretrain-step.ts [--quick]
 *
 * Batches are random token windows (values do not matter for speed). Each figure is the median of
 * several timed steps after one warm-up step. Prints a Markdown table; progress goes to stderr.
 */
import { initBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { countParameters } from '../src/lm/config.js';
import { Transformer } from '../src/lm/transformer.js';
import { AdamW } from '../src/train/adamw.js';
import { initLlamaModel } from '../src/pretrain/init.js';
import { llamaConfig } from '../src/pretrain/model-config.js';
import { trainStep } from '../src/pretrain/train-step.js';
import { createRng } from '../src/random.js';

const QUICK = process.argv.includes('--quick');
const STEPS = QUICK ? 3 : 7;
const VOCAB = 4096;
const SHAPES = [
  { layers: 2, dim: 128, heads: 4, context: 128, batch: 8 },
  { layers: 4, dim: 256, heads: 4, context: 128, batch: 8 },
  { layers: 4, dim: 256, heads: 4, context: 64, batch: 16 },
  { layers: 6, dim: 384, heads: 6, context: 128, batch: 8 },
];

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

await initBackend();
const rows: string[] = ['| layers × dim | heads | B × T | parameters | ms/step | tokens/s |', '|---|---|---|---|---|---|'];
for (const s of SHAPES) {
  const { config } = llamaConfig({ vocabSize: VOCAB, layers: s.layers, dim: s.dim, heads: s.heads, context: s.context, tieEmbeddings: true, eotId: VOCAB - 1, dtype: 'F32' });
  const model = initLlamaModel(config, 0);
  const optimizer = new AdamW(model.params);
  const transformer = new Transformer(config, model.stored());
  const rng = createRng(0, 'bench-batches');
  const batch = (): { ids: number[][]; targets: Int32Array } => {
    const ids = Array.from({ length: s.batch }, () => Array.from({ length: s.context }, () => Math.floor(rng() * VOCAB)));
    return { ids, targets: Int32Array.from({ length: s.batch * s.context }, () => Math.floor(rng() * VOCAB)) };
  };
  const ctx = { model, transformer, optimizer, clip: 1 };
  trainStep(ctx, batch(), 1e-3, 1);
  const times: number[] = [];
  for (let i = 0; i < STEPS; i++) {
    const b = batch();
    const t0 = performance.now();
    trainStep(ctx, b, 1e-3, i + 2);
    times.push(performance.now() - t0);
  }
  const ms = median(times);
  process.stderr.write(`${s.layers}×${s.dim} B=${s.batch} T=${s.context}: ${ms.toFixed(0)} ms/step\n`);
  rows.push(`| ${s.layers} × ${s.dim} | ${s.heads} | ${s.batch} × ${s.context} | ${countParameters(config)} | ${ms.toFixed(0)} | ${Math.round((s.batch * s.context * 1000) / ms)} |`);
  model.dispose();
  optimizer.dispose();
  transformer.dispose();
}
process.stdout.write(`backend ${tf.getBackend()}\n\n${rows.join('\n')}\n`);
