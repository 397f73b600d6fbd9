/**
 * A user callback that throws (onToken, onProgress), or a stream consumer that stops early, must not
 * leave tensors behind: the user's error propagates unchanged and tf.memory() is back where it was.
 */
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/parallel/dispatch.js';
import { guidedSample, guidedSampleStream } from '../../src/parallel/dispatch.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let twin: CausalLM; // a separate reward backbone: the unfused path, with its own cache
let rm: PartialRewardModel;
let twinRm: PartialRewardModel;
beforeAll(async () => {
  const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 72 });
  lm = await loadCausalLM(tiny.dir);
  twin = await loadCausalLM(tiny.dir);
  const head = () => RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(2, 'head-init'));
  rm = new PartialRewardModel(lm, head(), 'partial');
  twinRm = new PartialRewardModel(twin, head(), 'partial');
});
afterAll(() => [rm, twinRm, lm, twin].forEach((x) => x.dispose()));

const PROMPTS = [[260, 11, 12], [260, 40], [260, 70, 71, 72]];
class UserError extends Error {}

/** Runs `call`, expecting the UserError it throws back, and returns the change in live tensors. */
async function leakedBy(call: () => Promise<unknown>): Promise<number> {
  const before = tf.memory().numTensors;
  await expect(call()).rejects.toBeInstanceOf(UserError);
  return tf.memory().numTensors - before;
}

const throwAt = (step: number) => (e: { step: number }) => {
  if (e.step === step) throw new UserError(`boom at step ${step}`);
};

describe('callbacks that throw leak nothing', () => {
  it.each([0, 3])('generate: onToken throwing at step %i', async (step) => {
    expect(await leakedBy(() => generate({ lm, promptIds: PROMPTS, maxNewTokens: 8, stopAtEos: false, onToken: throwAt(step) }))).toBe(0);
  });

  it.each([
    ['fused', 0],
    ['fused', 3],
    ['separate reward backbone', 3],
  ] as const)('guidedSample (%s): onToken throwing at step %i', async (kind, step) => {
    const rewardModel = kind === 'fused' ? rm : twinRm;
    expect(await leakedBy(() => guidedSample({ lm, rewardModel, promptIds: PROMPTS, maxNewTokens: 8, topK: 4, stop: { eos: false }, onToken: throwAt(step) }))).toBe(0);
  });

  it('guidedSampleStream: a consumer that breaks out early stops the decoding and frees its tensors', async () => {
    const before = tf.memory().numTensors;
    let seen = 0;
    for await (const token of guidedSampleStream({ lm, rewardModel: rm, promptIds: PROMPTS, maxNewTokens: 50, topK: 4, stop: { eos: false } })) {
      seen++;
      if (token.step === 2) break;
    }
    expect(seen).toBeLessThan(3 * PROMPTS.length + 1);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('extractPrefixFeatures and trainPartialRM: onProgress throwing', async () => {
    const pairs = [{ promptIds: [260, 5], chosenIds: [120, 141, 130], rejectedIds: [130, 142, 120] }, { promptIds: [260, 6], chosenIds: [120, 143, 130], rejectedIds: [130, 144, 120] }];
    const fail = () => {
      throw new UserError('progress');
    };
    expect(await leakedBy(() => extractPrefixFeatures({ backbone: lm, pairs, tokensPerBatch: 8, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, onProgress: fail }))).toBe(0);
    expect(await leakedBy(() => trainPartialRM({ backbone: lm, pairs, batchSize: 2, onProgress: (e) => e.kind === 'step' && fail() }))).toBe(0);
  });
});
