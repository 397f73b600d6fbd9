/**
 * Use after dispose(): every object users hold (CausalLM, pargs and Hugging Face reward models, heads,
 * KV caches, feature stores) refuses with a DisposedError naming the object and the function, instead of
 * "Cannot read properties of undefined (reading 'backend')" or "Tensor is disposed"; loading onto a
 * disposed model is refused at load, not at first use.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/parallel/dispatch.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { argsSample, bestOfN } from '../../src/parallel/dispatch.js';
import { DisposedError, OptionError } from '../../src/errors.js';
import { rewardModelJudge } from '../../src/eval/judges.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { FeatureStore } from '../../src/reward/feature-store.js';
import { RewardHead } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lmDir: string;
let hfDir: string;
let lm: CausalLM;
beforeAll(async () => {
  lmDir = (await writeTinyModel({ modelType: 'qwen2', seed: 41, kvHeads: 2 })).dir;
  hfDir = (await writeTinyModel({ modelType: 'qwen2', seed: 41, kvHeads: 2, seqCls: {} })).dir;
  lm = await loadCausalLM(lmDir);
});
afterAll(() => lm.dispose());

const newRm = (backbone: CausalLM): PartialRewardModel => new PartialRewardModel(backbone, RewardHead.init({ kind: 'linear' }, backbone.config.hiddenSize, createRng(1, 'head-init')), 'partial');
const pairs = [{ promptIds: [260, 7], chosenIds: [120, 150, 151], rejectedIds: [130, 152, 153] }];

async function refused(run: () => unknown, pattern: RegExp): Promise<void> {
  let error: unknown;
  try {
    await run();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(DisposedError);
  expect(error).toBeInstanceOf(OptionError); // what a disposed CausalLM threw before DisposedError existed
  expect((error as Error).message).toMatch(pattern);
  expect((error as Error).message).toMatch(/dispose/);
}

describe('a disposed reward model', () => {
  it('pargs head: every method names the function and the model', async () => {
    const rm = newRm(lm);
    rm.dispose();
    rm.dispose(); // twice is harmless
    expect(rm.isDisposed).toBe(true);
    const where = new RegExp(`reward model "${lmDir}" was disposed`);
    await refused(() => rm.score('a', ' b'), new RegExp(`^score: this ${where.source}`));
    await refused(() => rm.scorePrefixes('a', ' b'), /^scorePrefixes: /);
    await refused(() => rm.scorePrefixIds([1], [2]), /^scorePrefixIds: /);
    await refused(() => rm.scoreIdsBatch([{ promptIds: [1], responseIds: [2] }]), /^scoreIdsBatch: /);
    await refused(() => rm.encode('a', 'b'), /^encode: /);
    await refused(() => rm.save(join(tmpdir(), 'never-written')), /^save: /);
    await refused(() => rm.head.toHost(), /^RewardHead\.toHost: this reward head was disposed/);
    expect(lm.isDisposed).toBe(false); // the LM it shared is not its to free
  });

  it('is refused by guidedSample, argsSample, bestOfN and rewardModelJudge before any work', async () => {
    const rm = newRm(lm);
    rm.dispose();
    const common = { lm, prompts: ['a'], maxNewTokens: 2, seed: 1 };
    await refused(() => guidedSample({ ...common, rewardModel: rm }), /^guidedSample: option "rewardModel" is a PartialRewardModel that was disposed/);
    await refused(() => argsSample({ ...common, rewardModel: rm }), /^argsSample: option "rewardModel" is a PartialRewardModel that was disposed/);
    await refused(() => bestOfN({ ...common, rewardModel: rm, n: 2 }), /^bestOfN: option "rewardModel"/);
    await refused(() => rewardModelJudge(rm), /^rewardModelJudge: rm is a PartialRewardModel that was disposed/);
  });

  it('Hugging Face folder: score names the folder; trainPartialRM refuses it as init', async () => {
    const hf = await loadRewardModel(hfDir);
    hf.dispose();
    await refused(() => hf.score('a', ' b'), new RegExp(`^score: this reward model "${hfDir}" was disposed`));
    await refused(() => trainPartialRM({ backbone: lm, pairs, init: hf, epochs: 1 }), new RegExp(`^trainPartialRM: option "init" is a HFRewardModel from "${hfDir}" that was disposed`));
  });

  it('a reward model whose backbone LM was disposed names the backbone', async () => {
    const own = await loadCausalLM(lmDir);
    const rm = newRm(own);
    own.dispose();
    await refused(() => rm.score('a', ' b'), new RegExp(`^score \\(the reward model's backbone\\): the CausalLM from "${lmDir}" was disposed`));
    rm.dispose();
  });
});

describe('loading onto a disposed model is refused at load', () => {
  it('loadRewardModel(hfDir, disposedLm) and loadRewardModel(pargsDir, disposedLm)', async () => {
    const gone = await loadCausalLM(lmDir);
    const rm = newRm(gone);
    const saved = join(await mkdtemp(join(tmpdir(), 'pargs-disposed-')), 'rm');
    await rm.save(saved);
    rm.dispose();
    gone.dispose();
    await refused(() => loadRewardModel(hfDir, gone), new RegExp(`^loadRewardModel: backbone is a CausalLM from "${lmDir}" that was disposed`));
    await refused(() => loadRewardModel(saved, gone), /^loadRewardModel: backbone is a CausalLM/);
    await refused(() => new PartialRewardModel(gone, RewardHead.init({ kind: 'linear' }, gone.config.hiddenSize, createRng(1, 'h')), 'full'), /^PartialRewardModel: the CausalLM/);
  });
});

describe('a disposed CausalLM, KV cache or feature store', () => {
  it('CausalLM: its own methods and every function taking it', async () => {
    const gone = await loadCausalLM(lmDir);
    const { cache, logits } = gone.prefill([[1, 2]]);
    logits.dispose();
    gone.dispose();
    await refused(() => gone.prefill([[1]]), new RegExp(`^prefill: the CausalLM from "${lmDir}" was disposed`));
    await refused(() => gone.step(cache, [3]), /^step: the CausalLM/);
    await refused(() => generate({ lm: gone, prompts: ['a'], maxNewTokens: 1 }), /^generate: option "lm" is a CausalLM from/);
    await refused(() => trainPartialRM({ backbone: gone, pairs, epochs: 1 }), /^trainPartialRM: option "backbone" is a CausalLM/);
    cache.dispose();
  });

  it('KV cache and feature store', async () => {
    const { cache, logits } = lm.prefill([[1, 2]]);
    logits.dispose();
    cache.dispose();
    await refused(() => lm.step(cache, [3]), /^step: cache is a KVCache that was disposed/);
    const store = new FeatureStore(4);
    store.put(0, 0, new Float32Array(4));
    store.dispose();
    await refused(() => store.get(0, 0), /^FeatureStore\.get: this feature store was disposed/);
  });
});
