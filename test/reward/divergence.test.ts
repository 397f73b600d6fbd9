/** A diverging reward training stops with a TrainingError naming the step, and saves nothing. */
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrainingError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir);
});
afterAll(() => lm.dispose());

const pairs: TokenPair[] = Array.from({ length: 16 }, (_, i) => ({ promptIds: [260, 5 + i], chosenIds: [120, 140 + i, 130], rejectedIds: [130, 150 + i, 120] }));

describe('divergence in trainPartialRM', () => {
  it.each([
    ['a linear head', { kind: 'linear' as const }],
    ['an mlp head', { kind: 'mlp' as const, hidden: 8 }],
  ])('lr 1e308 on %s → TrainingError at step 1, no checkpoint, no leaked tensors', async (_, head) => {
    const checkpointDir = join(await mkdtemp(join(tmpdir(), 'pargs-diverge-')), 'ckpt');
    const before = tf.memory().numTensors;
    const err = await trainPartialRM({ backbone: lm, pairs, head, lr: 1e308, epochs: 3, batchSize: 8, checkpointDir, checkpointEvery: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as Error).message).toMatch(/step 1\b/);
    expect((err as Error).message).toMatch(/NaN or infinite in "/);
    // Nothing saved: no model and no checkpoint, only the claimed folder's marker of an unfinished run.
    expect(await readdir(checkpointDir).catch(() => [])).toEqual(['pargs-output.json']);
    expect(tf.memory().numTensors).toBe(before);
  });
});
