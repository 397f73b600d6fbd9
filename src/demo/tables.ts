/**
 * The demo's results as plain-text (Markdown) tables, printed by the CLI and pasted into the README.
 * A cell "m ± a (w)" is the mean over seeds m, the standard error across seeds a, and the mean
 * within-seed standard error over prompts w; with one seed only "m (w)".
 */
import type { AcrossSeeds, RewardModelSummary } from './aggregate.js';
import type { DemoResult } from './pipeline.js';
import { TASKS } from './tasks.js';

export function formatAcrossSeeds(a: AcrossSeeds, digits = 3): string {
  if (Number.isNaN(a.mean)) return '–';
  const across = a.seeds >= 2 ? ` ± ${a.stderr.toFixed(digits)}` : '';
  const within = a.withinSeedStderr === undefined || Number.isNaN(a.withinSeedStderr) ? '' : ` (${a.withinSeedStderr.toFixed(digits)})`;
  return `${a.mean.toFixed(digits)}${across}${within}`;
}

const pct = (a: AcrossSeeds): string => (Number.isNaN(a.mean) ? '–' : `${(100 * a.mean).toFixed(0)}%`);
const perSeed = (values: number[]): string => values.join(' / ');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

const RM_ROWS: [keyof DemoResult['summary']['rewardModels'], string][] = [
  ['partial', 'partial (PARGS)'],
  ['full', 'full-sequence (ARGS, BoN)'],
  ['judge', 'evaluation RM (guides nothing)'],
  ['cd', 'CD value head (MSE onto full-RM scores)'],
  ['vocab', 'vocabulary head (PARGS loss, FaRMA head)'],
];

export function rewardModelTable(r: DemoResult): string {
  const row = ([key, name]: (typeof RM_ROWS)[number]) => {
    const s: RewardModelSummary = r.summary.rewardModels[key];
    return [name, formatAcrossSeeds(s.trainPairs, 0), perSeed(s.epochs), perSeed(s.batchSize), perSeed(s.steps), formatAcrossSeeds(s.fullAccuracy, 2), formatAcrossSeeds(s.prefixAccuracy, 2)];
  };
  return table(['reward model', 'train pairs', 'epochs (per seed)', 'batch (per seed)', 'optimizer steps (per seed)', 'held-out full accuracy', 'held-out prefix accuracy'], RM_ROWS.map(row));
}

export function prefixAccuracyTable(r: DemoResult): string {
  const s = r.summary;
  const deciles = s.prefixPairsByDecile.map((_, i) => `${i * 10}–${(i + 1) * 10}%`);
  const row = ([key, name]: (typeof RM_ROWS)[number]) => [name, ...s.rewardModels[key].prefixAccuracyByDecile.map((a) => formatAcrossSeeds(a, 2)), formatAcrossSeeds(s.rewardModels[key].fullAccuracy, 2)];
  return table(['reward model', ...deciles, 'full'], [...RM_ROWS.map(row), ['n (prefix pairs, all seeds)', ...s.prefixPairsByDecile.map(String), String(Math.round(s.preferences.guideEval.mean * s.seeds.length))]]);
}

export function resultsTable(r: DemoResult): string {
  return table(
    ['method', TASKS[r.task].goldLabel, 'VADER', 'eval-RM reward', 'win+tie vs plain (eval RM)', 'win / tie / lose vs plain (gold)', 'ARGS diversity (per response)', 'pooled distinct-2·3·4', 'perplexity', 'KL', 'tokens/s', 'calls/resp.'],
    r.summary.methods.map((m) => [
      m.method,
      formatAcrossSeeds(m.gold),
      formatAcrossSeeds(m.vader),
      formatAcrossSeeds(m.evalRm),
      m.method === 'plain' ? '—' : formatAcrossSeeds(m.winTieVsPlainEvalRm, 2),
      m.method === 'plain' ? '—' : `${pct(m.winVsPlainGold.win)} / ${pct(m.winVsPlainGold.tie)} / ${pct(m.winVsPlainGold.lose)}`,
      formatAcrossSeeds(m.argsDiversity),
      formatAcrossSeeds(m.pooledDiversity),
      formatAcrossSeeds(m.perplexity, 1),
      m.kl === null ? '—' : formatAcrossSeeds(m.kl, 2),
      m.tokensPerSecond.mean.toFixed(0),
      m.modelCallsPerResponse.mean.toFixed(0),
    ]),
  );
}

export function betaSweepTable(r: DemoResult): string {
  return table(
    ['β', 'PARGS gold', 'PARGS eval-RM', 'PARGS ARGS-diversity', 'ARGS gold', 'ARGS eval-RM', 'ARGS ARGS-diversity'],
    r.summary.betaSweep.map((b) => [String(b.beta), formatAcrossSeeds(b.pargs.gold), formatAcrossSeeds(b.pargs.evalRm), formatAcrossSeeds(b.pargs.argsDiversity), formatAcrossSeeds(b.args.gold), formatAcrossSeeds(b.args.evalRm), formatAcrossSeeds(b.args.argsDiversity)]),
  );
}

/** How to read the cells, printed above the tables. */
export function cellLegend(r: DemoResult): string {
  const n = r.summary.seeds.length;
  return n >= 2
    ? `Cells: mean over ${n} seeds (${r.summary.seeds.join(', ')}) ± standard error across seeds (mean within-seed standard error over prompts).`
    : `Cells: one seed (${r.summary.seeds[0]}), value (standard error over prompts); no across-seed error with one seed.`;
}
