/**
 * Unfreezing benchmark: reward-model accuracy of head-only training against `trainable: top-blocks`
 * with 1 and 2 blocks, each in partial (PARGS prefix pairs) and full (complete responses) mode.
 *
 *   npx tsx bench/unfreeze.ts [--task demo|hh|both] [--model DIR] [--hh-train N] [--hh-eval N] [--hh-length L]
 *                            [--hh-epochs E] [--hh-batch B] [--modes partial,full] [--unfreeze 0,1,2] [--seed S]
 *
 * demo: the preference pairs `pargs demo` trains its reward models on (default config, seed 1: two
 *   samples per training prompt from the bundled model, labelled by the AFINN gold judge; the judge's
 *   30 % taken off, then 20 % of the rest held out), trained as the demo trains them: lr 3e-3, 4 epochs
 *   of batch 128 for the partial RM, and the full RM given epochs and batch size that make the same
 *   number of optimizer steps (src/demo/step-budget.ts).
 * hh: HH-RLHF harmless-base test pairs (../shared/data/hh-rlhf), encoded with the model's tokenizer
 *   (pairs over --hh-length tokens dropped), a seeded split into --hh-train / --hh-eval pairs, the same
 *   budget rule (partial: --hh-epochs (1) of batch --hh-batch (128); full: matched steps).
 * Every row: same pairs, head (linear), lr, seed and step count; only `trainable` differs. Reported on the
 * held-out pairs: prefix accuracy by tenth of the response, all-prefix accuracy, full accuracy, and the
 * wall time of the whole trainPartialRM call (feature or residual pass included). Runs in this thread.
 * `--modes` and `--unfreeze` (0 = head only) run a subset of the rows, e.g. to fill in one cell.
 * `--seed` (1) is the training seed (head initialisation, batch order); the pairs and their split stay
 * those of seed 1, so runs of several seeds measure how much the training itself varies.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { encodePreferences, loadPreferences } from '../src/data/index.js';
import { splitPairs } from '../src/data/split.js';
import { bundledModelPath } from '../src/bundled.js';
import { DEMO_CONFIGS } from '../src/demo/config.js';
import { buildPreferencePairs } from '../src/demo/preferences.js';
import { matchSteps, trainerSteps } from '../src/demo/step-budget.js';
import { TASKS } from '../src/demo/tasks.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import { loadCausalLM } from '../src/lm/load.js';
import { examplesPerEpoch } from '../src/reward/examples.js';
import { planPairs } from '../src/reward/features.js';
import type { RewardMode, TokenPair } from '../src/reward/prefixes.js';
import type { Trainable } from '../src/reward/train-options.js';
import { trainPartialRM } from '../src/parallel/dispatch.js';
import { flag, intFlag, log, machine, ROOT, round, table } from './common.js';

process.env.PARGS_WORKERS = '1';

interface Row { task: string; trainable: string; mode: RewardMode; steps: number; seconds: number; full: number; prefix: number; deciles: number[] }

const TRAINABLES: [string, Trainable][] = [['head only', { kind: 'head' }], ['--unfreeze 1', { kind: 'top-blocks', blocks: 1 }], ['--unfreeze 2', { kind: 'top-blocks', blocks: 2 }]];

function examples(lm: CausalLM, pairs: readonly TokenPair[], mode: RewardMode): number {
  const plans = planPairs({ backbone: lm, pairs, prefixes: { mode, alignment: 'eos', minPrefix: 1 } });
  return examplesPerEpoch({ plans, pairIndices: plans.flatMap((p, i) => (p ? [i] : [])) }, { kind: 'all' });
}

async function runTask(task: string, lm: CausalLM, train: readonly TokenPair[], evalPairs: readonly TokenPair[], budget: { epochs: number; batchSize: number; lr: number }): Promise<Row[]> {
  const target = trainerSteps(examples(lm, train, 'partial'), budget.epochs, budget.batchSize);
  const rows: Row[] = [];
  const modes = (flag('modes') ?? 'partial,full').split(',') as RewardMode[];
  const blocks = (flag('unfreeze') ?? '0,1,2').split(',').map(Number);
  for (const mode of modes) {
    const plan = mode === 'partial' ? { epochs: budget.epochs, batchSize: budget.batchSize } : matchSteps(target, examples(lm, train, 'full'), budget.batchSize);
    for (const [label, trainable] of TRAINABLES.filter((_, m) => blocks.includes(m))) {
      log(`${task}: ${mode}, ${label} (${plan.epochs} epochs, batch ${plan.batchSize}); load ${machine().loadAverage1m}`);
      const t0 = performance.now();
      const rm = await trainPartialRM({ backbone: lm, pairs: train, evalPairs, mode, trainable, epochs: plan.epochs, batchSize: plan.batchSize, lr: budget.lr, seed: intFlag('seed', 1), workers: 1 });
      const seconds = (performance.now() - t0) / 1000;
      const evals = rm.training.history.evals;
      const d = evals[evals.length - 1].diagnostics;
      rows.push({ task, trainable: label, mode, steps: rm.training.steps, seconds: round(seconds, 1), full: round(d.fullAccuracy, 3), prefix: round(d.prefixAccuracy, 3), deciles: d.prefixAccuracyByDecile.map((x) => round(x, 2)) });
      log(`  steps ${rm.training.steps}, ${round(seconds, 1)} s, full ${round(d.fullAccuracy, 3)}, prefix ${round(d.prefixAccuracy, 3)}`);
      rm.dispose();
    }
  }
  if (new Set(rows.map((r) => r.steps)).size !== 1) throw new Error(`unequal step budgets: ${rows.map((r) => r.steps).join(', ')}`);
  return rows;
}

async function demoPairs(lm: CausalLM): Promise<{ train: TokenPair[]; eval: TokenPair[] }> {
  const c = DEMO_CONFIGS.default;
  const prompts = JSON.parse(await (await import('node:fs/promises')).readFile(join(bundledModelPath(), 'prompts.json'), 'utf8')) as { train: string[] };
  const built = await buildPreferencePairs({ lm, prompts: prompts.train.slice(0, c.trainPrompts), judge: TASKS.sentiment.judge(), responseTokens: c.responseTokens, topK: c.topK, seed: 1, batchSize: c.batchSize });
  const judgeSplit = splitPairs(built.pairs, { evalFraction: c.judgeFraction, seed: 1 });
  const guide = splitPairs(judgeSplit.train, { evalFraction: 0.2, seed: 1 });
  return { train: guide.train, eval: guide.eval };
}

async function hhPairs(lm: CausalLM): Promise<{ train: TokenPair[]; eval: TokenPair[] }> {
  const file = resolve(ROOT, '../shared/data/hh-rlhf/harmless-base-test.jsonl.gz');
  if (!existsSync(file)) throw new Error(`${file} not found`);
  const set = await loadPreferences(file);
  const encoded = encodePreferences(set, lm.tokenizer, { maxLength: Math.min(intFlag('hh-length', 128), lm.config.maxPositions) });
  const nTrain = intFlag('hh-train', 600);
  const nEval = intFlag('hh-eval', 200);
  const split = splitPairs(encoded.pairs.slice(0, nTrain + nEval), { evalCount: nEval, seed: 1 });
  return { train: split.train, eval: split.eval };
}

const fmt = (x: number): string => (Number.isNaN(x) ? '–' : x.toFixed(2));

async function main(): Promise<void> {
  const which = flag('task') ?? 'demo';
  const lm = await loadCausalLM(resolve(flag('model') ?? bundledModelPath()));
  const startLoad = machine().loadAverage1m;
  const rows: Row[] = [];
  if (which === 'demo' || which === 'both') {
    const { train, eval: held } = await demoPairs(lm);
    log(`demo: ${train.length} training pairs, ${held.length} held out`);
    rows.push(...(await runTask(`demo (${train.length}/${held.length} pairs)`, lm, train, held, { epochs: 4, batchSize: 128, lr: 3e-3 })));
  }
  if (which === 'hh' || which === 'both') {
    const { train, eval: held } = await hhPairs(lm);
    log(`hh: ${train.length} training pairs, ${held.length} held out`);
    rows.push(...(await runTask(`HH (${train.length}/${held.length} pairs)`, lm, train, held, { epochs: intFlag('hh-epochs', 1), batchSize: intFlag('hh-batch', 128), lr: 3e-3 })));
  }
  console.log(JSON.stringify({ machine: machine(), loadAtStart: startLoad, loadAtEnd: machine().loadAverage1m, rows }));
  console.log(table(['task', 'mode', 'trainable', 'steps', 'time (s)', 'full acc', 'prefix acc', ...Array.from({ length: 10 }, (_, i) => `${i + 1}/10`)],
    rows.map((r) => [r.task, r.mode, r.trainable, String(r.steps), r.seconds.toFixed(1), r.full.toFixed(3), r.prefix.toFixed(3), ...r.deciles.map(fmt)])));
  lm.dispose();
}

await main();
