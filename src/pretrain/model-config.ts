/**
 * The config.json of a pretrained backbone: a plain Llama architecture (RMSNorm, SwiGLU, RoPE, no
 * biases) that `parseModelConfig` — and transformers' LlamaForCausalLM — load as is.
 */
import { OptionError } from '../errors.js';
import { parseModelConfig, type ModelConfig } from '../lm/config.js';

export interface ArchitectureOptions {
  vocabSize: number;
  layers: number;
  dim: number;
  heads: number;
  /** Key/value heads (grouped-query attention); default = heads. */
  kvHeads?: number;
  /** Trained context length, written as max_position_embeddings. */
  context: number;
  /** SwiGLU inner width; default ≈ 8/3·dim rounded up to a multiple of 32 (same parameter count as a 4·dim GELU MLP). */
  intermediate?: number;
  tieEmbeddings: boolean;
  /** Id of `<|endoftext|>`: both BOS and EOS, since documents are separated by it. */
  eotId: number;
  dtype: 'F32' | 'F16';
}

export function defaultIntermediate(dim: number): number {
  return Math.ceil((8 * dim) / 3 / 32) * 32;
}

function positiveInt(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new OptionError(`${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Validates the shape options and returns the raw config.json object. */
export function llamaConfigJson(o: ArchitectureOptions): Record<string, unknown> {
  const layers = positiveInt(o.layers, 'layers');
  const dim = positiveInt(o.dim, 'dim');
  const heads = positiveInt(o.heads, 'heads');
  const kvHeads = positiveInt(o.kvHeads ?? heads, 'kvHeads');
  const context = positiveInt(o.context, 'context');
  const intermediate = positiveInt(o.intermediate ?? defaultIntermediate(dim), 'intermediate');
  positiveInt(o.vocabSize, 'vocabSize');
  if (dim % heads !== 0) throw new OptionError(`dim (${dim}) must be divisible by heads (${heads})`);
  if ((dim / heads) % 2 !== 0) throw new OptionError(`head size dim/heads = ${dim / heads} must be even for rotary embeddings`);
  if (heads % kvHeads !== 0) throw new OptionError(`heads (${heads}) must be a multiple of kvHeads (${kvHeads})`);
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    vocab_size: o.vocabSize,
    hidden_size: dim,
    intermediate_size: intermediate,
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: dim / heads,
    hidden_act: 'silu',
    max_position_embeddings: context,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    rope_scaling: null,
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: o.tieEmbeddings,
    initializer_range: 0.02,
    bos_token_id: o.eotId,
    eos_token_id: o.eotId,
    use_cache: true,
    torch_dtype: o.dtype === 'F16' ? 'float16' : 'float32',
  };
}

export function llamaConfig(o: ArchitectureOptions): { raw: Record<string, unknown>; config: ModelConfig } {
  const raw = llamaConfigJson(o);
  return { raw, config: parseModelConfig(raw, 'pretrain config') };
}
