/**
 * No traps when comparing methods: one default length for every decoding function, `sample` samples,
 * trace candidates carry their text, and `generateStream` streams plain decoding as text.
 */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsSample, bestOfN, sample } from '../../src/parallel/dispatch.js';
import { DEFAULT_MAX_NEW_TOKENS } from '../../src/decode/generate.js';
import { generate, generateStream } from '../../src/parallel/dispatch.js';
import { guidedSample, guidedSampleStream } from '../../src/parallel/dispatch.js';
import { guidedSampleNoCache } from '../../src/decode/reference-loop.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let rm: PartialRewardModel;
const PROMPTS = [[260, 11, 12], [260, 40]];

beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir);
  rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(4, 'head-init')), 'partial');
});
afterAll(() => {
  rm.dispose();
  lm.dispose();
});

describe('decoding defaults', () => {
  it(`every decoding function writes DEFAULT_MAX_NEW_TOKENS (${DEFAULT_MAX_NEW_TOKENS}) tokens when no length is given`, async () => {
    const plain = { lm, promptIds: PROMPTS, stopAtEos: false };
    const guided = { lm, rewardModel: rm, promptIds: PROMPTS, topK: 3, stop: { eos: false } };
    const lengths: Record<string, number[]> = {
      generate: (await generate(plain)).map((g) => g.generatedIds.length),
      sample: (await sample(plain)).map((g) => g.generatedIds.length),
      bestOfN: (await bestOfN({ ...plain, rewardModel: rm, n: 2 })).map((r) => r.samples[r.best].generatedIds.length),
      guidedSample: (await guidedSample(guided)).map((g) => g.generatedIds.length),
      argsSample: (await argsSample(guided)).map((g) => g.generatedIds.length),
      guidedSampleNoCache: (await guidedSampleNoCache({ ...guided, promptIds: [PROMPTS[1]] })).map((g) => g.generatedIds.length),
    };
    const stream = guidedSampleStream(guided);
    let next = await stream.next();
    while (!next.done) next = await stream.next();
    lengths.guidedSampleStream = next.value.map((g) => g.generatedIds.length);
    for (const [fn, list] of Object.entries(lengths)) expect({ fn, list }).toEqual({ fn, list: list.map(() => DEFAULT_MAX_NEW_TOKENS) });
  });

  it('sample() samples by default (temperature 1, full vocabulary); greedy only when asked', async () => {
    const o = { lm, promptIds: PROMPTS, maxNewTokens: 12, seed: 9, stopAtEos: false };
    const sampled = (await sample(o)).map((g) => g.generatedIds);
    expect(sampled).toEqual((await generate({ ...o, strategy: { kind: 'sample', temperature: 1 } })).map((g) => g.generatedIds));
    const greedy = (await generate(o)).map((g) => g.generatedIds);
    expect(sampled).not.toEqual(greedy);
    expect((await sample({ ...o, strategy: { kind: 'greedy' } })).map((g) => g.generatedIds)).toEqual(greedy);
  });

  it('trace candidates carry their token text', async () => {
    const [g] = await guidedSample({ lm, rewardModel: rm, promptIds: [PROMPTS[0]], topK: 4, maxNewTokens: 3, seed: 2, stop: { eos: false } });
    for (const t of g.trace) {
      expect(t.candidates).toHaveLength(4);
      for (const c of t.candidates) expect(c.text).toBe(lm.tokenizer.decode([c.tokenId], { skipSpecialTokens: false }));
      expect(t.candidates.some((c) => c.tokenId === t.tokenId && c.text === t.text)).toBe(true);
    }
  });
});

describe('generateStream', () => {
  it('yields every token with the text it adds; the pieces join to the final text, and the ids match generate', async () => {
    const o = { lm, prompts: ['The nation', 'We'], maxNewTokens: 10, strategy: { kind: 'sample', temperature: 1, topK: 20 } as const, seed: 4, stopAtEos: false };
    const expected = await generate(o);
    const before = tf.memory().numTensors;
    const pieces = ['', ''];
    const ids: number[][] = [[], []];
    const stream = generateStream(o);
    let next = await stream.next();
    while (!next.done) {
      pieces[next.value.row] += next.value.text;
      ids[next.value.row].push(next.value.tokenId);
      next = await stream.next();
    }
    expect(ids).toEqual(expected.map((g) => g.generatedIds));
    expect(next.value.map((g) => g.text)).toEqual(expected.map((g) => g.text));
    expect(pieces).toEqual(expected.map((g) => g.text));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('leaving the loop early stops the generation and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    let seen = 0;
    for await (const t of generateStream({ lm, promptIds: PROMPTS, maxNewTokens: 50, stopAtEos: false })) {
      expect(typeof t.text).toBe('string');
      if (++seen === 3) break;
    }
    expect(seen).toBe(3);
    expect(tf.memory().numTensors).toBe(before);
  });
});
