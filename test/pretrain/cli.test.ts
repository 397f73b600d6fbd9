import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import { formatDuration } from '../../src/cli/pretrain.js';
import { removeTempDirs, tempDir, writeCorpus } from './helpers.js';

afterAll(removeTempDirs);

function capture(): { out: string[]; err: string[]; io: { out: (l: string) => void; err: (l: string) => void } } {
  const out: string[] = [];
  const err: string[] = [];
  return { out, err, io: { out: (l) => out.push(l), err: (l) => err.push(l) } };
}

describe('pargs pretrain / eval-lm', () => {
  it('trains a toy model, reports progress on stderr and a summary on stdout, then evaluates it', async () => {
    const root = await tempDir();
    const { corpusDir, validationFile } = await writeCorpus(root);
    const model = join(root, 'model');
    const run = capture();
    const code = await main(
      ['pretrain', '--corpus', corpusDir, '--out', model, '--layers', '1', '--dim', '16', '--heads', '2', '--context', '8',
        '--vocab-size', '280', '--steps', '4', '--batch-size', '2', '--lr', '0.01', '--progress-every', '2', '--dtype', 'f32', '--validation-files', validationFile, '--json'],
      run.io,
    );
    expect(run.err.join('\n')).not.toMatch(/Error/);
    expect(code).toBe(0);
    expect(run.err.some((l) => /^training +50% 2\/4 {2}\S+ step\/s {2}ETA \S+ {2}loss \d+\.\d{4} {2}\d+ tok\/s$/.test(l))).toBe(true);
    expect(run.err.some((l) => l.startsWith('tokenizer: trained'))).toBe(true);
    expect(run.err.some((l) => l.startsWith('corpus: 6 documents'))).toBe(true);
    const summary = JSON.parse(run.out.at(-1) as string) as { steps: number; valLoss: number; out: string };
    expect(summary.steps).toBe(4);
    expect(Number.isFinite(summary.valLoss)).toBe(true);
    await access(join(model, 'model.safetensors'));
    await access(join(`${model}.work`, 'checkpoints', 'step-00000004', 'manifest.json'));

    const evaluation = capture();
    expect(await main(['eval-lm', '--model', model, '--text', validationFile, '--json'], evaluation.io)).toBe(0);
    const r = JSON.parse(evaluation.out.at(-1) as string) as { tokens: number; bitsPerByte: number; perplexity: number };
    expect(r.tokens).toBeGreaterThan(0);
    expect(r.bitsPerByte).toBeGreaterThan(0);
    expect(r.perplexity).toBeGreaterThan(1);
  });

  it('exits 2 with a typed error for missing or bad flags', async () => {
    const a = capture();
    expect(await main(['pretrain', '--out', '/tmp/x'], a.io)).toBe(2);
    expect(a.err.join('\n')).toMatch(/--corpus/);
    const b = capture();
    expect(await main(['pretrain', '--corpus', 'c', '--out', 'o', '--dtype', 'bf16'], b.io)).toBe(2);
    expect(b.err.join('\n')).toMatch(/--dtype/);
    const c = capture();
    expect(await main(['eval-lm', '--model', 'm'], c.io)).toBe(2);
  });

  it('formats ETAs', () => {
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(185_000)).toBe('3m05s');
    expect(formatDuration(3_720_000)).toBe('1h02m');
  });
});
