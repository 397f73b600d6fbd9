/**
 * Hugging Face tensors ↔ `TransformerParams`, in both directions, through the per-architecture tables of
 * hf-names.ts so loading and saving cannot drift apart. HF `nn.Linear` stores [out, in] and is
 * transposed once here; GPT-2's `Conv1D` already stores [in, out]; GPT-NeoX's fused q/k/v rows are
 * regrouped from per-head to [q | k | v].
 */
import { commitToBackend } from '../engine/commit.js';
import { tf } from '../engine/tf.js';
import { SafetensorsError } from '../errors.js';
import type { ModelConfig } from './config.js';
import { BASE_PREFIX, IGNORED_BUFFER, layerSlots, lmHeadNames, topSlots, type Slot } from './hf-names.js';
import type { LayerParams, TransformerParams } from './params.js';

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

/**
 * Reorders the leading axis of a row-major tensor with rows of `rowLength` values: `toParams` gives
 * params row r = file row order[r]; otherwise the inverse (params → file, for export).
 */
function reorderRows(data: Float32Array, order: Int32Array, rowLength: number, toParams: boolean): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < order.length; r++) {
    const [to, from] = toParams ? [r, order[r]] : [order[r], r];
    out.set(data.subarray(from * rowLength, (from + 1) * rowLength), to * rowLength);
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
  const head = lmHeadNames(c).find((n) => names.has(n));
  if (c.tieWordEmbeddings && head) {
    const normName = finalNormSlot.parts[0].hfName;
    for (const prefix of prefixes) if (names.has(prefix + normName)) return { prefix, embedName: head };
  }
  const tiedHint = head && !c.tieWordEmbeddings
    ? ` It has "${head}" but config.json says the embeddings are untied ("tie_word_embeddings": false), so that cannot stand in for the embedding.`
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
      let raw = await reader.readF32(name);
      if (part.rowOrder) raw = reorderRows(raw, part.rowOrder, raw.length / part.hfShape[0], true);
      const [outDim, inDim] = part.hfShape;
      if (part.transpose) blocks.push({ data: transposeHost(raw, outDim, inDim), cols: outDim });
      else blocks.push({ data: raw, cols: part.hfShape.length === 1 ? part.hfShape[0] : part.hfShape[1] });
      rows = part.hfShape.length === 1 ? 1 : part.transpose ? inDim : outDim;
    }
    const data = blocks.length === 1 ? blocks[0].data : concatColumns(blocks, rows);
    const cols = blocks.reduce((s, b) => s + b.cols, 0);
    // Committed now, so the host copy can go before the next tensor is read (engine/commit.ts).
    return commitToBackend(slot.parts[0].hfShape.length === 1 ? tf.tensor1d(data) : tf.tensor2d(data, [rows, cols]));
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
    const headNames = lmHeadNames(c);
    if (c.tieWordEmbeddings) {
      // transformers re-ties the head to the embedding and ignores any stored lm_head.weight.
      for (const name of headNames) if (available.has(name)) used.add(name);
      lmHead = tf.transpose(top.embed as tf.Tensor2D); // [d, V]
    } else {
      const headName = headNames.find((n) => available.has(n)) ?? headNames[0];
      lmHead = (await readSlot({ key: 'lmHead', parts: [{ hfName: headName, hfShape: [c.vocabSize, c.hiddenSize], transpose: true }] }, '')) as tf.Tensor2D;
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
      const hfData = part.transpose ? transposeHost(block, rows, cols) : block;
      out.push({ name: namePrefix + part.hfName, shape: part.hfShape, data: part.rowOrder ? reorderRows(hfData, part.rowOrder, hfData.length / part.hfShape[0], false) : hfData });
    }
  };
  const top = p as unknown as Record<string, unknown>;
  for (const slot of topSlots(c)) await emit(slot, top, prefix);
  for (let i = 0; i < c.numLayers; i++) {
    for (const slot of layerSlots(c, i)) await emit(slot, p.layers[i] as unknown as Record<string, unknown>, prefix);
  }
  if (!c.tieWordEmbeddings) {
    await emit({ key: 'lmHead', parts: [{ hfName: lmHeadNames(c)[0], hfShape: [c.vocabSize, c.hiddenSize], transpose: true }] }, top, '');
  }
  return out;
}
