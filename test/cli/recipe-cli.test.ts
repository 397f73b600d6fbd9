/**
 * `pargs recipe hh|tldr` end to end on a tiny model with tiny data: reward models, CD value head,
 * every method's generations scored by the full RM, the recipe's settings recorded; the TL;DR pair
 * filter; the CD folder usable by `pargs sample --method cd`, and a Bradley–Terry RM refused there.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { runMain } from '../helpers/run-main.js';
import { cutAtStop } from '../../src/cli/recipe.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
const words = ['good', 'bad', 'kind', 'rude', 'calm', 'loud', 'warm', 'cold'];

beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 91 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-recipe-'));
  const hh = Array.from({ length: 14 }, (_, i) => {
    const context = `\n\nHuman: question ${i} about ${words[i % 8]}?\n\nAssistant:`;
    return { chosen: `${context} a ${words[i % 8]} answer`, rejected: `${context} no` };
  });
  await writeFile(join(work, 'hh.jsonl'), hh.map((r) => JSON.stringify(r)).join('\n'));
  // Half the comparisons have summaries of at most 20 tokens: the TL;DR recipe skips those pairs.
  const tldr = Array.from({ length: 16 }, (_, i) => ({
    info: { post: `post number ${i} on ${words[i % 8]} things`, title: `t${i}`, subreddit: 'test' },
    summaries: i % 2 ? [{ text: ' ok' }, { text: ' no' }] : [{ text: ` a long and ${words[i % 8]} summary of the post` }, { text: ' a summary that is rather short too' }],
    choice: 0,
  }));
  await writeFile(join(work, 'tldr.jsonl'), tldr.map((r) => JSON.stringify(r)).join('\n'));
});

const run = runMain;

const METHODS = ['plain', 'best-of-n', 'args', 'cd', 'pargs', 'pargs-greedy'];

describe('pargs recipe', () => {
  it.each([
    ['hh', 'hh.jsonl', { maxNewTokens: 128, stopStrings: ['\n\nHuman:'], pargsBeta: 2, pargsGreedyBeta: 1, argsWeight: 1.5, topK: 10 }],
    ['tldr', 'tldr.jsonl', { maxNewTokens: 64, promptPrefix: 'Context: ', skipPairsUpTo: 20, minPrefix: 2, pargsBeta: 2, pargsGreedyBeta: 1, argsWeight: 1, topK: 10 }],
  ])('%s runs end to end: RMs, CD, every method scored, settings recorded', async (name, data, settings) => {
    const out = join(work, `out-${name}`);
    const tensors = tf.memory().numTensors;
    const { code, out: stdout, err } = await run(['recipe', name, '--model', model, '--data', join(work, data), '--out', out, '--test', '4', '--max-new-tokens', '6', '--n', '2', '--batch-size', '32', '--json']);
    expect(err.join('\n')).not.toMatch(/Error/);
    expect(code).toBe(0);
    expect(tf.memory().numTensors).toBe(tensors);
    const results = JSON.parse(stdout.at(-1) as string);
    expect(results).toMatchObject({ recipe: name, testPrompts: 4, settings: { ...settings, maxNewTokens: 6 } });
    expect(Object.keys(results.methods)).toEqual(METHODS);
    for (const m of METHODS) expect(Number.isFinite(results.methods[m].fullRm.mean)).toBe(true);
    for (const dir of ['rm-partial', 'rm-full', 'rm-cd']) expect(existsSync(join(out, dir, 'reward_model.json'))).toBe(true);
    const rows = (await readFile(join(out, 'generations.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    expect(rows).toHaveLength(4 * METHODS.length);
    if (name === 'tldr') {
      expect(rows.every((r) => r.prompt.startsWith('Context: SUBREDDIT: r/test'))).toBe(true);
      // 16 pairs, 4 held out; of the 12 left, those with summaries of ≤ 20 tokens are skipped.
      expect(err.join('\n')).toMatch(/skipped \d+ of 12 pairs whose responses have ≤ 20 tokens/);
      expect(results.trainPairs).toBeLessThan(12);
    } else {
      expect(rows.every((r) => r.prompt.endsWith('\n\nAssistant:'))).toBe(true);
    }
  }, 120_000);

  it('leaves a CD value head that pargs sample --method cd decodes with; a Bradley–Terry RM is refused there', async () => {
    const cd = await run(['sample', '--model', model, '--rm', join(work, 'out-hh', 'rm-cd'), '--prompt', 'hello', '--method', 'cd', '--max-new-tokens', '4', '--json']);
    expect(cd.code).toBe(0);
    expect(JSON.parse(cd.out.at(-1) as string)).toMatchObject({ method: 'cd' });
    const bt = await run(['sample', '--model', model, '--rm', join(work, 'out-hh', 'rm-partial'), '--prompt', 'hello', '--method', 'cd']);
    expect(bt.code).toBe(2);
    expect(bt.err.join('\n')).toMatch(/--method cd needs a CD value head .* use --method pargs/);
  }, 60_000);

  it.each([
    [['recipe', '--model', 'M', '--data', 'D', '--out', 'O'], /name one recipe, hh or tldr; got none/],
    [['recipe', 'gsm8k', '--model', 'M', '--data', 'D', '--out', 'O'], /got "gsm8k"/],
    [['recipe', 'hh', '--data', 'D', '--out', 'O'], /--model is required/],
    [['recipe', 'hh', '--model', 'M', '--data', 'D', '--out', 'O', '--methods', 'pargs,beam'], /--methods must list some of .*; got "beam"/],
  ])('refuses %j with exit code 2', async (argv, message) => {
    const { code, err } = await run(argv);
    expect(code).toBe(2);
    expect(err.join('\n')).toMatch(message);
  });

  it('cuts a response before the first of its stop strings', () => {
    expect(cutAtStop(' Sure.\n\nHuman: thanks\n\nHuman: bye', ['\n\nHuman:'])).toEqual({ text: ' Sure.', stopped: true });
    expect(cutAtStop(' Sure.', ['\n\nHuman:'])).toEqual({ text: ' Sure.', stopped: false });
  });
});
