/** trainable: top-blocks — the split forward, gradients, training, resume, save/load and HF export of trained top blocks. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { CheckpointError, OptionError } from '../../src/errors.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { BranchedLM, replaceTopBlocks, topBlockTensors } from '../../src/lm/branched-lm.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { paramTensors } from '../../src/lm/params.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { sequenceBatch, topBlockRewards } from '../../src/reward/top-blocks.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { extractResidualStates } from '../../src/reward/residual-pass.js';
import { type TrainPartialRMOptions } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let other: CausalLM;
let modelDir: string;
beforeAll(async () => {
  modelDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32, layers: 3 })).dir;
  lm = await loadCausalLM(modelDir);
  other = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 62, hidden: 32, layers: 3 })).dir);
});
afterAll(() => {
  lm.dispose();
  other.dispose();
});

function pairs(n: number, seed = 3): TokenPair[] {
  const rng = createRng(seed, 'top-block-pairs');
  const f = (k: number) => Array.from({ length: k }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, (_, i) => ({ promptIds: [260, 7], chosenIds: [120, ...f(2 + (i % 3))], rejectedIds: [130, ...f(3)] }));
}

const base = (o: Partial<TrainPartialRMOptions> = {}): TrainPartialRMOptions => ({
  backbone: lm, pairs: pairs(12), epochs: 2, batchSize: 16, lr: 0.01, seed: 5, trainable: { kind: 'top-blocks', blocks: 2 }, ...o,
});
const hostOf = async (ts: readonly tf.Tensor[]): Promise<number[][]> => Promise.all(ts.map(async (t) => [...((await t.data()) as Float32Array)]));
const newDir = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'pargs-top-blocks-')), 'out');

describe('split forward', () => {
  it('forward({ toLayer }) then forwardFrom equals the whole forward', async () => {
    const ids = [[3, 4, 5, 6, 7], [0, 0, 9, 10, 11]];
    const mask = [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1]];
    const whole = lm.forward({ ids, mask });
    const lower = lm.forward({ ids, mask, toLayer: 1 });
    const residual = tf.reshape(lower.hidden, [-1, 32]) as tf.Tensor2D;
    const rest = lm.forwardFrom({ residual, mask, fromLayer: 1 });
    const a = (await whole.hidden.data()) as Float32Array;
    const b = (await rest.data()) as Float32Array;
    for (const row of [0, 1, 2, 3, 4, 7, 8, 9]) for (let j = 0; j < 32; j++) expect(b[row * 32 + j]).toBeCloseTo(a[row * 32 + j], 5);
    [whole.hidden, lower.hidden, residual, rest].forEach((t) => t.dispose());
  });

  it('refuses toLayer with logits or a cache, and a bad fromLayer', () => {
    expect(() => lm.forward({ ids: [[1, 2]], toLayer: 1, logits: 'last' })).toThrow(OptionError);
    expect(() => lm.forward({ ids: [[1, 2]], toLayer: 9 })).toThrow(/toLayer must be an integer in \[0, 3\], got 9/);
    const residual = tf.zeros([2, 32]) as tf.Tensor2D;
    expect(() => lm.forwardFrom({ residual, mask: [[1, 1]], fromLayer: 4 })).toThrow(/fromLayer/);
    residual.dispose();
  });
});

describe('gradients of the unfrozen path', () => {
  it('match central finite differences', async () => {
    const from = 1;
    const train = await extractResidualStates({ backbone: lm, pairs: pairs(3), prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } }, from);
    const examples = train.pairIndices.flatMap((pair) => (train.plans[pair]?.prefixLengths ?? []).map((_, row) => ({ pair, row })));
    const batch = sequenceBatch(train, examples);
    const top = new Map(topBlockTensors(lm.params, from).map(([n, t]) => [n, tf.variable(t, true)] as [string, tf.Tensor]));
    const params = replaceTopBlocks(lm.params, from, (n) => top.get(n) as tf.Tensor);
    const head = RewardHead.init({ kind: 'linear' }, 32, createRng(1, 'fd-head'));
    const lossOf = (): tf.Scalar => tf.tidy(() => {
      const { chosen, rejected } = topBlockRewards(lm, params, from, head, batch);
      return tf.mean(tf.softplus(tf.sub(rejected, chosen))) as tf.Scalar;
    });
    const checked = ['layers.2.qkv', 'layers.1.mlpOut', 'finalNorm.weight', 'layers.1.attnNorm.weight'];
    const vars = checked.map((n) => top.get(n) as tf.Variable);
    const { grads } = tf.variableGrads(lossOf, vars);
    for (const v of vars) {
      const g = (await grads[v.name].data()) as Float32Array;
      const values = (await v.data()) as Float32Array;
      for (const i of [0, 5, values.length - 1]) {
        const eps = 1e-2;
        const at = (delta: number): number => {
          const copy = values.slice();
          copy[i] += delta;
          v.assign(tf.tensor(copy, v.shape));
          const l = lossOf();
          const x = l.dataSync()[0];
          l.dispose();
          return x;
        };
        const fd = (at(eps) - at(-eps)) / (2 * eps);
        v.assign(tf.tensor(values, v.shape));
        expect(Math.abs(fd - g[i])).toBeLessThan(2e-3 + 0.02 * Math.abs(g[i]));
      }
    }
    Object.values(grads).forEach((t) => t.dispose());
    head.dispose();
    top.forEach((t) => t.dispose());
    train.store.dispose();
  });
});

describe('trainPartialRM with trainable top-blocks', () => {
  it('trains the top blocks, leaves every base tensor bit-identical, scores through the trained blocks, and leaks no tensor', async () => {
    const before = await hostOf(paramTensors(lm.params));
    const tensors = tf.memory().numTensors;
    const rm = await trainPartialRM(base());
    expect(await hostOf(paramTensors(lm.params))).toEqual(before);
    expect(rm.trainedBlocks?.from).toBe(1);
    expect(rm.trainedBlocks?.base).toBe(lm);
    expect(rm.backbone).toBeInstanceOf(BranchedLM);
    // Lower blocks are the base's own tensors; the top ones are new and trained.
    expect(rm.backbone.params.layers[0]).toBe(lm.params.layers[0]);
    expect(rm.backbone.params.embed).toBe(lm.params.embed);
    expect(rm.backbone.params.layers[2].qkv).not.toBe(lm.params.layers[2].qkv);
    expect(await hostOf([rm.backbone.params.layers[2].qkv])).not.toEqual(await hostOf([lm.params.layers[2].qkv]));
    expect(rm.backbone.fingerprint).not.toBe(lm.fingerprint);
    // scorePrefixIds (whole forward of the branched backbone) equals the top-block path the trainer used.
    const p = pairs(1, 9)[0];
    const viaRm = await rm.scorePrefixIds(p.promptIds, p.chosenIds);
    const states = await extractResidualStates({ backbone: lm, pairs: [p], prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } }, 1);
    const batch = sequenceBatch(states, (states.plans[0]?.prefixLengths ?? []).map((_, row) => ({ pair: 0, row })));
    const r = tf.tidy(() => topBlockRewards(lm, rm.backbone.params, 1, rm.head, batch).chosen);
    const viaTop = [...((await r.data()) as Float32Array)];
    r.dispose();
    states.store.dispose();
    expect(viaRm.length).toBe(p.chosenIds.length);
    viaRm.forEach((x, i) => expect(viaTop[i]).toBeCloseTo(x, 4));
    rm.dispose();
    expect(tf.memory().numTensors).toBe(tensors);
  });

  it("trainable { kind: 'head' } is bit-identical to the default head-only training", async () => {
    const a = await trainPartialRM(base({ trainable: undefined }));
    const b = await trainPartialRM(base({ trainable: { kind: 'head' } }));
    expect(await hostOf([...b.head.variables.values()])).toEqual(await hostOf([...a.head.variables.values()]));
    expect(b.trainedBlocks).toBeUndefined();
    expect(b.training.options).toEqual(a.training.options);
    [a, b].forEach((m) => m.dispose());
  });

  it.each([0, 4, 1.5, -1, '2'])('blocks %j is an OptionError naming the value', async (blocks) => {
    await expect(trainPartialRM(base({ trainable: { kind: 'top-blocks', blocks: blocks as number } }))).rejects.toThrow(OptionError);
    await expect(trainPartialRM(base({ trainable: { kind: 'top-blocks', blocks: blocks as number } }))).rejects.toThrow(String(blocks));
  });

  it('refuses the vocabulary head, precomputed features and worker threads with top blocks', async () => {
    await expect(trainPartialRM(base({ head: { kind: 'vocab' } }))).rejects.toThrow(/vocabulary head/);
    await expect(trainPartialRM(base({ workers: 2 }))).rejects.toThrow(/workers 2/);
    const features = await extractPrefixFeatures({ backbone: lm, pairs: pairs(12), prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } });
    await expect(trainPartialRM(base({ features }))).rejects.toThrow(/features \(precomputed final hidden states\)/);
    features.store.dispose();
  });

  it('resume from a checkpoint equals an uninterrupted run (blocks, head and optimizer state)', async () => {
    const whole = await trainPartialRM(base({ epochs: 3, batchSize: 8 }));
    const dir = await newDir();
    const controller = new AbortController();
    await expect(trainPartialRM(base({ epochs: 3, batchSize: 8, checkpointDir: dir, checkpointEvery: 1, signal: controller.signal, onProgress: (e) => {
      if (e.kind === 'step' && e.step === 4) controller.abort();
    } }))).rejects.toThrow(/aborted/);
    const resumed = await trainPartialRM(base({ epochs: 3, batchSize: 8, checkpointDir: dir, checkpointEvery: 1, resume: true }));
    const values = (m: PartialRewardModel) => hostOf([...m.head.variables.values(), ...topBlockTensors(m.backbone.params, 1).map(([, t]) => t)]);
    expect(await values(resumed)).toEqual(await values(whole));
    expect(resumed.backbone.fingerprint).toBe(whole.backbone.fingerprint);
    [whole, resumed].forEach((m) => m.dispose());
  });
});

describe('saved trained blocks', () => {
  let rm: PartialRewardModel;
  let dir: string;
  beforeAll(async () => {
    dir = await newDir();
    rm = await trainPartialRM(base({ checkpointDir: dir }));
  });
  afterAll(() => rm.dispose());

  it('load with the base backbone: identical rewards, shared lower tensors', async () => {
    const loaded = await loadRewardModel(dir, lm);
    const manifest = JSON.parse(await readFile(join(dir, 'reward_model.json'), 'utf8'));
    expect(manifest.trainedBlocks.from).toBe(1);
    expect(loaded.trainedBlocks?.from).toBe(1);
    expect(loaded.backbone.params.layers[0]).toBe(lm.params.layers[0]);
    expect(loaded.backbone.fingerprint).toBe(rm.backbone.fingerprint);
    const p = pairs(2, 11)[1];
    expect(await loaded.scorePrefixIds(p.promptIds, p.rejectedIds)).toEqual(await rm.scorePrefixIds(p.promptIds, p.rejectedIds));
    loaded.dispose();
  });

  it('refuses a backbone whose lower blocks differ, and a corrupted blocks file, naming blocks.safetensors', async () => {
    await expect(loadRewardModel(dir, other)).rejects.toThrow(CheckpointError);
    await expect(loadRewardModel(dir, other)).rejects.toThrow(/blocks\.safetensors.*layers below 1 differ/);
    const copy = await newDir();
    await rm.save(copy);
    const file = join(copy, 'blocks.safetensors');
    const bytes = await readFile(file);
    bytes[bytes.length - 3] ^= 0x10;
    await writeFile(file, bytes);
    await expect(loadRewardModel(copy, lm)).rejects.toThrow(/blocks\.safetensors does not match the checksum/);
  });

  it("exports an HF *ForSequenceClassification folder with the trained blocks; loaded back it gives the same rewards", async () => {
    const hf = await newDir();
    await rm.save(hf, { format: 'hf' });
    const loaded = await loadRewardModel(hf);
    const p = pairs(3, 12)[2];
    const a = await rm.scorePrefixIds(p.promptIds, p.chosenIds);
    const b = await loaded.scorePrefixIds(p.promptIds, p.chosenIds);
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 5));
    expect(await loaded.scoreIdsBatch([{ promptIds: p.promptIds, responseIds: p.chosenIds }])).toEqual([b[b.length - 1]]);
    loaded.dispose();
  });

  it('guidedSample with the base LM decodes through the separate-backbone path; each token\'s reward is the RM\'s prefix score', async () => {
    const out = await guidedSample({ lm, rewardModel: rm, promptIds: [[260, 7, 120]], topK: 4, beta: 2, maxNewTokens: 5, seed: 3, mode: { kind: 'greedy' }, workers: 1, stop: { eos: false } });
    const g = out[0];
    expect(g.generatedIds.length).toBe(5);
    const prefixScores = await rm.scorePrefixIds(g.promptIds, g.generatedIds);
    g.trace.forEach((t, i) => expect(t.reward).toBeCloseTo(prefixScores[i], 4));
  });
});
