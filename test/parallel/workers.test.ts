/** Worker threads: n workers give the bits of one thread; failures and aborts end the run, never hang it. */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bestOfN } from '../../src/parallel/dispatch.js';
import { generate } from '../../src/parallel/dispatch.js';
import { type GuidedSampleOptions } from '../../src/decode/guided.js';
import { guidedSample } from '../../src/parallel/dispatch.js';
import { AbortError, WorkerError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { type PrefixFeatures } from '../../src/reward/features.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { RewardHead } from '../../src/reward/head.js';
import { PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { expectReproduced } from '../helpers/backend-guarantee.js';

let lm: CausalLM;
let twin: CausalLM; // same folder, another object: the unfused path
let rm: PartialRewardModel;
let twinRm: PartialRewardModel;
let dir: string;

beforeAll(async () => {
  dir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir;
  lm = await loadCausalLM(dir);
  twin = await loadCausalLM(dir);
  const head = () => RewardHead.init({ kind: 'mlp', hidden: 8 }, lm.config.hiddenSize, createRng(4, 'head-init'));
  rm = new PartialRewardModel(lm, head(), 'partial');
  twinRm = new PartialRewardModel(twin, head(), 'partial');
});
afterAll(() => [rm, twinRm, lm, twin].forEach((x) => x.dispose()));

/** Ten prompts of different lengths; the long ones all in the first half, so two chunks would pad differently on their own. */
const PROMPTS = Array.from({ length: 10 }, (_, i) => [260, ...Array.from({ length: i < 5 ? 2 + i : 1 + (i % 3) }, (_, j) => 30 + ((i * 13 + j * 5) % 200))]);

const pairs = Array.from({ length: 12 }, (_, i) => ({
  promptIds: [260, ...Array.from({ length: 1 + (i % 5) }, (_, j) => 10 + i + j)],
  chosenIds: Array.from({ length: 2 + (i % 4) }, (_, j) => 40 + i * 3 + j),
  rejectedIds: Array.from({ length: 1 + ((i * 7) % 5) }, (_, j) => 120 + i + j),
}));

function allFeatures(f: PrefixFeatures): Float32Array[] {
  return f.pairIndices.flatMap((p) => [f.store.get(p, 0), f.store.get(p, 1)]);
}

const guided = (o: Partial<GuidedSampleOptions>): GuidedSampleOptions => ({ lm, rewardModel: rm, promptIds: PROMPTS, beta: 2, topK: 5, maxNewTokens: 6, seed: 9, ...o });

// Bit-identical on wasm; on native, the guarantee of test/helpers/backend-guarantee.ts.
describe('workers: bit-identical to one thread', () => {
  it('the feature pass (batches planned once, sent whole)', async () => {
    const pass = (workers: number) => extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, tokensPerBatch: 40, workers });
    const one = await pass(1);
    const before = tf.memory().numTensors;
    const progress: number[] = [];
    const two = await extractPrefixFeatures({ backbone: lm, pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, tokensPerBatch: 40, workers: 2, onProgress: (e) => progress.push(e.sequencesDone) });
    expect(tf.memory().numTensors).toBe(before);
    expect(progress.length).toBeGreaterThan(2); // several batches, so the work really was shared
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    expect(two.pairIndices).toEqual(one.pairIndices);
    expect(two.stats.paddedTokens).toBe(one.stats.paddedTokens);
    const [a, b] = [allFeatures(one), allFeatures(two)];
    expect(b.length).toBe(a.length);
    a.forEach((rows, i) => expect(Buffer.from(b[i].buffer, b[i].byteOffset, b[i].byteLength).equals(Buffer.from(rows.buffer, rows.byteOffset, rows.byteLength))).toBe(true));
    one.store.dispose();
    two.store.dispose();
  });

  it.each([
    ['sampling, fused', {}],
    ['greedy, fused', { mode: { kind: 'greedy' } }],
    ['sampling, separate reward backbone', { rewardModel: undefined as unknown as PartialRewardModel }],
  ] as const)('guided decoding: %s', async (_name, extra) => {
    const o = 'rewardModel' in extra ? { rewardModel: twinRm } : extra;
    const one = await guidedSample(guided({ ...o, workers: 1 }));
    const before = tf.memory().numTensors;
    const events: number[] = [];
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    const two = await guidedSample(guided({ ...o, workers: 2, onToken: (t) => events.push(t.row) }));
    clearInterval(timer);
    // The main thread only waits on the workers: its timers keep firing (a quarter of the ideal count, for load).
    expect(ticks).toBeGreaterThan((performance.now() - started) / 10 / 4);
    expect(tf.memory().numTensors).toBe(before);
    expectReproduced(two, one); // ids, text, every candidate's log-prob and reward, rows of the trace
    expect(new Set(events)).toEqual(new Set(PROMPTS.map((_, r) => r)));
  });

  it('generate (sampling with top-p), and rows keep their random streams', async () => {
    const o = { lm, promptIds: PROMPTS, maxNewTokens: 6, seed: 3, strategy: { kind: 'sample', temperature: 1.3, topP: 0.9 } } as const;
    const one = await generate({ ...o, workers: 1 });
    const two = await generate({ ...o, workers: 2 });
    expectReproduced(two, one);
    const tail = await generate({ ...o, promptIds: PROMPTS.slice(5), firstRow: 5, workers: 1 });
    expectReproduced(tail, one.slice(5));
  });

  it('trainPartialRM: the head trained from a feature pass on 2 workers equals the one-thread head', async () => {
    const train = (workers: number) => trainPartialRM({ backbone: lm, pairs, epochs: 2, batchSize: 8, seed: 5, tokensPerBatch: 40, workers });
    const [one, two] = [await train(1), await train(2)];
    expectReproduced(await two.head.toHost(), await one.head.toHost());
    one.dispose();
    two.dispose();
  });

  it('bestOfN (chunks keep the 16-row scoring groups whole)', async () => {
    const o = { lm, rewardModel: rm, promptIds: PROMPTS, n: 4, maxNewTokens: 4, seed: 2 };
    const one = await bestOfN({ ...o, workers: 1 });
    const two = await bestOfN({ ...o, workers: 2 });
    expectReproduced(two, one);
  });
});

describe('workers: failures', () => {
  it('a worker that throws while loading surfaces as a WorkerError in the caller', async () => {
    const moved = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir;
    const local = await loadCausalLM(moved);
    // Replace the weights on disk: the workers' copies no longer match the main thread's.
    await copyFile(join((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 72 })).dir, 'model.safetensors'), join(moved, 'model.safetensors'));
    const run = generate({ lm: local, promptIds: PROMPTS, maxNewTokens: 2, workers: 2 });
    await expect(run).rejects.toThrow(WorkerError);
    await expect(run).rejects.toThrow(/worker \d of 2 failed while loading the model: CheckpointError: the model folder .* changed on disk/);
    // By default (no option, no PARGS_WORKERS) a call this small stays in this thread, so it succeeds.
    const saved = process.env.PARGS_WORKERS;
    delete process.env.PARGS_WORKERS;
    try {
      await expect(generate({ lm: local, promptIds: PROMPTS, maxNewTokens: 2 })).resolves.toHaveLength(PROMPTS.length);
    } finally {
      if (saved !== undefined) process.env.PARGS_WORKERS = saved;
    }
    local.dispose();
  });

  it('an abort rejects with AbortError while the main thread stays free', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const started = performance.now();
    const run = guidedSample(guided({ maxNewTokens: 10_000, stop: { eos: false }, workers: 2, signal: AbortSignal.timeout(300) }));
    await expect(run).rejects.toThrow(AbortError);
    clearInterval(timer);
    expect(performance.now() - started).toBeLessThan(5000);
    expect(ticks).toBeGreaterThan(10);
  });
});
