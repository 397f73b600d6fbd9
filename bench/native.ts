/**
 * Native TensorFlow (tfjs-node) vs WebAssembly vs an efficient PyTorch PARGS, side by side.
 *
 *   PARGS_NATIVE_HOME=/tmp/nh npx tsx bench/native.ts [--rounds 5] [--shapes bundled,gpt2[,gpt2-medium]]
 *       [--torch] [--torch-passive] [--ladder] [--out FILE] [--python python3] [--model DIR] [--quick] [work flags of bench/native-child.ts]
 *
 * Every round runs one child process per runner and shape — native (PARGS_BACKEND=tensorflow), wasm, and
 * with --torch bench/torch_pargs.py at 1 and 2 threads (--torch-passive: 2 threads, passive OpenMP waits) — in an order that rotates every round, so a load
 * drift or a second-runner advantage hits every runner alike. Each child builds the model (bundled shape:
 * models/sotu-lm, or --model; GPT-2 shapes: random weights in memory, seed 1) and times every workload
 * (bench/native-child.ts): prefill of 8×128 tokens, plain top-k decoding and fused PARGS (k = 10, linear
 * head on the LM's backbone) at B = 1 and 8 with 64 new tokens from 32-token prompts, the prefix feature
 * pass over 32 pairs × 128 tokens, one reward-head optimizer step (256 pairs of prefix features), a
 * one-token decode step after 64 cached tokens, and the per-call cost of a tiny op; and reports its
 * peak RSS. Figures are medians over rounds with the (min–max) range; a ratio is the median of the
 * per-round ratios (speed of native ÷ speed of the other runner: > 1 means native is faster).
 * --ladder adds a model-size ladder (Llama 4×192 … 16×1024) of decode-step probes, native vs wasm, for the
 * auto-selection threshold. --quick: 1 round, bundled shape, 8 new tokens, 4 pairs.
 * Prints one JSON object, then Markdown tables. Progress goes to stderr.
 */
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseModelConfig, type ModelConfig } from '../src/lm/config.js';
import { flag, hasFlag, intFlag, loadAverage, log, machine, median, ROOT, round, table } from './common.js';
import { GPT2_MEDIUM, GPT2_SMALL } from './engine-model.js';
import { WORK, type ChildResult, type WorkName } from './native-child.js';

const QUICK = hasFlag('quick');
const ROUNDS = intFlag('rounds', QUICK ? 1 : 5);
const SHAPES = (flag('shapes') ?? (QUICK ? 'bundled' : 'bundled,gpt2')).split(',');
const TORCH = hasFlag('torch');
const PYTHON = flag('python') ?? 'python3';
const MODEL = flag('model') ?? 'models/sotu-lm';
const QUICK_WORK: Partial<Record<WorkName, number>> = { 'new-tokens': 8, pairs: 4 };
const W = Object.fromEntries(Object.entries(WORK).map(([k, v]) => [k, intFlag(k, QUICK ? (QUICK_WORK[k as WorkName] ?? v) : v)])) as Record<WorkName, number>;
const WORK_ARGS = Object.entries(W).flatMap(([k, v]) => [`--${k}`, String(v)]);

/**
 * torch-2p: two threads with OMP_WAIT_POLICY=PASSIVE. With the default (spinning) waits, two OpenMP
 * threads on a 2-core machine that other processes also use stall at every parallel region until the
 * descheduled thread runs again (measured here: a GPT-2-small decode step 50 ms on 1 thread, 200–450 ms
 * on 2), so on a shared machine the default two-thread figure measures the load, not PyTorch.
 */
type Runner = 'native' | 'wasm' | 'torch-1' | 'torch-2' | 'torch-2p';
const RUNNERS: Runner[] = ['native', 'wasm', ...(TORCH ? (['torch-1', 'torch-2'] as const) : []), ...(hasFlag('torch-passive') ? (['torch-2p'] as const) : [])];
const RUNNER_LABEL: Record<Runner, string> = { native: 'native TF (2 threads)', wasm: 'wasm (1 thread)', 'torch-1': 'PyTorch 1 thread', 'torch-2': 'PyTorch 2 threads', 'torch-2p': 'PyTorch 2 threads, passive wait' };
const OUT = flag('out');

const ROWS: { key: string; label: string; unit: 'tokens/s' | 'ms' | 'µs' }[] = [
  { key: 'prefill', label: `prefill, one forward of ${W['prefill-b']}×${W['prefill-t']} tokens`, unit: 'tokens/s' },
  { key: 'plain1', label: 'plain decoding (top-k 10), B = 1', unit: 'tokens/s' },
  { key: 'plain8', label: 'plain decoding (top-k 10), B = 8', unit: 'tokens/s' },
  { key: 'pargs1', label: 'PARGS fused (k = 10), B = 1', unit: 'tokens/s' },
  { key: 'pargs8', label: '**PARGS fused (k = 10), B = 8**', unit: 'tokens/s' },
  { key: 'features', label: `**feature pass, ${W.pairs} pairs × ${W['pair-prompt'] + W['pair-response']} tokens**`, unit: 'tokens/s' },
  { key: 'headStep', label: `reward-head step (${W['head-batch']} prefix pairs, AdamW)`, unit: 'ms' },
  { key: 'step1', label: `decode step, B = 1, after ${W['step-cache']} tokens (+ LM head, read)`, unit: 'ms' },
  { key: 'opAdd', label: 'tiny op ([4] + [4]), per call', unit: 'µs' },
];

/** The architecture torch_pargs.py builds, from the parsed config pargs itself runs. */
function torchConfig(c: ModelConfig): string {
  if (c.numKvHeads !== c.numHeads) throw new Error(`torch_pargs.py has no grouped-query attention (${c.numKvHeads} KV heads, ${c.numHeads} heads)`);
  return JSON.stringify({
    type: c.positional === 'learned' ? 'gpt2' : 'llama', layers: c.numLayers, d: c.hiddenSize, heads: c.numHeads, headDim: c.headDim,
    intermediate: c.intermediateSize, vocab: c.vocabSize, positions: c.maxPositions, tie: c.tieWordEmbeddings, normEps: c.normEps, ropeTheta: c.ropeTheta,
  });
}

function configOfShape(shape: string): ModelConfig {
  if (shape === 'bundled') return parseModelConfig(JSON.parse(readFileSync(join(resolve(MODEL), 'config.json'), 'utf8')), MODEL);
  if (shape === 'gpt2') return parseModelConfig(GPT2_SMALL.raw, GPT2_SMALL.name);
  if (shape === 'gpt2-medium') return parseModelConfig(GPT2_MEDIUM.raw, GPT2_MEDIUM.name);
  throw new Error(`unknown shape ${shape} (bundled, gpt2, gpt2-medium)`);
}

/** Runs one child; its stderr passes through, its last stdout line is the result. */
function runChild(runner: Runner, shape: string): Promise<ChildResult> {
  const [cmd, args, env] =
    runner === 'native' || runner === 'wasm'
      ? [process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'native-child.ts'), '--shape', shape, '--model', MODEL, ...WORK_ARGS], { PARGS_BACKEND: runner === 'native' ? 'tensorflow' : 'wasm' }]
      : [PYTHON, [join(ROOT, 'bench', 'torch_pargs.py'), '--config', torchConfig(configOfShape(shape)), '--threads', runner === 'torch-1' ? '1' : '2', '--beta', '2', ...WORK_ARGS], runner === 'torch-2p' ? { OMP_WAIT_POLICY: 'PASSIVE' } : {}];
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (chunk: Buffer) => void (stdout += chunk.toString()));
    child.on('error', fail);
    child.on('close', (code) => {
      const last = stdout.trim().split('\n').pop() ?? '';
      if (code !== 0) return fail(new Error(`${runner} on ${shape} exited with ${code}`));
      const parsed = JSON.parse(last.replace(/^RESULT /, '')) as ChildResult;
      if (runner.startsWith('torch')) parsed.results = Object.fromEntries(Object.entries(parsed.results).map(([k, v]) => [k, { ...v, ms: v.ms ?? (v.us as number) / 1000 }]));
      done(parsed);
    });
  });
}

const fmt = (x: number, unit: string): string => (unit === 'tokens/s' ? (x >= 100 ? x.toFixed(0) : x.toFixed(1)) : x >= 100 ? x.toFixed(0) : x.toFixed(unit === 'µs' ? 1 : 2));
function cell(xs: number[], unit: string): string {
  if (xs.length === 0) return '–';
  return xs.length === 1 ? fmt(xs[0], unit) : `${fmt(median(xs), unit)} (${fmt(Math.min(...xs), unit)}–${fmt(Math.max(...xs), unit)})`;
}
const ratioCell = (xs: number[]): string => (xs.length === 0 ? '–' : xs.length === 1 ? `${xs[0].toFixed(2)}×` : `**${median(xs).toFixed(2)}×** (${Math.min(...xs).toFixed(2)}–${Math.max(...xs).toFixed(2)})`);

/** Per round, speed of native ÷ speed of `other` (= other's ms ÷ native's ms: the work is the same). */
function ratios(perRound: Partial<Record<Runner, ChildResult>>[], key: string, other: Runner): number[] {
  return perRound.flatMap((r) => (r.native?.results[key] && r[other]?.results[key] ? [(r[other] as ChildResult).results[key].ms / r.native.results[key].ms] : []));
}

function shapeTable(perRound: Partial<Record<Runner, ChildResult>>[]): string {
  const value = (r: Runner, key: string, unit: string): number[] =>
    perRound.flatMap((p) => (p[r]?.results[key] ? [unit === 'tokens/s' ? (p[r] as ChildResult).results[key].tokensPerSecond as number : unit === 'µs' ? (p[r] as ChildResult).results[key].ms * 1000 : (p[r] as ChildResult).results[key].ms] : []));
  const others = RUNNERS.filter((r) => r !== 'native');
  const header = ['workload (unit)', ...RUNNERS.map((r) => RUNNER_LABEL[r]), ...others.map((r) => `native ÷ ${r}`)];
  const rows = ROWS.map((row) => [`${row.label} (${row.unit})`, ...RUNNERS.map((r) => cell(value(r, row.key, row.unit), row.unit)), ...others.map((o) => ratioCell(ratios(perRound, row.key, o)))]);
  rows.push(['peak RSS of the process (MiB)', ...RUNNERS.map((r) => cell(perRound.flatMap((p) => (p[r] ? [(p[r] as ChildResult).peakRssMiB] : [])), 'ms')), ...others.map(() => '')]);
  return table(header, rows);
}

function ladderTable(perRound: Partial<Record<Runner, ChildResult>>[]): { text: string; crossover: Record<string, string> } {
  const first = perRound[0].native?.ladder ?? [];
  const get = (r: Runner, i: number, k: 'step1' | 'step8'): number[] => perRound.flatMap((p) => (p[r]?.ladder ? [(p[r]?.ladder as NonNullable<ChildResult['ladder']>)[i][k]] : []));
  const per = (i: number, k: 'step1' | 'step8'): number[] => perRound.flatMap((p) => (p.native?.ladder && p.wasm?.ladder ? [p.wasm.ladder[i][k] / p.native.ladder[i][k]] : []));
  const rows = first.map((s, i) => [s.model, `${(s.parameters / 1e6).toFixed(1)} M`, cell(get('native', i, 'step1'), 'ms'), cell(get('wasm', i, 'step1'), 'ms'), ratioCell(per(i, 'step1')), cell(get('native', i, 'step8'), 'ms'), cell(get('wasm', i, 'step8'), 'ms'), ratioCell(per(i, 'step8'))]);
  const crossover = Object.fromEntries((['step1', 'step8'] as const).map((k) => {
    const i = first.findIndex((_, j) => median(per(j, k)) > 1);
    return [k, i < 0 ? 'none on the ladder' : `${first[i].model}, ${(first[i].parameters / 1e6).toFixed(1)} M parameters`];
  }));
  const header = ['model (random weights)', 'parameters', 'B = 1 step, native ms', 'wasm ms', 'native ÷ wasm', 'B = 8 step, native ms', 'wasm ms', 'native ÷ wasm'];
  return { text: table(header, rows), crossover };
}

async function main(): Promise<void> {
  const loadStart = loadAverage();
  const started = new Date();
  const byShape: Record<string, Partial<Record<Runner, ChildResult>>[]> = Object.fromEntries(SHAPES.map((s) => [s, []]));
  const ladder: Partial<Record<Runner, ChildResult>>[] = [];
  const roundLoad: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Rotate the order every round: each runner takes every position in turn.
    const order = RUNNERS.map((_, i) => RUNNERS[(i + r) % RUNNERS.length]);
    for (const shape of SHAPES) {
      const got: Partial<Record<Runner, ChildResult>> = {};
      for (const runner of order) {
        log(`[native bench] round ${r + 1}/${ROUNDS}, ${shape}: ${runner} (load ${loadAverage()})`);
        got[runner] = await runChild(runner, shape);
      }
      byShape[shape].push(got);
    }
    if (hasFlag('ladder')) {
      const got: Partial<Record<Runner, ChildResult>> = {};
      for (const runner of (r % 2 === 0 ? ['native', 'wasm'] : ['wasm', 'native']) as Runner[]) {
        log(`[native bench] round ${r + 1}/${ROUNDS}, ladder: ${runner} (load ${loadAverage()})`);
        got[runner] = await runChild(runner, 'ladder');
      }
      ladder.push(got);
    }
    roundLoad.push(loadAverage());
    // Kept after every round, so a run cut short still leaves its finished rounds.
    if (OUT) writeFileSync(OUT, JSON.stringify({ partial: true, roundsDone: r + 1, work: W, loadStart, roundLoad, shapes: byShape, ladder }, null, 2));
  }
  const loadEnd = loadAverage();
  const m = machine();
  const command = `npx tsx bench/native.ts ${process.argv.slice(2).join(' ')}`.trim();
  const lad = hasFlag('ladder') ? ladderTable(ladder) : undefined;
  const report = {
    benchmark: 'native', date: started.toISOString(), finished: new Date().toISOString(), command, machine: { ...m, loadAverage1m: undefined },
    loadAverage1m: { start: loadStart, end: loadEnd, afterEachRound: roundLoad }, rounds: ROUNDS, work: { ...W, beta: 2 }, runners: RUNNERS,
    shapes: Object.fromEntries(SHAPES.map((s) => [s, byShape[s]])), ladder: hasFlag('ladder') ? ladder : undefined, crossover: lad?.crossover,
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n`);
  if (OUT) writeFileSync(OUT, JSON.stringify(report, null, 2));
  const backends = byShape[SHAPES[0]][0];
  const torchRunner = RUNNERS.find((r) => r.startsWith('torch'));
  process.stdout.write(
    `Native vs wasm${TORCH ? ' vs PyTorch' : ''}, ${started.toISOString().slice(0, 16)}Z → ${report.finished.slice(11, 16)}Z, ${m.cpu} (${m.cores} cores), 1-min load ${loadStart} → ${loadEnd} ` +
      `(after each round: ${roundLoad.join(', ')}); Node ${m.node}, tfjs ${m.tfjs}; native: ${backends.native?.backend}; wasm: ${backends.wasm?.backend}` +
      `${torchRunner ? `; PyTorch ${(backends[torchRunner] as unknown as { torch: string }).torch} (CPU)` : ''}; ${ROUNDS} round(s), runners in rotating order, one process each; \`${command}\`\n\n`,
  );
  for (const s of SHAPES) {
    const first = byShape[s][0].native ?? byShape[s][0].wasm;
    process.stdout.write(`**${first?.model} — ${((first?.parameters ?? 0) / 1e6).toFixed(1)} M parameters**\n\n${shapeTable(byShape[s])}\n\n`);
  }
  if (lad) process.stdout.write(`**Decode steps by model size (auto-selection threshold)**\n\n${lad.text}\n\nnative beats wasm from: B = 1: ${lad.crossover.step1}; B = 8: ${lad.crossover.step8}\n`);
}

await main();
