import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { OptionError } from '../../src/errors.js';
import { afinnJudge, builtinJudge, rewardModelJudge, vaderJudge } from '../../src/eval/judges.js';
import { klFromTrace, perplexity, responseLogProbs } from '../../src/eval/lm-scores.js';
import { distinctN, diversity, meanWithStderr, winRate, words } from '../../src/eval/metrics.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

describe('metrics against hand-computed values', () => {
  it('mean and standard error', () => {
    // values 1, 2, 3, 4: mean 2.5, sample variance 5/3, s.e. = sqrt(5/3 / 4)
    const m = meanWithStderr([1, 2, 3, 4]);
    expect(m.mean).toBe(2.5);
    expect(m.stderr).toBeCloseTo(Math.sqrt(5 / 12), 12);
    expect(meanWithStderr([7]).stderr).toBe(0);
    expect(meanWithStderr([]).n).toBe(0);
  });

  it('win / tie / lose', () => {
    expect(winRate([3, 1, 2, 5], [1, 1, 4, 4])).toEqual({ win: 0.5, tie: 0.25, lose: 0.25 });
    expect(winRate([1.05], [1], 0.1)).toEqual({ win: 0, tie: 1, lose: 0 });
    expect(() => winRate([1], [1, 2])).toThrow(OptionError);
  });

  it('distinct-n and diversity over word n-grams', () => {
    // "a b a b" has bigrams ab, ba, ab → 2 unique of 3; trigrams aba, bab → 2 of 2; 4-gram abab → 1 of 1.
    expect(distinctN(['a b a b'], 2)).toBeCloseTo(2 / 3, 12);
    expect(diversity(['a b a b'])).toBeCloseTo(2 / 3, 12);
    // Two identical responses halve every distinct-n: (1/2)^3.
    expect(diversity(['x y z w', 'x y z w'])).toBeCloseTo(1 / 8, 12);
    expect(words("It's  GOOD, isn't it?")).toEqual(["it's", 'good', "isn't", 'it']);
    expect(distinctN(['one'], 2)).toBe(0);
  });

  it('lexicon judges: AFINN valence per word and VADER compound', async () => {
    // AFINN-165: "good" = 3, "bad" = −3; "good day" → 3 / 2 words.
    expect(await afinnJudge()('', 'good day')).toBeCloseTo(1.5, 12);
    expect(await afinnJudge({ aggregate: 'sum' })('', 'good good bad')).toBe(3);
    expect(await vaderJudge()('', 'This is wonderful')).toBeGreaterThan(0.5);
    expect(await vaderJudge()('', 'This is horrible')).toBeLessThan(-0.5);
    expect(() => builtinJudge('gpt4')).toThrow(/unknown judge "gpt4"/);
  });
});

describe('scores under the base model', () => {
  let lm: CausalLM;
  beforeAll(async () => {
    lm = await loadCausalLM((await writeTinyModel({ modelType: 'gpt2', seed: 81 })).dir);
  });
  afterAll(() => lm.dispose());

  it('response log-probs equal the log-softmax of a forward over each sequence alone', async () => {
    const items = [{ promptIds: [1, 2, 3], responseIds: [4, 5] }, { promptIds: [7], responseIds: [8, 9, 10] }];
    const batched = await responseLogProbs(lm, items);
    for (const [i, it] of items.entries()) {
      const seq = [...it.promptIds, ...it.responseIds];
      const out = lm.forward({ ids: [seq], logits: 'all' });
      const logits = (await out.logits!.data()) as Float32Array;
      out.logits!.dispose();
      out.hidden.dispose();
      const V = lm.config.vocabSize;
      it.responseIds.forEach((tok, t) => {
        const row = logits.subarray((it.promptIds.length + t - 1) * V, (it.promptIds.length + t) * V);
        const max = Math.max(...row);
        const logZ = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        expect(batched[i][t]).toBeCloseTo(row[tok] - logZ, 4);
      });
    }
    expect(perplexity([[Math.log(0.5), Math.log(0.25)]])).toBeCloseTo(Math.sqrt(8), 12);
  });

  it('the KL estimate of a β = 0, full-vocabulary sampling policy is zero; greedy is −Σ log π_ref', async () => {
    const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(1, 'h')), 'partial');
    const [exact] = await guidedSample({ lm, rewardModel: rm, promptIds: [[1, 2]], beta: 0, topK: lm.config.vocabSize, maxNewTokens: 3, stop: { eos: false } });
    expect(klFromTrace(exact.trace)).toBeCloseTo(0, 4);
    const [greedy] = await guidedSample({ lm, rewardModel: rm, promptIds: [[1, 2]], mode: { kind: 'greedy' }, maxNewTokens: 3, stop: { eos: false } });
    expect(klFromTrace(greedy.trace)).toBeCloseTo(-greedy.trace.reduce((s, t) => s + t.logProb, 0), 6);
    expect(await rewardModelJudge(rm)('the', ' theme')).toBe(await rm.score('the', ' theme'));
    rm.dispose();
  });
});
