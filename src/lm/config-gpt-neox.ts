/**
 * GPT-NeoX (Pythia) config.json → `ModelConfig`, read the way transformers' GPTNeoXConfig reads it.
 *
 * The rotary settings have two spellings: Hub checkpoints write `rotary_pct` and `rotary_emb_base`,
 * transformers 5 writes `rope_parameters: { rope_type, rope_theta, partial_rotary_factor }`. The dict
 * wins over the old keys (`convert_rope_params_to_dict`: `setdefault` from them). Top-level `rope_theta`
 * and `partial_rotary_factor` are *not* read by transformers for this model (measured on 5.18: a config
 * with only `partial_rotary_factor: 0.5` runs with 0.25). A key that disagrees with what transformers
 * reads (an ignored top-level key, or an old key the dict overrides) is refused, not silently ignored.
 */
import { ConfigError } from '../errors.js';
import { boolField, intField, numField, tokenIdField, tokenIdList, type Raw } from './config-fields.js';
import type { ModelConfig } from './model-config.js';
import { parseRopeScaling } from './rope-config.js';

/** GPTNeoXConfig class defaults (transformers 5.18), which a missing key takes. */
const DEFAULTS = { vocab: 50432, hidden: 6144, layers: 44, heads: 64, intermediate: 24576, maxPos: 2048, eps: 1e-5, bos: 0, eos: 2, theta: 10000, rotaryPct: 0.25 };

/** The rope dict transformers uses: `rope_scaling or rope_parameters` (either may be absent or null). */
function ropeDict(raw: Raw): { field: 'rope_scaling' | 'rope_parameters'; params: Raw } | undefined {
  const given = (['rope_scaling', 'rope_parameters'] as const).filter((k) => raw[k] !== undefined && raw[k] !== null);
  if (given.length === 2) {
    throw new ConfigError('config.json has both "rope_scaling" and "rope_parameters"; transformers would silently use only "rope_scaling" — keep one');
  }
  if (given.length === 0) return undefined;
  const params = raw[given[0]];
  if (typeof params !== 'object' || Array.isArray(params)) throw new ConfigError(`config.json "${given[0]}" must be an object or null, got ${JSON.stringify(params)}`);
  return { field: given[0], params: params as Raw };
}

interface RotaryValue {
  value: number;
  /** Where the value was read, for messages. */
  from: string;
  /** The key to edit to change it: the rope dict's when the config has one, else the old spelling. */
  key: string;
}

/** A rotary value from the rope dict, else the old key, else the class default; a positive number. */
function rotaryValue(raw: Raw, rope: ReturnType<typeof ropeDict>, dictKey: string, oldKey: string, fallback: number): RotaryValue {
  const key = rope ? `${rope.field}.${dictKey}` : oldKey;
  const inDict = rope?.params[dictKey];
  const [v, from] = inDict !== undefined && inDict !== null ? [inDict, key] : raw[oldKey] !== undefined ? [raw[oldKey], oldKey] : [fallback, `the class default of "${oldKey}"`];
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) throw new ConfigError(`config.json "${from}" must be a positive number, got ${JSON.stringify(v)}`);
  return { value: v, from, key };
}

/** Keys transformers ignores for GPT-NeoX (here, or in favour of the rope dict): accepted only when they agree with what it reads. */
function refuseIgnoredKey(raw: Raw, key: string, used: RotaryValue): void {
  const v = raw[key];
  if (v === undefined || v === null || v === used.value) return;
  throw new ConfigError(
    `config.json "${key}" is ${JSON.stringify(v)}, but for gpt_neox transformers reads ${used.value} from ${used.from.startsWith('the class') ? used.from : `"${used.from}"`} and ignores "${key}"; set "${used.key}" to the value you mean and drop "${key}"`,
  );
}

export function parseGptNeox(raw: Raw): ModelConfig {
  const hiddenSize = intField(raw, 'hidden_size', DEFAULTS.hidden);
  const numHeads = intField(raw, 'num_attention_heads', DEFAULTS.heads);
  if (hiddenSize % numHeads !== 0) {
    throw new ConfigError(`config.json "hidden_size" (${hiddenSize}) must be divisible by "num_attention_heads" (${numHeads}); GPT-NeoX heads are hidden_size / num_attention_heads wide`);
  }
  const headDim = hiddenSize / numHeads;
  // GPTNeoXAttention always uses hidden/heads, while the rotary table would use a config head_dim.
  if (raw.head_dim !== undefined && raw.head_dim !== null && raw.head_dim !== headDim) {
    throw new ConfigError(`config.json "head_dim" is ${JSON.stringify(raw.head_dim)}, but GPT-NeoX heads are hidden_size / num_attention_heads = ${headDim} wide; drop "head_dim"`);
  }
  const rope = ropeDict(raw);
  const theta = rotaryValue(raw, rope, 'rope_theta', 'rotary_emb_base', DEFAULTS.theta);
  const pct = rotaryValue(raw, rope, 'partial_rotary_factor', 'rotary_pct', DEFAULTS.rotaryPct);
  for (const key of ['rope_theta', 'rotary_emb_base']) refuseIgnoredKey(raw, key, theta);
  for (const key of ['partial_rotary_factor', 'rotary_pct']) refuseIgnoredKey(raw, key, pct);
  if (pct.value > 1) throw new ConfigError(`config.json "${pct.from}" is ${pct.value}: the rotated fraction of each head must be in (0, 1]`);
  // transformers: rotary_ndims = int(head_size · pct), and cos/sin are [θ, θ] over it, so it must be even.
  const rotaryDim = Math.floor(headDim * pct.value);
  if (rotaryDim < 2 || rotaryDim % 2 !== 0) {
    throw new ConfigError(
      `config.json "${pct.from}" is ${pct.value}: it rotates int(${headDim} · ${pct.value}) = ${rotaryDim} channels per head, and rotary embeddings need an even number ≥ 2; choose a fraction giving an even count`,
    );
  }
  const maxPositions = intField(raw, 'max_position_embeddings', DEFAULTS.maxPos);
  const attentionBias = boolField(raw, 'attention_bias', true);
  const eos = raw.eos_token_id === undefined ? DEFAULTS.eos : raw.eos_token_id;
  return {
    modelType: 'gpt_neox',
    vocabSize: intField(raw, 'vocab_size', DEFAULTS.vocab),
    hiddenSize,
    numLayers: intField(raw, 'num_hidden_layers', DEFAULTS.layers),
    numHeads,
    numKvHeads: numHeads,
    headDim,
    intermediateSize: intField(raw, 'intermediate_size', DEFAULTS.intermediate),
    norm: 'layernorm',
    normEps: numField(raw, 'layer_norm_eps', DEFAULTS.eps),
    activation: (raw.hidden_act as string | undefined) ?? 'gelu',
    mlp: 'plain',
    positional: 'rope',
    ropeTheta: theta.value,
    ropeScaling: rope ? parseRopeScaling({ [rope.field]: rope.params }, maxPositions) : { type: 'default' },
    rotaryDim,
    maxPositions,
    scaleAttnWeights: true,
    scaleByInverseLayerIdx: false,
    parallelResidual: boolField(raw, 'use_parallel_residual', true),
    // attention_bias covers query_key_value and dense; the MLP's nn.Linear layers always have biases.
    qkvBias: attentionBias,
    outputBias: attentionBias,
    mlpBias: true,
    tieWordEmbeddings: boolField(raw, 'tie_word_embeddings', false),
    slidingWindow: null,
    bosTokenId: tokenIdField(raw, 'bos_token_id', DEFAULTS.bos),
    eosTokenIds: tokenIdList(eos, 'config.json "eos_token_id"'),
    padTokenId: tokenIdField(raw, 'pad_token_id', null),
    raw,
  };
}
