/** Vocabulary-head training (FaRMA's head): checkpoints, abort, exact resume and periodic evaluation, as the linear head has. */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { AbortError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { loadTrainingCheckpoint } from '../../src/reward/checkpoint.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import type { PartialRewardModel } from '../../src/reward/reward-model.js';
import { type TrainEvent, type TrainPartialRMOptions } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import type { VocabObjective } from '../../src/reward/vocab-train.js';
import { writeTinyModel } from '../helpers/tiny-model.js';
import { expectReproduced } from '../helpers/backend-guarantee.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir);
});
afterAll(() => lm.dispose());

function pairs(n: number, seed: number): TokenPair[] {
  const rng = createRng(seed, 'vocab-resume-pairs');
  const f = () => Array.from({ length: 3 }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 5 + Math.floor(rng() * 50)], chosenIds: [120, ...f()], rejectedIds: [130, ...f()] }));
}

const base = (objective: VocabObjective, o: Partial<TrainPartialRMOptions> = {}): TrainPartialRMOptions => ({
  backbone: lm, pairs: pairs(16, 1), head: { kind: 'vocab' }, objective, epochs: 2, batchSize: 16, lr: 0.05, seed: 7, ...o,
});
const headValues = async (rm: PartialRewardModel): Promise<number[]> => (await rm.head.toHost()).flatMap((p) => [...p.data]);
const newDir = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'pargs-vocab-resume-')), 'out');

/** A run aborted from its own progress callback once `afterStep` steps are done. */
function abortAfter(afterStep: number): { signal: AbortSignal; onProgress: (e: TrainEvent) => void; events: TrainEvent[] } {
  const controller = new AbortController();
  const events: TrainEvent[] = [];
  return { signal: controller.signal, events, onProgress: (e) => {
    events.push(e);
    if (e.kind === 'step' && e.step === afterStep) controller.abort();
  } };
}

describe('vocabulary-head checkpoints and resume', () => {
  it.each(['bt-prefix', 'farma'] as const)('%s: abort at a step, then resume, gives the uninterrupted head bit for bit', async (objective) => {
    const before = tf.memory().numTensors;
    const steps: number[] = [];
    const uninterrupted = await trainPartialRM(base(objective, { checkpointDir: await newDir(), onProgress: (e) => e.kind === 'step' && steps.push(e.step) }));
    const total = steps.length;
    expect(total).toBeGreaterThan(3);
    const k = Math.floor(total / 2);
    const dir = await newDir();
    const stop = abortAfter(k);
    const aborted = trainPartialRM(base(objective, { checkpointDir: dir, signal: stop.signal, onProgress: stop.onProgress }));
    await expect(aborted).rejects.toThrow(AbortError);
    await expect(aborted).rejects.toThrow(new RegExp(`after step ${k} of ${total}.*${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*resume`));
    expect(stop.events).toContainEqual(expect.objectContaining({ kind: 'checkpoint', step: k }));
    const events: TrainEvent[] = [];
    const resumed = await trainPartialRM(base(objective, { checkpointDir: dir, resume: true, onProgress: (e) => events.push(e) }));
    expect(events).toContainEqual(expect.objectContaining({ kind: 'resumed', step: k }));
    expect(events.filter((e) => e.kind === 'step').map((e) => e.kind === 'step' && e.step)).toEqual(Array.from({ length: total - k }, (_, i) => k + 1 + i));
    expect(await headValues(resumed)).toEqual(await headValues(uninterrupted));
    expect(resumed.training.history).toEqual(uninterrupted.training.history);
    [uninterrupted, resumed].forEach((m) => m.dispose());
    expect(tf.memory().numTensors).toBe(before);
  });

  it('checkpoints each epoch by default or every checkpointEvery steps; a checkpoint round-trips the vocabulary head and its AdamW moments', async () => {
    const epochEnds: TrainEvent[] = [];
    const rm = await trainPartialRM(base('farma', { checkpointDir: await newDir(), keepCheckpoints: 5, onProgress: (e) => epochEnds.push(e) }));
    const total = rm.training.steps!;
    expect(epochEnds.filter((e) => e.kind === 'checkpoint').map((e) => e.kind === 'checkpoint' && e.step)).toEqual([total / 2, total]);
    rm.dispose();

    const dir = await newDir();
    const stop = abortAfter(2);
    await expect(trainPartialRM(base('bt-prefix', { checkpointDir: dir, checkpointEvery: 1, keepCheckpoints: 5, signal: stop.signal, onProgress: stop.onProgress }))).rejects.toThrow(AbortError);
    expect(stop.events.filter((e) => e.kind === 'checkpoint').map((e) => e.kind === 'checkpoint' && e.step)).toEqual([1, 2, 2]);
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['step-00000001', 'step-00000002']);
    const loaded = await loadTrainingCheckpoint(dir, lm);
    const V = lm.config.vocabSize;
    const d = lm.config.hiddenSize;
    expect(loaded!.rm.headSpec).toEqual({ kind: 'vocab', vocabSize: V });
    expect(loaded!.optimizerState.step).toBe(2);
    expect(loaded!.optimizerState.moments.get('weight')!.m.length).toBe(d * V);
    expect(loaded!.optimizerState.moments.get('bias')!.v.length).toBe(V);
    // The moments moved only on columns of tokens seen in training: the update is sparse but real.
    expect(loaded!.optimizerState.moments.get('weight')!.v.some((x) => x > 0)).toBe(true);
    loaded!.rm.dispose();
  });

  it('an abort from outside (AbortSignal.timeout) leaves a checkpoint that resumes; the message names the folder', async () => {
    const dir = await newDir();
    const long = { pairs: pairs(32, 3), epochs: 400, batchSize: 4 };
    let stepsBefore = 0;
    const run = trainPartialRM(base('bt-prefix', { ...long, checkpointDir: dir, checkpointEvery: 1000, signal: AbortSignal.timeout(400), onProgress: (e) => {
      if (e.kind === 'step') stepsBefore = e.step;
    } }));
    const err = await run.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AbortError);
    expect((err as Error).message).toContain(dir);
    // Resume, then stop again right away: the run continues from where the timer stopped it.
    const events: TrainEvent[] = [];
    const again = abortAfter(stepsBefore + 1);
    await expect(trainPartialRM(base('bt-prefix', { ...long, checkpointDir: dir, resume: true, checkpointEvery: 1000, signal: again.signal, onProgress: (e) => {
      events.push(e);
      again.onProgress(e);
    } }))).rejects.toThrow(AbortError);
    expect(events).toContainEqual(expect.objectContaining({ kind: 'resumed', step: stepsBefore }));
    expect(events.find((e) => e.kind === 'step')).toMatchObject({ step: stepsBefore + 1 });
  });

  it('an abort during the feature pass leaves a step-0 checkpoint (with the run\'s step count) that resumes exactly', async () => {
    const dir = await newDir();
    const o = { tokensPerBatch: 16, checkpointDir: dir };
    const controller = new AbortController();
    const run = trainPartialRM(base('farma', { ...o, signal: controller.signal, onProgress: (e) => e.kind === 'features' && controller.abort() }));
    await expect(run).rejects.toThrow(/aborted during the feature pass; a step-0 checkpoint was written/);
    const start = await loadTrainingCheckpoint(dir, lm);
    const fresh = await trainPartialRM(base('farma'));
    expect(start!.position.step).toBe(0);
    expect(start!.position.totalSteps).toBe(fresh.training.steps);
    start!.rm.dispose();
    const resumed = await trainPartialRM(base('farma', { ...o, resume: true }));
    // The fresh run's feature pass batches differently (no tokensPerBatch): exact on wasm, within tolerance on native.
    expectReproduced(await headValues(resumed), await headValues(fresh));
    [fresh, resumed].forEach((m) => m.dispose());
  });

  it('refuses a checkpoint made with other options or data', async () => {
    const dir = await newDir();
    const stop = abortAfter(1);
    await expect(trainPartialRM(base('farma', { checkpointDir: dir, signal: stop.signal, onProgress: stop.onProgress }))).rejects.toThrow(AbortError);
    const before = tf.memory().numTensors;
    await expect(trainPartialRM(base('farma', { checkpointDir: dir, resume: true, lr: 0.01 }))).rejects.toThrow(OptionError);
    await expect(trainPartialRM(base('bt-prefix', { checkpointDir: dir, resume: true }))).rejects.toThrow(/made with other options, data or backbone/);
    await expect(trainPartialRM(base('farma', { checkpointDir: dir, resume: true, pairs: pairs(16, 2) }))).rejects.toThrow(OptionError);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('evaluates every evalEvery steps and at the end, else at each epoch end; evals survive a resume', async () => {
    const evalPairs = pairs(6, 9);
    const evalSteps = (events: TrainEvent[]) => events.flatMap((e) => (e.kind === 'eval' ? [e.step] : []));
    const byDefault: TrainEvent[] = [];
    const rm = await trainPartialRM(base('farma', { evalPairs, epochs: 3, onProgress: (e) => byDefault.push(e) }));
    const total = rm.training.steps!;
    expect(evalSteps(byDefault)).toEqual([total / 3, (2 * total) / 3, total]);
    expect(rm.training.history!.evals.map((e) => e.step)).toEqual(evalSteps(byDefault));
    rm.dispose();

    const before = tf.memory().numTensors;
    const dir = await newDir();
    const stop = abortAfter(4);
    await expect(trainPartialRM(base('bt-prefix', { evalPairs, evalEvery: 3, checkpointDir: dir, signal: stop.signal, onProgress: stop.onProgress }))).rejects.toThrow(AbortError);
    expect(evalSteps(stop.events)).toEqual([3]);
    const rest: TrainEvent[] = [];
    const resumed = await trainPartialRM(base('bt-prefix', { evalPairs, evalEvery: 3, checkpointDir: dir, resume: true, onProgress: (e) => rest.push(e) }));
    const all = resumed.training.steps!;
    const expected = Array.from({ length: Math.floor((all - 1) / 3) }, (_, i) => 3 * (i + 1)).concat(all);
    expect(resumed.training.history!.evals.map((e) => e.step)).toEqual(expected);
    expect(evalSteps(rest)).toEqual(expected.filter((s) => s > 4));
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
