/** Partially fused guided decoding: a reward model with trained top blocks shares the LM's lower layers' pass and cache. */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { argsSample } from '../../src/parallel/dispatch.js';
import { type GuidedGeneration, type GuidedSampleOptions } from '../../src/decode/guided.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { guidedSampleNoCache } from '../../src/decode/reference-loop.js';
import { disposePartialCaches, disposePartialScored, partialFuseFrom, PartialFusion, PARTIAL_FUSE_CALLS } from '../../src/decode/partial-fuse.js';
import { BranchedLM, topBlockTensors } from '../../src/lm/branched-lm.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const PROMPTS = [[260, 11, 12, 13, 14], [260, 40], [260, 70, 71, 72]];
const MAX = 8;
const K = 5;

/** A reward model on `lm` whose layers ≥ N − m and final norm are the LM's plus noise (as training would leave them). */
function topBlocksRM(lm: CausalLM, m: number, seed: number): PartialRewardModel {
  const from = lm.config.numLayers - m;
  const rng = createRng(seed, 'partial-fuse-perturb');
  const top = new Map(topBlockTensors(lm.params, from).map(([name, t]): [string, tf.Tensor] => {
    const values = Float32Array.from(t.dataSync() as Float32Array, (x) => x + 0.3 * (rng() - 0.5));
    return [name, tf.tensor(values, t.shape)];
  }));
  const backbone = BranchedLM.create(lm, from, top);
  const head = RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(seed, 'partial-fuse-head'));
  return new PartialRewardModel(backbone, head, 'partial', undefined, { from, base: lm });
}

const models: { name: string; lm: CausalLM; rms: Map<number, PartialRewardModel> }[] = [];
beforeAll(async () => {
  for (const [name, modelType] of [['llama', 'llama'], ['gpt2', 'gpt2']] as const) {
    const lm = await loadCausalLM((await writeTinyModel({ modelType, kvHeads: modelType === 'llama' ? 2 : undefined, seed: 71, hidden: 32, layers: 3 })).dir);
    models.push({ name, lm, rms: new Map([1, 2].map((m) => [m, topBlocksRM(lm, m, 10 + m)])) });
  }
});
afterAll(() => {
  for (const { lm, rms } of models) {
    rms.forEach((rm) => rm.dispose());
    lm.dispose();
  }
});

function expectSame(partial: GuidedGeneration[], separate: GuidedGeneration[]): void {
  expect(partial.length).toBe(separate.length);
  partial.forEach((p, r) => {
    const s = separate[r];
    expect(p.generatedIds).toEqual(s.generatedIds);
    expect(p.finishReason).toBe(s.finishReason);
    p.trace.forEach((t, i) => {
      expect(Math.abs(t.reward - s.trace[i].reward)).toBeLessThan(1e-4);
      expect(Math.abs(t.logProb - s.trace[i].logProb)).toBeLessThan(1e-4);
      t.candidates.forEach((c, j) => {
        expect(c.tokenId).toBe(s.trace[i].candidates[j].tokenId);
        expect(Math.abs(c.reward - s.trace[i].candidates[j].reward)).toBeLessThan(1e-4);
      });
    });
  });
}

describe.each([['llama'], ['gpt2']])('partially fused guidedSample (%s)', (name) => {
  const model = () => models.find((x) => x.name === name) as (typeof models)[number];
  const opts = (m: number, o: Partial<GuidedSampleOptions> = {}): GuidedSampleOptions => ({
    lm: model().lm, rewardModel: model().rms.get(m) as PartialRewardModel, promptIds: PROMPTS, beta: 2, topK: K, maxNewTokens: MAX, seed: 5, stop: { eos: false }, ...o,
  });

  it.each([
    [1, 'sample', 3], [1, 'greedy', 3], [2, 'sample', 3], [2, 'greedy', 3], [1, 'sample', 1], [2, 'greedy', 1],
  ] as const)('m = %i, %s, B = %i: the same tokens, rewards and log-probs as separate backbones, three calls per token', async (m, kind, B) => {
    const mode = kind === 'greedy' ? { kind } as const : { kind, temperature: 1 } as const;
    const o = opts(m, { mode, promptIds: PROMPTS.slice(0, B) });
    expect(partialFuseFrom(o.lm, o.rewardModel)).toBe(3 - m);
    const partial = await guidedSample(o);
    const separate = await guidedSample({ ...o, fuse: false });
    expectSame(partial, separate);
    expect(partial[0].modelCalls).toBe(PARTIAL_FUSE_CALLS * (1 + MAX));
    expect(separate[0].modelCalls).toBe(2 + 2 * MAX);
  });

  it('greedy, m = 2: the same tokens as the no-cache reference loop (a full forward of LM and RM per candidate)', async () => {
    const o = opts(2, { mode: { kind: 'greedy' }, promptIds: PROMPTS.slice(0, 2), maxNewTokens: 5 });
    const partial = await guidedSample(o);
    const reference = await guidedSampleNoCache(o);
    partial.forEach((p, r) => expect(p.generatedIds).toEqual(reference[r].generatedIds));
  });

  it('with rows finishing mid-batch (the three caches compacted) equals separate backbones', async () => {
    const o = opts(1, { mode: { kind: 'sample', temperature: 1.5 } });
    const free = await guidedSample({ ...o, fuse: false });
    // A token row 0 picks at step 2 ends it there; the other rows stop where they meet it, or run on.
    const stopId = free[0].generatedIds[2];
    const stop = { eos: false, tokenIds: [stopId] };
    const partial = await guidedSample({ ...o, stop });
    const separate = await guidedSample({ ...o, stop, fuse: false });
    expectSame(partial, separate);
    const lengths = partial.map((g) => g.generatedIds.length);
    expect(Math.min(...lengths)).toBeLessThan(MAX);
    expect(Math.max(...lengths)).toBeGreaterThan(Math.min(...lengths));
    expect(partial.some((g) => g.finishReason === 'stop')).toBe(true);
  });

  it('runs the RM backbone only on its top layers and the LM on its lower layers once per step', async () => {
    const o = opts(2);
    const scorer = o.rewardModel.backbone;
    const rmCalls = vi.spyOn(scorer, 'forward');
    const lmCalls = vi.spyOn(o.lm, 'forward');
    const lmSteps = vi.spyOn(o.lm, 'step');
    try {
      await guidedSample(o);
      expect(rmCalls.mock.calls.every(([input]) => input.fromLayer === 1)).toBe(true);
      expect(rmCalls).toHaveBeenCalledTimes(1 + MAX); // prefill + one candidate step per token
      const lower = lmCalls.mock.calls.filter(([input]) => input.toLayer === 1);
      expect(lower).toHaveLength(1 + MAX);
      expect(lower.slice(1).every(([input]) => input.candidates === true)).toBe(true);
      expect(lmSteps).not.toHaveBeenCalled();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('fuse: false and an RM branched from another LM take the separate path', async () => {
    const o = opts(1);
    expect(partialFuseFrom(o.lm, o.rewardModel)).toBe(2);
    const other = models.find((x) => x.name !== name) as (typeof models)[number];
    expect(partialFuseFrom(other.lm, o.rewardModel)).toBeUndefined();
    const head = RewardHead.init({ kind: 'linear' }, 32, createRng(1, 'h'));
    const plain = new PartialRewardModel(o.lm, head, 'partial');
    expect(partialFuseFrom(o.lm, plain)).toBeUndefined();
    plain.dispose();
    const separate = await guidedSample({ ...o, fuse: false });
    expect(separate[0].modelCalls).toBe(2 + 2 * MAX);
  });

  it('leaks no tensor, also when onToken throws mid-run or the run is aborted', async () => {
    const o = opts(2);
    const before = tf.memory().numTensors;
    await guidedSample(o);
    expect(tf.memory().numTensors).toBe(before);
    await expect(guidedSample({ ...o, onToken: (t) => { if (t.step === 3 && t.row === 1) throw new Error('boom'); } })).rejects.toThrow('boom');
    expect(tf.memory().numTensors).toBe(before);
    const controller = new AbortController();
    await expect(guidedSample({ ...o, signal: controller.signal, onToken: (t) => t.step === 2 && controller.abort() })).rejects.toThrow();
    expect(tf.memory().numTensors).toBe(before);
    for (const maxNewTokens of [0, 1]) {
      const out = await guidedSample({ ...o, maxNewTokens });
      expect(out[0].generatedIds).toHaveLength(maxNewTokens);
      expect(out[0].modelCalls).toBe(PARTIAL_FUSE_CALLS * (1 + maxNewTokens));
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a step whose cache extension fails leaves no tensor behind and the given caches usable', () => {
    const rm = model().rms.get(2) as PartialRewardModel;
    const fusion = new PartialFusion(model().lm, rm.backbone, 1);
    const before = tf.memory().numTensors;
    const { logits, caches } = fusion.prefill(PROMPTS);
    logits.dispose();
    const candidates = PROMPTS.map(() => [1, 2, 3]);
    const scored = fusion.score(caches, candidates);
    // The lower cache extends, then the RM-top one refuses a candidate set with a layer missing.
    const broken = { ...scored, rmKV: scored.rmKV.slice(1) };
    expect(() => fusion.advance(caches, broken, [0, 1, 2], [1, 2, 3])).toThrow(/layers of candidates/);
    const next = fusion.advance(caches, scored, [0, 1, 2], [1, 2, 3]);
    expect(next.logits.shape).toEqual([PROMPTS.length, model().lm.config.vocabSize]);
    next.logits.dispose();
    disposePartialCaches(next.caches);
    disposePartialScored(scored);
    disposePartialCaches(caches);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('argsSample with a top-blocks RM runs partially fused and equals fuse: false', async () => {
    const o = { ...opts(1, { mode: { kind: 'greedy' } }), rewardModel: model().rms.get(1) as PartialRewardModel };
    const { beta: _beta, ...rest } = o;
    const partial = await argsSample({ ...rest, weight: 1.5 });
    const separate = await argsSample({ ...rest, weight: 1.5, fuse: false });
    expectSame(partial, separate);
    expect(partial[0].modelCalls).toBe(PARTIAL_FUSE_CALLS * (1 + MAX));
  });
});
