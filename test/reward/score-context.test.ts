/**
 * Scoring checks the context as training and evaluation do: a prompt + response longer than the reward
 * backbone's max_position_embeddings is an OptionError naming the counts — for every kind of reward
 * model and every scoring entry point (library, bestOfN, the judge, `pargs score`, `pargs eval
 * --judge-rm`) — instead of a reward read at positions the backbone never saw.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestOfN } from '../../src/parallel/dispatch.js';
import { OptionError } from '../../src/errors.js';
import { rewardModelJudge } from '../../src/eval/judges.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead, type HeadSpec } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import type { RewardModel } from '../../src/reward/reward-model-interface.js';
import { runMain } from '../helpers/run-main.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const CONTEXT = 16;
const config = { max_position_embeddings: CONTEXT };
let lmDir = '';
let hfDir = '';
let work = '';
let lm: CausalLM;
const rms: [string, RewardModel][] = [];
const long = ' and the people'.repeat(12); // ≈ 36 tokens of the tiny byte-level tokenizer

beforeAll(async () => {
  lmDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, config })).dir;
  hfDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, config, seqCls: {} })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-score-context-'));
  lm = await loadCausalLM(lmDir);
  const d = lm.config.hiddenSize;
  const head = (spec: HeadSpec) => new PartialRewardModel(lm, RewardHead.init(spec, d, createRng(1, 'head-init')), 'partial');
  rms.push(['linear head', head({ kind: 'linear' })], ['mlp head', head({ kind: 'mlp', hidden: 8 })], ['vocabulary head', head({ kind: 'vocab', vocabSize: lm.config.vocabSize })]);
  rms.push(['Hugging Face folder', await loadRewardModel(hfDir)]);
});
afterAll(() => {
  for (const [, rm] of rms) rm.dispose();
  lm.dispose();
});

async function rejection(run: () => Promise<unknown>): Promise<Error> {
  const err = await run().then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(OptionError);
  return err as Error;
}

describe('RewardModel scoring refuses sequences past its context', () => {
  it.each<[number, string]>([[0, 'linear head'], [1, 'mlp head'], [2, 'vocabulary head'], [3, 'Hugging Face folder']])('%i, %s: score, scorePrefixes, scorePrefixIds and scoreIdsBatch', async (k) => {
    const rm = rms[k][1];
    const { promptIds, responseIds } = rm.encode('The economy', long);
    const n = promptIds.length + responseIds.length;
    expect(n).toBeGreaterThan(CONTEXT);
    const single = new RegExp(`^score: the prompt \\(${promptIds.length} tokens\\) \\+ response \\(${responseIds.length} tokens\\) = ${n} tokens are longer than the context of the reward model "${k === 3 ? hfDir : lmDir}" \\(${CONTEXT} tokens`);
    expect((await rejection(() => rm.score('The economy', long))).message).toMatch(single);
    expect((await rejection(() => rm.scorePrefixes('The economy', long))).message).toMatch(/^scorePrefixes: /);
    expect((await rejection(() => rm.scorePrefixIds(promptIds, responseIds))).message).toMatch(/^scorePrefixIds: /);
    const ok = rm.encode('The', ' economy');
    const batch = await rejection(() => rm.scoreIdsBatch([ok, { promptIds, responseIds }, ok, { promptIds, responseIds: responseIds.slice(0, 20) }]));
    expect(batch.message).toMatch(new RegExp(`^scoreIdsBatch: 2 of 4 prompt \\+ response sequences \\(first: item 1, longest: item 1 with ${n} tokens\\) are longer than the context`));
    // Exactly the context still scores.
    const fits = { promptIds, responseIds: responseIds.slice(0, CONTEXT - promptIds.length) };
    expect(await rm.scoreIdsBatch([fits])).toHaveLength(1);
    expect(await rm.scorePrefixIds(fits.promptIds, fits.responseIds)).toHaveLength(fits.responseIds.length);
  });

  it('the reward-model judge and bestOfN (before generating anything)', async () => {
    const rm = rms[0][1];
    await rejection(() => Promise.resolve(rewardModelJudge(rm)('The economy', long)));
    const err = await rejection(() => bestOfN({ lm, rewardModel: rm, prompts: ['The economy is'], n: 2, maxNewTokens: 40, seed: 1 }));
    expect(err.message).toMatch(/^bestOfN: 1 of 1 prompts plus maxNewTokens 40 exceed the reward model's context of 16 tokens/);
  });
});

describe('pargs score and pargs eval --judge-rm refuse rows past the context, naming them', () => {
  it('score --prompt/--response', async () => {
    const { code, out, err } = await runMain(['score', '--rm', hfDir, '--prompt', 'The economy', '--response', long]);
    expect(code).toBe(2);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(new RegExp(`OptionError: pargs score: the prompt \\+ response are \\d+ tokens, longer than the context of the reward model "${hfDir}" \\(16 tokens\\)`));
  });

  it('score --data and eval --judge-rm: every row checked before any is scored', async () => {
    const rows = [{ prompt: 'Hi', response: ' ok', method: 'plain' }, { prompt: 'The economy', response: long, method: 'plain' }, { prompt: 'Yes', response: ' no', method: 'plain' }];
    const file = join(work, 'gens.jsonl');
    await writeFile(file, rows.map((r) => JSON.stringify(r)).join('\n'));
    const score = await runMain(['score', '--rm', hfDir, '--data', file]);
    expect(score.code).toBe(2);
    expect(score.out).toEqual([]);
    expect(score.err.join('\n')).toMatch(new RegExp(`pargs score: 1 of 3 rows of ${file} are \\(first: row 2, longest: row 2 with \\d+ tokens\\) longer than the context`));
    const evaluated = await runMain(['eval', '--generations', file, '--judge-rm', hfDir]);
    expect(evaluated.code).toBe(2);
    expect(evaluated.err.join('\n')).toMatch(/pargs eval: 1 of 3 rows of .* are \(first: row 2, longest: row 2/);
  });
});
