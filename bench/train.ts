/**
 * Training benchmark: the one-pass prefix feature pass against the paper's per-prefix enumeration.
 *
 *   npx tsx bench/train.ts [--model DIR] [--pairs N] [--length L] [--reps R] [--tokens-per-batch T] [--quick]
 *                          [--workers 1,2] [--worker-pairs N] [--only workers]
 *
 * On real HH-RLHF pairs (../shared/data/hh-rlhf/harmless-base-test.jsonl.gz, encoded with the model's
 * tokenizer; both responses cut to exactly L tokens, the prompt to its last L tokens) — or, when that
 * file is absent, synthetic random-id pairs — it measures side by side, interleaved in R rounds:
 *   (a) one-pass: `extractPrefixFeatures` (partial mode, EOS alignment, every prefix);
 *   (b) enumeration: every prefix `prompt ⊕ response[:i]` run as its own left-padded sequence, packed
 *       with the same tokens-per-batch budget, reading the last position's hidden state;
 *   (d) a full `trainPartialRM` (1 epoch), with the share of its time spent in the feature pass;
 *   (e) the workers axis: the one-pass feature pass on `--worker-pairs` pairs (default 256) with
 *       `--workers 1,2` (any list) worker threads, start-up included, results checked identical.
 * `--only workers` runs (e) alone. (a)–(d) run in this thread (PARGS_WORKERS=1).
 * and checks (c) that both feature sets agree and give the same Bradley–Terry loss under one seeded head.
 * Prints one JSON object, then Markdown tables. Progress goes to stderr.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { encodePreferences, loadPreferences } from '../src/data/index.js';
import { tf } from '../src/engine/tf.js';
import { leftPad, type CausalLM } from '../src/lm/causal-lm.js';
import { createRng } from '../src/random.js';
import { type PrefixFeatures } from '../src/reward/features.js';
import { extractPrefixFeatures } from '../src/parallel/dispatch.js';
import { RewardHead } from '../src/reward/head.js';
import { bradleyTerryPrefixLoss } from '../src/reward/loss.js';
import { planPair, type PairPlan, type TokenPair } from '../src/reward/prefixes.js';
import { trainPartialRM } from '../src/parallel/dispatch.js';
import { benchModel, flag, hasFlag, intFlag, log, machine, median, ROOT, round, table } from './common.js';
import { measureWorkers, workersTable, type WorkersAxis } from './workers-axis.js';

// (a)–(d) measure one thread; the workers axis passes `workers` explicitly.
process.env.PARGS_WORKERS = '1';

const QUICK = hasFlag('quick');
const N = intFlag('pairs', 16);
const L = intFlag('length', 64);
const REPS = intFlag('reps', QUICK ? 1 : 3);
const TOKENS_PER_BATCH = intFlag('tokens-per-batch', 4096);
const SEED = 1;
const HH = resolve(ROOT, '../shared/data/hh-rlhf/harmless-base-test.jsonl.gz');
const PREFIXES = { mode: 'partial', alignment: 'eos', minPrefix: 1 } as const;
const WORKER_PAIRS = intFlag('worker-pairs', 256);
const ONLY_WORKERS = flag('only') === 'workers';

/** HH pairs whose responses both reach L tokens, cut to L; prompts cut to their last L tokens (BOS kept). */
async function hhPairs(lm: CausalLM, N: number): Promise<{ pairs: TokenPair[]; scanned: number }> {
  const set = await loadPreferences(HH);
  const tok = lm.tokenizer;
  const { pairs: encoded } = encodePreferences(set, tok, { maxLength: Number.MAX_SAFE_INTEGER });
  const pairs: TokenPair[] = [];
  let scanned = 0;
  for (const p of encoded) {
    if (pairs.length === N) break;
    scanned++;
    if (p.chosenIds.length < L || p.rejectedIds.length < L) continue;
    const chosenIds = p.chosenIds.slice(0, L);
    const rejectedIds = p.rejectedIds.slice(0, L);
    if (chosenIds.every((id, i) => id === rejectedIds[i])) continue;
    const bos = tok.addsBos && tok.bosTokenId !== null && p.promptIds[0] === tok.bosTokenId;
    const promptIds = bos ? [tok.bosTokenId as number, ...p.promptIds.slice(1).slice(-(L - 1))] : p.promptIds.slice(-L);
    pairs.push({ promptIds, chosenIds, rejectedIds });
  }
  if (pairs.length < N) throw new Error(`only ${pairs.length} of ${encoded.length} HH pairs have both responses ≥ ${L} tokens; lower --pairs or --length`);
  return { pairs, scanned };
}

/** Seeded random-id pairs of the same shape (used only when the HH file is absent). */
function syntheticPairs(lm: CausalLM, N: number): TokenPair[] {
  const rng = createRng(SEED, 'bench:synthetic-pairs');
  const V = Math.min(lm.config.vocabSize, lm.tokenizer.size);
  const ids = (n: number): number[] => Array.from({ length: n }, () => Math.floor(rng() * V));
  return Array.from({ length: N }, () => ({ promptIds: ids(L), chosenIds: ids(L), rejectedIds: ids(L) }));
}

interface Enumerated {
  /** [pair][side] → [prefixes × d], rows in the plan's prefix order (as FeatureStore holds them). */
  features: Float32Array[][];
  sequences: number;
  tokens: number;
  paddedTokens: number;
}

/** The paper's way: each prefix its own sequence; same packing rule and budget as the one-pass pass. */
async function enumerationFeatures(lm: CausalLM, plans: readonly PairPlan[]): Promise<Enumerated> {
  const d = lm.config.hiddenSize;
  const jobs: { pair: number; side: 0 | 1; row: number; ids: number[] }[] = [];
  plans.forEach((plan, pair) => {
    for (const [side, seq, positions] of [[0, plan.chosenSequence, plan.chosenPositions], [1, plan.rejectedSequence, plan.rejectedPositions]] as const) {
      positions.forEach((pos, row) => jobs.push({ pair, side, row, ids: seq.slice(0, pos + 1) }));
    }
  });
  jobs.sort((a, b) => b.ids.length - a.ids.length || a.pair - b.pair || a.side - b.side || a.row - b.row);
  const features = plans.map((p) => [new Float32Array(p.chosenPositions.length * d), new Float32Array(p.rejectedPositions.length * d)]);
  let tokens = 0;
  let paddedTokens = 0;
  for (let start = 0; start < jobs.length; ) {
    const T = jobs[start].ids.length;
    const batch = jobs.slice(start, start + Math.max(1, Math.floor(TOKENS_PER_BATCH / T)));
    start += batch.length;
    const { ids, mask } = leftPad(batch.map((j) => j.ids), lm.padId);
    const out = lm.forward({ ids, mask, logits: 'none' });
    const last = tf.tidy(() => tf.gather(tf.reshape(out.hidden, [-1, d]), tf.tensor1d(Int32Array.from(batch, (_, b) => b * T + T - 1), 'int32'))); // [rows, d]
    out.hidden.dispose();
    const host = (await last.data()) as Float32Array;
    last.dispose();
    batch.forEach((job, b) => {
      features[job.pair][job.side].set(host.subarray(b * d, (b + 1) * d), job.row * d);
      tokens += job.ids.length;
    });
    paddedTokens += T * batch.length;
  }
  return { features, sequences: jobs.length, tokens, paddedTokens };
}

/** Bradley–Terry prefix loss of `head` over all prefix pairs, features given per pair and side. */
async function prefixLoss(head: RewardHead, get: (pair: number, side: 0 | 1) => Float32Array, pairs: number, d: number): Promise<number> {
  const chosen = Array.from({ length: pairs }, (_, p) => get(p, 0));
  const rejected = Array.from({ length: pairs }, (_, p) => get(p, 1));
  const stack = (parts: Float32Array[]): Float32Array => {
    const out = new Float32Array(parts.reduce((s, x) => s + x.length, 0));
    let o = 0;
    for (const x of parts) (out.set(x, o), (o += x.length));
    return out;
  };
  const c = stack(chosen);
  const r = stack(rejected);
  const loss = tf.tidy(() => bradleyTerryPrefixLoss(head.apply(tf.tensor2d(c, [c.length / d, d])), head.apply(tf.tensor2d(r, [r.length / d, d]))));
  const value = (await loss.data())[0];
  loss.dispose();
  return value;
}

function maxAbsDiff(one: PrefixFeatures, en: Enumerated, pairs: number): number {
  let max = 0;
  for (let p = 0; p < pairs; p++) {
    for (const side of [0, 1] as const) {
      const a = one.store.get(p, side);
      const b = en.features[p][side];
      if (a.length !== b.length) throw new Error(`pair ${p} side ${side}: ${a.length} vs ${b.length} feature values`);
      for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
    }
  }
  return max;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const start = performance.now();
  const value = await fn();
  return { ms: performance.now() - start, value };
}

async function main(): Promise<void> {
  const model = await benchModel(flag('model'));
  const { lm } = model;
  const d = lm.config.hiddenSize;
  log(`model: ${model.label}; backend: ${lm.backend.description}`);
  const real = existsSync(HH);
  if (!real) log(`NOTE: ${HH} not found; using synthetic random-id pairs`);
  if (ONLY_WORKERS) {
    const workerPairs = real ? (await hhPairs(lm, WORKER_PAIRS)).pairs : syntheticPairs(lm, WORKER_PAIRS);
    printWorkers(await workersAxis(lm, workerPairs), workerPairs.length, real, model.label, lm.backend.description);
    lm.dispose();
    await model.cleanup();
    return;
  }
  const data = real ? await hhPairs(lm, N) : { pairs: syntheticPairs(lm, N), scanned: 0 };
  const { pairs } = data;
  const eosId = lm.generation.eosTokenIds[0] ?? lm.tokenizer.eosTokenId;
  const plans = pairs.map((p) => planPair(p, { ...PREFIXES, eosId }) as PairPlan);
  const onePass = (): Promise<PrefixFeatures> => extractPrefixFeatures({ backbone: lm, pairs, prefixes: PREFIXES, tokensPerBatch: TOKENS_PER_BATCH });

  log('warm-up…');
  (await onePass()).store.dispose();
  await enumerationFeatures(lm, plans.slice(0, 1));

  const runs = { onePassMs: [] as number[], enumerationMs: [] as number[], trainMs: [] as number[], trainFeatureMs: [] as number[] };
  let first: { one: PrefixFeatures; en: Enumerated } | undefined;
  let trainSteps = 0;
  for (let r = 0; r < REPS; r++) {
    log(`round ${r + 1}/${REPS}: one-pass…`);
    const one = await timed(onePass);
    runs.onePassMs.push(one.ms);
    log(`round ${r + 1}/${REPS}: per-prefix enumeration…`);
    const en = await timed(() => enumerationFeatures(lm, plans));
    runs.enumerationMs.push(en.ms);
    if (!first) first = { one: one.value, en: en.value };
    else one.value.store.dispose();
    log(`round ${r + 1}/${REPS}: trainPartialRM (1 epoch)…`);
    let featuresEnd = 0;
    const start = performance.now();
    const rm = await trainPartialRM({
      backbone: lm,
      pairs,
      epochs: 1,
      seed: SEED,
      tokensPerBatch: TOKENS_PER_BATCH,
      onProgress: (e) => {
        if (e.kind === 'features' && e.split === 'train') featuresEnd = performance.now();
        if (e.kind === 'step') trainSteps = e.totalSteps;
      },
    });
    runs.trainMs.push(performance.now() - start);
    runs.trainFeatureMs.push(featuresEnd - start);
    rm.dispose();
  }

  const { one, en } = first as { one: PrefixFeatures; en: Enumerated };
  const head = RewardHead.init({ kind: 'linear' }, d, createRng(SEED, 'bench:head'));
  const lossOne = await prefixLoss(head, (p, s) => one.store.get(p, s), pairs.length, d);
  const lossEn = await prefixLoss(head, (p, s) => en.features[p][s], pairs.length, d);
  const diff = maxAbsDiff(one, en, pairs.length);
  head.dispose();
  const oneStats = one.stats;
  one.store.dispose();

  const onePassMs = median(runs.onePassMs);
  const enumerationMs = median(runs.enumerationMs);
  const trainMs = median(runs.trainMs);
  const shares = runs.trainFeatureMs.map((f, i) => f / runs.trainMs[i]);
  const report = {
    benchmark: 'train',
    date: new Date().toISOString(),
    machine: machine(),
    backend: lm.backend.description,
    model: model.label,
    data: {
      source: real ? 'hh-rlhf harmless-base-test (first qualifying pairs)' : 'SYNTHETIC random ids (HH file absent)',
      pairs: pairs.length,
      scanned: data.scanned,
      responseLength: L,
      promptTokens: pairs.map((p) => p.promptIds.length),
      tokensPerBatch: TOKENS_PER_BATCH,
    },
    reps: REPS,
    onePass: { ms: round(onePassMs, 1), sequences: oneStats.sequences, tokens: oneStats.tokens, paddedTokens: oneStats.paddedTokens },
    enumeration: { ms: round(enumerationMs, 1), sequences: en.sequences, tokens: en.tokens, paddedTokens: en.paddedTokens },
    /** Median over rounds of enumeration ÷ one-pass, each pair measured back to back. */
    ratio: round(median(runs.enumerationMs.map((e, i) => e / runs.onePassMs[i])), 1),
    agreement: { maxAbsFeatureDiff: diff, lossOnePass: lossOne, lossEnumeration: lossEn, lossAbsDiff: Math.abs(lossOne - lossEn), lossWithin1e5: Math.abs(lossOne - lossEn) <= 1e-5 },
    train: { ms: round(trainMs, 1), featurePassMs: round(median(runs.trainFeatureMs), 1), featurePassShare: round(median(shares), 4), steps: trainSteps },
    runs: Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, v.map((x) => round(x, 1))])),
    loadAverage1mAfter: machine().loadAverage1m,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n`);
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  process.stdout.write(
    `Training benchmark, ${report.date.slice(0, 10)}, ${report.machine.cpu} (${report.machine.cores} cores, load ${report.machine.loadAverage1m} → ${report.loadAverage1mAfter}), ` +
      `Node ${report.machine.node}, tfjs ${report.machine.tfjs}, ${report.backend}; ${report.model}; ${report.data.source}: ${pairs.length} pairs, responses ${L} tokens, ` +
      `prompts ≤ ${L} tokens; ${TOKENS_PER_BATCH} padded tokens per batch; median of ${REPS} interleaved round(s)\n\n`,
  );
  process.stdout.write(
    `${table(
      ['feature pass', 'sequences', 'tokens (padded)', 'ms (median)', 'time ratio (median of per-round ratios)'],
      [
        ['one pass (`extractPrefixFeatures`)', `${oneStats.sequences}`, `${oneStats.tokens} (${oneStats.paddedTokens})`, onePassMs.toFixed(0), '1×'],
        ['per-prefix enumeration (paper)', `${en.sequences}`, `${en.tokens} (${en.paddedTokens})`, enumerationMs.toFixed(0), `**${report.ratio.toFixed(1)}×** (target ≥ 10×)`],
      ],
    )}\n\n`,
  );
  process.stdout.write(
    `${table(
      ['check', 'value'],
      [
        ['max abs difference of features, one pass vs enumeration', diff.toExponential(2)],
        ['BT prefix loss, one pass / enumeration (seeded linear head)', `${lossOne.toPrecision(9)} / ${lossEn.toPrecision(9)}`],
        ['abs difference of the losses ≤ 1e-5', `${report.agreement.lossWithin1e5 ? 'yes' : 'NO'} (${report.agreement.lossAbsDiff.toExponential(2)})`],
        ['`trainPartialRM`, 1 epoch: total ms', `${trainMs.toFixed(0)} (${trainSteps} optimizer steps)`],
        ['of which feature pass (start → last `features` event)', `${report.train.featurePassMs.toFixed(0)} ms = **${pct(report.train.featurePassShare)}** (target ≥ 90 %)`],
      ],
    )}\n`,
  );
  const workerPairs = real ? (await hhPairs(lm, WORKER_PAIRS)).pairs : syntheticPairs(lm, WORKER_PAIRS);
  printWorkers(await workersAxis(lm, workerPairs), workerPairs.length, real, model.label, lm.backend.description);
  lm.dispose();
  await model.cleanup();
}

/** (e): the feature pass with 1, 2, … workers, side by side. */
async function workersAxis(lm: CausalLM, pairs: TokenPair[]): Promise<WorkersAxis> {
  const pass = (workers: number) => extractPrefixFeatures({ backbone: lm, pairs, prefixes: PREFIXES, tokensPerBatch: TOKENS_PER_BATCH, workers });
  const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
  const bits = (f: PrefixFeatures): Buffer => Buffer.concat(f.pairIndices.flatMap((p) => [bytes(f.store.get(p, 0)), bytes(f.store.get(p, 1))]));
  return measureWorkers('feature pass', REPS, async (n) => {
    const f = await pass(n);
    const out = bits(f);
    f.store.dispose();
    return out;
  }, (a, b) => a.equals(b));
}

function printWorkers(axis: WorkersAxis, pairs: number, real: boolean, model: string, backend: string): void {
  const m = machine();
  process.stdout.write(`${JSON.stringify({ benchmark: 'train-workers', date: new Date().toISOString(), machine: m, backend, model, pairs, responseLength: L, tokensPerBatch: TOKENS_PER_BATCH, ...axis }, null, 2)}\n\n`);
  process.stdout.write(
    `Feature pass on worker threads, ${new Date().toISOString().slice(0, 10)}, ${m.cpu} (${m.cores} cores, load ${m.loadAverage1m} after), ${backend}; ${model}; ` +
      `${pairs} ${real ? 'HH' : 'synthetic'} pairs, responses ${L} tokens; ${TOKENS_PER_BATCH} padded tokens per batch; start-up included; median of ${axis.reps} interleaved round(s)\n\n`,
  );
  process.stdout.write(`${workersTable(axis, 'feature pass')}\n`);
}

await main();
