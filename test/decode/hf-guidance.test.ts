/** Guided decoding, ARGS and Best-of-N with HF sequence-classification reward models. */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { guidedSampleNoCache } from '../../src/decode/reference-loop.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { tinyTokenizerJson, writeTinyModel } from '../helpers/tiny-model.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const PAD = 101;
let lm: CausalLM;
let padded: PartialRewardModel; // own backbone (other weights), pad_token_id set
let shared: PartialRewardModel; // the LM's backbone weights
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', seed: 41, kvHeads: 2 })).dir);
  padded = await loadRewardModel((await writeTinyModel({ modelType: 'llama', seed: 42, kvHeads: 2, seqCls: {}, config: { pad_token_id: PAD } })).dir, lm);
  shared = await loadRewardModel((await writeTinyModel({ modelType: 'llama', seed: 41, kvHeads: 2, seqCls: {} })).dir, lm);
});
afterAll(() => {
  padded.dispose();
  shared.dispose();
  lm.dispose();
});

const prompts = [[260, 5, 9], [7, 8]];

it('a candidate equal to pad_token_id gets the reward of the sequence before it, and the cached loop equals the no-cache reference', async () => {
  expect(padded.backbone).not.toBe(lm);
  const before = tf.memory().numTensors;
  const topK = lm.config.vocabSize; // every token, the pad token included, is a candidate at every step
  const options = { lm, rewardModel: padded, promptIds: prompts, topK, beta: 3, maxNewTokens: 3, seed: 2, stop: { eos: false } };
  const results = await guidedSample(options);
  expect(tf.memory().numTensors).toBe(before);
  for (const [row, g] of results.entries()) {
    let previous = (await padded.scoreIdsBatch([{ promptIds: prompts[row], responseIds: [] }]))[0];
    for (const token of g.trace) {
      const pad = token.candidates.find((c) => c.tokenId === PAD) as { reward: number };
      expect(pad.reward).toBeCloseTo(previous, 5);
      const other = token.candidates.find((c) => c.tokenId !== PAD) as { tokenId: number; reward: number };
      const ids = [...prompts[row], ...g.generatedIds.slice(0, token.step), other.tokenId];
      expect(other.reward).toBeCloseTo((await padded.scoreIdsBatch([{ promptIds: ids, responseIds: [] }]))[0], 4);
      if (token.tokenId !== PAD) previous = token.reward;
    }
  }
  const reference = await guidedSampleNoCache({ ...options, stop: { eos: false } });
  expect(reference.map((r) => r.generatedIds)).toEqual(results.map((r) => r.generatedIds));
});

it('an HF RM on the LM’s backbone weights shares the LM (fused path) and picks the tokens of the separate path', async () => {
  expect(shared.backbone).toBe(lm);
  const options = { lm, rewardModel: shared, promptIds: prompts, topK: 8, maxNewTokens: 5, seed: 3 };
  const fused = await argsSample({ ...options, weight: 2 });
  const separate = await guidedSample({ ...options, beta: 2, fuse: false });
  expect(fused.map((g) => g.generatedIds)).toEqual(separate.map((g) => g.generatedIds));
  expect(fused[0].modelCalls).toBeLessThan(separate[0].modelCalls);
});

it('Best-of-N scores the samples with the HF read-out', async () => {
  const [r] = await bestOfN({ lm, rewardModel: padded, promptIds: [prompts[0]], n: 3, maxNewTokens: 4, seed: 1 });
  for (const s of r.samples) expect(s.reward).toBeCloseTo((await padded.scoreIdsBatch([{ promptIds: s.promptIds, responseIds: s.generatedIds }]))[0], 5);
  expect(r.samples[r.best].reward).toBe(Math.max(...r.samples.map((s) => s.reward)));
});

it('an HF RM on another tokenizer runs its own backbone through the text bridge', async () => {
  const tiny = await writeTinyModel({ modelType: 'llama', seed: 43, kvHeads: 2, seqCls: {} });
  const tok = tinyTokenizerJson().json as { model: { merges: string[] } };
  tok.model.merges = tok.model.merges.slice(0, 2);
  await writeFile(join(tiny.dir, 'tokenizer.json'), JSON.stringify(tok));
  const other = await loadRewardModel(tiny.dir, lm);
  try {
    expect(other.backbone).not.toBe(lm);
    const [g] = await guidedSample({ lm, rewardModel: other, promptIds: prompts, maxNewTokens: 2 });
    expect(g.textBridge?.rmTokens).toBeGreaterThan(0);
    const [r] = await bestOfN({ lm, rewardModel: other, promptIds: prompts, n: 2, maxNewTokens: 2 });
    expect(r.samples).toHaveLength(2);
  } finally {
    other.dispose();
  }
});
