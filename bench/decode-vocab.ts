/**
 * Vocabulary-head decoding speed alone: plain sampling (`generate`, top-k 10) against guidedSample with a
 * vocabulary reward head (FaRMA) at top-k 10 and at topK = V (the exact policy), interleaved per round,
 * B = 1 and 8, 64 new tokens, EOS ignored, on a random Llama of the bundled size (or `--model DIR`).
 * A lighter companion of bench/decode.ts (which has the same rows among all methods).
 *
 *   npx tsx bench/decode-vocab.ts [--model DIR] [--reps R]   (default 6 rounds)
 */
import { generate } from '../src/parallel/dispatch.js';
import { guidedSample } from '../src/parallel/dispatch.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { benchModel, flag, intFlag, loadAverage, median, round } from './common.js';

const m = await benchModel(flag('model'));
const reps = intFlag('reps', 6);
const lm = m.lm;
const d = lm.config.hiddenSize;
const V = lm.config.vocabSize;
// Zero weights: speed does not depend on the head's values.
const zero = (n: number) => new Float32Array(n);
const rm = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [{ name: 'weight', shape: [d, V], data: zero(d * V) }, { name: 'bias', shape: [V], data: zero(V) }]), 'partial');
const loadBefore = loadAverage();
const rows = [];
for (const B of [1, 8]) {
  const promptIds = Array.from({ length: B }, (_, b) => Array.from({ length: 32 }, (_, i) => (i * 37 + b * 11) % V));
  const ms = { plain: [] as number[], topK: [] as number[], exact: [] as number[] };
  const time = async (f: () => Promise<unknown>): Promise<number> => {
    const start = performance.now();
    await f();
    return performance.now() - start;
  };
  for (let r = 0; r < reps; r++) {
    ms.plain.push(await time(() => generate({ lm, promptIds, maxNewTokens: 64, strategy: { kind: 'sample', topK: 10 }, stopAtEos: false, seed: 1 })));
    ms.topK.push(await time(() => guidedSample({ lm, rewardModel: rm, promptIds, beta: 2, topK: 10, maxNewTokens: 64, stop: { eos: false }, seed: 1 })));
    ms.exact.push(await time(() => guidedSample({ lm, rewardModel: rm, promptIds, beta: 2, topK: V, maxNewTokens: 64, stop: { eos: false }, seed: 1 })));
  }
  const vsPlain = (x: number[]) => round(median(x.map((v, i) => ms.plain[i] / v)), 2);
  rows.push({ B, plainMs: round(median(ms.plain), 0), vocabTopKMs: round(median(ms.topK), 0), vocabExactMs: round(median(ms.exact), 0), vocabTopKOverPlain: vsPlain(ms.topK), vocabExactOverPlain: vsPlain(ms.exact) });
}
rm.dispose();
lm.dispose();
await m.cleanup();
process.stdout.write(`${JSON.stringify({ benchmark: 'decode-vocab', model: m.label, reps, loadAverage1m: { before: loadBefore, after: loadAverage() }, rows }, null, 2)}\n`);
