/**
 * The reward-model manifest names its backbone portably (fingerprint, folder name, path relative to
 * the reward model), never by this machine's absolute path; loadRewardModel takes the backbone's folder
 * in one call and still checks the fingerprint. Plain {prompt, chosen, rejected} rows train.
 */
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { loadRewardModel, REWARD_MODEL_FILE, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let modelDir = '';
let otherDir = '';
let rm: PartialRewardModel;
let rmDir = '';
const ROWS = [
  { prompt: 'The nation', chosen: ' is strong and free', rejected: ' is weak' },
  { prompt: 'Our economy', chosen: ' grows with new jobs', rejected: ' fails' },
  { prompt: 'We will', chosen: ' build a better future', rejected: ' give up' },
];

beforeAll(async () => {
  modelDir = resolve((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir);
  otherDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 62, hidden: 32 })).dir;
  lm = await loadCausalLM(modelDir); // an absolute path, as bundledModelPath() gives
  rm = await trainPartialRM({ backbone: lm, pairs: ROWS, epochs: 1, batchSize: 8, seed: 3 });
  rmDir = join(await mkdtemp(join(tmpdir(), 'pargs-manifest-')), 'rm');
  await rm.save(rmDir);
});
afterAll(() => {
  rm.dispose();
  lm.dispose();
});

describe('reward-model manifest', () => {
  it('plain rows without source train, and rm.training is the typed record', () => {
    expect(rm.training.pairs).toBe(ROWS.length);
    expect(rm.training.steps).toBe(rm.training.history.steps.length);
    expect(rm.training.history.steps[0].loss).toBeGreaterThan(0);
  });

  it('stores the backbone by fingerprint, folder name and relative path, with no absolute path anywhere', async () => {
    const text = await readFile(join(rmDir, REWARD_MODEL_FILE), 'utf8');
    const manifest = JSON.parse(text);
    expect(manifest.backbone.fingerprint).toBe(lm.fingerprint);
    expect(manifest.backbone.name).toBe(modelDir.split('/').at(-1));
    expect(manifest.backbone.relativePath.startsWith('/')).toBe(false);
    expect(resolve(rmDir, manifest.backbone.relativePath)).toBe(modelDir);
    expect(manifest.backbone.source).toBeUndefined();
    expect(text).not.toContain(modelDir);
    expect(text).not.toContain(tmpdir());
  });

  it('loadRewardModel(rmDir, backboneFolder) loads both in one call and frees the backbone on dispose', async () => {
    const before = tf.memory().numTensors;
    const loaded = await loadRewardModel(rmDir, modelDir);
    expect(loaded.backbone.fingerprint).toBe(lm.fingerprint);
    expect(await loaded.score('The nation', ' is strong')).toBeCloseTo(await rm.score('The nation', ' is strong'), 5);
    expect(loaded.training.history.steps.length).toBe(rm.training.steps);
    loaded.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('a folder holding another backbone is refused by fingerprint, and its tensors are freed', async () => {
    const before = tf.memory().numTensors;
    const err = await loadRewardModel(rmDir, otherDir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as Error).message).toMatch(/fingerprint/);
    expect(tf.memory().numTensors).toBe(before);
  });
});
