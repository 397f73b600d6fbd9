/** trainPartialRM({ init }): the head starts from an existing reward model's head (an HF RM's score row). */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { AbortError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let hf: PartialRewardModel;
let otherDir: string;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'qwen2', seed: 31, kvHeads: 2 })).dir);
  hf = await loadRewardModel((await writeTinyModel({ modelType: 'qwen2', seed: 31, kvHeads: 2, seqCls: {} })).dir);
  otherDir = (await writeTinyModel({ modelType: 'qwen2', seed: 32, kvHeads: 2, seqCls: {} })).dir;
});
afterAll(() => {
  hf.dispose();
  lm.dispose();
});

function pairs(n: number): TokenPair[] {
  const rng = createRng(3, 'init-pairs');
  const f = () => Array.from({ length: 3 }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 7], chosenIds: [120, ...f()], rejectedIds: [130, ...f()] }));
}
const items = [{ promptIds: [260, 7], responseIds: [120, 150, 151] }, { promptIds: [9, 10, 11], responseIds: [60] }];

it('the step-0 head gives exactly the loaded HF reward model’s rewards; training then moves on from there', async () => {
  const out = join(await mkdtemp(join(tmpdir(), 'pargs-init-')), 'rm');
  // Stopped before its first step, the run leaves its step-0 checkpoint: the head it starts from.
  await expect(trainPartialRM({ backbone: lm, pairs: pairs(16), init: hf, epochs: 1, batchSize: 8, checkpointDir: out, signal: AbortSignal.abort() })).rejects.toThrow(AbortError);
  const [step0] = await readdir(join(out, 'checkpoints'));
  expect(step0).toMatch(/^step-0+$/);
  const start = await loadRewardModel(join(out, 'checkpoints', step0), lm);
  expect(await start.scoreIdsBatch(items)).toEqual(await hf.scoreIdsBatch(items));
  expect(await start.scorePrefixIds(items[0].promptIds, items[0].responseIds)).toEqual(await hf.scorePrefixIds(items[0].promptIds, items[0].responseIds));
  start.dispose();

  const losses: number[] = [];
  const trained = await trainPartialRM({ backbone: lm, pairs: pairs(16), init: hf, epochs: 1, batchSize: 8, lr: 0.05, onProgress: (e) => e.kind === 'step' && losses.push(e.loss) });
  expect(losses.length).toBeGreaterThan(0);
  expect(await trained.scoreIdsBatch(items)).not.toEqual(await hf.scoreIdsBatch(items));
  trained.dispose();
});

it('refuses an init on other backbone weights (naming both fingerprints) and an MLP head', async () => {
  const other = await loadRewardModel(otherDir);
  try {
    await expect(trainPartialRM({ backbone: lm, pairs: pairs(4), init: other })).rejects.toThrow(OptionError);
    await expect(trainPartialRM({ backbone: lm, pairs: pairs(4), init: other })).rejects.toThrow(new RegExp(`fingerprint ${other.backbone.backboneFingerprint.slice(0, 12)}.*has ${lm.backboneFingerprint.slice(0, 12)}`));
  } finally {
    other.dispose();
  }
  await expect(trainPartialRM({ backbone: lm, pairs: pairs(4), init: hf, head: { kind: 'mlp', hidden: 4 } })).rejects.toThrow(/init works for linear heads/);
});
