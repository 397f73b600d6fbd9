/**
 * Hugging Face tensor names ↔ `TransformerParams`, in both directions, from one table per architecture so
 * loading and saving cannot drift apart. HF `nn.Linear` stores [out, in] and is transposed once here;
 * GPT-2's `Conv1D` already stores [in, out].
 */
import { tf } from '../engine/tf.js';
import { SafetensorsError } from '../errors.js';
import type { ModelConfig } from './config.js';
import type { LayerParams, NormParams, TransformerParams } from './params.js';

/** Where named float32 weights come from (a safetensors file, a sharded folder, or a test's Map). */
export interface WeightReader {
  names(): string[];
  info(name: string): { shape: number[] };
  readF32(name: string): Promise<Float32Array>;
}

export interface HostTensor {
  name: string;
  shape: number[];
  data: Float32Array;
}

/** One slot of a fused parameter: which HF tensor fills which columns, and whether it is [out, in]. */
interface Part {
  hfName: string;
  hfShape: number[];
  /** True for nn.Linear weights ([out, in] in the file, [in, out] in params). */
  transpose: boolean;
}

interface Slot {
  /** Path into LayerParams / TransformerParams, e.g. 'qkv'. */
  key: string;
  parts: Part[];
}

const isLlamaFamily = (c: ModelConfig): boolean => c.modelType !== 'gpt2';

function norm(prefix: string, key: string, d: number, withBias: boolean): Slot[] {
  const slots: Slot[] = [{ key: `${key}.weight`, parts: [{ hfName: `${prefix}.weight`, hfShape: [d], transpose: false }] }];
  if (withBias) slots.push({ key: `${key}.bias`, parts: [{ hfName: `${prefix}.bias`, hfShape: [d], transpose: false }] });
  return slots;
}

function layerSlots(c: ModelConfig, i: number): Slot[] {
  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  const one = (key: string, hfName: string, hfShape: number[], transpose: boolean): Slot => ({ key, parts: [{ hfName, hfShape, transpose }] });
  if (!isLlamaFamily(c)) {
    const p = `h.${i}`;
    return [
      ...norm(`${p}.ln_1`, 'attnNorm', d, true),
      one('qkv', `${p}.attn.c_attn.weight`, [d, qDim + 2 * kvDim], false),
      one('qkvBias', `${p}.attn.c_attn.bias`, [qDim + 2 * kvDim], false),
      one('attnOut', `${p}.attn.c_proj.weight`, [qDim, d], false),
      one('attnOutBias', `${p}.attn.c_proj.bias`, [d], false),
      ...norm(`${p}.ln_2`, 'mlpNorm', d, true),
      one('mlpIn', `${p}.mlp.c_fc.weight`, [d, I], false),
      one('mlpInBias', `${p}.mlp.c_fc.bias`, [I], false),
      one('mlpOut', `${p}.mlp.c_proj.weight`, [I, d], false),
      one('mlpOutBias', `${p}.mlp.c_proj.bias`, [d], false),
    ];
  }
  const p = `layers.${i}`;
  const attn = `${p}.self_attn`;
  const slots: Slot[] = [
    ...norm(`${p}.input_layernorm`, 'attnNorm', d, false),
    {
      key: 'qkv',
      parts: [
        { hfName: `${attn}.q_proj.weight`, hfShape: [qDim, d], transpose: true },
        { hfName: `${attn}.k_proj.weight`, hfShape: [kvDim, d], transpose: true },
        { hfName: `${attn}.v_proj.weight`, hfShape: [kvDim, d], transpose: true },
      ],
    },
    one('attnOut', `${attn}.o_proj.weight`, [d, qDim], true),
    ...norm(`${p}.post_attention_layernorm`, 'mlpNorm', d, false),
    {
      key: 'mlpIn',
      parts: [
        { hfName: `${p}.mlp.gate_proj.weight`, hfShape: [I, d], transpose: true },
        { hfName: `${p}.mlp.up_proj.weight`, hfShape: [I, d], transpose: true },
      ],
    },
    one('mlpOut', `${p}.mlp.down_proj.weight`, [d, I], true),
  ];
  if (c.qkvBias) {
    slots.push({
      key: 'qkvBias',
      parts: ['q', 'k', 'v'].map((n, j) => ({ hfName: `${attn}.${n}_proj.bias`, hfShape: [j === 0 ? qDim : kvDim], transpose: false })),
    });
  }
  if (c.outputBias) slots.push(one('attnOutBias', `${attn}.o_proj.bias`, [d], false));
  if (c.mlpBias) {
    slots.push({
      key: 'mlpInBias',
      parts: ['gate', 'up'].map((n) => ({ hfName: `${p}.mlp.${n}_proj.bias`, hfShape: [I], transpose: false })),
    });
    slots.push(one('mlpOutBias', `${p}.mlp.down_proj.bias`, [d], false));
  }
  return slots;
}

/** Top-level slots; names are relative to the base-model prefix except `lm_head.weight`. */
function topSlots(c: ModelConfig): Slot[] {
  const d = c.hiddenSize;
  const gpt2 = !isLlamaFamily(c);
  const slots: Slot[] = [
    { key: 'embed', parts: [{ hfName: gpt2 ? 'wte.weight' : 'embed_tokens.weight', hfShape: [c.vocabSize, d], transpose: false }] },
    ...norm(gpt2 ? 'ln_f' : 'norm', 'finalNorm', d, gpt2),
  ];
  if (gpt2) slots.push({ key: 'positionEmbed', parts: [{ hfName: 'wpe.weight', hfShape: [c.maxPositions, d], transpose: false }] });
  return slots;
}

const LM_HEAD = 'lm_head.weight';
const BASE_PREFIX = { gpt2: 'transformer.', llama: 'model.', mistral: 'model.', qwen2: 'model.' } as const;

/** Buffers older checkpoints carry that transformers treats as non-persistent (not weights). */
const IGNORED_BUFFER = /(\.attn\.bias|\.attn\.masked_bias|\.rotary_emb\.inv_freq)$/;

function transposeHost(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

/** Concatenates [rows, cols_j] row-major blocks along columns. */
function concatColumns(blocks: { data: Float32Array; cols: number }[], rows: number): Float32Array {
  const total = blocks.reduce((s, b) => s + b.cols, 0);
  const out = new Float32Array(rows * total);
  let offset = 0;
  for (const b of blocks) {
    for (let r = 0; r < rows; r++) out.set(b.data.subarray(r * b.cols, (r + 1) * b.cols), r * total + offset);
    offset += b.cols;
  }
  return out;
}

const sameShape = (a: number[], b: number[]): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Finds the base-model prefix this checkpoint uses ('' for the official GPT-2 files) and where the
 * embedding is stored. A tied checkpoint may keep the shared matrix only as `lm_head.weight` (its
 * safetensors metadata then maps the embedding name to it, and transformers loads it): the embedding
 * is read from there, and the prefix is found from the final norm instead.
 */
function locateEmbedding(c: ModelConfig, names: Set<string>, where: string): { prefix: string; embedName: string } {
  const [embedSlot, finalNormSlot] = topSlots(c);
  const embedName = embedSlot.parts[0].hfName;
  const prefixes = [BASE_PREFIX[c.modelType], ''];
  for (const prefix of prefixes) if (names.has(prefix + embedName)) return { prefix, embedName: prefix + embedName };
  if (c.tieWordEmbeddings && names.has(LM_HEAD)) {
    const normName = finalNormSlot.parts[0].hfName;
    for (const prefix of prefixes) if (names.has(prefix + normName)) return { prefix, embedName: LM_HEAD };
  }
  const tiedHint = names.has(LM_HEAD) && !c.tieWordEmbeddings
    ? ` It has "${LM_HEAD}" but config.json says the embeddings are untied ("tie_word_embeddings": false), so that cannot stand in for the embedding.`
    : '';
  throw new SafetensorsError(
    `${where}: no embedding tensor "${BASE_PREFIX[c.modelType]}${embedName}" (or "${embedName}") — is this a ${c.modelType} checkpoint?${tiedHint}`,
  );
}

function setPath(target: Record<string, unknown>, key: string, value: tf.Tensor): void {
  const [head, tail] = key.split('.');
  if (tail === undefined) target[head] = value;
  else ((target[head] ??= {}) as Record<string, unknown>)[tail] = value;
}

/** Reads and validates every weight of `config` from `reader`, building float32 tensors. */
export async function loadTransformerParams(c: ModelConfig, reader: WeightReader, where: string): Promise<TransformerParams> {
  const available = new Set(reader.names());
  const { prefix, embedName } = locateEmbedding(c, available, where);
  const used = new Set<string>();

  const readSlot = async (slot: Slot, namePrefix: string): Promise<tf.Tensor> => {
    const blocks: { data: Float32Array; cols: number }[] = [];
    let rows = 0;
    for (const part of slot.parts) {
      const name = slot.key === 'embed' ? embedName : namePrefix + part.hfName;
      if (!available.has(name)) throw new SafetensorsError(`${where}: missing tensor "${name}" required by this ${c.modelType} config`);
      const shape = reader.info(name).shape;
      if (!sameShape(shape, part.hfShape)) {
        throw new SafetensorsError(`${where}: tensor "${name}" has shape [${shape}] but the config implies [${part.hfShape}]`);
      }
      used.add(name);
      const raw = await reader.readF32(name);
      const [outDim, inDim] = part.hfShape;
      if (part.transpose) blocks.push({ data: transposeHost(raw, outDim, inDim), cols: outDim });
      else blocks.push({ data: raw, cols: part.hfShape.length === 1 ? part.hfShape[0] : part.hfShape[1] });
      rows = part.hfShape.length === 1 ? 1 : part.transpose ? inDim : outDim;
    }
    const data = blocks.length === 1 ? blocks[0].data : concatColumns(blocks, rows);
    const cols = blocks.reduce((s, b) => s + b.cols, 0);
    return slot.parts[0].hfShape.length === 1 ? tf.tensor1d(data) : tf.tensor2d(data, [rows, cols]);
  };

  const top: Record<string, unknown> = {};
  const created: tf.Tensor[] = [];
  try {
    for (const slot of topSlots(c)) {
      const t = await readSlot(slot, prefix);
      created.push(t);
      setPath(top, slot.key, t);
    }
    const layers: LayerParams[] = [];
    for (let i = 0; i < c.numLayers; i++) {
      const layer: Record<string, unknown> = {};
      for (const slot of layerSlots(c, i)) {
        const t = await readSlot(slot, prefix);
        created.push(t);
        setPath(layer, slot.key, t);
      }
      layers.push(layer as unknown as LayerParams);
    }
    let lmHead: tf.Tensor2D;
    if (c.tieWordEmbeddings) {
      // transformers re-ties the head to the embedding and ignores any stored lm_head.weight.
      if (available.has(LM_HEAD)) used.add(LM_HEAD);
      lmHead = tf.transpose(top.embed as tf.Tensor2D); // [d, V]
    } else {
      lmHead = (await readSlot({ key: 'lmHead', parts: [{ hfName: LM_HEAD, hfShape: [c.vocabSize, c.hiddenSize], transpose: true }] }, '')) as tf.Tensor2D;
    }
    created.push(lmHead);
    const unknown = [...available].filter((n) => !used.has(n) && !IGNORED_BUFFER.test(n));
    if (unknown.length > 0) {
      throw new SafetensorsError(
        `${where}: ${unknown.length} tensor(s) not used by a ${c.modelType} model with this config: ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ', …' : ''}`,
      );
    }
    return { ...(top as Omit<TransformerParams, 'layers' | 'lmHead'>), layers, lmHead } as TransformerParams;
  } catch (err) {
    for (const t of created) t.dispose();
    throw err;
  }
}

function getPath(source: Record<string, unknown>, key: string): tf.Tensor | undefined {
  const [head, tail] = key.split('.');
  const v = source[head];
  return (tail === undefined ? v : (v as Record<string, unknown> | undefined)?.[tail]) as tf.Tensor | undefined;
}

/** The params as Hugging Face tensors (names with the base-model prefix, HF layouts). */
export async function exportHfTensors(c: ModelConfig, p: TransformerParams): Promise<HostTensor[]> {
  const prefix = BASE_PREFIX[c.modelType];
  const out: HostTensor[] = [];
  const emit = async (slot: Slot, source: Record<string, unknown>, namePrefix: string): Promise<void> => {
    const t = getPath(source, slot.key);
    if (!t) throw new SafetensorsError(`cannot export: parameter "${slot.key}" is missing`);
    const data = (await t.data()) as Float32Array;
    const rows = t.rank === 1 ? 1 : t.shape[0];
    const totalCols = (t.rank === 1 ? t.shape[0] : t.shape[1]) as number;
    let col = 0;
    for (const part of slot.parts) {
      const cols = part.transpose ? part.hfShape[0] : part.hfShape.length === 1 ? part.hfShape[0] : part.hfShape[1];
      const block = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++) block.set(data.subarray(r * totalCols + col, r * totalCols + col + cols), r * cols);
      col += cols;
      out.push({ name: namePrefix + part.hfName, shape: part.hfShape, data: part.transpose ? transposeHost(block, rows, cols) : block });
    }
  };
  const top = p as unknown as Record<string, unknown>;
  for (const slot of topSlots(c)) await emit(slot, top, prefix);
  for (let i = 0; i < c.numLayers; i++) {
    for (const slot of layerSlots(c, i)) await emit(slot, p.layers[i] as unknown as Record<string, unknown>, prefix);
  }
  if (!c.tieWordEmbeddings) {
    await emit({ key: 'lmHead', parts: [{ hfName: LM_HEAD, hfShape: [c.vocabSize, c.hiddenSize], transpose: true }] }, top, '');
  }
  return out;
}
