/** The text bridge: guided decoding, ARGS and Best-of-N with a reward model on another tokenizer. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { bridgedScoreItems } from '../../src/decode/token-bridge.js';
import { TokenizerError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeCharModel } from '../helpers/char-tokenizer.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { runMain } from '../helpers/run-main.js';

let lm: CausalLM; // character-level: every token is whole characters
let own: PartialRewardModel; // a head on the LM itself (the shared, fused path)
let crossDir = '';
let cross: PartialRewardModel; // an HF RM on the byte-level BPE tokenizer (" t", "th", "he", " the"), pad_token_id = "e"
let merged: PartialRewardModel; // an HF RM on the character tokenizer plus merges "th", "he", "the"
const PROMPTS = ['the theme', 'Then'];
const PAD_E = 101; // "e" in the byte-level tokenizer

beforeAll(async () => {
  lm = await loadCausalLM(await writeCharModel({ modelType: 'llama', kvHeads: 2, seed: 91 }));
  own = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(4, 'head-init')), 'partial');
  crossDir = (await writeTinyModel({ modelType: 'gpt2', seed: 92, seqCls: {}, config: { pad_token_id: PAD_E } })).dir;
  cross = await loadRewardModel(crossDir, lm);
  merged = await loadRewardModel(await writeCharModel({ modelType: 'qwen2', seed: 93, kvHeads: 2, seqCls: {}, merges: ['t h', 'h e', 'th e'] }), lm);
});
afterAll(() => [own, cross, merged, lm].forEach((x) => x.dispose()));

/** The no-cache reference: candidate v's reward from its whole re-encoded text, by the RM's own batch scorer. */
async function referenceReward(rm: PartialRewardModel, prompt: string, responseIds: number[]): Promise<number> {
  const [reward] = await rm.scoreIdsBatch([rm.encode(prompt, lm.tokenizer.decode(responseIds, { cleanUpSpaces: false }))]);
  return reward;
}

it('with identical tokenizers the bridge picks exactly the tokens of the shared path', async () => {
  const options = { lm, rewardModel: own, prompts: PROMPTS, beta: 2, topK: 5, maxNewTokens: 8, seed: 7, stop: { eos: false } };
  const shared = await guidedSample(options);
  const bridged = await guidedSample({ ...options, textBridge: true });
  // The bridge gives EOS (no text) the reward of the text without it; the shared path reads EOS's own state.
  const eos = lm.generation.eosTokenIds[0];
  expect(shared.flatMap((g) => g.trace.flatMap((t) => t.candidates.map((c) => c.tokenId)))).not.toContain(eos);
  expect(bridged.map((g) => g.generatedIds)).toEqual(shared.map((g) => g.generatedIds));
  bridged.forEach((g, row) => g.trace.forEach((t, i) => t.candidates.forEach((c, j) => expect(c.reward).toBeCloseTo(shared[row].trace[i].candidates[j].reward, 4))));
  expect(shared[0].textBridge).toBeUndefined();
  // Same ids every step: the cache holds all but the candidate, so a step runs k tokens.
  for (const t of bridged[0].trace) expect(t.textBridge).toEqual({ rmTokens: 5, rmTokensWithoutCache: 5 * (lm.tokenizer.encode(PROMPTS[0]).length + t.step + 1) });
});

it.each([
  ['byte-level BPE, pad_token_id set', () => cross],
  ['the same characters with merges', () => merged],
])('with another tokenizer (%s) every candidate gets the reward of its whole re-encoded text', async (_name, rmOf) => {
  const rm = rmOf();
  expect(rm.tokenizer.fingerprint).not.toBe(lm.tokenizer.fingerprint);
  const before = tf.memory().numTensors;
  // Every token is a candidate: merges across the boundary and the pad read-out both occur.
  const results = await guidedSample({ lm, rewardModel: rm, prompts: PROMPTS, beta: 3, topK: lm.config.vocabSize, maxNewTokens: 4, seed: 3, stop: { eos: false } });
  expect(tf.memory().numTensors).toBe(before);
  for (const [row, g] of results.entries()) {
    for (const t of g.trace) {
      const prefix = g.generatedIds.slice(0, t.step);
      const sampled = t.candidates.filter((_, j) => j % 9 === 0 || t.candidates[j].tokenId === t.tokenId);
      for (const c of sampled) expect(c.reward).toBeCloseTo(await referenceReward(rm, PROMPTS[row], [...prefix, c.tokenId]), 4);
    }
    const total = g.textBridge as { rmTokens: number; rmTokensWithoutCache: number };
    expect(total.rmTokens).toBe(rm.encode(PROMPTS[row], '').promptIds.length + g.trace.reduce((s, t) => s + (t.textBridge?.rmTokens ?? 0), 0));
    expect(total.rmTokensWithoutCache).toBe(g.trace.reduce((s, t) => s + (t.textBridge?.rmTokensWithoutCache ?? 0), 0));
    expect(total.rmTokens).toBeLessThan(total.rmTokensWithoutCache);
  }
  // Some step re-tokenized the text before the new token (a tail longer than one token per candidate).
  expect(results.some((g) => g.trace.some((t) => (t.textBridge?.rmTokens ?? 0) > lm.config.vocabSize))).toBe(true);
});

it('a bridged batch equals its rows run alone, also when rows stop early', async () => {
  const prompts = ['the theme', 'Then', 'a'];
  const base = { lm, rewardModel: cross, beta: 2, topK: 8, maxNewTokens: 6, seed: 11, stop: { eos: false } };
  // Stopping does not change the choices before it: row 0's third token, as a stop id, ends it early.
  const [free] = await guidedSample({ ...base, prompts: prompts.slice(0, 1) });
  const options = { ...base, stop: { eos: false, tokenIds: [free.generatedIds[2]] } };
  const before = tf.memory().numTensors;
  const batch = await guidedSample({ ...options, prompts });
  expect(tf.memory().numTensors).toBe(before);
  expect(batch.some((g) => g.finishReason === 'stop' && g.generatedIds.length < 6)).toBe(true);
  for (const [row, p] of prompts.entries()) {
    const [alone] = await guidedSample({ ...options, prompts: [p], firstRow: row });
    expect(alone.generatedIds).toEqual(batch[row].generatedIds);
    alone.trace.forEach((t, i) => expect(t.reward).toBeCloseTo(batch[row].trace[i].reward, 4));
  }
});

it('a decoder that rewrites earlier text is refused with a TokenizerError naming tokenizer.json, leaking nothing', async () => {
  // CTC de-duplicates repeated tokens: "a" ⊕ "a" decodes to "a", so the RM could not see the second one.
  const dir = await writeCharModel({ modelType: 'llama', kvHeads: 2, seed: 94, decoder: { type: 'CTC', pad_token: '<pad>', word_delimiter_token: '|', cleanup: false } });
  const lossy = await loadCausalLM(dir);
  const rm = await loadRewardModel(crossDir, lossy);
  try {
    const before = tf.memory().numTensors;
    const run = guidedSample({ lm: lossy, rewardModel: rm, prompts: PROMPTS, topK: lossy.config.vocabSize, maxNewTokens: 3, stop: { eos: false } });
    await expect(run).rejects.toThrow(TokenizerError);
    await expect(guidedSample({ lm: lossy, rewardModel: rm, prompts: PROMPTS, topK: lossy.config.vocabSize, maxNewTokens: 3, stop: { eos: false } })).rejects.toThrow(new RegExp(`${dir}/tokenizer.json is lossy`));
    expect(tf.memory().numTensors).toBe(before);
    // Best-of-N re-encodes a whole sample through the same token-by-token text: a sample "aa" is refused too.
    const a = lossy.tokenizer.encode('a')[0];
    expect(() => bridgedScoreItems(lossy, rm, ['x'], [{ prompt: 0, responseIds: [a, a] }], 'bestOfN')).toThrow(new RegExp(`bestOfN.*${dir}/tokenizer.json is lossy`));
  } finally {
    rm.dispose();
    lossy.dispose();
  }
});

it('Best-of-N scores each sample on its decoded text with the RM’s tokenizer', async () => {
  const before = tf.memory().numTensors;
  const [r] = await bestOfN({ lm, rewardModel: cross, prompts: [PROMPTS[0]], n: 3, maxNewTokens: 5, seed: 2 });
  expect(tf.memory().numTensors).toBe(before);
  for (const s of r.samples) {
    const ids = s.finishReason === 'eos' && s.generatedIds.length > 1 ? s.generatedIds.slice(0, -1) : s.generatedIds;
    expect(s.reward).toBeCloseTo(await referenceReward(cross, PROMPTS[0], ids), 5);
  }
  expect(r.samples[r.best].reward).toBe(Math.max(...r.samples.map((s) => s.reward)));
});

it('ARGS with a cross-tokenizer RM is the bridged guided loop with β = w', async () => {
  const options = { lm, rewardModel: cross, promptIds: [lm.tokenizer.encode(PROMPTS[1])], topK: 6, maxNewTokens: 4, seed: 5 };
  const args = await argsSample({ ...options, weight: 1.5, mode: { kind: 'greedy' } });
  const guided = await guidedSample({ ...options, beta: 1.5, mode: { kind: 'greedy' } });
  expect(args[0].generatedIds).toEqual(guided[0].generatedIds);
  // Prompt ids are decoded for the RM: the same text as the prompt string.
  const t = args[0].trace[0];
  expect(t.candidates[1].reward).toBeCloseTo(await referenceReward(cross, PROMPTS[1], [t.candidates[1].tokenId]), 4);
});

it('pargs sample --method pargs --rm HF_DIR on another tokenizer runs and reports the cache saving', async () => {
  const { code, out, err } = await runMain(['sample', '--model', lm.source, '--rm', crossDir, '--prompt', 'the theme', '--method', 'pargs', '--max-new-tokens', '3', '--seed', '1', '--json']);
  expect(code).toBe(0);
  expect(err.join('\n')).toMatch(/reads another tokenizer/);
  const result = JSON.parse(out[out.length - 1]);
  expect(result.generatedIds.length).toBeGreaterThan(0);
  expect(result.textBridge.rmTokens).toBeLessThan(result.textBridge.rmTokensWithoutCache);
});
