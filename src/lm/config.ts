/**
 * config.json → a normalised, validated `ModelConfig`.
 *
 * Missing keys take the Hugging Face *class* defaults (not zero); options pargs does not implement fail
 * with a `ConfigError` naming the field, so an unsupported checkpoint never loads and silently runs wrong.
 */
import { ACTIVATION_NAMES } from '../engine/ops.js';
import { ConfigError } from '../errors.js';
import { checkArgument, integer, object, required } from '../options.js';
import { boolField, intField, intFieldAllowZero, numField, tokenIdField, tokenIdList, type Raw } from './config-fields.js';
import { parseGptNeox } from './config-gpt-neox.js';
import { SUPPORTED_MODEL_TYPES, type ModelConfig } from './model-config.js';
import { parseRopeScaling, ropeTheta } from './rope-config.js';

export type { RopeScaling } from './rope-config.js';
export { SUPPORTED_MODEL_TYPES, type ModelConfig, type ModelType } from './model-config.js';
export { tokenIdList } from './config-fields.js';

/** The Hugging Face sequence-classification heads pargs loads as reward models (src/reward/hf-reward-model.ts). */
export const SEQUENCE_CLASSIFICATION_ARCHITECTURES: readonly string[] = [
  'LlamaForSequenceClassification',
  'MistralForSequenceClassification',
  'Qwen2ForSequenceClassification',
  'GPT2ForSequenceClassification',
  'GPTNeoXForSequenceClassification',
];

/** The sequence-classification architecture a config.json names, or undefined for a causal LM. */
export function sequenceClassificationArchitecture(raw: unknown): string | undefined {
  const arch = (raw as Raw | null)?.architectures;
  return Array.isArray(arch) ? (arch.find((a) => SEQUENCE_CLASSIFICATION_ARCHITECTURES.includes(a)) as string | undefined) : undefined;
}

function refuseUnsupported(raw: Raw, modelType: string): void {
  const arch = raw.architectures;
  const causal = (a: unknown): boolean => typeof a === 'string' && (a.endsWith('ForCausalLM') || a === 'GPT2LMHeadModel');
  if (Array.isArray(arch) && arch.length > 0 && !arch.some((a) => causal(a) || SEQUENCE_CLASSIFICATION_ARCHITECTURES.includes(a))) {
    throw new ConfigError(
      `config.json "architectures" is ${JSON.stringify(arch)}: pargs loads causal language models (*ForCausalLM or GPT2LMHeadModel) and causal reward models (${SEQUENCE_CLASSIFICATION_ARCHITECTURES.join(', ')})`,
    );
  }
  if (raw.quantization_config !== undefined) {
    throw new ConfigError('config.json has "quantization_config": quantized checkpoints (GPTQ/AWQ/bitsandbytes) are not supported; use the float checkpoint');
  }
  if (raw.auto_map !== undefined) {
    throw new ConfigError('config.json has "auto_map": checkpoints that need custom modelling code are not supported');
  }
  if (modelType === 'gpt2' && raw.add_cross_attention === true) {
    throw new ConfigError('config.json "add_cross_attention" is true: encoder-decoder GPT-2 variants are not supported');
  }
  // GPT-NeoX reads its rotated fraction in config-gpt-neox.ts; the Llama family rotates whole heads.
  const partial = raw.partial_rotary_factor;
  if (modelType !== 'gpt_neox' && partial !== undefined && partial !== null && partial !== 1) {
    throw new ConfigError(`config.json "partial_rotary_factor" is ${JSON.stringify(partial)}: only full rotary (1.0) is supported`);
  }
}

function parseGpt2(raw: Raw): ModelConfig {
  const hiddenSize = intField(raw, 'n_embd', 768);
  const numHeads = intField(raw, 'n_head', 12);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`config.json "n_embd" (${hiddenSize}) must be divisible by "n_head" (${numHeads})`);
  const eos = tokenIdField(raw, 'eos_token_id', 50256);
  return {
    modelType: 'gpt2',
    vocabSize: intField(raw, 'vocab_size', 50257),
    hiddenSize,
    numLayers: intField(raw, 'n_layer', 12),
    numHeads,
    numKvHeads: numHeads,
    headDim: hiddenSize / numHeads,
    intermediateSize: raw.n_inner == null ? 4 * hiddenSize : intField(raw, 'n_inner'),
    norm: 'layernorm',
    normEps: numField(raw, 'layer_norm_epsilon', 1e-5),
    activation: (raw.activation_function as string | undefined) ?? 'gelu_new',
    mlp: 'plain',
    positional: 'learned',
    ropeTheta: 0,
    ropeScaling: { type: 'default' },
    rotaryDim: 0,
    maxPositions: intField(raw, 'n_positions', 1024),
    scaleAttnWeights: boolField(raw, 'scale_attn_weights', true),
    scaleByInverseLayerIdx: boolField(raw, 'scale_attn_by_inverse_layer_idx', false),
    parallelResidual: false,
    qkvBias: true,
    outputBias: true,
    mlpBias: true,
    tieWordEmbeddings: boolField(raw, 'tie_word_embeddings', true),
    slidingWindow: null,
    bosTokenId: tokenIdField(raw, 'bos_token_id', 50256),
    eosTokenIds: eos === null ? [] : tokenIdList(raw.eos_token_id ?? eos, 'config.json "eos_token_id"'),
    padTokenId: tokenIdField(raw, 'pad_token_id', null),
    raw,
  };
}

/** Class defaults that differ between the Llama-family model types. */
const LLAMA_FAMILY_DEFAULTS: Record<'llama' | 'mistral' | 'qwen2', { vocab: number; maxPos: number; eps: number; kvHeads: number | null; bos: number | null; eos: number | null }> = {
  llama: { vocab: 32000, maxPos: 2048, eps: 1e-6, kvHeads: null, bos: 1, eos: 2 },
  mistral: { vocab: 32000, maxPos: 131072, eps: 1e-6, kvHeads: 8, bos: 1, eos: 2 },
  qwen2: { vocab: 151936, maxPos: 32768, eps: 1e-6, kvHeads: 32, bos: null, eos: null },
};

function parseLlamaFamily(raw: Raw, modelType: 'llama' | 'mistral' | 'qwen2'): ModelConfig {
  const d = LLAMA_FAMILY_DEFAULTS[modelType];
  const hiddenSize = intField(raw, 'hidden_size', 4096);
  const numHeads = intField(raw, 'num_attention_heads', 32);
  const numKvHeads = raw.num_key_value_heads == null ? (d.kvHeads ?? numHeads) : intField(raw, 'num_key_value_heads');
  if (numHeads % numKvHeads !== 0) {
    throw new ConfigError(`config.json "num_attention_heads" (${numHeads}) must be a multiple of "num_key_value_heads" (${numKvHeads})`);
  }
  const explicitHeadDim = raw.head_dim == null ? null : intField(raw, 'head_dim');
  if (explicitHeadDim === null && hiddenSize % numHeads !== 0) {
    throw new ConfigError(`config.json "hidden_size" (${hiddenSize}) must be divisible by "num_attention_heads" (${numHeads}) when "head_dim" is absent`);
  }
  const headDim = explicitHeadDim ?? hiddenSize / numHeads;
  if (headDim % 2 !== 0) throw new ConfigError(`head dimension ${headDim} must be even for rotary embeddings`);
  const attentionBias = modelType === 'llama' ? boolField(raw, 'attention_bias', false) : false;
  const eos = raw.eos_token_id === undefined ? d.eos : raw.eos_token_id;
  const maxPositions = intField(raw, 'max_position_embeddings', d.maxPos);
  const numLayers = intField(raw, 'num_hidden_layers', 32);
  const window = parseSlidingWindow(raw, modelType, numLayers);
  return {
    modelType,
    vocabSize: intField(raw, 'vocab_size', d.vocab),
    hiddenSize,
    numLayers,
    numHeads,
    numKvHeads,
    headDim,
    intermediateSize: intField(raw, 'intermediate_size', 11008),
    norm: 'rmsnorm',
    normEps: numField(raw, 'rms_norm_eps', d.eps),
    activation: (raw.hidden_act as string | undefined) ?? 'silu',
    mlp: 'gated',
    positional: 'rope',
    ropeTheta: ropeTheta(raw),
    ropeScaling: parseRopeScaling(raw, maxPositions),
    rotaryDim: headDim,
    maxPositions,
    scaleAttnWeights: true,
    scaleByInverseLayerIdx: false,
    parallelResidual: false,
    // Qwen2 hard-codes biases on q, k, v (never on o); Llama's attention_bias covers q, k, v and o.
    qkvBias: modelType === 'qwen2' || attentionBias,
    outputBias: attentionBias,
    mlpBias: modelType === 'llama' ? boolField(raw, 'mlp_bias', false) : false,
    tieWordEmbeddings: boolField(raw, 'tie_word_embeddings', false),
    slidingWindow: window.size,
    ...(window.layers ? { slidingWindowLayers: window.layers } : {}),
    bosTokenId: tokenIdField(raw, 'bos_token_id', d.bos),
    eosTokenIds: tokenIdList(eos, 'config.json "eos_token_id"'),
    padTokenId: tokenIdField(raw, 'pad_token_id', null),
    raw,
  };
}

function parseSlidingWindow(raw: Raw, modelType: 'llama' | 'mistral' | 'qwen2', numLayers: number): { size: number | null; layers?: number[] } {
  if (modelType === 'mistral') {
    // MistralConfig defaults sliding_window to 4096 when the key is absent; an explicit null disables it.
    if (!('sliding_window' in raw)) return { size: 4096 };
    return { size: raw.sliding_window === null ? null : intField(raw, 'sliding_window') };
  }
  // Qwen2 lists a sliding_window it does not use unless use_sliding_window is true; Llama has none.
  if (modelType !== 'qwen2' || !boolField(raw, 'use_sliding_window', false)) return { size: null };
  // Qwen2Config: sliding_window defaults to 4096; null turns the window off even when enabled.
  if (raw.sliding_window === null) return { size: null };
  const size = intField(raw, 'sliding_window', 4096);
  return { size, layers: qwen2WindowLayers(raw, numLayers) };
}

/**
 * Qwen2Config: `layer_types` when saved (transformers ≥ 4.53 writes it), else layer i is
 * "sliding_attention" iff i ≥ max_window_layers (class default 28).
 */
function qwen2WindowLayers(raw: Raw, numLayers: number): number[] {
  const types = raw.layer_types;
  if (types !== undefined && types !== null) {
    if (!Array.isArray(types) || types.length !== numLayers || !types.every((t) => t === 'sliding_attention' || t === 'full_attention')) {
      throw new ConfigError(
        `config.json "layer_types" must list "sliding_attention" or "full_attention" for each of the ${numLayers} layers, got ${JSON.stringify(types)}`,
      );
    }
    return types.flatMap((t, i) => (t === 'sliding_attention' ? [i] : []));
  }
  const first = raw.max_window_layers == null ? 28 : intFieldAllowZero(raw, 'max_window_layers');
  return Array.from({ length: Math.max(numLayers - first, 0) }, (_, k) => first + k);
}

/** Parses a config.json object; `where` names the file in error messages. */
export function parseModelConfig(raw: unknown, where = 'config.json'): ModelConfig {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(`${where} must hold a JSON object`);
  }
  const obj = raw as Raw;
  const modelType = obj.model_type;
  if (typeof modelType !== 'string') {
    throw new ConfigError(`${where} has no "model_type"; supported: ${SUPPORTED_MODEL_TYPES.join(', ')}`);
  }
  if (!(SUPPORTED_MODEL_TYPES as readonly string[]).includes(modelType)) {
    throw new ConfigError(`${where} "model_type" is "${modelType}", which pargs does not support (supported: ${SUPPORTED_MODEL_TYPES.join(', ')})`);
  }
  refuseUnsupported(obj, modelType);
  const config = modelType === 'gpt2' ? parseGpt2(obj) : modelType === 'gpt_neox' ? parseGptNeox(obj) : parseLlamaFamily(obj, modelType as 'llama' | 'mistral' | 'qwen2');
  // Refused here, with the file and key, rather than when the first forward builds the MLP.
  if (!ACTIVATION_NAMES.includes(config.activation)) {
    const key = modelType === 'gpt2' ? 'activation_function' : 'hidden_act';
    throw new ConfigError(`${where} "${key}" is ${JSON.stringify(config.activation)}, which pargs does not implement (supported: ${ACTIVATION_NAMES.join(', ')})`);
  }
  return config;
}

/** Number of parameters implied by the config (embedding counted once when tied). */
export function countParameters(c: ModelConfig): number {
  checkArgument('countParameters', 'config', c, required(object({ hiddenSize: required(integer({ min: 1 })), numHeads: required(integer({ min: 1 })), numKvHeads: required(integer({ min: 1 })), headDim: required(integer({ min: 1 })) }, 'a ModelConfig (from parseModelConfig)', true)));
  const d = c.hiddenSize;
  const qkvOut = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  const normParams = c.norm === 'layernorm' ? 2 * d : d;
  const mlpIn = c.mlp === 'gated' ? 2 * c.intermediateSize : c.intermediateSize;
  const perLayer =
    2 * normParams +
    d * qkvOut + (c.qkvBias ? qkvOut : 0) +
    c.numHeads * c.headDim * d + (c.outputBias ? d : 0) +
    d * mlpIn + (c.mlpBias ? mlpIn : 0) +
    c.intermediateSize * d + (c.mlpBias ? d : 0);
  const embeddings = c.vocabSize * d * (c.tieWordEmbeddings ? 1 : 2) + (c.positional === 'learned' ? c.maxPositions * d : 0);
  return embeddings + c.numLayers * perLayer + normParams;
}
