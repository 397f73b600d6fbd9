/**
 * A tied checkpoint whose shared matrix is stored only as `lm_head.weight` (safetensors metadata maps
 * the embedding name to it, as torch's shared-tensor saving does) loads like the same weights stored
 * as the embedding.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../../src/engine/tf.js';
import { describe, expect, it } from 'vitest';
import { SafetensorsError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { writeTinyModel, type TinyOptions } from '../helpers/tiny-model.js';

async function storeEmbeddingAsLmHead(dir: string, weights: Map<string, Float32Array>, shapes: Map<string, number[]>, embedName: string): Promise<void> {
  const tensors = [...weights].map(([name, data]) => ({ name: name === embedName ? 'lm_head.weight' : name, dtype: 'F32' as const, shape: shapes.get(name) as number[], data }));
  await rm(join(dir, 'model.safetensors'));
  await writeSafetensors(join(dir, 'model.safetensors'), tensors, { format: 'pt', [embedName]: 'lm_head.weight' });
}

describe('tied embeddings stored only as lm_head.weight', () => {
  const cases: [string, TinyOptions, string][] = [
    ['llama (model. prefix)', { modelType: 'llama', seed: 21, kvHeads: 2, tie: true }, 'model.embed_tokens.weight'],
    ['gpt2 (no prefix)', { modelType: 'gpt2', seed: 22 }, 'wte.weight'],
  ];
  it.each(cases)('%s: same parameters and logits as the usual layout', async (_name, options, embedName) => {
    const usual = await writeTinyModel(options);
    const other = await writeTinyModel(options);
    expect(other.weights.has(embedName)).toBe(true);
    await storeEmbeddingAsLmHead(other.dir, other.weights, other.shapes, embedName);
    const a = await loadCausalLM(usual.dir);
    const b = await loadCausalLM(other.dir);
    const before = tf.memory().numTensors;
    expect(await b.params.embed.data()).toEqual(await a.params.embed.data());
    expect(await b.params.lmHead.data()).toEqual(await a.params.lmHead.data());
    const ids = [[3, 14, 15, 92, 65]];
    const la = a.forward({ ids, logits: 'all' });
    const lb = b.forward({ ids, logits: 'all' });
    expect(await lb.logits!.data()).toEqual(await la.logits!.data());
    for (const t of [la.logits!, la.hidden, lb.logits!, lb.hidden]) t.dispose();
    expect(tf.memory().numTensors).toBe(before);
    a.dispose();
    b.dispose();
  });

  it('an untied config cannot use lm_head.weight as its embedding, and says why', async () => {
    const tiny = await writeTinyModel({ modelType: 'llama', seed: 23, tie: false });
    const tensors = [...tiny.weights].filter(([name]) => name !== 'model.embed_tokens.weight')
      .map(([name, data]) => ({ name, dtype: 'F32' as const, shape: tiny.shapes.get(name) as number[], data }));
    await rm(join(tiny.dir, 'model.safetensors'));
    await writeSafetensors(join(tiny.dir, 'model.safetensors'), tensors);
    const load = loadCausalLM(tiny.dir);
    await expect(load).rejects.toThrow(SafetensorsError);
    await expect(loadCausalLM(tiny.dir)).rejects.toThrow(/"tie_word_embeddings": false/);
  });
});
