/** The demo's results as plain-text (Markdown) tables, printed by the CLI and pasted into the README. */
import type { DemoResult } from './pipeline.js';

const pm = (m: { mean: number; stderr: number }, digits = 3): string => `${m.mean.toFixed(digits)} ± ${m.stderr.toFixed(digits)}`;
const pct = (x: number): string => `${(100 * x).toFixed(0)}%`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

export function prefixAccuracyTable(r: DemoResult): string {
  const deciles = r.partial.prefixAccuracyByDecile.map((_, i) => `${i * 10}–${(i + 1) * 10}%`);
  const row = (name: string, d: DemoResult['partial']) => [name, ...d.prefixAccuracyByDecile.map((a) => (Number.isNaN(a) ? '–' : a.toFixed(2))), d.fullAccuracy.toFixed(2)];
  return table(['reward model', ...deciles, 'full'], [row('partial (PARGS)', r.partial), row('full-sequence', r.full)]);
}

export function resultsTable(r: DemoResult): string {
  return table(
    ['method', 'AFINN (gold) ± s.e.', 'VADER ± s.e.', 'win / tie / lose vs plain', 'diversity', 'perplexity', 'KL', 'tokens/s', 'calls/resp.'],
    r.methods.map((m) => [
      m.method,
      pm(m.afinn),
      pm(m.vader),
      m.method === 'plain' ? '—' : `${pct(m.winVsPlain.win)} / ${pct(m.winVsPlain.tie)} / ${pct(m.winVsPlain.lose)}`,
      m.diversity.toFixed(3),
      m.perplexity.toFixed(1),
      m.kl === null ? '—' : m.kl.toFixed(2),
      m.tokensPerSecond.toFixed(0),
      m.modelCallsPerResponse.toFixed(0),
    ]),
  );
}

export function betaSweepTable(r: DemoResult): string {
  return table(
    ['β', 'PARGS AFINN', 'PARGS diversity', 'ARGS AFINN', 'ARGS diversity'],
    r.betaSweep.map((b) => [String(b.beta), pm(b.pargs.afinn), b.pargs.diversity.toFixed(3), pm(b.args.afinn), b.args.diversity.toFixed(3)]),
  );
}
