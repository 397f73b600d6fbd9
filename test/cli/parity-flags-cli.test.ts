/**
 * CLI parity with the library, through main(): the training flags reach trainPartialRM (its resolved
 * options are saved in reward_model.json) and change what it does; sample's --stop, --top-p,
 * --method args-greedy, and --prompts files in JSONL / JSON / gzip with text or message prompts.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { parseFlags } from '../../src/cli/args.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
let rm = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-parity-'));
  const rows = Array.from({ length: 20 }, (_, i) => ({ prompt: `Q${i}: how?`, chosen: ' good, thanks a lot', rejected: ' bad.' }));
  await writeFile(join(work, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(join(work, 'prompts.txt'), 'Hello there\n');
  rm = join(work, 'rm-base');
  const { code } = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', rm, '--epochs', '1', '--mode', 'full']);
  expect(code).toBe(0);
});

const run = runMain;

const results = (out: string[]): Record<string, unknown>[] => out.map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.method !== undefined);

describe('pargs train flags', () => {
  const trainArgs = (out: string, extra: string[]): string[] => ['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, out), '--epochs', '2', '--batch-size', '8', ...extra];

  it('--min-prefix, --weighting, --margin, --weight-decay, --warmup-ratio and --eval-every reach the trainer', async () => {
    const { code, err } = await run(trainArgs('rm-flags', ['--min-prefix', '3', '--weighting', 'per-pair', '--margin', '0.5', '--weight-decay', '0.01', '--warmup-ratio', '0', '--eval-every', '1']));
    expect(code).toBe(0);
    const manifest = JSON.parse(await readFile(join(work, 'rm-flags', 'reward_model.json'), 'utf8'));
    expect(manifest.training.options).toMatchObject({ minPrefix: 3, weighting: 'per-pair', margin: 0.5, weightDecay: 0.01, warmupRatio: 0 });
    // --eval-every 1: one evaluation per step (the default evaluates once per epoch).
    const steps = manifest.training.steps as number;
    expect(steps).toBeGreaterThan(2);
    expect(err.filter((l) => l.startsWith('eval at step')).length).toBe(steps);
  });

  it('--over-length truncate keeps pairs that drop (the default) removes', async () => {
    const dropped = await run(trainArgs('rm-drop', ['--max-length', '18', '--epochs', '1']));
    const truncated = await run(trainArgs('rm-trunc', ['--max-length', '18', '--epochs', '1', '--over-length', 'truncate']));
    expect(truncated.code).toBe(0);
    expect(dropped.code).not.toBe(0); // every row is longer than 18 tokens
    expect(dropped.err.join('\n')).toMatch(/dropped 20: 20 too long/);
    expect(truncated.err.join('\n')).toMatch(/kept 20 of 20 rows/);
  });

  it('--format names the format: a TRL file read as hh keeps no row', async () => {
    const { code, err } = await run(trainArgs('rm-hh', ['--format', 'hh']));
    expect(code).not.toBe(0);
    expect(err.join('\n')).toMatch(/hh/);
  });

  it.each([
    [['--format', 'csv'], /--format must be auto or one of trl/],
    [['--over-length', 'cut'], /--over-length must be drop or truncate/],
    [['--weighting', 'uniform'], /--weighting must be per-prefix or per-pair/],
    [['--warmup-ratio', '2'], /--warmup-ratio must be at most 1/],
    [['--eval-every', '0'], /--eval-every must be at least 1/],
    [['--min-prefix', '1.5'], /--min-prefix must be an integer/],
  ])('bad %j exits 2', async (extra, message) => {
    const { code, err } = await run(trainArgs('rm-bad', extra as string[]));
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});

describe('pargs sample flags', () => {
  const sampleArgs = (extra: string[]): string[] => ['sample', '--model', model, '--rm', rm, '--prompts', join(work, 'prompts.txt'), '--max-new-tokens', '12', '--json', ...extra];

  it('--method args-greedy is deterministic across seeds and is labelled', async () => {
    const a = results((await run(sampleArgs(['--method', 'args-greedy', '--seed', '1']))).out);
    const b = results((await run(sampleArgs(['--method', 'args-greedy', '--seed', '2']))).out);
    expect(a[0].method).toBe('args-greedy');
    expect(a[0].generatedIds).toEqual(b[0].generatedIds);
    expect((a[0].generatedIds as number[]).length).toBeGreaterThan(0);
  });

  it('--stop (repeatable) cuts the response before the first stop text', async () => {
    const [free] = results((await run(sampleArgs(['--method', 'args-greedy']))).out);
    const text = free.text as string;
    expect(text.length).toBeGreaterThan(4);
    const stop = text.slice(2, 4);
    const [cut] = results((await run(sampleArgs(['--method', 'args-greedy', '--stop', 'never-in-this-text-\u2603', '--stop', stop]))).out);
    expect(cut.finishReason).toBe('stop');
    expect(cut.text).toBe(text.slice(0, text.indexOf(stop)));
  });

  it('--top-p: a tiny nucleus leaves only the most likely token, so seeds stop mattering', async () => {
    const draw = async (seed: string, extra: string[]) => results((await run(sampleArgs(['--method', 'plain', '--seed', seed, ...extra]))).out)[0].generatedIds;
    expect(await draw('1', ['--top-p', '1e-6'])).toEqual(await draw('2', ['--top-p', '1e-6']));
    expect(await draw('1', [])).not.toEqual(await draw('2', []));
  });

  it.each([
    [['--method', 'pargs', '--top-p', '0.9'], /--top-p applies to plain and best-of-n/],
    [['--method', 'plain', '--stop', 'x'], /--stop is supported with the guided methods/],
    [['--method', 'args', '--stop', ''], /--stop needs a non-empty text/],
    [['--method', 'plain', '--stop'], /--stop needs a value/],
  ])('bad %j exits 2', async (extra, message) => {
    const { code, err } = await run(sampleArgs(extra as string[]));
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});

describe('--prompts files', () => {
  const prompted = async (file: string): Promise<string[]> => {
    const { code, out, err } = await run(['sample', '--model', model, '--prompts', file, '--method', 'plain', '--max-new-tokens', '2', '--json']);
    expect(err.join('\n')).not.toMatch(/error/i);
    expect(code).toBe(0);
    return results(out).map((r) => r.prompt as string);
  };
  const rows = [{ prompt: 'plain text' }, { prompt: [{ role: 'user', content: 'hi there' }] }, { messages: [{ role: 'user', content: 'from messages' }] }, [{ role: 'user', content: 'bare list' }]];

  it('.jsonl rows: a prompt string, a prompt message list, a messages field, a bare message list', async () => {
    const file = join(work, 'p.jsonl');
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const prompts = await prompted(file);
    expect(prompts[0]).toBe('plain text');
    // This tiny model has no chat template: conversations are rendered as an HH transcript.
    expect(prompts.slice(1)).toEqual(['hi there', 'from messages', 'bare list'].map((c) => `\n\nHuman: ${c}\n\nAssistant:`));
  });

  it('.json arrays and .jsonl.gz / .json.gz files read the same rows', async () => {
    const jsonl = join(work, 'p.jsonl');
    const expected = await prompted(jsonl);
    await writeFile(join(work, 'p.json'), JSON.stringify(rows));
    await writeFile(join(work, 'p.jsonl.gz'), gzipSync(rows.map((r) => JSON.stringify(r)).join('\n')));
    await writeFile(join(work, 'p.json.gz'), gzipSync(JSON.stringify(rows)));
    for (const f of ['p.json', 'p.jsonl.gz', 'p.json.gz']) expect(await prompted(join(work, f))).toEqual(expected);
  });

  it.each([
    ['bad.jsonl', '{"text": "no prompt"}\n', /bad\.jsonl line 1 holds no prompt/],
    ['bad2.jsonl', '{"prompt": [{"role": "user"}]}\n', /bad2\.jsonl line 1/],
    ['bad.json', '{"prompt": "x"}', /must hold a JSON array of rows/],
    ['bad.jsonl.gz', 'not gzip', /not valid gzip/],
  ])('%s is refused with its line', async (name, content, message) => {
    const file = join(work, name);
    await writeFile(file, content);
    const { code, err } = await run(['sample', '--model', model, '--prompts', file, '--method', 'plain']);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});

describe('repeatable string flags', () => {
  it('collect every occurrence in order, an empty list when absent', () => {
    const schema = { stop: { type: 'strings' as const, help: 'x' } };
    expect(parseFlags(schema, ['--stop', 'a', '--stop=b', '--stop', 'c'], 't').flags.stop).toEqual(['a', 'b', 'c']);
    expect(parseFlags(schema, [], 't').flags.stop).toEqual([]);
  });
});
