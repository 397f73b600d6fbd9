/** Guided decoding with a vocabulary reward head: one LM step per token, the same choices as a reference loop. */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GuidedMode } from '../../src/decode/guided.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { DecodingError, OptionError } from '../../src/errors.js';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { chooseCandidate, guidedScores, logSoftmax, topKIndices } from '../../src/decode/policy.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { vocabRewards } from '../../src/reward/vocab-head.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let twin: CausalLM;
beforeAll(async () => {
  const dir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71, hidden: 32, vocab: 300 })).dir;
  lm = await loadCausalLM(dir);
  twin = await loadCausalLM(dir);
});
afterAll(() => {
  lm.dispose();
  twin.dispose();
});

function vocabHead(backbone: CausalLM, seed: number, scale: number): RewardHead {
  const d = backbone.config.hiddenSize;
  const V = backbone.config.vocabSize;
  const rng = createRng(seed, 'vocab-head');
  const draw = (n: number) => Float32Array.from({ length: n }, () => scale * (2 * rng() - 1));
  return RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [
    { name: 'weight', shape: [d, V], data: draw(d * V) },
    { name: 'bias', shape: [V], data: draw(V) },
  ]);
}

/**
 * The reference: no cache, each step a forward of the whole sequence; every candidate v is scored by
 * the head's reward R(h_t)[v] of the state after the prefix; the same policy functions and random streams.
 */
async function reference(head: RewardHead, promptIds: number[], row: number, o: { beta: number; topK: number; mode: GuidedMode; tokens: number; seed: number; combined?: boolean }) {
  const V = lm.config.vocabSize;
  const rng = createRng(o.seed, `decode:${row}`);
  const ids = [...promptIds];
  const out: { tokenId: number; candidates: number[]; policyLogProb: number; reward: number }[] = [];
  for (let t = 0; t < o.tokens; t++) {
    const pre = lm.prefill([ids]);
    const d = lm.config.hiddenSize;
    const last = tf.tidy(() => tf.reshape(tf.slice(pre.hidden, [0, ids.length - 1, 0], [1, 1, d]), [1, d]) as tf.Tensor2D);
    const rTensor = vocabRewards(head, last);
    const logits = (await pre.logits.data()) as Float32Array;
    const rewards = (await rTensor.data()) as Float32Array;
    [pre.logits, pre.hidden, last, rTensor].forEach((x) => x.dispose());
    pre.cache.dispose();
    const lp = logSoftmax(logits);
    // The exact policy runs over the vocabulary in token-id order; top-k, most probable first
    // (combined: the k best by log π_ref + β·R, brute force over the vocabulary).
    const combinedAll = Array.from(lp, (x, v) => x + o.beta * rewards[v]);
    const candidates = o.topK === V ? Array.from({ length: V }, (_, v) => v) : topKIndices(o.combined ? combinedAll : lp, o.topK);
    const scores = guidedScores(candidates.map((v) => lp[v]), candidates.map((v) => rewards[v]), o.beta);
    const j = chooseCandidate(scores, o.mode, rng());
    const temperature = o.mode.kind === 'sample' ? o.mode.temperature ?? 1 : 1;
    out.push({ tokenId: candidates[j], candidates, policyLogProb: o.mode.kind === 'greedy' ? 0 : logSoftmax(Float64Array.from(scores, (x) => x / temperature))[j], reward: rewards[candidates[j]] });
    ids.push(candidates[j]);
  }
  return out;
}

const prompts = [[260, 10, 11], [260, 40]];

describe('guidedSample with a vocabulary head', () => {
  const cases: { name: string; topK: number | 'V'; mode: GuidedMode }[] = [
    { name: 'top-k sampling', topK: 5, mode: { kind: 'sample', temperature: 0.8 } },
    { name: 'exact policy (topK = V)', topK: 'V', mode: { kind: 'sample' } },
    { name: 'greedy', topK: 'V', mode: { kind: 'greedy' } },
  ];
  for (const c of cases) {
    it(`${c.name}: the same tokens, rewards and policy log-probabilities as the no-cache reference; no tensor leak`, async () => {
      const head = vocabHead(lm, 3, 2);
      const rm = new PartialRewardModel(lm, head, 'partial');
      const topK = c.topK === 'V' ? lm.config.vocabSize : c.topK;
      const o = { beta: 1.5, topK, mode: c.mode, tokens: 8, seed: 5 };
      const before = tf.memory().numTensors;
      const out = await guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: o.beta, topK, mode: c.mode, maxNewTokens: o.tokens, stop: { eos: false }, seed: o.seed });
      expect(tf.memory().numTensors).toBe(before);
      for (const [row, prompt] of prompts.entries()) {
        const ref = await reference(head, prompt, row, o);
        expect(out[row].generatedIds).toEqual(ref.map((r) => r.tokenId));
        out[row].trace.forEach((t, i) => {
          expect(t.reward).toBeCloseTo(ref[i].reward, 4);
          expect(t.policyLogProb).toBeCloseTo(ref[i].policyLogProb, 4);
        });
        // Fused: the prefill, then one LM step per further token.
        expect(out[row].modelCalls).toBe(o.tokens);
      }
      // A separate reward backbone (same weights) takes the same steps: same tokens, two calls per token.
      const separate = new PartialRewardModel(twin, vocabHead(twin, 3, 2), 'partial');
      const sep = await guidedSample({ lm, rewardModel: separate, promptIds: prompts, beta: o.beta, topK, mode: c.mode, maxNewTokens: o.tokens, stop: { eos: false }, seed: o.seed });
      expect(sep.map((g) => g.generatedIds)).toEqual(out.map((g) => g.generatedIds));
      expect(sep[0].modelCalls).toBe(2 * o.tokens);
      separate.dispose();
      rm.dispose();
    });
  }

  it("candidates 'combined' keeps the top-k of log π_ref + β·R (FaRMA's decoding): the reference's candidate sets, tokens and policy log-probabilities; greedy is the argmax over the vocabulary", async () => {
    const rm = new PartialRewardModel(lm, vocabHead(lm, 8, 3), 'partial');
    const V = lm.config.vocabSize;
    for (const mode of [{ kind: 'sample', temperature: 0.9 }, { kind: 'greedy' }] as GuidedMode[]) {
      const o = { beta: 2, topK: 4, mode, tokens: 6, seed: 12, combined: true };
      const before = tf.memory().numTensors;
      const out = await guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: o.beta, topK: o.topK, candidates: 'combined', mode, maxNewTokens: o.tokens, stop: { eos: false }, seed: o.seed });
      expect(tf.memory().numTensors).toBe(before);
      for (const [row, prompt] of prompts.entries()) {
        const ref = await reference(rm.head, prompt, row, o);
        expect(out[row].generatedIds).toEqual(ref.map((r) => r.tokenId));
        out[row].trace.forEach((t, i) => {
          expect(t.candidates.map((c) => c.tokenId)).toEqual(ref[i].candidates);
          expect(t.policyLogProb).toBeCloseTo(ref[i].policyLogProb, 4);
        });
      }
      // The head is strong enough that the combined top-k differs from π_ref's top-k at the first step.
      const byReference = await guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: o.beta, topK: o.topK, mode, maxNewTokens: 1, stop: { eos: false }, seed: o.seed });
      expect(byReference.map((g) => g.trace[0].candidates.map((c) => c.tokenId))).not.toEqual(out.map((g) => g.trace[0].candidates.map((c) => c.tokenId)));
      if (mode.kind === 'greedy') {
        // Greedy over the combined top-k is the argmax of the exact policy's score over all V tokens.
        const exact = await guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: o.beta, topK: V, mode, maxNewTokens: o.tokens, stop: { eos: false }, seed: o.seed });
        expect(out.map((g) => g.generatedIds)).toEqual(exact.map((g) => g.generatedIds));
      }
    }
    rm.dispose();
  });

  it("argsSample takes a vocabulary head: the guided loop with β = w; candidates 'combined' needs a vocabulary head", async () => {
    const rm = new PartialRewardModel(lm, vocabHead(lm, 4, 2), 'full');
    const options = { lm, rewardModel: rm, promptIds: prompts, topK: 6, maxNewTokens: 6, stop: { eos: false }, seed: 2 };
    const args = await argsSample({ ...options, weight: 1.5 });
    const guided = await guidedSample({ ...options, beta: 1.5 });
    expect(args.map((g) => g.generatedIds)).toEqual(guided.map((g) => g.generatedIds));
    const d = lm.config.hiddenSize;
    const linear = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'linear' }, d, [{ name: 'weight', shape: [d, 1], data: new Float32Array(d) }, { name: 'bias', shape: [1], data: new Float32Array(1) }]), 'partial');
    await expect(guidedSample({ ...options, rewardModel: linear, candidates: 'combined' })).rejects.toThrow(/candidates 'combined'.*vocabulary reward head.*linear head/);
    await expect(guidedSample({ ...options, candidates: 'best' as never })).rejects.toThrow(OptionError);
    linear.dispose();
    rm.dispose();
  });

  it('mode.exact is topK = V: the same tokens and trace; it needs a vocabulary head and takes no other topK or combined', async () => {
    const V = lm.config.vocabSize;
    const rm = new PartialRewardModel(lm, vocabHead(lm, 6, 2), 'partial');
    const options = { lm, rewardModel: rm, promptIds: prompts, beta: 1.5, maxNewTokens: 6, stop: { eos: false }, seed: 4 };
    for (const kind of ['sample', 'greedy'] as const) {
      const viaMode = await guidedSample({ ...options, mode: { kind, exact: true } });
      const viaTopK = await guidedSample({ ...options, mode: { kind }, topK: V });
      expect(viaMode).toEqual(viaTopK);
    }
    expect((await argsSample({ lm, rewardModel: rm, promptIds: prompts, weight: 1.5, maxNewTokens: 6, stop: { eos: false }, seed: 4, mode: { kind: 'sample', exact: true } })).map((g) => g.generatedIds))
      .toEqual((await guidedSample({ ...options, topK: V })).map((g) => g.generatedIds));
    await expect(guidedSample({ ...options, mode: { kind: 'sample', exact: true }, topK: 5 })).rejects.toThrow(/mode.exact keeps every token \(topK = 300\); drop topK 5/);
    await expect(guidedSample({ ...options, mode: { kind: 'sample', exact: true }, candidates: 'combined' })).rejects.toThrow(/candidates 'combined'.*does not apply/);
    await expect(guidedSample({ ...options, mode: { kind: 'sample', exact: 'yes' as never } })).rejects.toThrow(OptionError);
    const d = lm.config.hiddenSize;
    const linear = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'linear' }, d, [{ name: 'weight', shape: [d, 1], data: new Float32Array(d) }, { name: 'bias', shape: [1], data: new Float32Array(1) }]), 'partial');
    await expect(guidedSample({ ...options, rewardModel: linear, mode: { kind: 'greedy', exact: true } })).rejects.toThrow(/mode.exact .*needs a vocabulary reward head.*linear head.*topK: 300/);
    linear.dispose();
    rm.dispose();
  });

  it('with W = 0 it picks what k-candidate PARGS with a zero linear head picks (β·r = 0: plain π_ref top-k)', async () => {
    const d = lm.config.hiddenSize;
    const V = lm.config.vocabSize;
    const zeroVocab = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [{ name: 'weight', shape: [d, V], data: new Float32Array(d * V) }, { name: 'bias', shape: [V], data: new Float32Array(V) }]), 'partial');
    const zeroLinear = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'linear' }, d, [{ name: 'weight', shape: [d, 1], data: new Float32Array(d) }, { name: 'bias', shape: [1], data: new Float32Array(1) }]), 'partial');
    const options = { lm, promptIds: prompts, beta: 2, topK: 7, maxNewTokens: 10, stop: { eos: false }, seed: 9 };
    const a = await guidedSample({ ...options, rewardModel: zeroVocab });
    const b = await guidedSample({ ...options, rewardModel: zeroLinear });
    expect(a.map((g) => g.generatedIds)).toEqual(b.map((g) => g.generatedIds));
    expect([a[0].modelCalls, b[0].modelCalls]).toEqual([10, 11]); // prefill + 9 LM steps; prefill + 10 candidate steps
    zeroVocab.dispose();
    zeroLinear.dispose();
  });

  it('a row that stops at EOS leaves the batch; the others go on', async () => {
    const eos = lm.generation.eosTokenIds[0];
    const d = lm.config.hiddenSize;
    const V = lm.config.vocabSize;
    // A head that rewards EOS hugely: greedy decoding ends at once in every row.
    const bias = new Float32Array(V);
    bias[eos] = 100;
    const rm = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [{ name: 'weight', shape: [d, V], data: new Float32Array(d * V) }, { name: 'bias', shape: [V], data: bias }]), 'partial');
    const before = tf.memory().numTensors;
    const out = await guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: 1, topK: V, mode: { kind: 'greedy' }, maxNewTokens: 6, seed: 1 });
    expect(tf.memory().numTensors).toBe(before);
    for (const g of out) {
      expect(g.generatedIds).toEqual([eos]);
      expect(g.finishReason).toBe('eos');
      expect(g.modelCalls).toBe(1);
    }
    rm.dispose();
  });

  it('an overflowing β·R is a DecodingError, and the step frees its tensors', async () => {
    const d = lm.config.hiddenSize;
    const V = lm.config.vocabSize;
    const rm = new PartialRewardModel(lm, RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [{ name: 'weight', shape: [d, V], data: new Float32Array(d * V) }, { name: 'bias', shape: [V], data: new Float32Array(V).fill(3e38) }]), 'partial');
    const before = tf.memory().numTensors;
    await expect(guidedSample({ lm, rewardModel: rm, promptIds: prompts, beta: 1e300, topK: 5, maxNewTokens: 3, seed: 1 })).rejects.toThrow(DecodingError);
    expect(tf.memory().numTensors).toBe(before);
    rm.dispose();
  });

  it('Best-of-N scores each complete response with R(h_{L−1})[y_L], batched, as scorePrefixIds does one by one', async () => {
    const rm = new PartialRewardModel(lm, vocabHead(lm, 4, 1), 'partial');
    const [result] = await bestOfN({ lm, rewardModel: rm, promptIds: [prompts[0]], n: 3, maxNewTokens: 5, seed: 2 });
    for (const s of result.samples) {
      const rewards = await rm.scorePrefixIds(s.promptIds, s.generatedIds);
      expect(s.reward).toBeCloseTo(rewards[rewards.length - 1], 4);
    }
    rm.dispose();
  });
});
