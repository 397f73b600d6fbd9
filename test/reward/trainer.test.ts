/** trainPartialRM: the head learns, the backbone does not move, runs are reproducible and resumable. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodePreferences, loadPreferences } from '../../src/data/index.js';
import { AbortError, CheckpointError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { paramTensors } from '../../src/lm/params.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { type TrainPartialRMOptions } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let other: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 51, hidden: 32 })).dir);
  other = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 52, hidden: 32 })).dir);
});
afterAll(() => {
  lm.dispose();
  other.dispose();
});

const X = 120;
const Y = 130;
/**
 * A known answer that separates the two kinds of reward model: the chosen response starts with X and
 * ends with Y, the rejected one starts with Y and ends with X, with random filler between. A
 * full-sequence model learns "ends with Y is good" and, applied to one-token prefixes, prefers Y —
 * the rejected response. A partial model sees the prefixes and learns that X first is good.
 */
function synthetic(n: number, seed: number): TokenPair[] {
  const rng = createRng(seed, 'synthetic');
  const filler = () => Array.from({ length: 4 }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 5 + Math.floor(rng() * 50)], chosenIds: [X, ...filler(), Y], rejectedIds: [Y, ...filler(), X] }));
}

const base = (overrides: Partial<TrainPartialRMOptions> = {}): TrainPartialRMOptions => ({
  backbone: lm,
  pairs: synthetic(48, 1),
  epochs: 2,
  batchSize: 32,
  lr: 0.02,
  seed: 7,
  ...overrides,
});

async function headValues(rm: PartialRewardModel): Promise<number[]> {
  return (await rm.head.toHost()).flatMap((p) => [...p.data]);
}

describe('trainPartialRM', () => {
  it('on the known-answer task, the partial RM ranks first-token prefixes right and the full RM ranks them wrong', async () => {
    const evalPairs = synthetic(40, 2);
    const common = { pairs: synthetic(160, 3), evalPairs, epochs: 10, batchSize: 64, lr: 0.1 };
    const partial = await trainPartialRM(base({ ...common, mode: 'partial' }));
    const full = await trainPartialRM(base({ ...common, mode: 'full' }));
    const last = (rm: PartialRewardModel) => (rm.training.history as { evals: { diagnostics: { prefixAccuracyByDecile: number[]; fullAccuracy: number } }[] }).evals.at(-1)!.diagnostics;
    const p = last(partial);
    const f = last(full);
    // Measured: full RM 0.93 on complete responses but 0.30 on one-token prefixes; partial RM 0.93 there.
    expect(f.fullAccuracy).toBeGreaterThan(0.85); // the full RM does learn its own task…
    expect(p.prefixAccuracyByDecile[0]).toBeGreaterThan(0.85); // …but only the partial RM ranks early prefixes
    expect(f.prefixAccuracyByDecile[0]).toBeLessThan(0.5);
    partial.dispose();
    full.dispose();
  });

  it('changes the head and leaves every backbone weight bit-identical', async () => {
    const before = await Promise.all(paramTensors(lm.params).map(async (t) => (await t.data()).slice()));
    const untrained = await trainPartialRM(base({ epochs: 1, lr: 1e-12 }));
    const trained = await trainPartialRM(base());
    const after = await Promise.all(paramTensors(lm.params).map(async (t) => await t.data()));
    after.forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(before[i].buffer))).toBe(true));
    const [h0, h1] = [await headValues(untrained), await headValues(trained)];
    expect(h0.some((v, i) => Math.abs(v - h1[i]) > 1e-4)).toBe(true);
    untrained.dispose();
    trained.dispose();
  });

  it('the same seed gives an identical head; another seed does not', async () => {
    const [a, b, c] = [await trainPartialRM(base()), await trainPartialRM(base()), await trainPartialRM(base({ seed: 8 }))];
    expect(await headValues(a)).toEqual(await headValues(b));
    expect(await headValues(a)).not.toEqual(await headValues(c));
    [a, b, c].forEach((rm) => rm.dispose());
  });

  it('resuming an aborted run equals the uninterrupted run bit for bit', async () => {
    const dir = join(await mkdtemp(join(tmpdir(), 'pargs-rm-ckpt-')), 'ckpt');
    const uninterrupted = await trainPartialRM(base({ prefix: { kind: 'sample', perPair: 3 }, weighting: 'per-pair' }));
    const controller = new AbortController();
    const aborted = trainPartialRM(base({
      prefix: { kind: 'sample', perPair: 3 },
      weighting: 'per-pair',
      checkpointDir: dir,
      signal: controller.signal,
      onProgress: (e) => e.kind === 'step' && e.step === 3 && controller.abort(),
    }));
    await expect(aborted).rejects.toThrow(AbortError);
    const events: string[] = [];
    const resumed = await trainPartialRM(base({ prefix: { kind: 'sample', perPair: 3 }, weighting: 'per-pair', checkpointDir: dir, resume: true, onProgress: (e) => events.push(e.kind === 'resumed' ? `resumed@${e.step}` : e.kind) }));
    expect(events[events.indexOf('resumed@3')]).toBe('resumed@3');
    expect(await headValues(resumed)).toEqual(await headValues(uninterrupted));
    await expect(trainPartialRM(base({ checkpointDir: dir, resume: true, lr: 0.5 }))).rejects.toThrow(/other options/);
    uninterrupted.dispose();
    resumed.dispose();
  });

  it('does not leak tensors', async () => {
    (await trainPartialRM(base({ epochs: 1, evalPairs: synthetic(4, 9) }))).dispose();
    const before = tf.memory().numTensors;
    (await trainPartialRM(base({ epochs: 1, evalPairs: synthetic(4, 9), head: { kind: 'mlp', hidden: 8 } }))).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe('text input', () => {
  it('a PreferenceSet of text trains exactly like its encodePreferences output, and reports the encoding', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => ({ prompt: `Q${i}: the`, chosen: ' theme is good', rejected: i === 3 ? ' theme is good' : ' bad' }));
    const set = await loadPreferences(rows);
    const events: string[] = [];
    const fromText = await trainPartialRM(base({ pairs: set, onProgress: (e) => e.kind === 'encoded' && events.push(`${e.split}:${e.report.kept}`) }));
    const fromIds = await trainPartialRM(base({ pairs: encodePreferences(set, lm.tokenizer).pairs }));
    expect(events).toEqual(['train:11']);
    expect(await headValues(fromText)).toEqual(await headValues(fromIds));
    fromText.dispose();
    fromIds.dispose();
  });
});

describe('saving and loading reward models', () => {
  it('round-trips exactly and refuses corrupted or mismatched checkpoints', async () => {
    const rm = await trainPartialRM(base({ epochs: 1, head: { kind: 'mlp', hidden: 8 } }));
    const dir = join(await mkdtemp(join(tmpdir(), 'pargs-rm-')), 'rm');
    await rm.save(dir);
    const loaded = await loadRewardModel(dir, lm);
    expect(await headValues(loaded)).toEqual(await headValues(rm));
    expect(await loaded.scorePrefixIds([260, 1], [2, 3])).toEqual(await rm.scorePrefixIds([260, 1], [2, 3]));
    await expect(loadRewardModel(dir, other)).rejects.toThrow(/trained on backbone/);
    const headPath = join(dir, 'head.safetensors');
    const bytes = await readFile(headPath);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(headPath, bytes);
    await expect(loadRewardModel(dir, lm)).rejects.toThrow(CheckpointError);
    await writeFile(join(dir, 'reward_model.json'), '{"format": "pargs-reward-model", "version": 1,');
    await expect(loadRewardModel(dir, lm)).rejects.toThrow(/corrupted/);
    await expect(loadRewardModel(join(dir, 'nope'), lm)).rejects.toThrow(/not a saved pargs reward model/);
    rm.dispose();
    loaded.dispose();
  });
});

describe('bad options', () => {
  const cases: [string, Partial<TrainPartialRMOptions> & Record<string, unknown>, RegExp][] = [
    ['unknown option', { epoch: 2 }, /unknown option "epoch"/],
    ['empty pairs', { pairs: [] }, /non-empty/],
    ['bad mode', { mode: 'prefix' as never }, /mode/],
    ['bad prefix selection', { prefix: { kind: 'some' } as never }, /prefix/],
    ['zero samples per pair', { prefix: { kind: 'sample', perPair: 0 } }, /perPair/],
    ['bad alignment', { alignment: 'left' as never }, /alignment/],
    ['fractional epochs', { epochs: 1.5 }, /epochs/],
    ['zero batch size', { batchSize: 0 }, /batchSize/],
    ['negative lr', { lr: -1 }, /lr/],
    ['NaN weight decay', { weightDecay: Number.NaN }, /weightDecay/],
    ['bad head', { head: { kind: 'mlp', hidden: 0 } }, /head\.hidden/],
    ['bad seed', { seed: 1.5 }, /seed/],
    ['minPrefix longer than every pair', { minPrefix: 50 }, /minPrefix/],
  ];
  it.each(cases)('%s', async (_name, overrides, message) => {
    const error = await trainPartialRM(base(overrides as Partial<TrainPartialRMOptions>)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OptionError);
    expect((error as Error).message).toMatch(message);
  });
});
