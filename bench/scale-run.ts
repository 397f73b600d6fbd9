/**
 * One model's scale measurements in a fresh process, for bench/scale.ts: load time and peak resident
 * memory, greedy generation, PARGS with a head-only linear reward model fused on the LM, and the
 * feature pass (the same `extractPrefixFeatures` call `pargs features` makes), on the backend the
 * environment picks (bench/scale.ts runs it on native). Prints one JSON line.
 *
 *   npx tsx bench/scale-run.ts DIR [--pairs 64] [--length 256] [--new 16] [--prompt 32] [--k 10]
 */
import { initBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import { generate } from '../src/decode/generate.js';
import { guidedSample } from '../src/decode/guided.js';
import { countParameters } from '../src/lm/config.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { loadCausalLM } from '../src/lm/load.js';
import { createRng } from '../src/random.js';
import { extractPrefixFeatures } from '../src/reward/features.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { intFlag, round } from './common.js';
import { peakRssBytes, resetPeakRss, rssBytes } from './rss.js';

const dir = process.argv[2];
if (!dir || dir.startsWith('--')) throw new Error('usage: scale-run.ts DIR [--pairs N] [--length L] [--new N] [--prompt P] [--k K]');
const PAIRS = intFlag('pairs', 64);
const LENGTH = intFlag('length', 256);
const NEW = intFlag('new', 16);
const PROMPT = intFlag('prompt', 32);
const K = intFlag('k', 10);
const SEED = 1;
const BETA = 2;
const GiB = 1024 ** 3;

const rng = createRng(SEED, 'bench:scale');
/** Random ids below 4000 (the vocabulary is GPT-2's; the tokenizer is a stand-in, so ids are all that matter). */
const ids = (n: number): number[] => Array.from({ length: n }, () => 1 + Math.floor(rng() * 4000));

/** Seconds of a decoding call, and tokens/s after its first token (the prefill is in the first token's time). */
async function timed(run: (onToken: () => void) => Promise<void>, tokens: number): Promise<{ seconds: number; tokensPerSecond: number; steadyTokensPerSecond: number }> {
  const stamps: number[] = [];
  const started = performance.now();
  await run(() => stamps.push(performance.now()));
  const seconds = (performance.now() - started) / 1000;
  // onToken fires once per row and step; a step's rows share one timestamp group, so keep each step's last.
  const perStep = stamps.filter((_, i) => (i + 1) % (stamps.length / tokens) === 0);
  const steady = perStep.length > 1 ? (perStep.length - 1) / ((perStep[perStep.length - 1] - perStep[0]) / 1000) : NaN;
  return { seconds: round(seconds, 2), tokensPerSecond: round(tokens / seconds, 2), steadyTokensPerSecond: round(steady, 2) };
}

async function greedy(lm: CausalLM) {
  const promptIds = [ids(PROMPT)];
  await generate({ lm, promptIds, maxNewTokens: 2, stopAtEos: false, generationConfig: 'ignore', workers: 1 }); // warm-up
  return timed(async (onToken) => {
    const out = await generate({ lm, promptIds, maxNewTokens: NEW, stopAtEos: false, generationConfig: 'ignore', workers: 1, onToken });
    if (out[0].generatedIds.length !== NEW) throw new Error('greedy stopped early');
  }, NEW);
}

async function pargs(lm: CausalLM, rm: PartialRewardModel, rows: number) {
  const promptIds = Array.from({ length: rows }, () => ids(PROMPT));
  const options = { lm, rewardModel: rm, promptIds, beta: BETA, topK: K, stop: { eos: false }, seed: SEED, workers: 1 };
  await guidedSample({ ...options, maxNewTokens: 2 }); // warm-up
  let modelCalls = 0;
  const t = await timed(async (onToken) => {
    const out = await guidedSample({ ...options, maxNewTokens: NEW, onToken });
    modelCalls = out[0].modelCalls;
  }, NEW);
  // Fused: one prefill, then one k-row backbone step per token (two when the RM ran on a separate backbone).
  return { rows, ...t, tokensPerSecond: round((rows * NEW) / t.seconds, 2), steadyTokensPerSecond: round(rows * t.steadyTokensPerSecond, 2), fused: modelCalls === 1 + NEW, modelCalls };
}

async function features(lm: CausalLM) {
  const half = LENGTH / 2;
  const pairs = Array.from({ length: PAIRS }, () => ({ promptIds: ids(half), chosenIds: ids(half), rejectedIds: ids(half) }));
  const started = performance.now();
  const f = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, workers: 1 });
  const seconds = (performance.now() - started) / 1000;
  const { tokens, paddedTokens } = f.stats;
  f.store.dispose();
  return { pairs: PAIRS, sequenceLength: LENGTH, seconds: round(seconds, 1), tokens, paddedTokens, tokensPerSecond: round(paddedTokens / seconds, 1) };
}

const backend = await initBackend({ workload: { parameters: 1e9 } });
tf.tidy(() => tf.matMul(tf.ones([64, 64]), tf.ones([64, 64])).dataSync()); // backend's own start-up allocations
const baseline = rssBytes();
resetPeakRss();
const started = performance.now();
const lm = await loadCausalLM(dir);
const loadSeconds = (performance.now() - started) / 1000;
const loadPeak = peakRssBytes();
const tensors = tf.memory().numTensors;
const weightsF32 = 4 * countParameters(lm.config);

const plain = await greedy(lm);
const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(SEED, 'bench:head')), 'partial');
const guided = [await pargs(lm, rm, 1), await pargs(lm, rm, 4)];
const pass = await features(lm);
rm.head.dispose();
const leaked = tf.memory().numTensors - tensors;
const runPeak = peakRssBytes();
lm.dispose();
process.stdout.write(`${JSON.stringify({
  dir, backend: backend.description, parameters: countParameters(lm.config), weightsF32GiB: round(weightsF32 / GiB, 2),
  baselineRssGiB: round(baseline / GiB, 2), loadSeconds: round(loadSeconds, 1), loadPeakRssGiB: round(loadPeak / GiB, 2),
  runPeakRssGiB: round(runPeak / GiB, 2), greedy: plain, pargs: guided, features: pass, tensorsLeaked: leaked,
})}\n`);
