/** pargs score, pargs eval --judge-rm, pargs sample --rm and pargs train --init-rm / --save-format hf on HF sequence-classification folders. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let hfRm = '';
let otherRm = '';
let work = '';
let rm: PartialRewardModel;
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81 })).dir;
  hfRm = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81, seqCls: {} })).dir; // the LM's backbone + a score row
  otherRm = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 82, seqCls: {} })).dir; // other weights, same tokenizer
  rm = await loadRewardModel(hfRm);
  work = await mkdtemp(join(tmpdir(), 'pargs-hf-cli-'));
  const rows = [
    { prompt: 'Hello', response: ' the theme', method: 'a' },
    { prompt: 'Hi there', response: ' thanks!', method: 'a' },
    { prompt: 'Hello', response: ' other', method: 'b' },
    { prompt: 'Hi there', response: ' words here', method: 'b' },
  ];
  await writeFile(join(work, 'gens.jsonl'), rows.map((r) => JSON.stringify(r)).join('\n'));
  const pairs = Array.from({ length: 12 }, (_, i) => ({ prompt: `Q${i}: how?`, chosen: ' good, thanks', rejected: ' bad.' }));
  await writeFile(join(work, 'pairs.jsonl'), pairs.map((r) => JSON.stringify(r)).join('\n'));
});
afterAll(() => rm.dispose());

const run = runMain;

describe('pargs score', () => {
  it('--json prints {prompt, response, reward, prefixRewards} per row, equal to the library', async () => {
    const { code, out } = await run(['score', '--rm', hfRm, '--data', join(work, 'gens.jsonl'), '--prefixes', '--json']);
    expect(code).toBe(0);
    const rows = out.map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4);
    for (const r of rows) {
      expect(Object.keys(r)).toEqual(['prompt', 'response', 'reward', 'prefixRewards']);
      expect(r.reward).toBeCloseTo(await rm.score(r.prompt, r.response), 6);
      expect(r.prefixRewards).toEqual(await rm.scorePrefixes(r.prompt, r.response));
      expect(r.prefixRewards.at(-1)).toBe(r.reward);
    }
  });

  it('--prompt/--response prints the reward, and with --prefixes one line per response token', async () => {
    const { code, out } = await run(['score', '--rm', hfRm, '--prompt', 'Hello', '--response', ' the theme', '--prefixes']);
    expect(code).toBe(0);
    expect(Number(out[0])).toBeCloseTo(await rm.score('Hello', ' the theme'), 5);
    expect(out.length - 1).toBe(rm.encode('Hello', ' the theme').responseIds.length);
  });

  it('a pargs reward model needs --model; bad flag combinations exit 2', async () => {
    const trained = join(work, 'trained');
    expect((await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', trained, '--epochs', '1', '--batch-size', '8'])).code).toBe(0);
    const without = await run(['score', '--rm', trained, '--prompt', 'Hi', '--response', ' yes']);
    expect(without.code).toBe(2);
    expect(without.err.join('\n')).toMatch(/needs its backbone.*--model DIR/);
    const withModel = await run(['score', '--rm', trained, '--model', model, '--prompt', 'Hi', '--response', ' yes', '--json']);
    expect(withModel.code).toBe(0);
    expect(typeof JSON.parse(withModel.out[0]).reward).toBe('number');
    expect((await run(['score', '--rm', hfRm, '--prompt', 'Hi'])).code).toBe(2);
    expect((await run(['score', '--rm', hfRm, '--prompt', 'Hi', '--response', 'x', '--data', 'f'])).code).toBe(2);
  });
});

describe('HF reward models in eval, sample and train', () => {
  it('eval --judge-rm judges with the reward model', async () => {
    const { code, out } = await run(['eval', '--generations', join(work, 'gens.jsonl'), '--judge-rm', hfRm, '--baseline', 'b', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out[0]);
    expect(report.judge).toBe(`reward model ${hfRm}`);
    const a = report.results.find((r: { method: string }) => r.method === 'a');
    const expected = ((await rm.score('Hello', ' the theme')) + (await rm.score('Hi there', ' thanks!'))) / 2;
    expect(a.reward.mean).toBeCloseTo(expected, 5);
  });

  it.each(['args', 'pargs', 'best-of-n'])('sample --method %s --rm HF_DIR runs, sharing the LM or on its own backbone', async (method) => {
    for (const rmDir of [hfRm, otherRm]) {
      const { code, out, err } = await run(['sample', '--model', model, '--rm', rmDir, '--prompt', 'Hello', '--method', method, '--max-new-tokens', '4', '--n', '2', '--json']);
      expect(code).toBe(0);
      const result = out.map((l) => JSON.parse(l)).find((r) => r.prompt !== undefined);
      expect(result.generatedIds.length).toBeGreaterThan(0);
      expect(err.join('\n').includes('runs its own backbone')).toBe(rmDir === otherRm);
    }
  });

  it('train --init-rm starts from the HF score row; --save-format hf exports a folder that reloads with the same rewards', async () => {
    const out = join(work, 'from-hf');
    const { code, err } = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', out, '--epochs', '1', '--batch-size', '8', '--init-rm', hfRm, '--save-format', 'hf']);
    expect(code, err.join('\n')).toBe(0);
    const config = JSON.parse(await readFile(join(out, 'hf', 'config.json'), 'utf8'));
    expect(config.architectures).toEqual(['LlamaForSequenceClassification']);
    const scored = await run(['score', '--rm', join(out, 'hf'), '--prompt', 'Hi', '--response', ' yes', '--json']);
    const pargsScored = await run(['score', '--rm', out, '--model', model, '--prompt', 'Hi', '--response', ' yes', '--json']);
    expect(JSON.parse(scored.out[0]).reward).toBe(JSON.parse(pargsScored.out[0]).reward);
    const refused = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, 'x'), '--init-rm', otherRm]);
    expect(refused.code).toBe(2);
    expect(refused.err.join('\n')).toMatch(/fingerprint .* has .*train on the reward model's own backbone/);
    const mlp = await run(['train', '--model', model, '--data', join(work, 'pairs.jsonl'), '--out', join(work, 'y'), '--head', 'mlp:4', '--save-format', 'hf']);
    expect(mlp.code).toBe(2);
    expect(mlp.err.join('\n')).toMatch(/MLP head .* has no Hugging Face/);
  });
});
