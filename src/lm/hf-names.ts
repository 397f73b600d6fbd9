/**
 * The Hugging Face tensor names of each architecture, as slots of `TransformerParams`: which file
 * tensor(s) fill which parameter, in what layout. hf-weights.ts reads and writes through these tables,
 * so loading and saving cannot drift apart.
 */
import type { ModelConfig, ModelType } from './model-config.js';

/** One slot of a fused parameter: which HF tensor fills which columns, and whether it is [out, in]. */
export interface Part {
  hfName: string;
  hfShape: number[];
  /** True for nn.Linear weights ([out, in] in the file, [in, out] in params). */
  transpose: boolean;
  /**
   * A reordering of the file's leading axis: row r in params order is row `rowOrder[r]` of the file
   * (GPT-NeoX's per-head q/k/v, see `gptNeoxQkvOrder`). Absent: the same order.
   */
  rowOrder?: Int32Array;
}

export interface Slot {
  /** Path into LayerParams / TransformerParams, e.g. 'qkv'. */
  key: string;
  parts: Part[];
}

function norm(prefix: string, key: string, d: number, withBias: boolean): Slot[] {
  const slots: Slot[] = [{ key: `${key}.weight`, parts: [{ hfName: `${prefix}.weight`, hfShape: [d], transpose: false }] }];
  if (withBias) slots.push({ key: `${key}.bias`, parts: [{ hfName: `${prefix}.bias`, hfShape: [d], transpose: false }] });
  return slots;
}

const one = (key: string, hfName: string, hfShape: number[], transpose: boolean): Slot => ({ key, parts: [{ hfName, hfShape, transpose }] });

export function layerSlots(c: ModelConfig, i: number): Slot[] {
  if (c.modelType === 'gpt_neox') return gptNeoxLayerSlots(c, i);
  const d = c.hiddenSize;
  const qDim = c.numHeads * c.headDim;
  const kvDim = c.numKvHeads * c.headDim;
  const I = c.intermediateSize;
  if (c.modelType === 'gpt2') {
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

/**
 * GPT-NeoX: query_key_value's output rows are [heads, 3, head_dim] (q, k, v interleaved per head; the
 * model views them as [.., heads, 3·head_dim] and chunks the last axis), while params want [q | k | v]
 * ([3, heads, head_dim]). Params row (g·H + h)·hd + j is file row (h·3 + g)·hd + j.
 */
export function gptNeoxQkvOrder(heads: number, headDim: number): Int32Array {
  const order = new Int32Array(3 * heads * headDim);
  for (let g = 0; g < 3; g++) {
    for (let h = 0; h < heads; h++) for (let j = 0; j < headDim; j++) order[(g * heads + h) * headDim + j] = (h * 3 + g) * headDim + j;
  }
  return order;
}

function gptNeoxLayerSlots(c: ModelConfig, i: number): Slot[] {
  const d = c.hiddenSize;
  const I = c.intermediateSize;
  const p = `layers.${i}`;
  const rowOrder = gptNeoxQkvOrder(c.numHeads, c.headDim);
  const slots: Slot[] = [
    ...norm(`${p}.input_layernorm`, 'attnNorm', d, true),
    { key: 'qkv', parts: [{ hfName: `${p}.attention.query_key_value.weight`, hfShape: [3 * d, d], transpose: true, rowOrder }] },
    one('attnOut', `${p}.attention.dense.weight`, [d, d], true),
    ...norm(`${p}.post_attention_layernorm`, 'mlpNorm', d, true),
    one('mlpIn', `${p}.mlp.dense_h_to_4h.weight`, [I, d], true),
    one('mlpInBias', `${p}.mlp.dense_h_to_4h.bias`, [I], false),
    one('mlpOut', `${p}.mlp.dense_4h_to_h.weight`, [d, I], true),
    one('mlpOutBias', `${p}.mlp.dense_4h_to_h.bias`, [d], false),
  ];
  // `attention_bias` covers both attention projections.
  if (c.qkvBias) slots.push({ key: 'qkvBias', parts: [{ hfName: `${p}.attention.query_key_value.bias`, hfShape: [3 * d], transpose: false, rowOrder }] });
  if (c.outputBias) slots.push(one('attnOutBias', `${p}.attention.dense.bias`, [d], false));
  return slots;
}

/** Per model type: the embedding and final-norm names (under the base-model prefix) and whether the norm has a bias. */
const TOP_NAMES: Record<ModelType, { embed: string; finalNorm: string; normBias: boolean }> = {
  gpt2: { embed: 'wte.weight', finalNorm: 'ln_f', normBias: true },
  llama: { embed: 'embed_tokens.weight', finalNorm: 'norm', normBias: false },
  mistral: { embed: 'embed_tokens.weight', finalNorm: 'norm', normBias: false },
  qwen2: { embed: 'embed_tokens.weight', finalNorm: 'norm', normBias: false },
  gpt_neox: { embed: 'embed_in.weight', finalNorm: 'final_layer_norm', normBias: true },
};

/** Top-level slots; names are relative to the base-model prefix (the LM head is separate: `lmHeadNames`). */
export function topSlots(c: ModelConfig): Slot[] {
  const d = c.hiddenSize;
  const names = TOP_NAMES[c.modelType];
  const slots: Slot[] = [
    { key: 'embed', parts: [{ hfName: names.embed, hfShape: [c.vocabSize, d], transpose: false }] },
    ...norm(names.finalNorm, 'finalNorm', d, names.normBias),
  ];
  if (c.modelType === 'gpt2') slots.push({ key: 'positionEmbed', parts: [{ hfName: 'wpe.weight', hfShape: [c.maxPositions, d], transpose: false }] });
  return slots;
}

export const BASE_PREFIX: Record<ModelType, string> = { gpt2: 'transformer.', llama: 'model.', mistral: 'model.', qwen2: 'model.', gpt_neox: 'gpt_neox.' };

/**
 * The LM head's top-level names (no base-model prefix), the one transformers writes first. GPT-NeoX
 * checkpoints (and transformers 5's save_pretrained) write `embed_out.weight`; transformers 5 renames it
 * to `lm_head.weight` in memory and accepts either.
 */
export function lmHeadNames(c: Pick<ModelConfig, 'modelType'>): string[] {
  return c.modelType === 'gpt_neox' ? ['embed_out.weight', 'lm_head.weight'] : ['lm_head.weight'];
}

/** Buffers older checkpoints carry that transformers treats as non-persistent (not weights). */
export const IGNORED_BUFFER = /(\.attn\.bias|\.attn\.masked_bias|\.attention\.bias|\.attention\.masked_bias|\.rotary_emb\.inv_freq)$/;
