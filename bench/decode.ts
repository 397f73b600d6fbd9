/**
 * Decoding benchmark: tokens/s of plain sampling and of reward-guided decoding, as ratios measured side
 * by side in one run, and the cost of a guided token against its inherent cost.
 *
 *   npx tsx bench/decode.ts [--model DIR] [--quick] [--reps R] [--only bundled|gpt2|workers|bridge] [--prompt-length P]
 *                           [--workers 1,2] [--worker-prompts N]
 *   (default rounds: 5 on the bundled size, 3 at GPT-2-small shapes; --quick: 1)
 *
 * Models: `--model DIR` (e.g. models/sotu-lm), else a random Llama of the bundled model's size in a temp
 * folder; and GPT-2-small shapes with random weights in memory. Per model and batch size (1, 8), in
 * R interleaved rounds: plain sampling (`generate`, top-k 10), PARGS fused (the reward backbone is the
 * LM), PARGS with a separate reward backbone (a second load of the same weights), ARGS (full-sequence
 * reward model, fused), PARGS with a vocabulary reward head (FaRMA, fused: one LM step per token) at
 * top-k 10 and at topK = V (the exact policy) — k = 10, 64 new tokens, EOS ignored; the official-style no-cache loop at B = 1
 * (64 tokens on the bundled size; at GPT-2-small shapes only 8, from a prompt lengthened to the 64-token
 * run's mean length); and the inherent cost of a guided token with a piece-by-piece profile of the rest
 * (bench/decode-cost.ts). The guided-step ÷ inherent ratio is measured at the finest grain the machine
 * allows (it is shared, and its speed drifts by 2× within a minute): inside an instrumented PARGS run, the
 * inherent cost is sampled at every even step (from the onToken hook, so in the state a real step
 * meets) and the clean cycle of the following odd → even step is the guided step it is paired with.
 * Reward heads are seeded random linear heads: speed does not depend on their values.
 * Workers axis (bundled size only): PARGS fused on `--worker-prompts` prompts (default 64), k = 10,
 * 64 new tokens, with `--workers 1,2` (any list) worker threads, start-up included, outputs checked
 * identical; `--only workers` runs it alone. Text-bridge axis (bench/bridge-axis.ts; with the bundled
 * model, or alone with `--only bridge`): PARGS with a reward model on another tokenizer ÷ the fused path.
 * Everything else runs in this thread (PARGS_WORKERS=1).
 * Prints one JSON object, then Markdown tables. Progress goes to stderr.
 */
import { argsSample } from '../src/parallel/dispatch.js';
import { generate } from '../src/parallel/dispatch.js';
import { type GuidedSampleOptions } from '../src/decode/guided.js';
import { guidedSample } from '../src/parallel/dispatch.js';
import { guidedSampleNoCache } from '../src/decode/reference-loop.js';
import { currentBackend } from '../src/engine/backend.js';
import { tf } from '../src/engine/tf.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { createRng } from '../src/random.js';
import { RewardHead } from '../src/reward/head.js';
import { PartialRewardModel } from '../src/reward/reward-model.js';
import { benchModel, flag, GPT2_SMALL_LABEL, gpt2SmallInMemory, hasFlag, intFlag, loadAverage, log, machine, median, round, table } from './common.js';
import { costProbe, PARTS, type Part } from './decode-cost.js';
import { measureWorkers, workersTable, type WorkersAxis } from './workers-axis.js';
import { bridgeTable, measureBridge, type BridgeAxis } from './bridge-axis.js';

// The per-method figures measure one thread; the workers axis passes `workers` explicitly.
process.env.PARGS_WORKERS = '1';

const QUICK = hasFlag('quick');
const ONLY = flag('only');
const PROMPT = intFlag('prompt-length', 32);
const K = 10;
const NEW = 64;
const BATCHES = [1, 8];
const SEED = 1;
const BETA = 2;
const METHODS = ['plain', 'pargs', 'pargsSeparate', 'args', 'pargsVocabTopK', 'pargsVocabExact'] as const;
type Method = (typeof METHODS)[number];

interface Spec {
  key: 'bundled' | 'gpt2';
  label: string;
  lm: CausalLM;
  /** A second, independent copy of the same weights: the separate reward backbone. */
  twin: CausalLM;
  noCacheTokens: number;
  reps: number;
}

interface Run {
  ms: number;
  /** Steady-state ms per decoding step (all B rows), from the first token of step 0 to the last of step NEW − 1. */
  stepMs: number;
  ids: number[][];
}

interface BatchResult {
  B: number;
  /** tokens/s and steady ms per step: medians over rounds; vsPlain: median of the per-round ratios. */
  methods: Record<Method, { tokensPerSecond: number; stepMs: number; vsPlain: number }>;
  /** From the instrumented runs: guided step (clean cycles) and inherent cost in loop state, medians. */
  guidedStepMs: number;
  inherentMs: number;
  /** Inherent cost repeated back-to-back (caches hot), for reference. */
  inherentWarmMs: number;
  /** Median over adjacent (guided cycle, inherent sample) pairs of their ratio. */
  guidedOverInherent: number;
  separateOverFused: number;
  /** Vocabulary-head PARGS tokens/s ÷ k-candidate PARGS tokens/s (fused both), median of per-round ratios. */
  vocabTopKOverPargs: number;
  vocabExactOverPargs: number;
  fusedEqualsSeparate: boolean;
  /** No-cache ms/token (B = 1, same round) ÷ PARGS ms per generated token at this B; median over rounds. */
  speedUpOverNoCache: number;
  profile: Record<Part, number> & { rest: number };
}

function emptyPerMethod<T>(): Record<Method, T[]> {
  return Object.fromEntries(METHODS.map((m) => [m, [] as T[]])) as Record<Method, T[]>;
}

function prompts(lm: CausalLM, B: number, length = PROMPT): number[][] {
  const rng = createRng(SEED, 'bench:prompts');
  const V = lm.config.vocabSize;
  return Array.from({ length: B }, () => Array.from({ length }, () => Math.floor(rng() * V)));
}

async function measure(spec: Spec) {
  const { lm, twin } = spec;
  const d = lm.config.hiddenSize;
  const head = (): RewardHead => RewardHead.init({ kind: 'linear' }, d, createRng(SEED, 'bench:head'));
  const rm = new PartialRewardModel(lm, head(), 'partial');
  const rmSeparate = new PartialRewardModel(twin, head(), 'partial');
  const rmFull = new PartialRewardModel(lm, head(), 'full');
  // Zero weights: speed does not depend on the values, and a zero head keeps the tokens comparable.
  const V = lm.config.vocabSize;
  const rmVocab = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [{ name: 'weight', shape: [d, V], data: new Float32Array(d * V) }, { name: 'bias', shape: [V], data: new Float32Array(V) }]), 'partial');
  const tensorsBefore = tf.memory().numTensors;
  const guidedOptions = (B: number, maxNewTokens: number, onToken: (e: { row: number; step: number }) => void): GuidedSampleOptions => ({
    lm, rewardModel: rm, promptIds: prompts(lm, B), beta: BETA, topK: K, maxNewTokens, stop: { eos: false }, seed: SEED, onToken,
  });

  const run = async (method: Method, B: number, maxNewTokens = NEW): Promise<Run> => {
    let first = 0;
    let last = 0;
    const onToken = (e: { step: number }): void => {
      if (e.step === 0 && first === 0) first = performance.now();
      if (e.step === maxNewTokens - 1) last = performance.now();
    };
    const guided = guidedOptions(B, maxNewTokens, onToken);
    const start = performance.now();
    let ids: number[][];
    if (method === 'plain') {
      ids = (await generate({ lm, promptIds: guided.promptIds, maxNewTokens, strategy: { kind: 'sample', topK: K }, stopAtEos: false, seed: SEED, onToken })).map((g) => g.generatedIds);
    } else if (method === 'args') {
      // ARGS takes `weight`, not `beta` (its options are checked strictly).
      const { beta: _beta, ...argsOptions } = guided;
      ids = (await argsSample({ ...argsOptions, rewardModel: rmFull, weight: 1.5 })).map((g) => g.generatedIds);
    } else if (method === 'pargsVocabTopK' || method === 'pargsVocabExact') {
      ids = (await guidedSample({ ...guided, rewardModel: rmVocab, topK: method === 'pargsVocabExact' ? V : K })).map((g) => g.generatedIds);
    } else {
      ids = (await guidedSample(method === 'pargs' ? guided : { ...guided, rewardModel: rmSeparate })).map((g) => g.generatedIds);
    }
    return { ms: performance.now() - start, stepMs: (last - first) / Math.max(1, maxNewTokens - 1), ids };
  };

  // Inherent cost at the mean cache length of a NEW-token run; one probe per batch size.
  const probes = new Map(BATCHES.map((B) => [B, costProbe(lm, rm, B, K, PROMPT + NEW / 2, SEED)]));
  /** A PARGS run that samples the inherent cost and the pieces at even steps, and times the clean odd → even cycles. */
  const instrumented = async (B: number) => {
    const probe = probes.get(B)!;
    const out = { pairs: [] as { cycle: number; inherent: number }[], parts: [] as Record<Part, number>[] };
    let enter = 0;
    let inherent = 0;
    await guidedSample(guidedOptions(B, NEW, (e) => {
      if (e.row !== 0) return;
      const t = performance.now();
      if (e.step % 2 === 1) enter = t;
      else if (e.step > 0) out.pairs.push({ cycle: t - enter, inherent });
      if (e.step % 2 === 0 && e.step < NEW - 1) {
        inherent = probe.inherent();
        out.parts.push(probe.parts());
      }
    }));
    return out;
  };

  log(`[${spec.key}] warm-up…`);
  for (const B of BATCHES) for (const m of METHODS) await run(m, B, 4);
  for (const p of probes.values()) p.inherent();

  // No-cache loop, B = 1. Bundled size: the same prompt and all NEW tokens (its tokens must equal
  // PARGS's). GPT-2-small shapes: `noCacheTokens` tokens from a prompt lengthened so that their
  // sequence lengths straddle the mean length of the NEW-token run.
  const short = spec.noCacheTokens < NEW;
  const ncPrompt = prompts(lm, 1, short ? PROMPT + NEW / 2 - spec.noCacheTokens / 2 : PROMPT);
  const noCacheRun = async (): Promise<{ msPerToken: number; ids: number[] }> => {
    const start = performance.now();
    const out = await guidedSampleNoCache({ lm, rewardModel: rm, promptIds: ncPrompt, beta: BETA, topK: K, maxNewTokens: spec.noCacheTokens, stop: { eos: false }, seed: SEED });
    return { msPerToken: (performance.now() - start) / spec.noCacheTokens, ids: out[0].generatedIds };
  };

  type Acc = { runs: Record<Method, Run[]>; vsPlain: Record<Method, number[]>; speedUp: number[]; pairs: { cycle: number; inherent: number }[]; parts: Record<Part, number>[]; warm: number[] };
  const acc = new Map<number, Acc>(BATCHES.map((B) => [B, { runs: emptyPerMethod<Run>(), vsPlain: emptyPerMethod<number>(), speedUp: [], pairs: [], parts: [], warm: [] }]));
  const noCacheMs: number[] = [];
  let noCacheSame = true;
  for (let r = 0; r < spec.reps; r++) {
    let roundNoCache = 0;
    for (const B of BATCHES) {
      const a = acc.get(B)!;
      const probe = probes.get(B)!;
      a.warm.push(median([probe.inherent(), probe.inherent(), probe.inherent(), probe.inherent(), probe.inherent()]));
      for (const m of METHODS) {
        log(`[${spec.key}] round ${r + 1}/${spec.reps}, B=${B}: ${m}…`);
        const result = await run(m, B);
        a.runs[m].push(result);
        if (m === 'pargs' && B === 1) {
          log(`[${spec.key}] round ${r + 1}/${spec.reps}: no-cache loop, B=1, ${spec.noCacheTokens} tokens${short ? ' (mid-run lengths)' : ''}…`);
          const nc = await noCacheRun();
          roundNoCache = nc.msPerToken;
          noCacheMs.push(nc.msPerToken);
          if (!short) noCacheSame &&= nc.ids.every((t, i) => t === result.ids[0][i]);
        }
      }
      for (const m of METHODS) a.vsPlain[m].push(a.runs.plain[r].ms / a.runs[m][r].ms);
      a.speedUp.push(roundNoCache / (a.runs.pargs[r].stepMs / B));
      log(`[${spec.key}] round ${r + 1}/${spec.reps}, B=${B}: instrumented PARGS run…`);
      const inst = await instrumented(B);
      a.pairs.push(...inst.pairs);
      a.parts.push(...inst.parts);
    }
  }
  for (const p of probes.values()) p.dispose();

  const batches = BATCHES.map((B): BatchResult => {
    const a = acc.get(B)!;
    const methods = Object.fromEntries(
      METHODS.map((m) => [m, { tokensPerSecond: round((B * NEW) / (median(a.runs[m].map((x) => x.ms)) / 1000), 1), stepMs: round(median(a.runs[m].map((x) => x.stepMs)), 2), vsPlain: round(median(a.vsPlain[m]), 3) }]),
    ) as BatchResult['methods'];
    const parts = Object.fromEntries(PARTS.map((k) => [k, round(median(a.parts.map((p) => p[k])), 3)])) as Record<Part, number>;
    const guidedStepMs = median(a.pairs.map((p) => p.cycle));
    const inherentMs = median(a.pairs.map((p) => p.inherent));
    const perStep = PARTS.filter((k) => k !== 'compaction').reduce((s, k) => s + parts[k], 0);
    return {
      B,
      methods,
      guidedStepMs: round(guidedStepMs, 2),
      inherentMs: round(inherentMs, 2),
      inherentWarmMs: round(median(a.warm), 2),
      guidedOverInherent: round(median(a.pairs.map((p) => p.cycle / p.inherent)), 3),
      separateOverFused: round(median(a.runs.pargsSeparate.map((x, i) => x.stepMs / a.runs.pargs[i].stepMs)), 3),
      vocabTopKOverPargs: round(median(a.runs.pargsVocabTopK.map((x, i) => a.runs.pargs[i].ms / x.ms)), 3),
      vocabExactOverPargs: round(median(a.runs.pargsVocabExact.map((x, i) => a.runs.pargs[i].ms / x.ms)), 3),
      fusedEqualsSeparate: a.runs.pargs.every((x, i) => JSON.stringify(x.ids) === JSON.stringify(a.runs.pargsSeparate[i].ids)),
      speedUpOverNoCache: round(median(a.speedUp), 1),
      profile: { ...parts, rest: round(guidedStepMs - inherentMs - perStep, 2) },
    };
  });
  const leaked = tf.memory().numTensors - tensorsBefore;
  if (leaked !== 0) log(`[${spec.key}] WARNING: ${leaked} tensors leaked`);
  [rm, rmSeparate, rmFull, rmVocab].forEach((x) => x.dispose());
  const noCache = { tokens: spec.noCacheTokens, promptLength: ncPrompt[0].length, msPerToken: round(median(noCacheMs), 1), sameTokensAsPargs: short ? null : noCacheSame };
  return { model: spec.label, reps: spec.reps, batches, noCache };
}

function markdown(r: Awaited<ReturnType<typeof measure>>): string {
  const cols = r.batches.map((b) => `B = ${b.B}`);
  const row = (label: string, f: (b: BatchResult) => string): string[] => [label, ...r.batches.map(f)];
  const tps = (m: Method) => (b: BatchResult): string => `${b.methods[m].tokensPerSecond.toFixed(1)} (${b.methods[m].vsPlain.toFixed(2)}×)`;
  const nc = r.noCache;
  const speed = table([`tokens/s (÷ plain), k = 10, 64 new tokens, ${r.reps} rounds`, ...cols], [
    row('plain sampling (`generate`, top-k 10)', tps('plain')),
    row('PARGS, fused (reward backbone = LM)', tps('pargs')),
    row('PARGS, separate reward backbone (2nd load)', tps('pargsSeparate')),
    row('ARGS (full-sequence RM, fused)', tps('args')),
    row('**PARGS, vocabulary head (FaRMA), top-k 10** (target ≥ 0.8× plain)', tps('pargsVocabTopK')),
    row('**PARGS, vocabulary head, exact policy (topK = V)** (target ≥ 0.7× plain)', tps('pargsVocabExact')),
    row('vocabulary head ÷ k-candidate PARGS: top-k / exact', (b) => `${b.vocabTopKOverPargs.toFixed(2)}× / ${b.vocabExactOverPargs.toFixed(2)}×`),
    row('steady ms/step: plain / PARGS / PARGS separate / ARGS / vocab top-k / vocab exact', (b) => METHODS.map((m) => b.methods[m].stepMs.toFixed(1)).join(' / ')),
    row('separate ÷ fused PARGS step', (b) => `${b.separateOverFused.toFixed(2)}×`),
    row(
      nc.sameTokensAsPargs === null
        ? `no-cache loop (official style), B = 1, **only ${nc.tokens} tokens** from a ${nc.promptLength}-token prompt (mid-run lengths): ms/token`
        : `no-cache loop (official style), B = 1, ${nc.tokens} tokens: ms/token`,
      () => nc.msPerToken.toFixed(0),
    ),
    row('**PARGS ÷ no-cache speed-up per token** (target ≥ 30×)', (b) => `**${b.speedUpOverNoCache.toFixed(0)}×**`),
    row('guided step (instrumented run, clean cycles), ms', (b) => b.guidedStepMs.toFixed(2)),
    row('inherent: k-row step + 1 LM-head row per row, ms (in loop / warm)', (b) => `${b.inherentMs.toFixed(2)} / ${b.inherentWarmMs.toFixed(2)}`),
    row('**guided step ÷ inherent** (adjacent pairs; target ≤ 1.25×)', (b) => `**${b.guidedOverInherent.toFixed(2)}×**`),
    row(`same tokens: fused = separate${nc.sameTokensAsPargs === null ? '' : ' (B = 1: = no-cache)'}`, (b) => `${b.fusedEqualsSeparate ? 'yes' : 'NO'}${b.B === 1 && nc.sameTokensAsPargs !== null ? (nc.sameTokensAsPargs ? ', yes' : ', NO') : ''}`),
  ]);
  const pct = (b: BatchResult, x: number): string => `${x.toFixed(2)} (${((100 * x) / b.guidedStepMs).toFixed(1)} %)`;
  const profile = table(['one guided step, ms (% of the step)', ...cols], [
    row('guided step', (b) => b.guidedStepMs.toFixed(2)),
    row('inherent: k-row step + LM-head row', (b) => pct(b, b.inherentMs)),
    row('reading the [B, V] logits', (b) => pct(b, b.profile.readLogits)),
    row('host log-softmax + top-k over V', (b) => pct(b, b.profile.logSoftmaxTopK)),
    row('reward head on B·k rows + read', (b) => pct(b, b.profile.rewardHead)),
    row('cache append (chosen candidates)', (b) => pct(b, b.profile.cacheAppend)),
    row('token text decode', (b) => pct(b, b.profile.textDecode)),
    row('rest (JS, bookkeeping, GC)', (b) => pct(b, b.profile.rest)),
    row('compaction (once per finished row; not in these runs)', (b) => (b.B > 1 ? b.profile.compaction.toFixed(2) : '–')),
  ]);
  return `**${r.model}**\n\n${speed}\n\n${profile}\n`;
}

const WORKER_PROMPTS = intFlag('worker-prompts', 64);

/** Multi-prompt PARGS (fused) with 1, 2, … workers, side by side. */
async function workersAxis(lm: CausalLM, reps: number): Promise<WorkersAxis> {
  const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(SEED, 'bench:head')), 'partial');
  const promptIds = prompts(lm, WORKER_PROMPTS);
  const axis = await measureWorkers('multi-prompt PARGS', reps, async (workers) => {
    const out = await guidedSample({ lm, rewardModel: rm, promptIds, beta: BETA, topK: K, maxNewTokens: NEW, stop: { eos: false }, seed: SEED, workers });
    return JSON.stringify(out);
  }, (a, b) => a === b);
  rm.dispose();
  return axis;
}

function printBridge(axis: BridgeAxis, loadBefore: number): void {
  const m = machine();
  process.stdout.write(`${JSON.stringify({ benchmark: 'decode-bridge', date: new Date().toISOString(), machine: m, backend: currentBackend()?.description, ...axis }, null, 2)}\n\n`);
  process.stdout.write(`Text bridge, ${new Date().toISOString().slice(0, 10)}, ${m.cpu} (${m.cores} cores, load ${loadBefore} → ${loadAverage()}), ${currentBackend()?.description}; ${axis.model}; text prompts, EOS ignored; median of ${axis.reps} interleaved round(s)\n\n${bridgeTable(axis)}\n`);
}

function printWorkers(axis: WorkersAxis, label: string, loadBefore: number): void {
  const m = machine();
  process.stdout.write(`${JSON.stringify({ benchmark: 'decode-workers', date: new Date().toISOString(), machine: m, backend: currentBackend()?.description, model: label, prompts: WORKER_PROMPTS, promptLength: PROMPT, k: K, newTokens: NEW, ...axis }, null, 2)}\n\n`);
  process.stdout.write(
    `Multi-prompt PARGS on worker threads, ${new Date().toISOString().slice(0, 10)}, ${m.cpu} (${m.cores} cores, load ${loadBefore} → ${loadAverage()}), ${currentBackend()?.description}; ${label}; ` +
      `${WORKER_PROMPTS} prompts of ${PROMPT} random ids, k = ${K}, ${NEW} new tokens, EOS ignored; start-up included; median of ${axis.reps} interleaved round(s)\n\n`,
  );
  process.stdout.write(`${workersTable(axis, 'PARGS, fused', { unit: 'tokens/s', amount: WORKER_PROMPTS * NEW })}\n`);
}

async function main(): Promise<void> {
  const results = [];
  if (ONLY === 'workers') {
    const loadBefore = loadAverage();
    const m = await benchModel(flag('model'));
    printWorkers(await workersAxis(m.lm, flag('reps') === undefined ? (QUICK ? 1 : 3) : intFlag('reps', 1)), m.label, loadBefore);
    m.lm.dispose();
    await m.cleanup();
    return;
  }
  if (ONLY === 'bridge') {
    const loadBefore = loadAverage();
    printBridge(await measureBridge(flag('reps') === undefined ? (QUICK ? 1 : 3) : intFlag('reps', 1)), loadBefore);
    return;
  }
  const loadBefore = loadAverage();
  let workers: { axis: WorkersAxis; label: string } | undefined;
  const reps = flag('reps') === undefined ? undefined : intFlag('reps', 1);
  if (ONLY !== 'gpt2') {
    const m = await benchModel(flag('model'));
    log(`model: ${m.label}; backend: ${m.lm.backend.description}`);
    const twin = await m.reload();
    results.push(await measure({ key: 'bundled', label: m.label, lm: m.lm, twin, noCacheTokens: NEW, reps: reps ?? (QUICK ? 1 : 5) }));
    workers = { axis: await workersAxis(m.lm, reps ?? (QUICK ? 1 : 3)), label: m.label };
    [m.lm, twin].forEach((x) => x.dispose());
    await m.cleanup();
  }
  if (ONLY !== 'bundled') {
    log(`model: ${GPT2_SMALL_LABEL}…`);
    const lm = await gpt2SmallInMemory(1);
    const twin = await gpt2SmallInMemory(1);
    results.push(await measure({ key: 'gpt2', label: GPT2_SMALL_LABEL, lm, twin, noCacheTokens: 8, reps: reps ?? (QUICK ? 1 : 3) }));
    [lm, twin].forEach((x) => x.dispose());
  }
  const report = { benchmark: 'decode', date: new Date().toISOString(), machine: machine(), backend: currentBackend()?.description, loadAverage1m: { before: loadBefore, after: loadAverage() }, quick: QUICK, k: K, newTokens: NEW, promptLength: PROMPT, beta: BETA, results };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n`);
  const m = report.machine;
  process.stdout.write(
    `Decoding benchmark, ${report.date.slice(0, 10)}, ${m.cpu} (${m.cores} cores, load ${loadBefore} → ${report.loadAverage1m.after}), Node ${m.node}, tfjs ${m.tfjs}, ${report.backend}; ` +
      `prompts ${PROMPT} random ids, k = ${K}, ${NEW} new tokens, EOS ignored; all figures from one run, methods interleaved per round${QUICK ? ', --quick' : ''}\n\n`,
  );
  for (const r of results) process.stdout.write(`${markdown(r)}\n`);
  if (workers) printWorkers(workers.axis, workers.label, loadBefore);
  if (ONLY !== 'gpt2') printBridge(await measureBridge(reps ?? (QUICK ? 1 : 3)), loadAverage());
}

await main();
