/** End-to-end pretraining at toy size: learning, export, determinism, exact resume, memory. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { AbortError, TrainingError } from '../../src/errors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { Transformer } from '../../src/lm/transformer.js';
import { AdamW } from '../../src/train/adamw.js';
import { validationBatches } from '../../src/pretrain/batches.js';
import { initLlamaModel } from '../../src/pretrain/init.js';
import { llamaConfig } from '../../src/pretrain/model-config.js';
import type { PretrainEvent } from '../../src/pretrain/options.js';
import { trainStep } from '../../src/pretrain/train-step.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { readWeights, removeTempDirs, sameBits, tempDir, toyOptions, VALIDATION_TEXT, writeCorpus } from './helpers.js';

beforeAll(async () => {
  await initBackend();
});
afterAll(removeTempDirs);

/** Mean next-token loss of the loaded model over the given windows, log-softmax in float64 by hand. */
function handLoss(logits: Float32Array, targets: Int32Array, V: number): number {
  let total = 0;
  for (let n = 0; n < targets.length; n++) {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[n * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(logits[n * V + v] - max);
    total += max + Math.log(sum) - logits[n * V + targets[n]];
  }
  return total / targets.length;
}

describe('pretrainLM', () => {
  it('lowers the loss over 30 steps and writes a folder loadCausalLM reproduces the validation loss from', async () => {
    const root = await tempDir();
    const { corpusDir, validationFile } = await writeCorpus(root);
    const out = join(root, 'model');
    const steps: number[] = [];
    const evals: number[] = [];
    const before = tf.memory().numTensors;
    const result = await pretrainLM(
      toyOptions(out, {
        corpus: corpusDir,
        validation: { files: [validationFile] },
        onProgress: (e) => {
          if (e.type === 'step') steps.push(e.loss);
          if (e.type === 'eval') evals.push(e.valLoss);
        },
      }),
    );
    expect(tf.memory().numTensors).toBe(before);
    expect(steps).toHaveLength(30);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(steps.slice(-5))).toBeLessThan(mean(steps.slice(0, 5)) - 1);
    expect(evals[evals.length - 1]).toBeLessThan(evals[0]);
    expect(result.valLoss).toBe(evals[evals.length - 1]);

    const config = JSON.parse(await readFile(join(out, 'config.json'), 'utf8')) as Record<string, unknown>;
    expect(config).toMatchObject({ model_type: 'llama', architectures: ['LlamaForCausalLM'], torch_dtype: 'float32', num_key_value_heads: 2, max_position_embeddings: 16 });
    const training = JSON.parse(await readFile(join(out, 'training.json'), 'utf8')) as Record<string, unknown>;
    expect(training).toMatchObject({ steps: 30, validationLoss: result.valLoss, trainLoss: result.trainLoss });
    const generation = JSON.parse(await readFile(join(out, 'generation_config.json'), 'utf8')) as Record<string, number>;

    const lm = await loadCausalLM(out);
    try {
      const eot = lm.tokenizer.encode('<|endoftext|>', { addSpecialTokens: false });
      expect(eot).toEqual([generation.eos_token_id]);
      expect(lm.generation.bosTokenId).toBe(eot[0]);
      // The validation stream exactly as training builds it: the text's tokens, then <|endoftext|>.
      const stream = Uint16Array.from([...lm.tokenizer.encode(VALIDATION_TEXT, { addSpecialTokens: false }), eot[0]]);
      let total = 0;
      let count = 0;
      for (const b of validationBatches(stream, 16, 4, 64)) {
        const logits = lm.forward({ ids: b.ids, logits: 'all' }).logits as tf.Tensor;
        total += handLoss((await logits.data()) as Float32Array, b.targets, lm.config.vocabSize) * b.targets.length;
        count += b.targets.length;
        logits.dispose();
      }
      expect(total / count).toBeCloseTo(result.valLoss, 4);
    } finally {
      lm.dispose();
    }
  });

  it('gives bit-identical weights for the same seed, and different ones for another seed', async () => {
    const root = await tempDir();
    const run = async (name: string, seed: number): Promise<Map<string, Float32Array>> => {
      await pretrainLM(toyOptions(join(root, name), { steps: 6, seed }));
      return readWeights(join(root, name, 'model.safetensors'));
    };
    const a = await run('a', 11);
    const b = await run('b', 11);
    const c = await run('c', 12);
    expect(sameBits(a, b)).toBe(true);
    expect(sameBits(a, c)).toBe(false);
  });

  it('resumes an aborted run to exactly the weights of an uninterrupted one', async () => {
    const root = await tempDir();
    const steps = 12;
    await pretrainLM(toyOptions(join(root, 'straight'), { steps, evalEvery: 5 }));

    const out = join(root, 'resumed');
    const controller = new AbortController();
    const seen: PretrainEvent[] = [];
    await expect(
      pretrainLM(toyOptions(out, {
        steps, evalEvery: 5, signal: controller.signal,
        onProgress: (e) => {
          seen.push(e);
          if (e.type === 'step' && e.step === 5) controller.abort();
        },
      })),
    ).rejects.toBeInstanceOf(AbortError);
    expect(seen.filter((e) => e.type === 'step')).toHaveLength(5);
    expect(seen.at(-1)).toMatchObject({ type: 'checkpoint', step: 5 });

    const resumedEvents: PretrainEvent[] = [];
    const resumed = await pretrainLM(toyOptions(out, { steps, evalEvery: 5, resume: true, onProgress: (e) => resumedEvents.push(e) }));
    expect(resumedEvents).toContainEqual({ type: 'resume', step: 5 });
    expect(resumedEvents).toContainEqual(expect.objectContaining({ type: 'tokenizer', origin: 'checkpoint' }));
    expect(resumedEvents.filter((e) => e.type === 'step').map((e) => (e as { step: number }).step)).toEqual([6, 7, 8, 9, 10, 11, 12]);
    const straight = await readWeights(join(root, 'straight', 'model.safetensors'));
    expect(sameBits(straight, await readWeights(join(out, 'model.safetensors')))).toBe(true);
    const straightTraining = JSON.parse(await readFile(join(root, 'straight', 'training.json'), 'utf8')) as { validationLoss: number };
    expect(resumed.valLoss).toBe(straightTraining.validationLoss);
  });

  it('refuses to silently restart over an unfinished checkpoint', async () => {
    const root = await tempDir();
    const out = join(root, 'm');
    const controller = new AbortController();
    await expect(pretrainLM(toyOptions(out, { steps: 4, signal: controller.signal, onProgress: (e) => e.type === 'step' && controller.abort() }))).rejects.toThrow(AbortError);
    await expect(pretrainLM(toyOptions(out, { steps: 4 }))).rejects.toThrow(/resume/);
    await expect(pretrainLM(toyOptions(out, { steps: 4, lr: 5e-3, resume: true }))).rejects.toThrow(/lr/);
  });

  it('reuses the tokenized corpus on a rerun', async () => {
    const root = await tempDir();
    const events: PretrainEvent[][] = [[], []];
    for (const i of [0, 1]) {
      // The second run replaces the first one's model folder, which takes an explicit overwrite.
      await pretrainLM(toyOptions(join(root, 'm'), { steps: 2, overwrite: i === 1, onProgress: (e) => events[i].push(e) }));
    }
    expect(events[0]).toContainEqual(expect.objectContaining({ type: 'tokenizer', origin: 'trained' }));
    expect(events[0]).toContainEqual(expect.objectContaining({ type: 'tokenize', cached: false }));
    expect(events[1]).toContainEqual(expect.objectContaining({ type: 'tokenizer', origin: 'cached' }));
    expect(events[1]).toContainEqual(expect.objectContaining({ type: 'tokenize', cached: true }));
    const counts = events.map((ev) => ev.find((e) => e.type === 'tokenize'));
    expect(counts[1]).toMatchObject({ trainTokens: (counts[0] as { trainTokens: number }).trainTokens });
  });
});

describe('trainStep', () => {
  const { config } = llamaConfig({ vocabSize: 64, layers: 1, dim: 16, heads: 2, context: 8, tieEmbeddings: true, eotId: 63, dtype: 'F32' });
  const batch = { ids: [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 16]], targets: Int32Array.from({ length: 16 }, (_, i) => (i * 5) % 64) };

  it('keeps the tensor count stable across steps', () => {
    const model = initLlamaModel(config, 1);
    const optimizer = new AdamW(model.params);
    const transformer = new Transformer(config, model.stored());
    const ctx = { model, transformer, optimizer, clip: 1 };
    trainStep(ctx, batch, 1e-3, 1);
    const after1 = tf.memory().numTensors;
    for (let s = 2; s <= 5; s++) trainStep(ctx, batch, 1e-3, s);
    expect(tf.memory().numTensors).toBe(after1);
    model.dispose();
    optimizer.dispose();
    transformer.dispose();
  });

  it('throws a TrainingError naming the step on a non-finite loss, leaving the weights untouched', () => {
    const model = initLlamaModel(config, 1);
    const optimizer = new AdamW(model.params);
    const transformer = new Transformer(config, model.stored());
    const norm = model.params.find((p) => p.name === 'finalNorm')!.variable;
    norm.assign(tf.fill(norm.shape, NaN));
    const embedBefore = model.params[0].variable.dataSync().slice();
    const before = tf.memory().numTensors;
    expect(() => trainStep({ model, transformer, optimizer, clip: 1 }, batch, 1e-3, 7)).toThrow(TrainingError);
    expect(() => trainStep({ model, transformer, optimizer, clip: 1 }, batch, 1e-3, 7)).toThrow(/step 7/);
    expect(tf.memory().numTensors).toBe(before);
    expect(model.params[0].variable.dataSync()).toEqual(embedBefore);
    expect(optimizer.step).toBe(0);
    model.dispose();
    optimizer.dispose();
    transformer.dispose();
  });
});
