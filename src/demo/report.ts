/** The demo's self-contained HTML report: tables, SVG plots, and generations shaded by token reward. */
import type { AcrossSeeds } from './aggregate.js';
import type { DemoResult } from './pipeline.js';
import { chart, PALETTE } from './svg.js';
import { TASKS } from './tasks.js';
import { betaSweepTable, cellLegend, prefixAccuracyTable, resultsTable, rewardModelTable } from './tables.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function markdownTable(md: string): string {
  const [head, , ...rows] = md.split('\n');
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => esc(c.trim()));
  return `<table><thead><tr>${cells(head).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/**
 * Background for a reward relative to the largest magnitude shown: orange (low) → white → blue (high),
 * a diverging scale that stays readable with red–green colour blindness.
 */
function shade(reward: number, scale: number): string {
  const t = Math.max(-1, Math.min(1, reward / (scale || 1)));
  const [lo, hi] = [[230, 159, 0], [86, 180, 233]]; // Okabe–Ito orange and sky blue
  const target = t >= 0 ? hi : lo;
  const mix = target.map((c) => 255 + (c - 255) * Math.abs(t));
  return `rgb(${mix.map((c) => c.toFixed(0)).join(',')})`;
}

/** Error bar half-width: the s.e. across seeds, absent with one seed. */
const err = (a: AcrossSeeds): number | undefined => (a.seeds >= 2 && Number.isFinite(a.stderr) ? a.stderr : undefined);

/** The evaluation RM is a judge only as far as it ranks held-out pairs; say how far, from this run's number. */
function judgeCaveat(accuracy: AcrossSeeds, gold: string): string {
  const a = accuracy.mean.toFixed(2);
  return accuracy.mean < 0.55
    ? `The evaluation RM ranks only ${a} of the held-out pairs the way the gold judge (${gold}) does, close to chance: in this run its column in section 4 does not rank the methods.`
    : `The evaluation RM ranks ${a} of the held-out pairs the way the gold judge (${gold}) does; its column in section 4 is a judge of that strength.`;
}

export function renderReport(r: DemoResult): string {
  const s = r.summary;
  const task = TASKS[r.task];
  const nSeeds = s.seeds.length;
  const note = nSeeds >= 2 ? `error bars: ± s.e. across ${nSeeds} seeds` : 'one seed: no error bars (run --seeds 3 for ± s.e. across seeds)';
  const rms = [
    { key: 'partial', name: 'partial (PARGS)' },
    { key: 'full', name: 'full-sequence (ARGS)' },
    { key: 'judge', name: 'evaluation RM' },
    { key: 'cd', name: 'CD value head' },
    { key: 'vocab', name: 'vocabulary head' },
  ] as const;
  const [nMin, nMax] = [Math.min(...s.prefixPairsByDecile), Math.max(...s.prefixPairsByDecile)];
  const nRange = nMin === nMax ? String(nMin) : `${nMin}–${nMax}`;
  const prefixPlot = chart(
    rms.map((m, i) => ({
      name: m.name,
      color: PALETTE[[4, 5, 0, 6, 7][i]],
      points: s.rewardModels[m.key].prefixAccuracyByDecile.map((a, d) => ({ x: (d + 1) * 10, y: a.mean, err: err(a) })),
    })),
    { title: 'Held-out prefix accuracy by position in the response', note: `${note}; n = ${nRange} prefix pairs per tenth`, xLabel: 'prefix length (% of the response)', yLabel: 'accuracy (chosen > rejected)', yRange: [0, 1], reference: 0.5 },
  );
  const betaPlot = chart(
    [
      { name: 'PARGS', color: PALETTE[4], points: s.betaSweep.map((b) => ({ x: b.beta, y: b.pargs.gold.mean, err: err(b.pargs.gold) })) },
      { name: 'ARGS', color: PALETTE[5], points: s.betaSweep.map((b) => ({ x: b.beta, y: b.args.gold.mean, err: err(b.args.gold) })) },
    ],
    { title: 'Gold reward vs β', note, xLabel: 'β (ARGS: w)', yLabel: task.goldUnit },
  );
  const speedPlot = chart(
    s.methods.map((m, i) => ({ name: m.method, color: PALETTE[i % PALETTE.length], points: [{ x: m.tokensPerSecond.mean, y: m.gold.mean, err: err(m.gold) }] })),
    { title: 'Gold reward vs speed', note, xLabel: 'tokens / second', yLabel: task.goldUnit, lines: false },
  );
  const scale = Math.max(...r.examples.flatMap((e) => e.tokens.map((t) => Math.abs(t.reward))), 1e-9);
  const examples = r.examples
    .map((e) => `<p class="example"><span class="prompt">${esc(e.prompt)}</span>${e.tokens.map((t) => `<span class="tok" style="background:${shade(t.reward, scale)}" title="reward ${t.reward.toFixed(3)}">${esc(t.text)}<sub>${t.reward.toFixed(2)}</sub></span>`).join('')}</p>`)
    .join('\n');
  const legendStops = [-1, -0.5, 0, 0.5, 1].map((t) => `<span class="tok" style="background:${shade(t * scale, scale)}">${(t * scale).toFixed(2)}</span>`).join('');
  const c = r.config;
  const p = s.preferences;
  const mean0 = (a: AcrossSeeds) => a.mean.toFixed(0);
  const banner = c.name === 'quick'
    ? `<p class="banner" role="alert"><strong>--quick run: a smoke test.</strong> ${c.trainPrompts} training prompts, ${c.testPrompts} test prompts, ${c.responseTokens}-token responses, ${nSeeds} seed(s): these numbers show that the pipeline runs, not how the methods compare.</p>`
    : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pargs demo report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.plots svg{margin:0.5em 0;max-width:100%;height:auto}.example{line-height:2.4}.prompt{font-weight:600;margin-right:0.3em}.tok{white-space:pre-wrap;border-radius:2px}
.tok sub{font-size:9px;color:#444;margin-left:1px}.banner{background:#fff3cd;border:2px solid #E69F00;padding:0.8em}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>pargs demo report</h1>
${banner}
<p>Model <code>${esc(r.model)}</code> on ${esc(r.backend)}; ${r.seconds.toFixed(0)} s; seeds ${s.seeds.join(', ')}. Task <code>${r.task}</code>: ${esc(task.description)}; VADER (whole response) as a second lexicon, and an evaluation reward model that no method was guided by.</p>
<p>${esc(cellLegend(r))}</p>
<h2>1. Preference data</h2>
<p>Per seed, ${mean0(p.pairs)} pairs on average from ${c.trainPrompts} prompts (two ${c.responseTokens}-token samples each, temperature 1, top-${c.topK});
the response the gold judge scores higher is chosen — deterministic labels; ${mean0(p.ties)} prompts whose two samples tied were dropped.
${(100 * c.judgeFraction).toFixed(0)}% of the pairs (${mean0(p.judgeTrain)}) train only the evaluation RM; of the rest, ${mean0(p.guideTrain)} train the partial and the full-sequence RM and ${mean0(p.guideEval)} are held out for the diagnostics below.</p>
<h2>2. Reward models: equal optimizer steps, same head and learning rate</h2>
${markdownTable(rewardModelTable(r))}
<p>${judgeCaveat(s.rewardModels.judge.fullAccuracy, task.goldLabel.replace(' (gold)', ''))}</p>
<h2>3. Prefix accuracy by position (held-out pairs)</h2>
${markdownTable(prefixAccuracyTable(r))}
<div class="plots">${prefixPlot}</div>
<h2>4. Decoding methods on ${c.testPrompts} unseen prompts</h2>
<p>β = ${c.beta} for PARGS (w for ARGS), top-${c.topK} candidates; Best-of-${c.bestOfN} ranks samples with the full-sequence reward model; CD guides the PARGS loop (same β) with a prefix value head regressed onto the full-sequence RM's score of each training response (one Monte-Carlo rollout per prefix).
ARGS diversity is ARGS's own metric (per response, Π over n = 2..4 of unique n-grams ÷ (n-grams + 1), averaged); pooled distinct-2·3·4 is the product of distinct-n over all responses together.
Coherence (ARGS measures it with a SimCSE embedding model) is not reported: no such model runs here.</p>
${markdownTable(resultsTable(r))}
<div class="plots">${speedPlot}</div>
<h2>5. β sweep</h2>
${markdownTable(betaSweepTable(r))}
<div class="plots">${betaPlot}</div>
<h2>6. PARGS generations (seed ${s.seeds[0]}), each token shaded by its partial reward</h2>
<p>Scale: ${legendStops}</p>
${examples}
</body></html>
`;
}
