/**
 * The official code's way of doing tokenwise guided decoding, kept as a reference and a benchmark
 * baseline: no KV cache anywhere; each step re-runs the LM on the whole sequence and the reward
 * backbone on the whole sequence once per candidate. Same policy and random stream as `guidedSample`,
 * so both must pick identical tokens.
 */
import { yieldAndCheck } from '../engine/yield.js';
import { boolean, checkOptions, object, without, type Schema } from '../options.js';
import { createRng, validateSeed } from '../random.js';
import { DEFAULT_MAX_NEW_TOKENS, resolvePrompts } from './generate.js';
import { GUIDED_SAMPLE_SCHEMA, type GuidedGeneration, type GuidedSampleOptions } from './guided.js';
import { chooseCandidate, guidedScores, logSoftmax, topKIndices } from './policy.js';

/** Reward of the sequence `ids` under the reward model, from a full forward (an HF model's pad rule included). */
async function lastReward(options: GuidedSampleOptions, ids: number[]): Promise<number> {
  const [reward] = await options.rewardModel.scoreIdsBatch([{ promptIds: ids, responseIds: [] }]);
  return reward;
}

/** guidedSample's keys without the streaming callback, fusing, the text bridge switch and combined candidates (a vocabulary-head mode); the reference loop stops only at EOS. */
export const NO_CACHE_SCHEMA: Schema = { ...without(GUIDED_SAMPLE_SCHEMA, 'onToken', 'fuse', 'textBridge', 'candidates'), stop: object({ eos: boolean() }) };

/** Rows run one at a time; returns ids and finish reasons (no trace). */
export async function guidedSampleNoCache(options: GuidedSampleOptions): Promise<Pick<GuidedGeneration, 'promptIds' | 'generatedIds' | 'finishReason' | 'modelCalls'>[]> {
  checkOptions('guidedSampleNoCache', options, NO_CACHE_SCHEMA);
  const { lm, signal } = options;
  const beta = options.beta ?? 1;
  const topK = options.topK ?? 10;
  const mode = options.mode ?? { kind: 'sample' };
  const maxNewTokens = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const seed = validateSeed(options.seed ?? 0, 'guidedSampleNoCache');
  const eos = new Set(options.stop?.eos === false ? [] : lm.generation.eosTokenIds);
  const results = [];
  for (const [row, promptIds] of resolvePrompts(options).entries()) {
    const rng = createRng(seed, `decode:${row}`);
    const generated: number[] = [];
    let modelCalls = 0;
    let finishReason: GuidedGeneration['finishReason'] = 'length';
    for (let step = 0; step < maxNewTokens; step++) {
      await yieldAndCheck(signal, 'guidedSampleNoCache');
      const sequence = [...promptIds, ...generated];
      const out = lm.forward({ ids: [sequence], logits: 'last' });
      out.hidden.dispose();
      const logProbs = logSoftmax((await out.logits!.data()) as Float32Array);
      out.logits!.dispose();
      const candidates = topKIndices(logProbs, topK);
      const rewards: number[] = [];
      for (const v of candidates) rewards.push(await lastReward(options, [...sequence, v]));
      modelCalls += 1 + candidates.length;
      const scores = guidedScores(candidates.map((v) => logProbs[v]), rewards, beta);
      const token = candidates[chooseCandidate(scores, mode, rng())];
      generated.push(token);
      if (eos.has(token)) {
        finishReason = 'eos';
        break;
      }
    }
    results.push({ promptIds, generatedIds: generated, finishReason, modelCalls });
  }
  return results;
}
