/** guidedSample (PARGS / PARGS-G) and the baselines on tiny random models. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { generate } from '../../src/parallel/dispatch.js';
import { type GuidedSampleOptions } from '../../src/decode/guided.js';
import { guidedSample, guidedSampleStream } from '../../src/parallel/dispatch.js';
import { guidedSampleNoCache } from '../../src/decode/reference-loop.js';
import { AbortError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let twin: CausalLM; // same weights, another object: forces the unfused path
let foreign: CausalLM; // another tokenizer
let rm: PartialRewardModel;
let twinRm: PartialRewardModel;
const PROMPTS = [[260, 11, 12, 13, 14], [260, 40], [260, 70, 71, 72]];

beforeAll(async () => {
  const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61 });
  lm = await loadCausalLM(tiny.dir);
  twin = await loadCausalLM(tiny.dir);
  const other = await writeTinyModel({ modelType: 'gpt2', seed: 62 });
  const tok = JSON.parse(await (await import('node:fs/promises')).readFile(join(other.dir, 'tokenizer.json'), 'utf8'));
  tok.model.merges = tok.model.merges.slice(0, 1);
  await writeFile(join(other.dir, 'tokenizer.json'), JSON.stringify(tok));
  foreign = await loadCausalLM(other.dir);
  const head = () => RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(3, 'head-init'));
  rm = new PartialRewardModel(lm, head(), 'partial');
  twinRm = new PartialRewardModel(twin, head(), 'partial');
});
afterAll(() => [rm, twinRm, lm, twin, foreign].forEach((x) => x.dispose()));

const opts = (o: Partial<GuidedSampleOptions> = {}): GuidedSampleOptions => ({ lm, rewardModel: rm, promptIds: PROMPTS, beta: 2, topK: 5, maxNewTokens: 8, seed: 5, stop: { eos: false }, ...o });

describe('guidedSample', () => {
  it.each([
    ['sampling (PARGS)', { kind: 'sample', temperature: 1 }],
    ['greedy (PARGS-G)', { kind: 'greedy' }],
  ] as const)('%s: fused, unfused and the no-cache reference pick identical tokens', async (_name, mode) => {
    const fused = await guidedSample(opts({ mode }));
    const unfused = await guidedSample(opts({ mode, fuse: false }));
    const separate = await guidedSample(opts({ mode, rewardModel: twinRm }));
    const reference = await guidedSampleNoCache(opts({ mode }));
    for (let r = 0; r < PROMPTS.length; r++) {
      expect(unfused[r].generatedIds).toEqual(fused[r].generatedIds);
      expect(separate[r].generatedIds).toEqual(fused[r].generatedIds);
      expect(reference[r].generatedIds).toEqual(fused[r].generatedIds);
    }
    expect(fused[0].modelCalls).toBe(1 + 8);
    expect(unfused[0].modelCalls).toBe(2 + 2 * 8);
    expect(reference[0].modelCalls).toBe(8 * (1 + 5));
  });

  it('β = 0 is exactly top-k sampling from the base model with the same random stream', async () => {
    const guided = await guidedSample(opts({ beta: 0, topK: 7 }));
    const plain = await generate({ lm, promptIds: PROMPTS, strategy: { kind: 'sample', topK: 7 }, maxNewTokens: 8, seed: 5, stopAtEos: false });
    expect(guided.map((g) => g.generatedIds)).toEqual(plain.map((g) => g.generatedIds));
  });

  it('a very large β picks the highest-reward candidate', async () => {
    const [out] = await guidedSample(opts({ beta: 1e6, promptIds: [PROMPTS[0]] }));
    for (const t of out.trace) {
      const best = t.candidates.reduce((a, b) => (b.reward > a.reward ? b : a));
      expect(t.tokenId).toBe(best.tokenId);
      expect(t.candidates.map((c) => c.logProb)).toEqual([...t.candidates.map((c) => c.logProb)].sort((a, b) => b - a));
    }
  });

  it('a batch equals its rows run alone', async () => {
    const batch = await guidedSample(opts({ mode: { kind: 'greedy' } }));
    for (let r = 0; r < PROMPTS.length; r++) {
      const [alone] = await guidedSample(opts({ mode: { kind: 'greedy' }, promptIds: [PROMPTS[r]] }));
      expect(batch[r].generatedIds).toEqual(alone.generatedIds);
    }
    const [firstAlone] = await guidedSample(opts({ promptIds: [PROMPTS[0]] }));
    expect((await guidedSample(opts()))[0].generatedIds).toEqual(firstAlone.generatedIds);
  });

  it('an EOS candidate ends its row, and other rows go on', async () => {
    const free = await guidedSample(opts({ mode: { kind: 'greedy' } }));
    const stopId = free[1].generatedIds[2];
    const withStop = await guidedSample(opts({ mode: { kind: 'greedy' }, stop: { eos: false, tokenIds: [stopId] } }));
    expect(withStop[1].generatedIds).toEqual(free[1].generatedIds.slice(0, free[1].generatedIds.indexOf(stopId) + 1));
    expect(withStop[1].finishReason).toBe('stop');
    for (const r of [0, 2]) if (!free[r].generatedIds.includes(stopId)) expect(withStop[r].generatedIds).toEqual(free[r].generatedIds);
    const eosLm = { ...lm, generation: { ...lm.generation, eosTokenIds: [stopId] } } as unknown as CausalLM;
    Object.setPrototypeOf(eosLm, Object.getPrototypeOf(lm));
    const eosRun = await guidedSample(opts({ lm: eosLm, rewardModel: new PartialRewardModel(eosLm, rm.head, 'partial'), mode: { kind: 'greedy' }, stop: {} }));
    expect(eosRun[1].finishReason).toBe('eos');
    expect(eosRun[1].generatedIds.at(-1)).toBe(stopId);
  });

  it('is deterministic, streams tokens, and leaks no tensors', async () => {
    await guidedSample(opts());
    const before = tf.memory().numTensors;
    const a = await guidedSample(opts());
    const streamed: number[] = [];
    const it = guidedSampleStream(opts());
    let next = await it.next();
    while (!next.done) {
      streamed.push(next.value.tokenId);
      next = await it.next();
    }
    expect(next.value.map((g) => g.generatedIds)).toEqual(a.map((g) => g.generatedIds));
    expect(streamed.length).toBe(a.reduce((s, g) => s + g.generatedIds.length, 0));
    await guidedSample(opts({ fuse: false }));
    expect(tf.memory().numTensors).toBe(before);
  });

  it('aborting mid-generation rejects with AbortError and frees every tensor', async () => {
    const before = tf.memory().numTensors;
    const controller = new AbortController();
    const run = guidedSample(opts({ signal: controller.signal, onToken: (t) => t.step === 2 && controller.abort() }));
    await expect(run).rejects.toThrow(AbortError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it.each([
    ['topK below 1', { topK: 0 }, /topK/],
    ['topK above the vocabulary', { topK: 301 }, /topK/],
    ['non-finite β', { beta: Number.POSITIVE_INFINITY }, /beta/],
    ['empty prompt list', { promptIds: [] }, /prompt list is empty/],
    ['prompt longer than the context', { promptIds: [new Array<number>(200).fill(1)] }, /context/],
    ['bad temperature', { mode: { kind: 'sample', temperature: 0 } }, /temperature/],
  ] as const)('refuses %s', async (_name, o, message) => {
    await expect(guidedSample(opts(o as Partial<GuidedSampleOptions>))).rejects.toThrow(OptionError);
    await expect(guidedSample(opts(o as Partial<GuidedSampleOptions>))).rejects.toThrow(message);
  });

  it('scores a reward model built on another tokenizer through the text bridge (test/decode/token-bridge.test.ts)', async () => {
    const alien = new PartialRewardModel(foreign, RewardHead.init({ kind: 'linear' }, foreign.config.hiddenSize, createRng(1, 'h')), 'partial');
    const results = await guidedSample(opts({ rewardModel: alien, maxNewTokens: 2 }));
    expect(results.every((g) => g.generatedIds.length === 2 && g.textBridge !== undefined)).toBe(true);
    alien.dispose();
  });
});

describe('baselines', () => {
  it('ARGS is the guided loop with β = w', async () => {
    const { beta: _guidedOnly, ...argsOptions } = opts(); // argsSample takes weight, not beta
    const args = await argsSample({ ...argsOptions, weight: 1.5 });
    const guided = await guidedSample(opts({ beta: 1.5 }));
    expect(args.map((g) => g.generatedIds)).toEqual(guided.map((g) => g.generatedIds));
  });

  it('Best-of-N returns N genuine, distinct samples with their rewards and marks the best', async () => {
    const [result] = await bestOfN({ lm, rewardModel: rm, promptIds: [PROMPTS[0]], n: 4, maxNewTokens: 6, seed: 2, stopAtEos: false });
    expect(result.samples).toHaveLength(4);
    expect(new Set(result.samples.map((s) => s.generatedIds.join(','))).size).toBeGreaterThan(1);
    for (const s of result.samples) expect(s.reward).toBeCloseTo(await rm.scorePrefixIds(PROMPTS[0], s.generatedIds).then((r) => r.at(-1)!), 4);
    expect(result.samples[result.best].reward).toBe(Math.max(...result.samples.map((s) => s.reward)));
  });
});
