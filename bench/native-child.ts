/**
 * One backend's measurements for bench/native.ts, in a process of its own: PARGS_BACKEND (set by the
 * parent) chooses the backend before anything loads, and the process's peak RSS is that backend's alone.
 *
 *   PARGS_BACKEND=tensorflow|wasm npx tsx bench/native-child.ts --shape bundled|gpt2|gpt2-medium|ladder [work flags]
 *
 * Work flags and their defaults are `WORK` below; bench/torch_pargs.py takes the same ones, so both sides
 * do the same work (B, k, prompt length, new tokens, pairs, batch sizes). Everything runs in this thread
 * (PARGS_WORKERS=1, workers: 1). The last stdout line is `RESULT {json}`; progress goes to stderr.
 */
import { generate } from '../src/decode/generate.js';
import { guidedSample } from '../src/decode/guided.js';
import { initBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { createRng } from '../src/random.js';
import { extractPrefixFeatures, type PrefixFeatures } from '../src/reward/features.js';
import { RewardHead } from '../src/reward/head.js';
import type { TokenPair } from '../src/reward/prefixes.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { trainPartialRM } from '../src/reward/trainer.js';
import { benchModel, flag, inMemoryModel, intFlag, log, median } from './common.js';
import { GPT2_MEDIUM, GPT2_SMALL, llamaShape, type BenchShape } from './engine-model.js';

process.env.PARGS_WORKERS = '1';

/** The work of every workload; the parent passes each as `--name value` to both children and torch. */
export const WORK = {
  prompt: 32, // decode prompts: random ids
  'new-tokens': 64, // EOS ignored
  k: 10,
  'prefill-b': 8,
  'prefill-t': 128,
  pairs: 32, // feature pass: prompt ⊕ chosen and prompt ⊕ rejected per pair
  'pair-prompt': 64,
  'pair-response': 64,
  'tokens-per-batch': 4096, // padded tokens per feature-pass forward
  'head-batch': 256, // pairs of prefix features per head step (trainPartialRM's default)
  'head-epochs': 4,
  'step-cache': 64, // the decode-step probe: one token after this many cached
  seed: 1,
};
export const BETA = 2;
export type WorkName = keyof typeof WORK;

/** The model-size ladder for the auto-selection threshold: Llama shapes from the bundled size up. */
export const LADDER: BenchShape[] = [llamaShape(4, 192, 4096), llamaShape(4, 256, 4096), llamaShape(6, 384, 8192), llamaShape(8, 512, 16384), llamaShape(12, 768, 32000), llamaShape(16, 1024, 32000)];

export type Timing = { ms: number; tokensPerSecond?: number; us?: number };
export interface ChildResult {
  runner: string;
  backend: string;
  model: string;
  parameters: number;
  results: Record<string, Timing>;
  /** Ladder only: per shape, its parameters and the decode-step probes. */
  ladder?: { model: string; parameters: number; step1: number; step8: number }[];
  peakRssMiB: number;
}

const W = Object.fromEntries(Object.entries(WORK).map(([k, v]) => [k, intFlag(k, v)])) as Record<WorkName, number>;

/** The first run is a warm-up when a second one is affordable (< 10 s): then the median of the rest (as torch_pargs.py). */
async function timed(fn: () => Promise<unknown>, budgetMs = 3000, maxReps = 5): Promise<number> {
  let start = performance.now();
  await fn();
  const first = performance.now() - start;
  if (first > 10_000) return first;
  const times: number[] = [];
  let spent = 0;
  while (times.length === 0 || (spent < budgetMs && times.length < maxReps - 1)) {
    start = performance.now();
    await fn();
    times.push(performance.now() - start);
    spent += times[times.length - 1];
  }
  return median(times);
}

function randomIds(lm: CausalLM, rows: number, length: number, stream: string): number[][] {
  const rng = createRng(W.seed, stream);
  const V = lm.config.vocabSize - 1; // below the EOS id (the last one in every model here)
  return Array.from({ length: rows }, () => Array.from({ length }, () => Math.floor(rng() * V)));
}

/** Median ms of a one-token step for B rows after `step-cache` cached tokens, logits read back (31 steps, the first dropped). */
async function stepProbe(lm: CausalLM, B: number): Promise<number> {
  const pre = lm.prefill(randomIds(lm, B, W['step-cache'], 'bench:step'));
  pre.hidden.dispose();
  pre.logits.dispose();
  const tokens = Array.from({ length: B }, (_, b) => b + 1);
  const samples: number[] = [];
  for (let i = 0; i < 31; i++) {
    const start = performance.now();
    const out = lm.step(pre.cache, tokens);
    await out.logits.data();
    samples.push(performance.now() - start);
    out.logits.dispose();
    out.hidden.dispose();
    out.cache.dispose();
  }
  pre.cache.dispose();
  return median(samples.slice(1));
}

/** µs per call of a tiny add ([4] + [4], disposed, not read), and of the same add read back to the host. */
function opOverhead(): { dispatch: number; read: number } {
  const x = tf.ones([4]);
  const batch = (n: number, read: boolean): number => {
    const start = performance.now();
    for (let i = 0; i < n; i++) {
      const y = tf.add(x, x);
      if (read) y.dataSync();
      y.dispose();
    }
    return ((performance.now() - start) * 1000) / n;
  };
  batch(500, true);
  const dispatch = median(Array.from({ length: 7 }, () => batch(2000, false)));
  const read = median(Array.from({ length: 7 }, () => batch(500, true)));
  x.dispose();
  return { dispatch, read };
}

async function measure(lm: CausalLM): Promise<Record<string, Timing>> {
  const out: Record<string, Timing> = {};
  const NEW = W['new-tokens'];
  const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(W.seed, 'bench:head')), 'partial');
  log(`[${lm.backend.name}] prefill ${W['prefill-b']}×${W['prefill-t']}…`);
  const prefillRows = randomIds(lm, W['prefill-b'], W['prefill-t'], 'bench:prefill');
  const prefillMs = await timed(async () => {
    const p = lm.prefill(prefillRows); // logits of the last position only, [B, V]
    await p.logits.data();
    tf.dispose([p.logits, p.hidden]);
    p.cache.dispose();
  });
  out.prefill = { ms: prefillMs, tokensPerSecond: (W['prefill-b'] * W['prefill-t'] * 1000) / prefillMs };
  for (const B of [1, 8]) {
    const promptIds = randomIds(lm, B, W.prompt, 'bench:prompts');
    log(`[${lm.backend.name}] plain decode and PARGS, B = ${B}…`);
    const plainMs = await timed(() => generate({ lm, promptIds, maxNewTokens: NEW, strategy: { kind: 'sample', topK: W.k }, stopAtEos: false, seed: W.seed, workers: 1 }));
    out[`plain${B}`] = { ms: plainMs, tokensPerSecond: (B * NEW * 1000) / plainMs };
    const pargsMs = await timed(() => guidedSample({ lm, rewardModel: rm, promptIds, beta: BETA, topK: W.k, maxNewTokens: NEW, stop: { eos: false }, seed: W.seed, workers: 1 }));
    out[`pargs${B}`] = { ms: pargsMs, tokensPerSecond: (B * NEW * 1000) / pargsMs };
  }
  rm.dispose();
  log(`[${lm.backend.name}] feature pass, ${W.pairs} pairs…`);
  const pairPrompts = randomIds(lm, W.pairs, W['pair-prompt'], 'bench:pair-prompts');
  const responses = randomIds(lm, 2 * W.pairs, W['pair-response'], 'bench:pair-responses');
  const pairs: TokenPair[] = pairPrompts.map((promptIds, i) => ({ promptIds, chosenIds: responses[2 * i], rejectedIds: responses[2 * i + 1] }));
  const prefixes = { mode: 'partial', alignment: 'eos', minPrefix: 1 } as const;
  let features: PrefixFeatures | undefined;
  const featureMs = await timed(async () => {
    features?.store.dispose();
    features = await extractPrefixFeatures({ backbone: lm, pairs, prefixes, tokensPerBatch: W['tokens-per-batch'], workers: 1 });
  });
  const tokens = 2 * W.pairs * (W['pair-prompt'] + W['pair-response']);
  out.features = { ms: featureMs, tokensPerSecond: (tokens * 1000) / featureMs };
  log(`[${lm.backend.name}] head steps…`);
  // Steady ms per optimizer step: from the first step event to the last, over the steps between.
  const headStep = async (): Promise<number> => {
    const stamps: number[] = [];
    const trained = await trainPartialRM({ backbone: lm, pairs, features, epochs: W['head-epochs'], batchSize: W['head-batch'], seed: W.seed, onProgress: (e) => void (e.kind === 'step' && stamps.push(performance.now())) });
    trained.dispose();
    return (stamps[stamps.length - 1] - stamps[0]) / (stamps.length - 1);
  };
  await headStep();
  out.headStep = { ms: median([await headStep(), await headStep(), await headStep()]) };
  features?.store.dispose();
  out.step1 = { ms: await stepProbe(lm, 1) };
  const op = opOverhead();
  out.opAdd = { ms: op.dispatch / 1000, us: op.dispatch };
  out.opAddRead = { ms: op.read / 1000, us: op.read };
  return out;
}

async function main(): Promise<void> {
  const shape = flag('shape');
  const backend = await initBackend();
  const runner = backend.native ? 'native' : backend.name;
  const peakRssMiB = (): number => process.resourceUsage().maxRSS / 1024;
  let result: ChildResult;
  if (shape === 'ladder') {
    const ladder: NonNullable<ChildResult['ladder']> = [];
    for (const s of LADDER) {
      log(`[${runner}] ladder: ${s.name}…`);
      const lm = await inMemoryModel(s, W.seed);
      ladder.push({ model: s.name, parameters: lm.parameterCount, step1: await stepProbe(lm, 1), step8: await stepProbe(lm, 8) });
      lm.dispose();
    }
    const op = opOverhead();
    result = { runner, backend: backend.description, model: 'ladder', parameters: 0, results: { opAdd: { ms: op.dispatch / 1000, us: op.dispatch }, opAddRead: { ms: op.read / 1000, us: op.read } }, ladder, peakRssMiB: peakRssMiB() };
  } else {
    const shapes: Record<string, BenchShape> = { gpt2: GPT2_SMALL, 'gpt2-medium': GPT2_MEDIUM };
    const bundled = shape === 'bundled' ? await benchModel(flag('model') ?? 'models/sotu-lm') : undefined;
    if (!bundled && !shapes[shape ?? '']) throw new Error(`--shape must be bundled, gpt2, gpt2-medium or ladder, got ${shape}`);
    const lm = bundled ? bundled.lm : await inMemoryModel(shapes[shape as string], W.seed);
    const results = await measure(lm);
    result = { runner, backend: backend.description, model: bundled ? bundled.label : shapes[shape as string].name, parameters: lm.parameterCount, results, peakRssMiB: peakRssMiB() };
    lm.dispose();
    await bundled?.cleanup();
  }
  process.stdout.write(`RESULT ${JSON.stringify(result)}\n`);
}

if (flag('shape') !== undefined) await main();
