/** A model folder or reward head holding NaN / ±Infinity is refused at load, naming the tensor. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, SafetensorsError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { RewardHead } from '../../src/reward/head.js';
import { loadRewardModel, PartialRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

describe('non-finite weights at load', () => {
  it.each([
    ['NaN', Number.NaN, 'F32'],
    ['+Infinity', Infinity, 'F32'],
    ['-Infinity (F16)', -Infinity, 'F16'],
  ] as const)('a backbone with %s in one tensor → SafetensorsError naming it, no tensors left behind', async (_, value, dtype) => {
    const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, layers: 2, dtype: 'F32' });
    const target = 'model.layers.1.mlp.down_proj.weight';
    tiny.weights.get(target)![7] = value;
    await writeSafetensors(
      join(tiny.dir, 'model.safetensors'),
      [...tiny.weights].map(([name, data]) => ({ name, dtype, shape: tiny.shapes.get(name) as number[], data })),
    );
    const before = tf.memory().numTensors;
    const err = await loadCausalLM(tiny.dir).then((m) => m.dispose(), (e: unknown) => e);
    expect(err).toBeInstanceOf(SafetensorsError);
    expect((err as Error).message).toContain(`tensor "${target}" holds ${value} at flat index 7`);
    expect(tf.memory().numTensors).toBe(before);
  });

  describe('reward head', () => {
    let lm: CausalLM;
    beforeAll(async () => {
      lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 81 })).dir);
    });
    afterAll(() => lm.dispose());

    it('a saved head with a NaN weight → CheckpointError naming the parameter, no tensors left behind', async () => {
      const head = RewardHead.init({ kind: 'mlp', hidden: 4 }, lm.config.hiddenSize, createRng(1, 'head'));
      tf.tidy(() => head.variables.get('out.weight')!.assign(tf.tensor2d([1, 2, Number.NaN, 4], [4, 1])));
      const rm = new PartialRewardModel(lm, head, 'partial');
      const dir = join(await mkdtemp(join(tmpdir(), 'pargs-nanhead-')), 'rm');
      await rm.save(dir);
      rm.dispose();
      const before = tf.memory().numTensors;
      const err = await loadRewardModel(dir, lm).then((m) => m.dispose(), (e: unknown) => e);
      expect(err).toBeInstanceOf(CheckpointError);
      expect((err as Error).message).toMatch(/parameter "out\.weight" holds NaN at index 2/);
      expect(tf.memory().numTensors).toBe(before);
    });
  });
});
