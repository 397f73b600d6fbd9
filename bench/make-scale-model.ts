/**
 * Writes random-weight Hugging Face folders at GPT-2-small, GPT-2-large (774 M) and GPT-2-XL (1.56 B)
 * shapes, float32 or bfloat16, sharded (≤ 2 GB per shard by default) with model.safetensors.index.json,
 * plus a byte-level tokenizer (261 tokens: ids above it decode to nothing, so these folders are for
 * token-id benchmarks only).
 *
 * The folders are written tensor by tensor in chunks — never the whole model, or even a whole tensor,
 * in memory — because a 1.5 B float32 model (6.2 GB) is a quarter of the machine. The float32 values
 * are rounded to bfloat16 first, so the float32 and bfloat16 folders of one shape and seed hold the same
 * model, and loading either must give the same tensors.
 *
 *   npx tsx bench/make-scale-model.ts --shape gpt2-large --dtype BF16 --out /tmp/pargs-scale/gpt2-large-bf16
 */
import { mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { encodeBF16 } from '../src/io/float16.js';
import { parseModelConfig } from '../src/lm/config.js';
import { layerSlots, lmHeadNames, topSlots } from '../src/lm/hf-names.js';
import { EOT, tinyTokenizerJson } from '../test/helpers/tiny-model.js';

export const SCALE_SHAPES = {
  'gpt2-small': { n_layer: 12, n_embd: 768, n_head: 12 },
  'gpt2-large': { n_layer: 36, n_embd: 1280, n_head: 20 },
  'gpt2-xl': { n_layer: 48, n_embd: 1600, n_head: 25 },
} as const;

export type ScaleShapeName = keyof typeof SCALE_SHAPES;
export type ScaleDtype = 'F32' | 'BF16';

export interface ScaleModelOptions {
  shape: ScaleShapeName;
  dtype: ScaleDtype;
  /** Largest shard in bytes (default 2e9, the limit the issue sets; transformers' default is 5 GB). */
  shardBytes?: number;
  seed?: number;
}

interface PlannedTensor {
  name: string;
  shape: number[];
  /** Standard deviation of the random values; norms are 1 ± std, biases 0 ± std. */
  init: 'weight' | 'norm' | 'bias';
}

/** The config.json of a shape, as transformers writes it for GPT2LMHeadModel. */
export function scaleConfig(shape: ScaleShapeName, eotId: number, dtype: ScaleDtype): Record<string, unknown> {
  return {
    model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 1024, n_ctx: 1024,
    ...SCALE_SHAPES[shape], activation_function: 'gelu_new', layer_norm_epsilon: 1e-5,
    bos_token_id: eotId, eos_token_id: eotId, torch_dtype: dtype === 'BF16' ? 'bfloat16' : 'float32',
  };
}

/** Every tensor of the model in layer order, named as the official GPT-2 files name them (no prefix). */
function planTensors(raw: Record<string, unknown>): PlannedTensor[] {
  const c = parseModelConfig(raw, 'scale model');
  const slots = [...topSlots(c), ...Array.from({ length: c.numLayers }, (_, i) => layerSlots(c, i)).flat()];
  const out: PlannedTensor[] = slots.flatMap((s) => s.parts.map((p) => ({
    name: p.hfName,
    shape: p.hfShape,
    init: p.hfShape.length > 1 ? 'weight' as const : /ln_|norm/.test(p.hfName) && p.hfName.endsWith('.weight') ? 'norm' as const : 'bias' as const,
  })));
  if (!c.tieWordEmbeddings) out.push({ name: lmHeadNames(c)[0], shape: [c.vocabSize, c.hiddenSize], init: 'weight' });
  return out;
}

/** mulberry32: a tiny fast seeded generator (the values only need to be reproducible, not strong). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const STD = 0.02; // GPT-2's initializer_range
const CHUNK = 1 << 22; // elements generated and written at a time (16 MiB of float32)

/** Fills `out` with uniform values of standard deviation STD around `mean`, rounded to bfloat16. */
function fillChunk(out: Float32Array, rng: () => number, mean: number): Uint16Array {
  const half = STD * Math.sqrt(3);
  for (let i = 0; i < out.length; i++) out[i] = mean + (2 * rng() - 1) * half;
  const bf16 = encodeBF16(out);
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < bf16.length; i++) bits[i] = bf16[i] << 16;
  return bf16;
}

const elementsOf = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

/** Splits the tensors into shards of at most `limit` bytes each, in order (a bigger tensor gets its own). */
function shard(tensors: PlannedTensor[], bytesPer: number, limit: number): PlannedTensor[][] {
  const shards: PlannedTensor[][] = [[]];
  let size = 0;
  for (const t of tensors) {
    const bytes = elementsOf(t.shape) * bytesPer;
    if (size > 0 && size + bytes > limit) {
      shards.push([]);
      size = 0;
    }
    shards[shards.length - 1].push(t);
    size += bytes;
  }
  return shards;
}

/** safetensors header bytes (length prefix + JSON padded to 8) for tensors laid out in order. */
function header(tensors: PlannedTensor[], dtype: ScaleDtype, bytesPer: number): Uint8Array {
  const entries: Record<string, unknown> = { __metadata__: { format: 'pt' } };
  let offset = 0;
  for (const t of tensors) {
    const bytes = elementsOf(t.shape) * bytesPer;
    entries[t.name] = { dtype, shape: t.shape, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  const json = new TextEncoder().encode(JSON.stringify(entries));
  const padded = Math.ceil(json.length / 8) * 8;
  const head = new Uint8Array(8 + padded).fill(0x20, 8 + json.length);
  new DataView(head.buffer).setBigUint64(0, BigInt(padded), true);
  head.set(json, 8);
  return head;
}

/** A marker written last: a folder holding it is complete, and `ensureScaleModel` reuses it. */
const MARKER = 'scale-model.json';

/** Writes the folder (replacing whatever is in `dir`); returns the float32 weights' bytes. */
export async function writeScaleModel(dir: string, o: ScaleModelOptions): Promise<{ parameters: number; fileBytes: number }> {
  const bytesPer = o.dtype === 'BF16' ? 2 : 4;
  const { json: tokenizer, eotId } = tinyTokenizerJson();
  const config = scaleConfig(o.shape, eotId, o.dtype);
  const tensors = planTensors(config);
  const shards = shard(tensors, bytesPer, o.shardBytes ?? 2e9);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const rng = mulberry32(o.seed ?? 1);
  const scratch = new Float32Array(CHUNK);
  const weightMap: Record<string, string> = {};
  let fileBytes = 0;
  for (let s = 0; s < shards.length; s++) {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const handle = await open(join(dir, file), 'w');
    try {
      const head = header(shards[s], o.dtype, bytesPer);
      await handle.write(head);
      fileBytes += head.length;
      for (const t of shards[s]) {
        weightMap[t.name] = file;
        const mean = t.init === 'norm' ? 1 : 0;
        for (let left = elementsOf(t.shape); left > 0; left -= CHUNK) {
          const chunk = scratch.subarray(0, Math.min(CHUNK, left));
          const bf16 = fillChunk(chunk, rng, mean);
          const bytes = o.dtype === 'BF16' ? new Uint8Array(bf16.buffer) : new Uint8Array(chunk.buffer, 0, chunk.byteLength);
          await handle.write(bytes);
          fileBytes += bytes.length;
        }
      }
    } finally {
      await handle.close();
    }
  }
  const parameters = tensors.reduce((sum, t) => sum + elementsOf(t.shape), 0);
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: { total_size: parameters * bytesPer }, weight_map: weightMap }, null, 1));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizer));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify({ tokenizer_class: 'GPT2Tokenizer', bos_token: EOT, eos_token: EOT, add_bos_token: false }));
  await writeFile(join(dir, MARKER), JSON.stringify({ ...o, parameters, fileBytes, shards: shards.length }));
  return { parameters, fileBytes };
}

/** Reuses a complete folder written with the same options, else writes it. */
export async function ensureScaleModel(dir: string, o: ScaleModelOptions): Promise<{ parameters: number; fileBytes: number; reused: boolean }> {
  const previous = await readFile(join(dir, MARKER), 'utf8').then((t) => JSON.parse(t) as Record<string, unknown>, () => undefined);
  if (previous && previous.shape === o.shape && previous.dtype === o.dtype && previous.seed === o.seed && previous.shardBytes === o.shardBytes) {
    return { parameters: previous.parameters as number, fileBytes: previous.fileBytes as number, reused: true };
  }
  return { ...(await writeScaleModel(dir, o)), reused: false };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const arg = (name: string): string | undefined => {
    const i = process.argv.indexOf(`--${name}`);
    return i < 0 ? undefined : process.argv[i + 1];
  };
  const shape = (arg('shape') ?? 'gpt2-large') as ScaleShapeName;
  const dtype = (arg('dtype') ?? 'F32').toUpperCase() as ScaleDtype;
  if (!(shape in SCALE_SHAPES) || (dtype !== 'F32' && dtype !== 'BF16')) {
    throw new Error(`usage: make-scale-model.ts --shape ${Object.keys(SCALE_SHAPES).join('|')} --dtype F32|BF16 --out DIR [--shard-bytes N]`);
  }
  const out = arg('out') ?? `/tmp/pargs-scale/${shape}-${dtype.toLowerCase()}`;
  const started = performance.now();
  const made = await writeScaleModel(out, { shape, dtype, shardBytes: arg('shard-bytes') ? Number(arg('shard-bytes')) : undefined, seed: 1 });
  process.stdout.write(`${JSON.stringify({ out, shape, dtype, ...made, seconds: Math.round((performance.now() - started) / 100) / 10 })}\n`);
}
