/** `pargs train` then `pargs sample` through main(), on a tiny model and a TRL-format file. */
import { existsSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-cli-'));
  const rows = Array.from({ length: 24 }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ' good, thanks', rejected: i % 5 === 0 ? '' : ' bad.' }));
  await writeFile(join(work, 'pairs.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  await writeFile(join(work, 'prompts.txt'), 'Hello there\nthe theme\n');
});

const run = runMain;

describe('pargs train / pargs sample', () => {
  it('train reports dropped rows, progress and diagnostics, and saves a loadable reward model', async () => {
    const { code, out, err } = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, 'rm'), '--epochs', '2', '--batch-size', '16', '--json']);
    expect(code).toBe(0);
    const log = err.join('\n');
    expect(log).toMatch(/kept 19 of 24 rows; dropped 5: 5 empty response/);
    expect(log).toMatch(/held out 2 of the pairs/);
    expect(log).toMatch(/^training +100% (\d+)\/\1 .* done in \S+  loss \d\.\d{4}  acc \d\.\d{3}$/m);
    expect(log).not.toContain('\r'); // piped (and --json): whole lines, no bar
    const summary = JSON.parse(out.at(-1) as string);
    expect(summary).toMatchObject({ mode: 'partial', trainPairs: 17, evalPairs: 2 });
    expect(summary.eval.prefixAccuracyByDecile).toHaveLength(10);
  });

  it('train --unfreeze 1 saves the trained block beside the head, and sample guides with it', async () => {
    const out = join(work, 'rm-unfrozen');
    const trained = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', out, '--epochs', '1', '--batch-size', '16', '--unfreeze', '1', '--json']);
    expect(trained.code).toBe(0);
    expect(existsSync(join(out, 'blocks.safetensors'))).toBe(true);
    const sampled = await run(['sample', '--model', model, '--rm', out, '--prompts', join(work, 'prompts.txt'), '--method', 'pargs', '--max-new-tokens', '3', '--json']);
    expect(sampled.code).toBe(0);
    expect(sampled.out.map((l) => JSON.parse(l)).filter((r) => r.prompt !== undefined)).toHaveLength(2);
  });

  it.each(['pargs', 'pargs-greedy', 'args', 'best-of-n', 'plain'])('sample --method %s prints one JSON result per prompt', async (method) => {
    const { code, out } = await run(['sample', '--model', model, '--rm', join(work, 'rm'), '--prompts', join(work, 'prompts.txt'), '--method', method, '--max-new-tokens', '5', '--n', '2', '--json']);
    expect(code).toBe(0);
    const results = out.map((l) => JSON.parse(l)).filter((r) => r.prompt !== undefined);
    expect(results.map((r) => r.prompt)).toEqual(['Hello there', 'the theme']);
    for (const r of results) {
      expect(r.method).toBe(method);
      expect(r.generatedIds.length).toBeGreaterThan(0);
      expect(typeof r.text).toBe('string');
    }
  });

  it.each([
    [['train', '--model', 'M', '--data', 'D'], /--out is required/],
    [['train', '--model', 'M', '--data', 'D', '--out', 'O', '--mode', 'half'], /--mode must be partial or full/],
    [['train', '--model', 'M', '--data', 'D', '--out', 'O', '--head', 'mlp'], /--head must be linear or mlp:H/],
    [['train', '--model', 'M', '--data', 'D', '--out', 'O', '--unfreeze', '0'], /--unfreeze/],
    [['sample', '--model', 'M', '--prompt', 'x'], /--rm DIR is required/],
    [['sample', '--model', 'M', '--rm', 'R', '--prompt', 'x', '--method', 'beam'], /--method must be one of/],
  ])('bad usage %j exits 2', async (argv, message) => {
    const { code, err } = await run(argv as string[]);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });
});

describe('pargs eval', () => {
  it('scores generations per method with win rates against the baseline', async () => {
    const file = join(work, 'gens.jsonl');
    const rows = [
      { prompt: 'a', response: 'good great day', method: 'pargs' },
      { prompt: 'b', response: 'bad awful day', method: 'pargs' },
      { prompt: 'a', response: 'a day', method: 'plain' },
      { prompt: 'b', response: 'terrible', method: 'plain' },
    ];
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const { code, out } = await run(['eval', '--generations', file, '--judge', 'afinn-sum', '--model', model, '--json']);
    expect(code).toBe(0);
    const { results } = JSON.parse(out.at(-1) as string);
    const pargs = results.find((r: { method: string }) => r.method === 'pargs');
    // AFINN-165 sums: "good great day" = 3 + 3, "bad awful day" = −3 − 3; plain: 0 and "terrible" = −3.
    expect(pargs.reward.mean).toBe(0);
    expect(pargs.winVsBaseline).toEqual({ win: 0.5, tie: 0, lose: 0.5 });
    expect(pargs.perplexity).toBeGreaterThan(1);
    expect(results.find((r: { method: string }) => r.method === 'plain').reward.mean).toBe(-1.5);
  });
});

describe('pargs features + pargs train --features', () => {
  it('trains from two shards of the feature pass', async () => {
    const data = join(work, 'pairs.jsonl');
    for (const shard of ['0/2', '1/2']) {
      const { code, out } = await run(['features', '--model', model, '--data', data, '--out', join(work, `shard-${shard[0]}`), '--shard', shard]);
      expect(code).toBe(0);
      expect(out.at(-1)).toMatch(new RegExp(`wrote shard ${shard[0]}/2`));
    }
    const { code, out } = await run(['train', '--model', model, '--data', data, '--out', join(work, 'rm-sharded'), '--features', `${join(work, 'shard-0')},${join(work, 'shard-1')}`, '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out.at(-1) as string)).toMatchObject({ trainPairs: 19, evalPairs: 0 });
    const bad = await run(['features', '--model', model, '--data', data, '--out', join(work, 'x'), '--shard', '2/2']);
    expect(bad.code).toBe(2);
  });
});
