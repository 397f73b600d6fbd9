/**
 * Sizes that cannot fit in tensor memory are refused with an OptionError naming the option, before
 * the expensive work starts (no feature pass, no tokenizer training, no decoding), and leak nothing.
 */
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { bestOfN } from '../../src/parallel/dispatch.js';
import { parseMemoryLimit, tensorMemoryBudget } from '../../src/engine/memory-budget.js';
import { OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import type { PretrainEvent } from '../../src/pretrain/options.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { type TrainEvent } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { removeTempDirs, tempDir, toyOptions } from '../pretrain/helpers.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 33 })).dir);
});
afterAll(async () => {
  lm.dispose();
  await removeTempDirs();
});
afterEach(() => {
  delete process.env.PARGS_MEMORY_LIMIT;
});

const pairs = Array.from({ length: 4 }, (_, i) => ({ promptIds: [260, 5 + i], chosenIds: [20, 21], rejectedIds: [30, 31] }));

describe('early refusal of sizes that cannot fit', () => {
  it('trainPartialRM head mlp:N too wide → OptionError naming head.hidden, before the feature pass', async () => {
    const events: TrainEvent[] = [];
    const before = tf.memory().numTensors;
    const err = await trainPartialRM({ backbone: lm, pairs, head: { kind: 'mlp', hidden: 1e9 }, onProgress: (e) => events.push(e) }).then((rm) => rm.dispose(), (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/head\.hidden 1000000000 \(mlp:1000000000\) needs about .* GiB .* use a hidden width ≤ \d+/);
    expect(events).toEqual([]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('pretrainLM with a huge dim → OptionError naming dim, before any tokenizer or corpus work', async () => {
    const events: PretrainEvent[] = [];
    const out = join(await tempDir(), 'model');
    const err = await pretrainLM(toyOptions(out, { dim: 200_000, heads: 4, kvHeads: 4, onProgress: (e) => events.push(e) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/a model of dim 200000, layers 2, .* lower dim, layers or vocabSize/);
    expect(events).toEqual([]);
  });

  it('pretrainLM with a batch too large for memory → OptionError naming batchSize × context and a size that fits', async () => {
    process.env.PARGS_MEMORY_LIMIT = String(tf.memory().numBytes + 64 * 1024 ** 2);
    const events: PretrainEvent[] = [];
    const out = join(await tempDir(), 'model');
    const err = await pretrainLM(toyOptions(out, { batchSize: 4096, onProgress: (e) => events.push(e) })).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/batchSize 4096 × context 16 = 65536 tokens per step .* use batchSize × context ≤ \d+ tokens \(e\.g\. batchSize \d+\)/);
    expect(events).toEqual([]);
  });

  it('bestOfN with n too large → OptionError naming n, before decoding', async () => {
    const rm = new PartialRewardModel(lm, RewardHead.init({ kind: 'linear' }, lm.config.hiddenSize, createRng(1, 'h')), 'partial');
    const before = tf.memory().numTensors;
    const started = performance.now();
    const err = await bestOfN({ lm, rewardModel: rm, promptIds: [[260, 1, 2]], n: 50_000_000, maxNewTokens: 4 }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/^bestOfN: n 50000000 × 1 prompts gives 50000000 sequences .* at most \d+ sequences fit/);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(tf.memory().numTensors).toBe(before);
    rm.dispose();
  });

  it('PARGS_MEMORY_LIMIT parses byte counts and units, and refuses nonsense', () => {
    expect(parseMemoryLimit('2GiB')).toBe(2 * 1024 ** 3);
    expect(parseMemoryLimit('512 MiB')).toBe(512 * 1024 ** 2);
    expect(parseMemoryLimit('1000')).toBe(1000);
    expect(() => parseMemoryLimit('lots')).toThrow(/PARGS_MEMORY_LIMIT must be a positive byte count/);
    process.env.PARGS_MEMORY_LIMIT = '-5';
    expect(() => tensorMemoryBudget()).toThrow(OptionError);
  });
});
