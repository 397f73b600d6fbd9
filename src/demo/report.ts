/** The demo's self-contained HTML report: tables, SVG plots, and generations shaded by token reward. */
import type { DemoResult } from './pipeline.js';
import { chart } from './svg.js';
import { betaSweepTable, prefixAccuracyTable, resultsTable } from './tables.js';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function markdownTable(md: string): string {
  const [head, , ...rows] = md.split('\n');
  const cells = (line: string) => line.split('|').slice(1, -1).map((c) => esc(c.trim()));
  return `<table><thead><tr>${cells(head).map((c) => `<th>${c}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${cells(r).map((c) => `<td>${c}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

/** Background colour for a reward relative to the largest magnitude shown: red (low) → white → green (high). */
function shade(reward: number, scale: number): string {
  const t = Math.max(-1, Math.min(1, reward / (scale || 1)));
  const [r, g, b] = t >= 0 ? [255 - 120 * t, 255 - 30 * t, 255 - 120 * t] : [255 + 30 * t, 255 + 120 * t, 255 + 120 * t];
  return `rgb(${r.toFixed(0)},${g.toFixed(0)},${b.toFixed(0)})`;
}

export function renderReport(r: DemoResult): string {
  const deciles = r.partial.prefixAccuracyByDecile.map((_, i) => (i + 1) * 10);
  const prefixPlot = chart(
    [
      { name: 'partial (PARGS)', color: '#1b7837', points: r.partial.prefixAccuracyByDecile.map((a, i) => ({ x: deciles[i], y: a })) },
      { name: 'full-sequence', color: '#b2182b', points: r.full.prefixAccuracyByDecile.map((a, i) => ({ x: deciles[i], y: a })) },
    ],
    { title: 'Prefix accuracy by position in the response', xLabel: 'prefix length (% of the response)', yLabel: 'accuracy (chosen > rejected)', yRange: [0, 1], reference: 0.5 },
  );
  const betaPlot = chart(
    [
      { name: 'PARGS', color: '#1b7837', points: r.betaSweep.map((b) => ({ x: b.beta, y: b.pargs.afinn.mean, err: b.pargs.afinn.stderr })) },
      { name: 'ARGS', color: '#b2182b', points: r.betaSweep.map((b) => ({ x: b.beta, y: b.args.afinn.mean, err: b.args.afinn.stderr })) },
    ],
    { title: 'Gold reward vs β', xLabel: 'β (ARGS: w)', yLabel: 'AFINN valence per word' },
  );
  const palette = ['#555', '#7570b3', '#d95f02', '#e7298a', '#1b9e77', '#66a61e'];
  const speedPlot = chart(
    r.methods.map((m, i) => ({ name: m.method, color: palette[i % palette.length], points: [{ x: m.tokensPerSecond, y: m.afinn.mean, err: m.afinn.stderr, label: m.method }] })),
    { title: 'Gold reward vs speed', xLabel: 'tokens / second', yLabel: 'AFINN valence per word', lines: false },
  );
  const scale = Math.max(...r.examples.flatMap((e) => e.tokens.map((t) => Math.abs(t.reward))), 1e-9);
  const examples = r.examples
    .map((e) => `<p class="example"><span class="prompt">${esc(e.prompt)}</span>${e.tokens.map((t) => `<span class="tok" style="background:${shade(t.reward, scale)}" title="reward ${t.reward.toFixed(3)}">${esc(t.text)}</span>`).join('')}</p>`)
    .join('\n');
  const c = r.config;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>pargs demo report</title>
<style>
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child{text-align:left}
.plots svg{margin:0.5em 0}.example{line-height:1.9}.prompt{font-weight:600;margin-right:0.3em}.tok{white-space:pre-wrap;border-radius:2px}
code{background:#f4f4f4;padding:1px 4px}
</style></head><body>
<h1>pargs demo report</h1>
<p>Model <code>${esc(r.model)}</code> on ${esc(r.backend)}; ${r.seconds.toFixed(0)} s. Task: steer continuations of held-out State of the Union sentence openings
towards positive sentiment, with the AFINN lexicon as the gold judge and VADER as a second opinion.</p>
<h2>1. Preference data</h2>
<p>${r.preferences.pairs} pairs from ${c.trainPrompts} prompts (two ${c.responseTokens}-token samples each, temperature 1, top-${c.topK});
the response with the higher AFINN score is chosen — deterministic labels; ${r.preferences.ties} prompts whose two samples tied were dropped.
${r.preferences.train} pairs train both reward models, ${r.preferences.eval} are held out for the diagnostics below.</p>
<h2>2. Prefix accuracy: partial vs full-sequence reward model</h2>
${markdownTable(prefixAccuracyTable(r))}
<div class="plots">${prefixPlot}</div>
<h2>3. Decoding methods on ${c.testPrompts} unseen prompts</h2>
<p>β = ${c.beta} for PARGS (w for ARGS), top-${c.topK} candidates; Best-of-${c.bestOfN} ranks samples with the full-sequence reward model.</p>
${markdownTable(resultsTable(r))}
<div class="plots">${speedPlot}</div>
<h2>4. β sweep</h2>
${markdownTable(betaSweepTable(r))}
<div class="plots">${betaPlot}</div>
<h2>5. PARGS generations, each token shaded by its partial reward</h2>
${examples}
</body></html>
`;
}
