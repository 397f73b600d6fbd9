/**
 * Peak memory of the feature pass with default options (batches sized from free memory, at most 4096
 * tokens), at the bundled model's size (models/sotu-lm, from disk) and at GPT-2-small shapes (random
 * weights in memory), on the wasm backend. Runs each pass to completion and prints, per model:
 * the tensor bytes' peak above the loaded weights (tf.profile's peakBytes) and the wasm heap size
 * (the backend's HEAPU8.length, which only grows) before and after, each divided by the tokens of the
 * largest batch, next to the planner's estimate (src/lm/activation-memory.ts).
 *
 *   npx tsx bench/feature-memory.ts [--length L] [--pairs N] [--only bundled|gpt2]
 */
import { join } from 'node:path';
import { tf } from '../src/engine/tf.js';
import { wasmHeapBytes } from '../src/engine/memory-budget.js';
import { forwardBytesPerToken } from '../src/lm/activation-memory.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { loadCausalLM } from '../src/lm/load.js';
import { countParameters } from '../src/lm/config.js';
import { createRng } from '../src/random.js';
import { extractPrefixFeatures } from '../src/parallel/dispatch.js';
import type { TokenPair } from '../src/reward/prefixes.js';
import { flag, gpt2SmallInMemory, intFlag, log, machine, ROOT, round, table } from './common.js';

process.env.PARGS_BACKEND ??= 'wasm';

const MiB = 1024 * 1024;

/** `pairs` pairs whose sequences are exactly `length` tokens: prompt length/2, both responses length/2. */
function pairsOf(lm: CausalLM, count: number, length: number): TokenPair[] {
  const rng = createRng(5, 'feature-memory');
  const V = Math.min(lm.config.vocabSize - 1, 4000);
  const ids = (n: number) => Array.from({ length: n }, () => 1 + Math.floor(rng() * V));
  const half = Math.floor(length / 2);
  return Array.from({ length: count }, () => ({ promptIds: ids(length - half), chosenIds: ids(half), rejectedIds: ids(half) }));
}

async function measure(label: string, lm: CausalLM, length: number, count: number) {
  const pairs = pairsOf(lm, count, length);
  const heapBefore = wasmHeapBytes() ?? 0;
  const bytesBefore = tf.memory().numBytes;
  const tensorsBefore = tf.memory().numTensors;
  const done: number[] = [];
  const started = performance.now();
  let stats: { sequences: number; paddedTokens: number } | undefined;
  const profile = await tf.profile(async () => {
    const f = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, onProgress: (e) => done.push(e.sequencesDone) });
    stats = f.stats;
    f.store.dispose();
  });
  const seconds = (performance.now() - started) / 1000;
  const heapAfter = wasmHeapBytes() ?? 0;
  const firstBatchTokens = done[0] * length;
  const peakAbove = profile.peakBytes - bytesBefore;
  const c = lm.config;
  return {
    model: label,
    parameters: countParameters(c),
    sequenceLength: length,
    sequences: stats?.sequences,
    batches: done.length,
    largestBatchTokens: firstBatchTokens,
    seconds: round(seconds, 1),
    weightsMiB: round(bytesBefore / MiB, 0),
    tensorPeakAboveWeightsMiB: round(peakAbove / MiB, 0),
    tensorPeakPerTokenKiB: round(peakAbove / firstBatchTokens / 1024, 1),
    estimatePerTokenKiB: round(forwardBytesPerToken(c, length) / 1024, 1),
    wasmHeapBeforeMiB: round(heapBefore / MiB, 0),
    wasmHeapAfterMiB: round(heapAfter / MiB, 0),
    wasmHeapGrowthPerTokenKiB: round((heapAfter - heapBefore) / firstBatchTokens / 1024, 1),
    tensorsLeaked: tf.memory().numTensors - tensorsBefore,
  };
}

const only = flag('only');
const results = [];
if (only === undefined || only === 'bundled') {
  const lm = await loadCausalLM(join(ROOT, 'models/sotu-lm'));
  log(`bundled: ${lm.config.numLayers}×${lm.config.hiddenSize}, context ${lm.config.maxPositions}`);
  results.push(await measure('models/sotu-lm (4×192, V 4096)', lm, intFlag('length', lm.config.maxPositions), intFlag('pairs', 64)));
  lm.dispose();
}
if (only === undefined || only === 'gpt2') {
  const lm = await gpt2SmallInMemory(1);
  log('gpt2-small shapes built');
  results.push(await measure('random gpt2-small shapes (12×768, V 50257)', lm, intFlag('length', 512), intFlag('pairs', 8)));
  lm.dispose();
}
console.log(JSON.stringify({ machine: machine(), backend: tf.getBackend(), results }, null, 2));
console.log(
  table(
    ['model', 'seq. length', 'largest batch (tokens)', 'tensor peak above weights', 'per token', 'planner estimate per token', 'wasm heap before → after', 'seconds'],
    results.map((r) => [
      r.model, String(r.sequenceLength), String(r.largestBatchTokens), `${r.tensorPeakAboveWeightsMiB} MiB`, `${r.tensorPeakPerTokenKiB} KiB`,
      `${r.estimatePerTokenKiB} KiB`, `${r.wasmHeapBeforeMiB} → ${r.wasmHeapAfterMiB} MiB`, String(r.seconds),
    ]),
  ),
);
