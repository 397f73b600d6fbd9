/** Malformed model folders: every case fails with a typed error naming the file or tensor. */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SafetensorsError, TokenizerError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

async function tinyWith(edit: (dir: string, weights: Map<string, Float32Array>, shapes: Map<string, number[]>) => Promise<void>): Promise<string> {
  const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, layers: 1 });
  await edit(tiny.dir, tiny.weights, tiny.shapes);
  return tiny.dir;
}

async function rewriteWeights(dir: string, weights: Map<string, Float32Array>, shapes: Map<string, number[]>): Promise<void> {
  await writeSafetensors(join(dir, 'model.safetensors'), [...weights].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: shapes.get(name) as number[], data })));
}

describe('loadCausalLM refuses malformed folders', () => {
  const cases: [string, (dir: string, w: Map<string, Float32Array>, s: Map<string, number[]>) => Promise<void>, new (...a: never[]) => Error, RegExp][] = [
    ['missing config.json', (dir) => rm(join(dir, 'config.json')), ConfigError, /config\.json not found/],
    ['config.json not JSON', (dir) => writeFile(join(dir, 'config.json'), '{oops'), ConfigError, /not valid JSON/],
    ['missing tokenizer.json', (dir) => rm(join(dir, 'tokenizer.json')), TokenizerError, /tokenizer\.json not found/],
    ['tokenizer bos not in vocabulary', (dir) => writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ bos_token: '<s>' })), TokenizerError, /"<s>"/],
    ['no weights file', (dir) => rm(join(dir, 'model.safetensors')), SafetensorsError, /safetensors/],
    [
      'missing tensor',
      async (dir, w, s) => {
        w.delete('model.layers.0.mlp.up_proj.weight');
        await rewriteWeights(dir, w, s);
      },
      SafetensorsError,
      /model\.layers\.0\.mlp\.up_proj\.weight/,
    ],
    [
      'tensor with the wrong shape',
      async (dir, w, s) => {
        s.set('model.norm.weight', [16]);
        w.set('model.norm.weight', new Float32Array(16));
        await rewriteWeights(dir, w, s);
      },
      SafetensorsError,
      /model\.norm\.weight.*\[16\].*\[32\]/,
    ],
    [
      'unexpected tensor',
      async (dir, w, s) => {
        w.set('score.weight', new Float32Array(4));
        s.set('score.weight', [4]);
        await rewriteWeights(dir, w, s);
      },
      SafetensorsError,
      /score\.weight/,
    ],
    [
      'config disagreeing with weights (more layers)',
      async (dir) => {
        const cfg = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
        await writeFile(join(dir, 'config.json'), JSON.stringify({ ...cfg, num_hidden_layers: 2 }));
      },
      SafetensorsError,
      /missing tensor "model\.layers\.1\./,
    ],
  ];
  it.each(cases)('%s', async (_name, edit, type, message) => {
    const dir = await tinyWith(edit);
    const error = await loadCausalLM(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  });

  it('a folder that does not exist', async () => {
    await expect(loadCausalLM('/nonexistent/model')).rejects.toThrow(/does not exist/);
  });

  it('ignores buffer tensors that transformers treats as non-persistent', async () => {
    const dir = await tinyWith(async (d, w, s) => {
      w.set('model.layers.0.self_attn.rotary_emb.inv_freq', new Float32Array(4));
      s.set('model.layers.0.self_attn.rotary_emb.inv_freq', [4]);
      await rewriteWeights(d, w, s);
    });
    const lm = await loadCausalLM(dir);
    expect(lm.config.numLayers).toBe(1);
    lm.dispose();
  });
});
