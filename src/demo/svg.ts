/** Minimal self-contained SVG charts for the demo report: line charts with error bars and labelled scatters. */

export interface Series {
  name: string;
  color: string;
  points: { x: number; y: number; err?: number; label?: string }[];
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  width?: number;
  height?: number;
  /** Draw lines between points (false: scatter with labels). */
  lines?: boolean;
  yRange?: [number, number];
  /** Dashed horizontal reference line, e.g. chance accuracy 0.5. */
  reference?: number;
  /** A line under the title saying what the error bars are (e.g. "error bars: ± s.e. across 3 seeds"). */
  note?: string;
}

/** Okabe–Ito colours, distinguishable with the common colour-vision deficiencies. */
export const PALETTE = ['#000000', '#E69F00', '#56B4E9', '#009E73', '#0072B2', '#D55E00', '#CC79A7', '#F0E442'];

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function niceTicks(min: number, max: number, count = 5): number[] {
  if (min === max) return [min];
  const step = 10 ** Math.floor(Math.log10((max - min) / count));
  const factor = [1, 2, 5, 10].find((f) => (max - min) / (f * step) <= count) ?? 10;
  const s = factor * step;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / s) * s; t <= max + 1e-12; t += s) ticks.push(Number(t.toPrecision(10)));
  return ticks;
}

export function chart(series: readonly Series[], o: ChartOptions): string {
  const W = o.width ?? 720;
  const H = o.height ?? 400;
  const m = { left: 66, right: 190, top: o.note ? 52 : 34, bottom: 50 };
  const all = series.flatMap((s) => s.points).filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
  const xs = all.map((p) => p.x);
  const ys = all.flatMap((p) => [p.y - (p.err ?? 0), p.y + (p.err ?? 0)]);
  if (o.reference !== undefined) ys.push(o.reference);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = o.yRange ?? [Math.min(...ys), Math.max(...ys)];
  if (x0 === x1) [x0, x1] = [x0 - 1, x1 + 1];
  if (y0 === y1) [y0, y1] = [y0 - 1, y1 + 1];
  const pad = (y1 - y0) * 0.08;
  if (!o.yRange) [y0, y1] = [y0 - pad, y1 + pad];
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0)) * (W - m.left - m.right);
  const Y = (y: number) => H - m.bottom - ((y - y0) / (y1 - y0)) * (H - m.top - m.bottom);
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="${esc(o.title)}">`];
  parts.push(`<text x="${W / 2 - m.right / 2}" y="20" text-anchor="middle" font-size="15" font-weight="600">${esc(o.title)}</text>`);
  if (o.note) parts.push(`<text class="note" x="${W / 2 - m.right / 2}" y="38" text-anchor="middle" font-size="12">${esc(o.note)}</text>`);
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`);
    parts.push(`<text x="${m.left - 6}" y="${Y(t) + 4}" text-anchor="end" font-size="11">${t}</text>`);
  }
  for (const t of niceTicks(x0, x1)) parts.push(`<text x="${X(t)}" y="${H - m.bottom + 16}" text-anchor="middle" font-size="11">${t}</text>`);
  parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${H - m.bottom}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<line x1="${m.left}" x2="${m.left}" y1="${m.top}" y2="${H - m.bottom}" stroke="#333"/>`);
  parts.push(`<text x="${(m.left + W - m.right) / 2}" y="${H - 10}" text-anchor="middle" font-size="12">${esc(o.xLabel)}</text>`);
  parts.push(`<text transform="translate(16 ${(m.top + H - m.bottom) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(o.yLabel)}</text>`);
  if (o.reference !== undefined) parts.push(`<line x1="${m.left}" x2="${W - m.right}" y1="${Y(o.reference)}" y2="${Y(o.reference)}" stroke="#999" stroke-dasharray="4 4"/>`);
  series.forEach((s, si) => {
    const pts = s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y));
    if (o.lines !== false && pts.length > 1) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.map((p) => `${X(p.x)},${Y(p.y)}`).join(' ')}"/>`);
    for (const p of pts) {
      if (p.err) parts.push(`<line class="err" x1="${X(p.x)}" x2="${X(p.x)}" y1="${Y(p.y - p.err)}" y2="${Y(p.y + p.err)}" stroke="${s.color}"/>`);
      parts.push(`<circle cx="${X(p.x)}" cy="${Y(p.y)}" r="4" fill="${s.color}"><title>${esc(s.name)}: (${p.x.toPrecision(4)}, ${p.y.toPrecision(4)})</title></circle>`);
      if (p.label) parts.push(`<text x="${X(p.x) + 6}" y="${Y(p.y) - 6}" font-size="11">${esc(p.label)}</text>`);
    }
    const ly = m.top + 16 + si * 18;
    parts.push(`<rect x="${W - m.right + 12}" y="${ly - 9}" width="12" height="12" fill="${s.color}"/><text x="${W - m.right + 30}" y="${ly + 1}" font-size="12">${esc(s.name)}</text>`);
  });
  parts.push('</svg>');
  return parts.join('');
}
