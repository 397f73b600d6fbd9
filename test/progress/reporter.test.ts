/** The progress reporter on a fake terminal and on a pipe, with an injected clock. */
import { describe, expect, it } from 'vitest';
import { formatDuration, formatProgress } from '../../src/progress/format.js';
import { progressReporter } from '../../src/progress/reporter.js';

function sink(isTTY: boolean): { write: (t: string) => void; isTTY: boolean; text: () => string } {
  let out = '';
  return { write: (t: string) => void (out += t), isTTY, text: () => out };
}

describe('formatProgress', () => {
  it('computes rate and ETA from elapsed time', () => {
    // 25 of 100 steps in 10 s: 2.5 steps/s, 75 left → 30 s.
    const line = formatProgress({ label: 'training', done: 25, total: 100, elapsedMs: 10_000, unit: 'step' }, true);
    expect(line).toBe('training [######------------------]  25% 25/100  2.50 step/s  ETA 30s');
    expect(formatProgress({ label: 'x', done: 4, total: 4, elapsedMs: 125_000, unit: 'seq' }, false)).toBe('x 100% 4/4  0.0320 seq/s  done in 2m05s');
  });

  it('formats durations', () => {
    expect([formatDuration(0), formatDuration(59_400), formatDuration(61_000), formatDuration(3_720_000), formatDuration(NaN)]).toEqual(['0s', '59s', '1m01s', '1h02m', '?']);
  });
});

describe('progressReporter', () => {
  const steps = (n: number) => Array.from({ length: n }, (_, i) => ({ kind: 'step', step: i + 1, totalSteps: n, epoch: 0, loss: 0.5, accuracy: 0.75, margin: 0, lr: 1e-3, gradNorm: 1 }));

  it('redraws one line on a terminal and ends it when the task completes', () => {
    const s = sink(true);
    let t = 0;
    const report = progressReporter({ stream: s, now: () => (t += 1000) });
    for (const e of steps(20)) report(e);
    report({ kind: 'checkpoint', step: 20, dir: '/tmp/rm' });
    const text = s.text();
    expect(text.split('\r').length - 1).toBe(20);
    expect(text.split('\n').filter(Boolean)).toHaveLength(2);
    expect(text).toMatch(/training \[#{24}\] 100% 20\/20 .* done in \d+s  loss 0\.5000  acc 0\.750\x1b\[K\n/);
    expect(text.endsWith('checkpoint at step 20 → /tmp/rm\n')).toBe(true);
  });

  it('prints a plain line per tenth on a pipe, and starts a new task for the eval split', () => {
    const s = sink(false);
    const report = progressReporter({ stream: s, now: () => 0 });
    for (let i = 1; i <= 200; i++) report({ kind: 'features', split: 'train', sequencesDone: i, sequences: 200, tokens: i * 10 });
    for (let i = 1; i <= 3; i++) report({ kind: 'features', split: 'eval', sequencesDone: i, sequences: 3, tokens: i });
    const lines = s.text().trimEnd().split('\n');
    // The first sequence (so the user sees the pass has started), then one line per tenth.
    expect(lines.filter((l) => l.startsWith('features (train)'))).toHaveLength(11);
    expect(lines.filter((l) => l.startsWith('features (eval)'))).toHaveLength(3);
    expect(s.text()).not.toContain('\r');
    expect(lines.at(-1)).toMatch(/^features \(eval\) 100% 3\/3/);
  });

  it('reads pretraining and demo events too', () => {
    const s = sink(false);
    const report = progressReporter({ stream: s, now: () => 0 });
    report({ type: 'step', step: 5, steps: 5, loss: 3.2, lr: 1e-3, gradNorm: 1, tokensPerSec: 100, elapsedMs: 10 });
    report({ type: 'eval', step: 5, valLoss: 3.5 });
    report({ kind: 'eval', step: 7, diagnostics: { fullAccuracy: 0.75, prefixAccuracy: 0.625 } });
    report({ kind: 'stage', stage: 'training the reward models' });
    report({ kind: 'progress', stage: 'pairs', done: 2, total: 2 });
    expect(s.text()).toBe(
      'training 100% 5/5  ? step/s  done in 0s  loss 3.2000  100 tok/s\neval at step 5: held-out loss 3.5000\neval at step 7: held-out accuracy 0.750 (full), 0.625 (all prefixes)\ntraining the reward models\npairs 100% 2/2  ? item/s  done in 0s\n',
    );
  });

  it('on a pipe, `every` adds a line every N units besides the tenths', () => {
    const printed = (every?: number): number[] => {
      const s = sink(false);
      const report = progressReporter({ stream: s, now: () => 0, every });
      for (const e of steps(100)) report(e);
      return s.text().trimEnd().split('\n').map((l) => Number(/ (\d+)\/100 /.exec(l)?.[1]));
    };
    expect(printed()).toEqual([1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    // Every 3 steps after the last line, and each tenth still.
    expect(printed(3).slice(0, 10)).toEqual([1, 4, 7, 10, 13, 16, 19, 20, 23, 26]);
    expect(printed(1)).toHaveLength(100);
  });

  it('`describe` words one-off events its own way ("" hides one); close() ends a bar left open', () => {
    const s = sink(true);
    const report = progressReporter({ stream: s, now: () => 0, describe: (e) => (e.kind === 'eval' ? 'eval:\n  detail' : e.kind === 'checkpoint' ? '' : undefined) });
    report(steps(4)[0]);
    report({ kind: 'eval', step: 1, diagnostics: {} });
    report({ kind: 'checkpoint', step: 1, dir: 'x' });
    report({ kind: 'note', message: 'a stale lock was taken over' });
    report(steps(4)[1]);
    report.close();
    report.close();
    expect(s.text()).toMatch(/^\rtraining \[.*\x1b\[K\neval:\n {2}detail\nnote: a stale lock was taken over\n\rtraining \[.*2\/4.*\x1b\[K\n$/);
  });
});
