/**
 * Scale on the native backend: random-weight GPT-2-small, GPT-2-large (774 M) and GPT-2-XL (1.56 B)
 * folders (bench/make-scale-model.ts: sharded, float32 and bfloat16), each measured in fresh child
 * processes so peak RSS belongs to one model:
 * - bench/scale-load.ts on the bf16 and the f32 folder: load seconds, load peak and first-forward peak
 *   RSS against the float32 weights' bytes;
 * - bench/scale-run.ts on the f32 folder: greedy tokens/s (B = 1), PARGS with a head-only linear RM
 *   fused on the LM (B = 1 and 4, k = 10), and the feature pass over pairs of 256 tokens;
 * - and, in this process, whether the wasm backend takes the model (a ModelTooLargeError is the answer
 *   for the big ones, from config.json alone).
 * The feature pass takes 64 pairs, except that the ~1.5 B model (--reduce, default gpt2-xl) gets fewer
 * when the previous model's measured speed, scaled by L·d², says 64 would take more than
 * --feature-minutes (default 15); the table says so.
 *
 *   npx tsx bench/scale.ts [--only gpt2-small,gpt2-large,gpt2-xl] [--root /tmp/pargs-scale] [--keep] [--out FILE]
 */
import { spawnSync } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { formatBytes } from '../src/engine/memory-budget.js';
import { ModelTooLargeError } from '../src/errors.js';
import { parseModelConfig } from '../src/lm/config.js';
import { loadCausalLM } from '../src/lm/load.js';
import { modelMemory } from '../src/lm/model-memory.js';
import { flag, hasFlag, loadAverage, log, machine, ROOT, round } from './common.js';
import { ensureScaleModel, scaleConfig, SCALE_SHAPES, type ScaleDtype, type ScaleShapeName } from './make-scale-model.js';

const ROOT_DIR = flag('root') ?? '/tmp/pargs-scale';
const ONLY = (flag('only') ?? Object.keys(SCALE_SHAPES).join(',')).split(',') as ScaleShapeName[];
const FEATURE_MINUTES = Number(flag('feature-minutes') ?? 15);
const REDUCE = new Set((flag('reduce') ?? 'gpt2-xl').split(','));
const PAIRS = 64;
const LENGTH = 256;
const GiB = 1024 ** 3;

type Json = Record<string, unknown>;

/** Runs a bench script in a child process on native TensorFlow and parses its last stdout line. */
function child(script: string, args: string[]): Json {
  const env = { ...process.env, PARGS_BACKEND: 'tensorflow' };
  const res = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', script), ...args], { cwd: ROOT, env, encoding: 'utf8', maxBuffer: 1 << 26 });
  const last = res.stdout.trim().split('\n').pop() ?? '';
  if (res.status !== 0 || !last.startsWith('{')) {
    return { failed: true, status: res.status, signal: res.signal, stderr: res.stderr.split('\n').filter((l) => !/oneDNN|absl/.test(l)).slice(-8).join('\n') };
  }
  return JSON.parse(last) as Json;
}

async function folder(shape: ScaleShapeName, dtype: ScaleDtype): Promise<string> {
  const dir = join(ROOT_DIR, `${shape}-${dtype.toLowerCase()}`);
  const started = performance.now();
  const made = await ensureScaleModel(dir, { shape, dtype, seed: 1 });
  log(`${dir}: ${made.reused ? 'reused' : `written in ${round((performance.now() - started) / 1000, 1)} s`} (${formatBytes(made.fileBytes)})`);
  return dir;
}

/** What the wasm backend says to this model, from its config alone (no weights needed for a refusal). */
async function wasmVerdict(shape: ScaleShapeName, dir: string): Promise<Json> {
  const need = modelMemory(parseModelConfig(scaleConfig(shape, 260, 'F32'), shape), 'wasm');
  if (need.total < 3.5 * GiB) return { verdict: 'fits', neededGiB: round(need.total / GiB, 2) };
  try {
    (await loadCausalLM(dir, { backend: 'wasm' })).dispose();
    return { verdict: 'loaded (unexpected)', neededGiB: round(need.total / GiB, 2) };
  } catch (err) {
    return { verdict: err instanceof ModelTooLargeError ? 'refused' : `failed: ${(err as Error).name}`, neededGiB: round(need.total / GiB, 2) };
  }
}

/** Pairs for the feature pass of `shape`: 64, or fewer when the last model's speed says 64 would overrun the budget. */
function featurePairs(shape: ScaleShapeName, previous: { shape: ScaleShapeName; tokensPerSecond: number } | undefined): { pairs: number; estimateMinutes?: number } {
  if (!previous || !REDUCE.has(shape)) return { pairs: PAIRS };
  const params = (s: ScaleShapeName) => SCALE_SHAPES[s].n_layer * SCALE_SHAPES[s].n_embd ** 2;
  const tokensPerSecond = previous.tokensPerSecond * (params(previous.shape) / params(shape));
  const minutes = (pairs: number) => (pairs * 2 * LENGTH) / tokensPerSecond / 60;
  let pairs = PAIRS;
  while (pairs > 4 && minutes(pairs) > FEATURE_MINUTES) pairs /= 2;
  return { pairs, estimateMinutes: round(minutes(PAIRS), 1) };
}

const m = machine();
const loadBefore = loadAverage();
const results: Json[] = [];
let previous: { shape: ScaleShapeName; tokensPerSecond: number } | undefined;
for (const shape of ONLY) {
  const f32 = await folder(shape, 'F32');
  const bf16 = await folder(shape, 'BF16');
  const wasm = await wasmVerdict(shape, f32);
  log(`${shape}: wasm ${wasm.verdict}; loading bf16 and f32 in children…`);
  const bf16Load = child('scale-load.ts', [bf16]);
  const f32Load = child('scale-load.ts', [f32]);
  const plan = featurePairs(shape, previous);
  log(`${shape}: running (feature pass over ${plan.pairs} pairs${plan.estimateMinutes ? `; 64 pairs estimated at ${plan.estimateMinutes} min` : ''})…`);
  const run = child('scale-run.ts', [f32, '--pairs', String(plan.pairs), '--length', String(LENGTH)]);
  const features = run.features as { tokensPerSecond?: number } | undefined;
  if (features?.tokensPerSecond) previous = { shape, tokensPerSecond: features.tokensPerSecond };
  results.push({ shape, ...SCALE_SHAPES[shape], wasm, bf16Load, f32Load, run, featurePlan: plan, loadAverage1m: loadAverage() });
  log(`${shape}: done (load average ${loadAverage()})`);
  if (!hasFlag('keep')) for (const dir of [f32, bf16]) await rm(dir, { recursive: true, force: true });
}

const cell = (x: unknown): string => (x === undefined || x === null || Number.isNaN(x) ? '—' : String(x));
const get = (o: unknown, ...path: (string | number)[]): unknown => path.reduce<unknown>((v, k) => (v as Record<string | number, unknown> | undefined)?.[k], o);
const rows = results.map((r) => {
  const failed = (o: unknown) => (get(o, 'failed') ? `failed (${get(o, 'signal') ?? get(o, 'status')})` : undefined);
  return [
    `${r.shape} (${r.n_layer}×${r.n_embd}, ${round(Number(get(r, 'f32Load', 'parameters') ?? get(r, 'run', 'parameters')) / 1e6, 0)} M)`,
    `${get(r, 'wasm', 'verdict')} (${get(r, 'wasm', 'neededGiB')} GiB)`,
    failed(r.f32Load) ?? `${cell(get(r, 'f32Load', 'loadSeconds'))} s`,
    failed(r.bf16Load) ?? `${cell(get(r, 'bf16Load', 'loadSeconds'))} s`,
    ...(['bf16Load', 'f32Load'] as const).map((k) => failed(r[k]) ?? `${round(Number(get(r, k, 'peakRss')) / GiB, 2)} GiB = ${cell(get(r, k, 'peakOverWeights'))}× (${cell(get(r, k, 'peakAboveBaselineOverWeights'))}×)`),
    failed(r.run) ?? `${cell(get(r, 'run', 'runPeakRssGiB'))} GiB`,
    cell(get(r, 'run', 'greedy', 'steadyTokensPerSecond')),
    cell(get(r, 'run', 'pargs', 0, 'steadyTokensPerSecond')),
    cell(get(r, 'run', 'pargs', 1, 'steadyTokensPerSecond')),
    get(r, 'run', 'features') ? `${get(r, 'run', 'features', 'pairs')} pairs: ${get(r, 'run', 'features', 'seconds')} s (${get(r, 'run', 'features', 'tokensPerSecond')} tok/s)` : '—',
  ];
});
const header = ['model', 'wasm', 'load f32', 'load bf16', 'bf16 load peak RSS ÷ f32 weights (above baseline)', 'f32 load peak RSS ÷ f32 weights (above baseline)', 'run peak RSS', 'greedy tok/s (B 1)', 'PARGS tok/s (B 1)', 'PARGS tok/s (B 4)', `feature pass (${LENGTH}-token seqs)`];
const tableText = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- |').join('')}`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
const report = { benchmark: 'scale', date: new Date().toISOString(), machine: m, loadAverage1m: { before: loadBefore, after: loadAverage() }, results };
process.stdout.write(`${JSON.stringify(report, null, 2)}\n\n${tableText}\n`);
const out = flag('out');
if (out) await writeFile(out, `${JSON.stringify(report, null, 2)}\n\n${tableText}\n`);
