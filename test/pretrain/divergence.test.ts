/** A diverging pretraining run stops with a TrainingError naming the step; no checkpoint, no model folder. */
import { access, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { TrainingError } from '../../src/errors.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { removeTempDirs, tempDir, toyOptions } from './helpers.js';

afterAll(removeTempDirs);

describe('divergence in pretrainLM', () => {
  it('lr 1e308 → TrainingError at step 1 before anything is saved, no leaked tensors', async () => {
    const root = await tempDir();
    const out = join(root, 'model');
    const workDir = join(root, 'work');
    const before = tf.memory().numTensors;
    const err = await pretrainLM(toyOptions(out, { workDir, lr: 1e308, warmupSteps: 0, steps: 4, checkpointEvery: 1 })).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TrainingError);
    expect((err as Error).message).toMatch(/pretrainLM: training diverged at step 1\b/);
    await expect(access(out)).rejects.toThrow();
    expect(await readdir(workDir)).not.toContain('checkpoint');
    expect(tf.memory().numTensors).toBe(before);
  });
});
