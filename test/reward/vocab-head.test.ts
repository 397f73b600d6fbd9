/** The vocabulary reward head (FaRMA): one-pass rewards, max-consistency loss, training, save/load. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { maxConsistencyLoss } from '../../src/reward/farma.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, PartialRewardModel, REWARD_MODEL_FILE } from '../../src/reward/reward-model.js';
import { type TrainEvent } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { tokenRewards } from '../../src/reward/vocab-head.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let smallVocab: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir);
  smallVocab = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32, vocab: 200 })).dir);
});
afterAll(() => {
  lm.dispose();
  smallVocab.dispose();
});

/** A vocabulary head with seeded random weights (a trained head's values do not matter for these identities). */
export function randomVocabHead(backbone: CausalLM, seed: number, scale = 0.5): RewardHead {
  const d = backbone.config.hiddenSize;
  const V = backbone.config.vocabSize;
  const rng = createRng(seed, 'vocab-head');
  const draw = (n: number) => Float32Array.from({ length: n }, () => scale * (2 * rng() - 1));
  return RewardHead.fromHost({ kind: 'vocab', vocabSize: V }, d, [
    { name: 'weight', shape: [d, V], data: draw(d * V) },
    { name: 'bias', shape: [V], data: draw(V) },
  ]);
}

/** R(h)[token] on the host for h the last state of `ids`, from a forward of exactly those ids. */
async function rewardAfter(head: RewardHead, ids: number[], token: number): Promise<number> {
  const out = lm.forward({ ids: [ids], logits: 'none' });
  const d = lm.config.hiddenSize;
  const r = tf.tidy(() => tokenRewards(head, tf.slice(tf.reshape(out.hidden, [-1, d]), [ids.length - 1, 0], [1, d]) as tf.Tensor2D, tf.tensor1d([token], 'int32')));
  out.hidden.dispose();
  const value = (await r.data())[0];
  r.dispose();
  return value;
}

const X = 120;
const Y = 130;
/** Chosen starts with X, rejected with Y (as in trainer.test.ts): a prefix model learns "X first is good". */
function synthetic(n: number, seed: number): TokenPair[] {
  const rng = createRng(seed, 'synthetic');
  const filler = () => Array.from({ length: 3 }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 5 + Math.floor(rng() * 50)], chosenIds: [X, ...filler(), Y], rejectedIds: [Y, ...filler(), X] }));
}

describe('vocabulary head rewards', () => {
  it('R(h_{i−1})[y_i] from the one-pass features and from scorePrefixIds equals the backbone run on the truncated prefix', async () => {
    const head = randomVocabHead(lm, 1);
    const rm = new PartialRewardModel(lm, head, 'partial');
    const pair = { promptIds: [260, 10, 11], chosenIds: [20, 21, 22, 23], rejectedIds: [30, 31] };
    const f = await extractPrefixFeatures({ backbone: lm, pairs: [pair], prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1, states: 'from-prompt-end' } });
    const d = lm.config.hiddenSize;
    const rows = f.store.get(0, 0);
    expect(rows.length).toBe((pair.chosenIds.length + 1) * d); // the prompt's last state plus one per token
    const fromFeatures = tf.tidy(() => tokenRewards(head, tf.tensor2d(rows.slice(0, pair.chosenIds.length * d), [pair.chosenIds.length, d]), tf.tensor1d(pair.chosenIds, 'int32')));
    const onePass = Array.from(await fromFeatures.data());
    fromFeatures.dispose();
    f.store.dispose();
    const scored = await rm.scorePrefixIds(pair.promptIds, pair.chosenIds);
    for (let i = 1; i <= pair.chosenIds.length; i++) {
      const truncated = await rewardAfter(head, [...pair.promptIds, ...pair.chosenIds.slice(0, i - 1)], pair.chosenIds[i - 1]);
      expect(onePass[i - 1]).toBeCloseTo(truncated, 4);
      expect(scored[i - 1]).toBeCloseTo(truncated, 4);
    }
    const [batched] = await rm.scoreIdsBatch([{ promptIds: pair.promptIds, responseIds: pair.chosenIds }, { promptIds: [260], responseIds: [40] }]);
    expect(batched).toBeCloseTo(scored[scored.length - 1], 4);
    rm.dispose();
  });

  it('max-consistency loss and gradient match a hand-computed case', async () => {
    // d = 2, V = 3. R(h) = h·W + b.
    const head = RewardHead.fromHost({ kind: 'vocab', vocabSize: 3 }, 2, [
      { name: 'weight', shape: [2, 3], data: Float32Array.from([1, 0, 2, 0, 1, -1]) },
      { name: 'bias', shape: [3], data: Float32Array.from([0, 0.5, 0]) },
    ]);
    const before = tf.tensor2d([[1, 2]]); // R = [1, 2.5, 0]; token 1 → 2.5
    const after = tf.tensor2d([[3, 0]]); // R = [3, 0.5, 6]; max 6 at v = 2
    const tokens = tf.tensor1d([1], 'int32');
    const variables = [...head.variables.values()];
    const { value, grads } = tf.variableGrads(() => maxConsistencyLoss(head, before, tokens, after), variables);
    expect((await value.data())[0]).toBeCloseTo((2.5 - 6) ** 2, 5); // 12.25
    // ∂/∂W = 2·(r − m)·(before ⊗ e_1 − after ⊗ e_2), r − m = −3.5; ∂/∂b = 2·(r − m)·(e_1 − e_2).
    const gW = Array.from(await grads[variables[0].name].data());
    const gb = Array.from(await grads[variables[1].name].data());
    const e = -7;
    [0, e * 1, -e * 3, 0, e * 2, -e * 0].forEach((g, i) => expect(gW[i]).toBeCloseTo(g, 4));
    [0, e, -e].forEach((g, i) => expect(gb[i]).toBeCloseTo(g, 4));
    [value, ...Object.values(grads), before, after, tokens].forEach((t) => t.dispose());
    head.dispose();
  });

  it('the linear-head forms refuse a vocabulary head instead of returning wrong rewards', () => {
    const head = randomVocabHead(lm, 2);
    expect(() => tf.tidy(() => head.apply(tf.zeros([1, lm.config.hiddenSize]) as tf.Tensor2D))).toThrow(/vocabulary reward head/);
    expect(() => new PartialRewardModel(smallVocab, head, 'partial')).toThrow(OptionError);
    head.dispose();
  });
});

describe('trainPartialRM with head vocab', () => {
  for (const objective of ['bt-prefix', 'farma'] as const) {
    it(`${objective}: learns the synthetic preference, starts from zero, leaks no tensor`, async () => {
      const before = tf.memory().numTensors;
      const events: TrainEvent[] = [];
      const rm = await trainPartialRM({ backbone: lm, pairs: synthetic(48, 1), evalPairs: synthetic(16, 2), head: { kind: 'vocab' }, objective, epochs: 3, batchSize: 32, lr: 0.05, seed: 3, onProgress: (e) => events.push(e) });
      const steps = events.filter((e) => e.kind === 'step');
      expect(steps[0].kind === 'step' && steps[0].loss).toBeCloseTo(Math.log(2), 5); // zero head: every gap 0
      if (objective === 'farma') expect(new Set(steps.map((e) => e.kind === 'step' && e.stage))).toEqual(new Set(['bt-complete', 'max-consistency']));
      // Evaluated at each epoch's end; the last evaluation is of the trained head.
      const evalEvent = events.filter((e) => e.kind === 'eval').at(-1);
      const diagnostics = evalEvent?.kind === 'eval' ? evalEvent.diagnostics : undefined;
      if (objective === 'bt-prefix') {
        // The training loss falls; on held-out pairs the first token (X or Y, seen in training) is ranked right,
        // while the random filler tokens in between have columns of their own that do not generalise.
        const last = steps[steps.length - 1];
        expect(last.kind === 'step' && last.loss).toBeLessThan(0.3);
        expect(diagnostics!.prefixAccuracyByDecile[0]).toBeGreaterThan(0.9);
      } else {
        // What it trains on: complete responses, and consistency along chosen prefixes.
        expect(diagnostics!.fullAccuracy).toBeGreaterThan(0.9);
      }
      rm.dispose();
      expect(tf.memory().numTensors).toBe(before);
    });
  }

  it("refuses objective 'farma' without a vocabulary head, and trained top blocks with one", async () => {
    await expect(trainPartialRM({ backbone: lm, pairs: synthetic(4, 1), objective: 'farma' })).rejects.toThrow(/head: \{ kind: 'vocab' \}/);
    await expect(trainPartialRM({ backbone: lm, pairs: synthetic(4, 1), head: { kind: 'vocab' }, trainable: { kind: 'top-blocks', blocks: 1 } })).rejects.toThrow(/trainable 'top-blocks' works with a linear or MLP head/);
  });

  it('saves and loads with the vocabulary size in the manifest; a head over another vocabulary is refused', async () => {
    const rm = await trainPartialRM({ backbone: lm, pairs: synthetic(16, 1), head: { kind: 'vocab' }, epochs: 1, batchSize: 16, lr: 0.05, seed: 3 });
    const dir = join(await mkdtemp(join(tmpdir(), 'pargs-vocab-')), 'rm');
    await rm.save(dir);
    const manifest = JSON.parse(await readFile(join(dir, REWARD_MODEL_FILE), 'utf8'));
    expect(manifest.head).toEqual({ kind: 'vocab', vocabSize: lm.config.vocabSize });
    const before = tf.memory().numTensors;
    const loaded = await loadRewardModel(dir, lm);
    expect(tf.memory().numTensors).toBe(before + 2);
    expect(await loaded.scorePrefixIds([260, 9], [X, 150])).toEqual(await rm.scorePrefixIds([260, 9], [X, 150]));
    loaded.dispose();
    await writeFile(join(dir, REWARD_MODEL_FILE), JSON.stringify({ ...manifest, head: { kind: 'vocab', vocabSize: 200 } }));
    await expect(loadRewardModel(dir, lm)).rejects.toThrow(CheckpointError);
    expect(tf.memory().numTensors).toBe(before);
    rm.dispose();
  });
});
