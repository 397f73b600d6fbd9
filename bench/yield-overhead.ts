/**
 * What the event-loop turn per step costs: the time of one `yieldToEventLoop()` next to the time of one
 * decode step and one feature-pass batch, measured interleaved in one process (median of --reps runs).
 * Usage: npx tsx bench/yield-overhead.ts [--model DIR] [--reps 5]
 */
import { generate } from '../src/parallel/dispatch.js';
import { yieldToEventLoop } from '../src/engine/yield.js';
import { createRng } from '../src/random.js';
import { extractPrefixFeatures } from '../src/parallel/dispatch.js';
import { benchModel, flag, intFlag, loadAverage, log, median, round, table } from './common.js';

const reps = intFlag('reps', 5);
const model = await benchModel(flag('model'));
const { lm } = model;
const STEPS = 64;
const YIELDS = 2000;
const rng = createRng(1, 'bench-yield');
const ids = (n: number) => Array.from({ length: n }, () => 300 + Math.floor(rng() * 3000));
const pairs = Array.from({ length: 64 }, () => ({ promptIds: ids(16), chosenIds: ids(48), rejectedIds: ids(48) }));
const prompts = Array.from({ length: 4 }, () => ids(16));

const stepMs: number[] = [];
const batchMs: number[] = [];
const yieldUs: number[] = [];
for (let r = 0; r < reps; r++) {
  let t = performance.now();
  await generate({ lm, promptIds: prompts, maxNewTokens: STEPS, stopAtEos: false });
  stepMs.push((performance.now() - t) / STEPS);
  t = performance.now();
  let batches = 0;
  const f = await extractPrefixFeatures({ backbone: lm, pairs, tokensPerBatch: 512, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, onProgress: () => batches++ });
  batchMs.push((performance.now() - t) / batches);
  f.store.dispose();
  t = performance.now();
  for (let i = 0; i < YIELDS; i++) await yieldToEventLoop();
  yieldUs.push(((performance.now() - t) / YIELDS) * 1000);
}
const y = median(yieldUs);
const s = median(stepMs);
const b = median(batchMs);
log(`model: ${model.label}; load average ${loadAverage()}`);
log(
  table(
    ['unit', 'median time', 'one yield', 'yield / unit'],
    [
      ['decode step (4 rows, generate)', `${round(s, 3)} ms`, `${round(y, 1)} µs`, `${round((100 * y) / (1000 * s), 3)} %`],
      ['feature-pass batch (512 tokens)', `${round(b, 2)} ms`, `${round(y, 1)} µs`, `${round((100 * y) / (1000 * b), 3)} %`],
    ],
  ),
);
lm.dispose();
await model.cleanup();
