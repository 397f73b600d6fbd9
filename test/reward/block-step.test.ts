/** trainable: top-blocks — a step split into chunks of whole pairs to fit memory equals the unsplit step. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { OptionError } from '../../src/errors.js';
import { topBlocksStepBytes } from '../../src/lm/activation-memory.js';
import { replaceTopBlocks, topBlockTensors } from '../../src/lm/branched-lm.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { blockStepGradients, planStepChunks } from '../../src/reward/block-step.js';
import { RewardHead } from '../../src/reward/head.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { extractResidualStates } from '../../src/reward/residual-pass.js';
import { type TrainEvent, type TrainPartialRMOptions } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const D = 32;
let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71, hidden: D, layers: 3 })).dir);
});
afterAll(() => lm.dispose());
afterEach(() => {
  delete process.env.PARGS_MEMORY_LIMIT;
});

function pairs(n: number): TokenPair[] {
  const rng = createRng(4, 'block-step-pairs');
  const f = (k: number) => Array.from({ length: k }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, (_, i) => ({ promptIds: [260, 7], chosenIds: [120, ...f(2 + (i % 3))], rejectedIds: [130, ...f(3)], ...(i % 4 === 0 ? { margin: 0.5 } : {}) }));
}

describe('planStepChunks', () => {
  it('keeps a batch that fits as it is, splits one that does not into whole pairs within the budget, refuses a pair that cannot fit', async () => {
    const train = await extractResidualStates({ backbone: lm, pairs: pairs(6), prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } }, 1);
    const batch = train.pairIndices.flatMap((pair) => (train.plans[pair]?.prefixLengths ?? []).map((_, row) => ({ pair, row, weight: 1 }))).reverse();
    const perPair = topBlocksStepBytes(lm.config, 2, 2, 7); // the longest pair: 2 + 5 tokens
    expect(planStepChunks(train, batch, lm, 2, 1e12, 'test')).toEqual([batch]);
    const chunks = planStepChunks(train, batch, lm, 2, 2.5 * perPair, 'test');
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    for (const c of chunks) {
      const ps = new Set(c.map((e) => e.pair));
      expect(ps.size).toBeLessThanOrEqual(2);
      for (const p of ps) expect(chunks.filter((o) => o.some((e) => e.pair === p))).toHaveLength(1); // a pair is never split
    }
    expect(chunks.flat().map((e) => `${e.pair}:${e.row}`).sort()).toEqual(batch.map((e) => `${e.pair}:${e.row}`).sort());
    expect(() => planStepChunks(train, batch, lm, 2, perPair / 10, 'PARGS_MEMORY_LIMIT = 1 MiB')).toThrow(OptionError);
    expect(() => planStepChunks(train, batch, lm, 2, perPair / 10, 'PARGS_MEMORY_LIMIT = 1 MiB')).toThrow(/pair \d+ \(\d+ tokens\) needs .* PARGS_MEMORY_LIMIT = 1 MiB.*--unfreeze/);
    train.store.dispose();
  });
});

describe('blockStepGradients', () => {
  it.each([false, true])('gives the loss and gradients of the whole batch when split (per-pair weights: %s)', async (weighted) => {
    const from = 1;
    const ps = pairs(6);
    const train = await extractResidualStates({ backbone: lm, pairs: ps, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 } }, from);
    const rows = train.pairIndices.flatMap((pair) => (train.plans[pair]?.prefixLengths ?? []).map((_, row) => ({ pair, row })));
    const perPair = new Map<number, number>();
    rows.forEach((e) => perPair.set(e.pair, (perPair.get(e.pair) ?? 0) + 1));
    const batch = rows.map((e) => ({ ...e, weight: weighted ? 1 / (perPair.get(e.pair) as number) : 1 }));
    const top = new Map(topBlockTensors(lm.params, from).map(([n, t]) => [n, tf.variable(t, true)] as [string, tf.Tensor]));
    const params = replaceTopBlocks(lm.params, from, (n) => top.get(n) as tf.Tensor);
    const head = RewardHead.init({ kind: 'linear' }, D, createRng(2, 'block-step-head'));
    const variables = [...head.variables.values(), ...top.values()] as tf.Variable[];
    const margins = ps.map((p) => p.margin ?? 0);
    const before = tf.memory().numTensors;
    const run = (chunks: (typeof batch)[]) => tf.tidy(() => {
      const { value, grads, gap } = blockStepGradients({ backbone: lm, params, fromLayer: from, head, features: train, chunks, variables, margin: 0, margins, weighted });
      return [value, gap, ...variables.map((v) => grads[v.name])];
    });
    const whole = run([batch]);
    const split = run(planStepChunks(train, batch, lm, 2, 2.5 * topBlocksStepBytes(lm.config, 2, 2, 7), 'test'));
    const [a, b] = await Promise.all([whole, split].map((ts) => Promise.all(ts.map(async (t) => (await t.data()) as Float32Array))));
    expect(b[0][0]).toBeCloseTo(a[0][0], 5);
    expect([...b[1]].sort()).toEqual([...a[1]].sort().map((x) => expect.closeTo(x, 5)));
    let nonZero = 0;
    for (let i = 2; i < a.length; i++) {
      const scale = Math.max(...a[i].map(Math.abs)); // 0 for the head's bias: it cancels in chosen − rejected
      if (scale > 0) nonZero++;
      a[i].forEach((x, j) => expect(Math.abs(b[i][j] - x)).toBeLessThan(1e-4 * scale + 1e-9));
    }
    expect(nonZero).toBeGreaterThan(10); // the head weights and every block matrix
    [...whole, ...split].forEach((t) => t.dispose());
    expect(tf.memory().numTensors).toBe(before);
    head.dispose();
    top.forEach((t) => t.dispose());
    train.store.dispose();
  });
});

describe('trainPartialRM with top blocks under a tight memory limit', () => {
  const options = (o: Partial<TrainPartialRMOptions> = {}): TrainPartialRMOptions => ({
    backbone: lm, pairs: pairs(12), epochs: 2, batchSize: 64, lr: 0.01, seed: 5, trainable: { kind: 'top-blocks', blocks: 2 }, ...o,
  });
  /** A PARGS_MEMORY_LIMIT under which a step's chunk holds about `pairs` of the longest pairs. */
  const limitFor = (pairsPerChunk: number): number => {
    const trainable = 4 * (topBlockTensors(lm.params, 1).reduce((n, [, t]) => n + t.size, 0) + D + 1);
    const inUse = tf.memory().numBytes + 3 * trainable; // the block copies and their two AdamW moments
    return Math.floor(inUse + (3 * trainable + pairsPerChunk * topBlocksStepBytes(lm.config, 2, 2, 7)) / 0.75);
  };

  it('splits the steps, says so once, and trains to the rewards of the unsplit run', async () => {
    const whole = await trainPartialRM(options());
    process.env.PARGS_MEMORY_LIMIT = String(limitFor(2.5));
    const notes: string[] = [];
    const split = await trainPartialRM(options({ onProgress: (e: TrainEvent) => void (e.kind === 'note' && notes.push(e.message)) }));
    delete process.env.PARGS_MEMORY_LIMIT;
    const chunkNotes = notes.filter((m) => /chunks of whole pairs/.test(m));
    expect(chunkNotes).toHaveLength(1);
    expect(chunkNotes[0]).toMatch(/^step 1: the batch trains in \d+ chunks/);
    const probe = pairs(12).map((p) => ({ promptIds: p.promptIds, responseIds: p.chosenIds }));
    const [a, b] = await Promise.all([whole, split].map((rm) => rm.scoreIdsBatch(probe)));
    a.forEach((x, i) => expect(b[i]).toBeCloseTo(x, 3));
    whole.dispose();
    split.dispose();
  });

  it('refuses a limit too small for one pair, naming it', async () => {
    process.env.PARGS_MEMORY_LIMIT = String(limitFor(0.1));
    await expect(trainPartialRM(options())).rejects.toThrow(/needs .* to train 2 top block\(s\), more than .* PARGS_MEMORY_LIMIT/);
  });
});
