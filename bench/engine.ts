/**
 * Engine benchmark: how close the transformer forward pass comes to the backend's own matMul speed.
 *
 *   npx tsx bench/engine.ts [--quick] [--profile]      (or: npm run bench:engine -- --quick)
 *
 * For each model shape (random weights built in memory, no files) it measures, side by side in one run:
 * the backend's matMul GFLOP/s at the shapes the forward uses; batched prefill (B = 4, T = 128, logits for
 * the last position) in tokens/s and in GFLOP/s from the exact FLOP count of the forward; single-token
 * cached decoding (B = 1 after a 64-token prefix); and a 10-row candidate step (10 rows broadcast from that
 * cache, plus one LM-head row) against the 1-row step. Every figure is the median of several timed runs
 * after warm-up; matMul rates are measured interleaved with the prefill runs and the 1-row and 10-row
 * steps alternate, so each ratio compares runs made under the same machine load (the JSON records the
 * load average: on a 2-core machine another busy process slows everything). `--profile` adds a
 * breakdown by kernel kind for the first model. Prints one JSON object, then Markdown tables; progress
 * goes to stderr.
 */
import os from 'node:os';
import { initBackend } from '../src/engine/backend.js';
import { measureMatMulGflops } from '../src/engine/matmul-speed.js';
import { tf } from '../src/engine/tf.js';
import type { ModelConfig } from '../src/lm/config.js';
import { expectedShapes, paramTensors } from '../src/lm/params.js';
import { Transformer } from '../src/lm/transformer.js';
import { profileKinds, profileTable, type ProfileResult } from './engine-profile.js';
import { configOf, forwardFlops, GPT2_SMALL, LLAMA_4x256, LLAMA_6x384, randomParams, type BenchShape, type ForwardWork } from './engine-model.js';

const QUICK = process.argv.includes('--quick');
/** Also break the GPT-2-small prefill and steps down by kernel kind (tf.profile). */
const PROFILE = process.argv.includes('--profile');
const PREFILL = { B: 4, T: 128 };
const PREFIX = 64;
const CANDIDATES = 10;
const REPS = QUICK ? { prefill: 3, step: 7 } : { prefill: 7, step: 21 };
/** FLOPs per matMul-rate measurement (~0.1–0.2 s here), so small shapes are timed as long as big ones. */
const MATMUL_FLOP = QUICK ? 2e9 : 4e9;

const log = (msg: string): void => void process.stderr.write(`${msg}\n`);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One timed run of `fn` in ms. */
function once(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

/** Deterministic token ids (the values do not affect speed). */
function tokenRows(B: number, T: number, vocab: number, salt: number): number[][] {
  return Array.from({ length: B }, (_, b) => Array.from({ length: T }, (_, t) => (salt * 7919 + b * 131 + t * 17) % vocab));
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

interface ModelResult {
  model: string;
  parameters: number;
  matMulGflops: Record<string, number>;
  prefill: { B: number; T: number; ms: number; tokensPerSecond: number; gflop: number; flops: ForwardWork; gflops: number; fractionOfMatMul: number; fractionOf512: number; fractionOfProjections: number };
  decode: { prefix: number; msPerToken: number; tokensPerSecond: number; gflops: number };
  candidates: { rows: number; stepMs: number; oneRowMs: number; ratio: number; broadcastMs: number; gflops: number };
  tensorsLeaked: number;
  /** 1-minute load average when this model finished (2 cores: above ~1 means the other core was busy). */
  loadAverage1m: number;
  /** With --profile, first model only: kernel time by kind for one prefill, 1-row and 10-row step. */
  profile?: Record<string, ProfileResult>;
}

async function benchModel(shape: BenchShape, profile: boolean): Promise<ModelResult> {
  const c: ModelConfig = configOf(shape);
  const before = tf.memory().numTensors;
  log(`[${shape.name}] building random weights…`);
  const params = randomParams(c, 1);
  const model = new Transformer(c, params);
  const parameters = paramTensors(params).reduce((s, t) => s + t.size, 0) - (c.tieWordEmbeddings ? params.lmHead.size : 0);
  const d = c.hiddenSize;
  const { qkvOut, mlpIn } = expectedShapes(c);
  const N = PREFILL.B * PREFILL.T;

  // The forward's four projection shapes and a 512³ reference, each measured interleaved with the
  // prefill runs below, so both see the same machine load (the other core may be busy).
  const I = c.intermediateSize;
  const HD = c.numHeads * c.headDim;
  const mm: [string, number, number, number][] = [
    [`[${N},${d}]x[${d},${qkvOut}]`, N, d, qkvOut],
    [`[${N},${d}]x[${d},${mlpIn}]`, N, d, mlpIn],
    [`[${N},${I}]x[${I},${d}]`, N, I, d],
    [`[${N},${HD}]x[${HD},${d}]`, N, HD, d],
    ['[512,512]x[512,512]', 512, 512, 512],
  ];
  const ids = tokenRows(PREFILL.B, PREFILL.T, c.vocabSize, 1);
  const prefill = (): void => {
    const out = model.forward({ ids, logits: 'last' });
    out.logits!.dataSync(); // [B, V]
    out.hidden.dispose();
    out.logits!.dispose();
  };
  log(`[${shape.name}] prefill B=${PREFILL.B} T=${PREFILL.T}, interleaved with matMul rates…`);
  prefill(); // warm-up: first-use kernel setup and heap growth
  for (const [, m, k, n] of mm) measureMatMulGflops(m, k, n, { iterations: 1, warmup: 1 });
  const rateRuns: number[][] = mm.map(() => []);
  const prefillRuns: number[] = [];
  for (let r = 0; r < REPS.prefill; r++) {
    // warmup 1: XNNPACK packs a new right operand on its first product; the forward's weights stay packed.
    mm.forEach(([, m, k, n], i) => {
      const iterations = Math.max(2, Math.ceil(MATMUL_FLOP / (2 * m * k * n)));
      rateRuns[i].push(measureMatMulGflops(m, k, n, { iterations, warmup: 1, seed: r }));
    });
    prefillRuns.push(once(prefill));
  }
  const rates = rateRuns.map(median);
  const [qkvRate, mlpInRate, mlpOutRate, attnOutRate, ref512] = rates;
  // The time the four projections would take at their isolated speeds: the forward's own ideal.
  const perToken = { qkv: d * qkvOut, mlpIn: d * mlpIn, mlpOut: I * d, attnOut: HD * d };
  const projTotal = perToken.qkv + perToken.mlpIn + perToken.mlpOut + perToken.attnOut;
  const projectionRate = projTotal / (perToken.qkv / qkvRate + perToken.mlpIn / mlpInRate + perToken.mlpOut / mlpOutRate + perToken.attnOut / attnOutRate);
  const prefillMs = median(prefillRuns);
  const prefillWork = forwardFlops(c, PREFILL.B, PREFILL.T, 0, PREFILL.B);
  const prefillRate = prefillWork.total / (prefillMs / 1000) / 1e9;

  log(`[${shape.name}] 1-row and ${CANDIDATES}-row steps after a ${PREFIX}-token prefix…`);
  const pre = model.forward({ ids: tokenRows(1, PREFIX, c.vocabSize, 2), logits: 'none', returnCache: true });
  pre.hidden.dispose();
  const cache = pre.cache!;
  const wide = cache.broadcast(CANDIDATES);
  const next = [[(PREFIX * 31) % c.vocabSize]];
  const candidates = tokenRows(CANDIDATES, 1, c.vocabSize, 3);
  const step = (): void => {
    const out = model.forward({ ids: next, cache, logits: 'last', returnCache: true });
    out.logits!.dataSync(); // [1, V]
    tf.dispose([out.hidden, out.logits!]);
    out.cache!.dispose();
  };
  const wideStep = (): void => {
    const out = model.forward({ ids: candidates, cache: wide, logits: 'none', returnCache: true });
    const row = tf.slice(out.hidden, [0, 0, 0], [1, 1, d]); // [1, 1, d]: the one row whose next-token logits are needed
    const logits = model.logitsFromHidden(row); // [1, 1, V]
    logits.dataSync();
    tf.dispose([out.hidden, row, logits]);
    out.cache!.dispose();
  };
  const broadcast = (): void => cache.broadcast(CANDIDATES).dispose();
  for (let i = 0; i < 2; i++) [step, wideStep, broadcast].forEach((f) => f()); // warm-up
  const stepRuns: number[] = [];
  const wideRuns: number[] = [];
  const broadcastRuns: number[] = [];
  for (let r = 0; r < REPS.step; r++) {
    // Alternated, so the 10-row ÷ 1-row ratio compares runs made under the same load.
    stepRuns.push(once(step));
    wideRuns.push(once(wideStep));
    broadcastRuns.push(once(broadcast));
  }
  const [stepMs, wideMs, broadcastMs] = [stepRuns, wideRuns, broadcastRuns].map(median);
  const stepRate = forwardFlops(c, 1, 1, PREFIX, 1).total / (stepMs / 1000) / 1e9;
  const wideRate = forwardFlops(c, CANDIDATES, 1, PREFIX, 1).total / (wideMs / 1000) / 1e9;
  let profiled: Record<string, ProfileResult> | undefined;
  if (profile) {
    log(`[${shape.name}] profiling by kernel kind…`);
    profiled = {
      [`prefill B=${PREFILL.B} T=${PREFILL.T}`]: await profileKinds(prefill, 3),
      '1-row step': await profileKinds(step, 9),
      [`${CANDIDATES}-row step + 1 head row`]: await profileKinds(wideStep, 9),
    };
  }
  wide.dispose();
  cache.dispose();
  for (const t of paramTensors(params)) t.dispose();
  model.dispose();

  return {
    model: shape.name,
    parameters,
    matMulGflops: Object.fromEntries(mm.map(([name], i) => [name, round(rates[i])])),
    prefill: {
      ...PREFILL,
      ms: round(prefillMs, 1),
      tokensPerSecond: round(N / (prefillMs / 1000), 1),
      gflop: round(prefillWork.total / 1e9, 3),
      flops: prefillWork,
      gflops: round(prefillRate),
      fractionOfMatMul: round(prefillRate / mlpInRate, 3),
      fractionOf512: round(prefillRate / ref512, 3),
      fractionOfProjections: round(prefillRate / projectionRate, 3),
    },
    decode: { prefix: PREFIX, msPerToken: round(stepMs), tokensPerSecond: round(1000 / stepMs, 1), gflops: round(stepRate) },
    candidates: { rows: CANDIDATES, stepMs: round(wideMs), oneRowMs: round(stepMs), ratio: round(wideMs / stepMs), broadcastMs: round(broadcastMs), gflops: round(wideRate) },
    tensorsLeaked: tf.memory().numTensors - before,
    loadAverage1m: round(os.loadavg()[0]),
    ...(profiled ? { profile: profiled } : {}),
  };
}

function markdown(results: ModelResult[]): string {
  const head = `| | ${results.map((r) => r.model).join(' | ')} |\n|---|${results.map(() => '---:').join('|')}|`;
  const row = (label: string, f: (r: ModelResult) => string): string => `| ${label} | ${results.map(f).join(' | ')} |`;
  const rate = (i: number) => (r: ModelResult): string => `${Object.keys(r.matMulGflops)[i]}: ${Object.values(r.matMulGflops)[i].toFixed(1)}`;
  return [
    head,
    row('parameters', (r) => `${(r.parameters / 1e6).toFixed(1)} M`),
    row('matMul GFLOP/s, q/k/v shape', rate(0)),
    row('matMul GFLOP/s, MLP-in shape', rate(1)),
    row('matMul GFLOP/s, MLP-out shape', rate(2)),
    row('matMul GFLOP/s, 512³', rate(4)),
    row(`prefill B=${PREFILL.B} T=${PREFILL.T}: ms`, (r) => r.prefill.ms.toFixed(0)),
    row('prefill tokens/s', (r) => r.prefill.tokensPerSecond.toFixed(0)),
    row('prefill GFLOP/s (exact FLOP count)', (r) => `${r.prefill.gflops.toFixed(1)} (${r.prefill.gflop.toFixed(1)} GFLOP)`),
    row('÷ matMul GFLOP/s at MLP-in shape', (r) => `${(100 * r.prefill.fractionOfMatMul).toFixed(0)} %`),
    row('÷ matMul GFLOP/s at 512³', (r) => `${(100 * r.prefill.fractionOf512).toFixed(0)} %`),
    row('÷ ideal (4 projections at their own rates)', (r) => `${(100 * r.prefill.fractionOfProjections).toFixed(0)} %`),
    row(`decode B=1 after ${PREFIX}: ms/token`, (r) => r.decode.msPerToken.toFixed(1)),
    row('decode tokens/s', (r) => r.decode.tokensPerSecond.toFixed(1)),
    row(`${CANDIDATES}-row step + 1 LM-head row: ms`, (r) => r.candidates.stepMs.toFixed(1)),
    row(`${CANDIDATES}-row ÷ 1-row step`, (r) => `${r.candidates.ratio.toFixed(2)}×`),
    row(`step GFLOP/s, 1-row / ${CANDIDATES}-row`, (r) => `${r.decode.gflops.toFixed(1)} / ${r.candidates.gflops.toFixed(1)}`),
    row(`cache broadcast to ${CANDIDATES} rows: ms`, (r) => r.candidates.broadcastMs.toFixed(2)),
  ].join('\n');
}

async function main(): Promise<void> {
  const backend = await initBackend();
  const cpus = os.cpus();
  const loadBefore = os.loadavg();
  log(`backend: ${backend.description}`);
  const shapes = [GPT2_SMALL, LLAMA_4x256, LLAMA_6x384];
  const results: ModelResult[] = [];
  for (const [i, s] of shapes.entries()) results.push(await benchModel(s, PROFILE && i === 0));
  const report = {
    benchmark: 'engine',
    date: new Date().toISOString(),
    quick: QUICK,
    machine: { cpu: cpus[0]?.model ?? 'unknown', cores: cpus.length, os: `${os.type()} ${os.release()}`, loadAverage1mBefore: round(loadBefore[0]), loadAverage1mAfter: round(os.loadavg()[0]) },
    node: process.version,
    tfjs: tf.version_core,
    backend: backend.description,
    repetitions: { ...REPS, matMulFlopPerMeasurement: MATMUL_FLOP },
    results,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n`);
  process.stdout.write(`Engine benchmark, ${report.date.slice(0, 10)}, ${report.machine.cpu} (${report.machine.cores} cores, load ${report.machine.loadAverage1mBefore} → ${report.machine.loadAverage1mAfter}), Node ${report.node}, tfjs ${report.tfjs}, ${report.backend}${QUICK ? ', --quick' : ''}\n\n`);
  process.stdout.write(`${markdown(results)}\n`);
  if (results[0].profile) process.stdout.write(`\nKernel time by kind, ${results[0].model} (median of profiled runs: 3 prefills, 9 of each step):\n\n${profileTable(results[0].profile)}\n`);
}

await main();
