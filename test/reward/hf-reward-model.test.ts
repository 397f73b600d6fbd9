/**
 * Hugging Face sequence-classification reward models: the reward read where transformers reads it (the
 * last token that is not pad_token_id), against an independent float64 reference; typed refusals of bad
 * folders; sharing the LM's backbone; export → reload with identical rewards.
 */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, OptionError, SafetensorsError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { HFRewardModel, loadHFRewardModel } from '../../src/reward/hf-reward-model.js';
import { RewardHead } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { createRng } from '../../src/random.js';
import { naiveForward } from '../reference/naive-lm.js';
import { writeTinyModel, type TinyModel, type TinyType } from '../helpers/tiny-model.js';

/** transformers' read-out in float64: score · hidden[last token ≠ pad] of the (possibly right-padded) row. */
export function referenceReward(tiny: TinyModel, ids: number[], realLength = ids.length): number {
  const weights = new Map([...tiny.weights].filter(([name]) => name !== 'score.weight'));
  // The reference needs an LM head to run; tying it adds none (its logits are not used here).
  const mask = ids.map((_, t) => (t < realLength ? 1 : 0));
  const { hidden } = naiveForward({ ...tiny.config, tie_word_embeddings: true }, weights, ids, { attentionMask: mask });
  const pad = tiny.config.pad_token_id as number | undefined;
  let at = ids.length - 1;
  if (pad !== undefined) {
    at = 0;
    for (let t = ids.length - 1; t >= 0; t--) if (ids[t] !== pad) { at = t; break; }
  }
  const score = tiny.weights.get('score.weight') as Float32Array;
  return hidden[at].reduce((s, h, i) => s + h * score[i], 0);
}

const families: TinyType[] = ['llama', 'mistral', 'qwen2', 'gpt2'];

describe('loading HF sequence-classification reward models', () => {
  for (const modelType of families) {
    it(`${modelType}: rewards equal the float64 reference at the last token`, async () => {
      const tiny = await writeTinyModel({ modelType, seed: 11, kvHeads: modelType === 'gpt2' ? undefined : 2, seqCls: {} });
      const rm = await loadRewardModel(tiny.dir);
      try {
        expect(rm).toBeInstanceOf(HFRewardModel);
        expect(rm.format).toBe('hf');
        const items = [
          { promptIds: [260, 5, 9], responseIds: [40, 41, 42] },
          { promptIds: [7], responseIds: [100, 101, 102, 103, 104, 105] },
        ];
        const batch = await rm.scoreIdsBatch(items);
        for (const [i, it] of items.entries()) {
          const ids = [...it.promptIds, ...it.responseIds];
          expect(batch[i]).toBeCloseTo(referenceReward(tiny, ids), 4);
          const prefixes = await rm.scorePrefixIds(it.promptIds, it.responseIds);
          prefixes.forEach((r, j) => expect(r).toBeCloseTo(referenceReward(tiny, ids.slice(0, it.promptIds.length + j + 1)), 4));
        }
      } finally {
        rm.dispose();
      }
    });
  }

  it('with pad_token_id set: right-padded reference rows and responses ending in the pad token read the last non-pad token', async () => {
    const tiny = await writeTinyModel({ modelType: 'llama', seed: 12, kvHeads: 2, seqCls: {}, config: { pad_token_id: 3 } });
    const rm = await loadRewardModel(tiny.dir);
    try {
      const before = tf.memory().numTensors;
      const items = [
        { promptIds: [260, 5], responseIds: [40, 41] },
        { promptIds: [7, 8, 9], responseIds: [50, 51, 52, 3, 3] }, // ends in two pad tokens
      ];
      const rewards = await rm.scoreIdsBatch(items);
      expect(tf.memory().numTensors).toBe(before);
      // The reference gets both rows right-padded with the pad token to one length, as a transformers batch would be.
      const T = 8;
      const padded = items.map((it) => [...it.promptIds, ...it.responseIds]).map((ids) => ({ ids: [...ids, ...new Array(T - ids.length).fill(3)], real: ids.length }));
      rewards.forEach((r, i) => expect(r).toBeCloseTo(referenceReward(tiny, padded[i].ids, padded[i].real), 4));
      // The pad-ended row reads the token before its pads: the same reward as without them.
      expect(rewards[1]).toBeCloseTo((await rm.scoreIdsBatch([{ promptIds: [7, 8, 9], responseIds: [50, 51, 52] }]))[0], 5);
      const prefixes = await rm.scorePrefixIds([7, 8, 9], [50, 51, 52, 3, 3]);
      expect(prefixes[3]).toBeCloseTo(prefixes[2], 5);
      expect(prefixes[4]).toBeCloseTo(prefixes[2], 5);
    } finally {
      rm.dispose();
    }
  });

  it('refuses num_labels 3, id2label of two labels, a missing score.weight and a score.weight of the wrong width, naming file and field', async () => {
    const three = await writeTinyModel({ modelType: 'llama', seed: 13, seqCls: { numLabels: 3 } });
    await expect(loadRewardModel(three.dir)).rejects.toThrow(ConfigError);
    await expect(loadRewardModel(three.dir)).rejects.toThrow(/config\.json "num_labels" gives 3 labels/);
    const twoLabels = await writeTinyModel({ modelType: 'gpt2', seed: 13, seqCls: {} });
    const cfg = JSON.parse(await readFile(join(twoLabels.dir, 'config.json'), 'utf8'));
    delete cfg.num_labels;
    cfg.id2label = { 0: 'NEG', 1: 'POS' };
    await writeFile(join(twoLabels.dir, 'config.json'), JSON.stringify(cfg));
    await expect(loadRewardModel(twoLabels.dir)).rejects.toThrow(/"id2label" gives 2 labels/);
    const noScore = await writeTinyModel({ modelType: 'qwen2', seed: 13, seqCls: { omitScore: true } });
    const before = tf.memory().numTensors;
    await expect(loadRewardModel(noScore.dir)).rejects.toThrow(SafetensorsError);
    await expect(loadRewardModel(noScore.dir)).rejects.toThrow(/no tensor "score\.weight"/);
    const wide = await writeTinyModel({ modelType: 'mistral', seed: 13, seqCls: { scoreWidth: 31 } });
    await expect(loadRewardModel(wide.dir)).rejects.toThrow(/"score\.weight" has shape \[1,31\].*config\.json implies \[1, 32\]/);
    expect(tf.memory().numTensors).toBe(before);
    const lm = await writeTinyModel({ modelType: 'llama', seed: 13 });
    await expect(loadHFRewardModel(lm.dir)).rejects.toThrow(/not a sequence-classification reward model/);
    await expect(loadRewardModel(lm.dir)).rejects.toThrow(/not a sequence-classification reward model/);
    await expect(loadRewardModel(join(lm.dir, 'missing'))).rejects.toThrow(/not a saved pargs reward model, nor a Hugging Face/);
    const rmFolder = await writeTinyModel({ modelType: 'llama', seed: 13, seqCls: {} });
    await expect(loadCausalLM(rmFolder.dir)).rejects.toThrow(ConfigError);
    await expect(loadCausalLM(rmFolder.dir)).rejects.toThrow(/is a reward model, not a causal LM; load it with loadRewardModel/);
  });
});

describe('sharing and export', () => {
  let lmTiny: TinyModel;
  let rmTiny: TinyModel;
  let lm: CausalLM;
  beforeAll(async () => {
    // Same seed and shapes: the seq-cls folder holds exactly the LM's backbone weights.
    lmTiny = await writeTinyModel({ modelType: 'llama', seed: 21, kvHeads: 2 });
    rmTiny = await writeTinyModel({ modelType: 'llama', seed: 21, kvHeads: 2, seqCls: {} });
    lm = await loadCausalLM(lmTiny.dir);
  });
  afterAll(() => lm.dispose());

  it('runs on the LM when the backbone weights match (fingerprints), on its own backbone otherwise', async () => {
    const shared = await loadRewardModel(rmTiny.dir, lm);
    const other = await writeTinyModel({ modelType: 'llama', seed: 22, kvHeads: 2, seqCls: {} });
    const own = await loadRewardModel(other.dir, lm);
    try {
      expect(shared.backbone).toBe(lm);
      expect(own.backbone).not.toBe(lm);
      expect(own.backbone.backboneFingerprint).not.toBe(lm.backboneFingerprint);
      const alone = await loadRewardModel(rmTiny.dir);
      expect(alone.backbone.backboneFingerprint).toBe(lm.backboneFingerprint);
      expect(alone.backbone.fingerprint).not.toBe(lm.fingerprint); // config.json differs
      const ids = { promptIds: [260, 9], responseIds: [44, 45, 46] };
      expect(await shared.scoreIdsBatch([ids])).toEqual(await alone.scoreIdsBatch([ids]));
      const saveDir = await mkdtemp(join(tmpdir(), 'pargs-hf-save-'));
      await expect(alone.save(join(saveDir, 'pargs'))).rejects.toThrow(/runs its own Hugging Face backbone/);
      // On the LM it saves as a pargs reward model of that LM, which reloads with the same rewards.
      await shared.save(join(saveDir, 'pargs'));
      const reloaded = await loadRewardModel(join(saveDir, 'pargs'), lm);
      expect(reloaded.format).toBe('pargs');
      expect(await reloaded.scoreIdsBatch([ids])).toEqual(await shared.scoreIdsBatch([ids]));
      reloaded.dispose();
      alone.dispose();
    } finally {
      shared.dispose();
      own.dispose();
    }
    // Disposing a reward model that runs on the LM leaves the LM usable.
    expect(() => lm.prefill([[260, 5]]).cache.dispose()).not.toThrow();
  });

  it('export → reload gives identical rewards; an MLP head or a non-zero bias is refused', async () => {
    const head = RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(4, 'head-init'));
    const rm = new PartialRewardModel(lm, head, 'partial');
    const out = join(await mkdtemp(join(tmpdir(), 'pargs-hf-export-')), 'rm');
    await rm.save(out, { format: 'hf' });
    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architectures: ['LlamaForSequenceClassification'], num_labels: 1, pad_token_id: lm.padId });
    const back = await loadRewardModel(out);
    try {
      expect(back.backbone).not.toBe(lm);
      const items = [{ promptIds: [260, 5, 6], responseIds: [70, 71, 72, 73] }, { promptIds: [9], responseIds: [80] }];
      expect(await back.scoreIdsBatch(items)).toEqual(await rm.scoreIdsBatch(items));
      expect(await back.scorePrefixIds(items[0].promptIds, items[0].responseIds)).toEqual(await rm.scorePrefixIds(items[0].promptIds, items[0].responseIds));
    } finally {
      back.dispose();
    }
    await expect(rm.save(out, { format: 'hf' })).rejects.toThrow(/already holds/);
    await rm.save(out, { format: 'hf', overwrite: true });

    const mlp = new PartialRewardModel(lm, RewardHead.init({ kind: 'mlp', hidden: 4 }, lm.config.hiddenSize, createRng(4, 'h')), 'partial');
    await expect(mlp.save(join(out, '..', 'mlp'), { format: 'hf' })).rejects.toThrow(OptionError);
    await expect(mlp.save(join(out, '..', 'mlp'), { format: 'hf' })).rejects.toThrow(/mlp head.*no Hugging Face/);
    mlp.dispose();
    (rm.head.variables.get('bias') as tf.Variable).assign(tf.tensor1d([0.5]));
    await expect(rm.save(join(out, '..', 'biased'), { format: 'hf' })).rejects.toThrow(/bias is 0\.5/);
    rm.dispose();
  });
});
