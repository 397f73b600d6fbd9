/**
 * Pure formatting of one progress line: label, bar, count, rate and ETA. Kept apart from the reporter
 * so the arithmetic (rate from elapsed time, ETA from what is left) is tested on its own.
 */

export interface ProgressState {
  label: string;
  done: number;
  total: number;
  /** Milliseconds since the first event of the task. */
  elapsedMs: number;
  /** Units already done at the first event (the rate counts only what was done while timed). */
  doneAtStart?: number;
  /** What one unit is, for the rate ("seq", "step"). */
  unit: string;
  /** Extra text after the counts (e.g. "loss 0.6931"). */
  detail?: string;
}

const BAR_WIDTH = 24;

/** `3m05s`, `42s`, `1h02m`: short enough for a status line. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '?';
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

function formatRate(perSecond: number, unit: string): string {
  if (!Number.isFinite(perSecond) || perSecond <= 0) return `? ${unit}/s`;
  return perSecond >= 100 ? `${Math.round(perSecond)} ${unit}/s` : `${perSecond.toPrecision(3)} ${unit}/s`;
}

/** One line; `bar` draws a text bar (for a TTY), otherwise only the percentage. */
export function formatProgress(p: ProgressState, bar: boolean): string {
  const fraction = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const pct = `${Math.floor(100 * fraction)}%`.padStart(4);
  const filled = Math.round(fraction * BAR_WIDTH);
  const drawn = bar ? ` [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]` : '';
  const timed = p.done - (p.doneAtStart ?? 0);
  const rate = p.elapsedMs > 0 && timed > 0 ? (1000 * timed) / p.elapsedMs : NaN;
  const left = p.done >= p.total ? `done in ${formatDuration(p.elapsedMs)}` : `ETA ${Number.isFinite(rate) ? formatDuration((1000 * (p.total - p.done)) / rate) : '?'}`;
  const detail = p.detail ? `  ${p.detail}` : '';
  return `${p.label}${drawn} ${pct} ${p.done}/${p.total}  ${formatRate(rate, p.unit)}  ${left}${detail}`;
}
