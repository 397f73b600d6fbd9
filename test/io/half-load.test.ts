/**
 * Loading half-precision checkpoints tensor by tensor: BF16/F16 bytes are read into the upper half of
 * the float32 result and widened in place (bit-identical to the array decoders), in ranged reads; a
 * sharded bf16 folder loads to exactly the model its float32 twin holds; on native TensorFlow every
 * loaded weight already lives in TensorFlow, not in a JS array waiting for the first op.
 */
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { writeJsonAtomic } from '../../src/io/atomic.js';
import { decodeBF16, decodeF16, encodeBF16, encodeF16, widenInPlace } from '../../src/io/float16.js';
import { SafetensorsFile, writeSafetensors } from '../../src/io/safetensors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { paramTensors } from '../../src/lm/params.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let dir: string;
beforeEach(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pargs-half-'));
});
afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const bitsOf = (a: Float32Array): Uint32Array => new Uint32Array(a.buffer, a.byteOffset, a.length);

describe('widenInPlace', () => {
  it.each(['BF16', 'F16'] as const)('%s: equals the array decoder on all 65536 patterns, bit for bit', (format) => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const out = new Float32Array(all.length);
    new Uint16Array(out.buffer, 2 * all.length, all.length).set(all);
    widenInPlace(out, format);
    const expected = format === 'BF16' ? decodeBF16(all) : decodeF16(all);
    expect(bitsOf(out)).toEqual(bitsOf(expected));
  });

  it('handles one element and none', () => {
    const one = new Float32Array(1);
    new Uint16Array(one.buffer)[1] = 0x3f80; // bf16 1.0
    expect(Array.from(widenInPlace(one, 'BF16'))).toEqual([1]);
    expect(widenInPlace(new Float32Array(0), 'F16').length).toBe(0);
  });
});

describe('SafetensorsFile.readF32 on half-precision tensors', () => {
  it('reads BF16 and F16 at unaligned offsets in tiny ranges, equal to the decoded values', async () => {
    const file = path.join(dir, 'h.safetensors');
    const values = (n: number, s: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * s) * 10 ** ((i % 7) - 3));
    const a = values(37, 0.7);
    const b = values(101, 1.3);
    // 'a' (an odd element count) pushes the following tensors to offsets that are not multiples of 4.
    await writeSafetensors(file, [
      { name: 'a', dtype: 'BF16', shape: [37], data: a },
      { name: 'b', dtype: 'F16', shape: [101], data: b },
      { name: 'c', dtype: 'BF16', shape: [0], data: new Float32Array(0) },
    ]);
    for (const rangeBytes of [3, 7, 1 << 20]) {
      const reader = await SafetensorsFile.open(file, { rangeBytes });
      try {
        expect(bitsOf(await reader.readF32('a'))).toEqual(bitsOf(decodeBF16(encodeBF16(a))));
        expect(bitsOf(await reader.readF32('b'))).toEqual(bitsOf(decodeF16(encodeF16(b))));
        expect((await reader.readF32('c')).length).toBe(0);
      } finally {
        await reader.close();
      }
    }
    const closed = await SafetensorsFile.open(file);
    await closed.close();
    await expect(closed.readF32('a')).rejects.toThrow(/closed/);
  });
});

/** Rewrites a single-file folder as two shards plus model.safetensors.index.json. */
async function shardFolder(from: string, to: string, weights: Map<string, Float32Array>, shapes: Map<string, number[]>): Promise<void> {
  await fs.cp(from, to, { recursive: true });
  await fs.rm(path.join(to, 'model.safetensors'));
  const names = [...weights.keys()];
  const halves = [names.slice(0, names.length >> 1), names.slice(names.length >> 1)];
  const weightMap: Record<string, string> = {};
  for (const [i, part] of halves.entries()) {
    const file = `model-0000${i + 1}-of-00002.safetensors`;
    await writeSafetensors(path.join(to, file), part.map((name) => ({ name, dtype: 'BF16' as const, shape: shapes.get(name) as number[], data: weights.get(name) as Float32Array })));
    for (const name of part) weightMap[name] = file;
  }
  await writeJsonAtomic(path.join(to, 'model.safetensors.index.json'), { metadata: { total_size: 0 }, weight_map: weightMap });
}

describe('a sharded bfloat16 folder', () => {
  it('loads to exactly the model of its float32 twin, and (on native) leaves no weight on the JS heap', async () => {
    const bf16 = await writeTinyModel({ modelType: 'llama', dtype: 'BF16', dir: path.join(dir, 'single'), layers: 2, kvHeads: 2 });
    await shardFolder(bf16.dir, path.join(dir, 'sharded'), bf16.weights, bf16.shapes);
    // writeTinyModel keeps the weights as stored (bf16-rounded), so the float32 twin holds the same numbers.
    const f32 = await writeTinyModel({ modelType: 'llama', dtype: 'BF16', dir: path.join(dir, 'f32'), layers: 2, kvHeads: 2 });
    await writeSafetensors(path.join(f32.dir, 'model.safetensors'), [...f32.weights].map(([name, data]) => ({ name, dtype: 'F32' as const, shape: f32.shapes.get(name) as number[], data })));
    const ids = [[5, 9, 33, 2, 71, 14]];
    const logits: Float32Array[] = [];
    for (const folder of ['sharded', 'single', 'f32']) {
      const lm = await loadCausalLM(path.join(dir, folder));
      if (tf.getBackend() === 'tensorflow') {
        // tfjs-node keeps a tensor's JS array in `values` until it is copied into TensorFlow.
        const pending = paramTensors(lm.params).filter((t) => (tf.backend() as unknown as { tensorMap: { get(id: object): { values: unknown } } }).tensorMap.get(t.dataId).values != null);
        expect(pending.length).toBe(0);
      }
      const out = lm.forward({ ids, logits: 'last' });
      logits.push((await (out.logits as tf.Tensor).data()) as Float32Array);
      tf.dispose([out.logits as tf.Tensor, out.hidden]);
      lm.dispose();
    }
    expect(bitsOf(logits[0])).toEqual(bitsOf(logits[2]));
    expect(bitsOf(logits[1])).toEqual(bitsOf(logits[2]));
  });
});
