/**
 * The config.json of a pretrained backbone: a plain Llama architecture (RMSNorm, SwiGLU, RoPE, no
 * biases) that `parseModelConfig` — and transformers' LlamaForCausalLM — load as is.
 */
import { formatBytes, USABLE_FRACTION, type MemoryBudget } from '../engine/memory-budget.js';
import { OptionError } from '../errors.js';
import { trainingStepBytes } from '../lm/activation-memory.js';
import { countParameters, parseModelConfig, type ModelConfig } from '../lm/config.js';

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

export interface TrainingSize {
  batchSize: number;
  context: number;
}

/**
 * Refuses a model and batch whose training step cannot fit in tensor memory, before the corpus is read
 * or a tokenizer trained: weights, AdamW moments and gradients (5 copies of every parameter), plus
 * the activations every layer keeps for backprop and the logits of batchSize × context tokens.
 */
export function checkTrainingFits(o: ArchitectureOptions, size: TrainingSize, budget: MemoryBudget): void {
  const { config } = llamaConfig(o);
  const parameters = countParameters(config);
  const tokens = size.batchSize * size.context;
  const total = trainingStepBytes(config, parameters, tokens, size.context);
  const usable = budget.availableBytes * USABLE_FRACTION;
  if (total <= usable) return;
  const weights = trainingStepBytes(config, parameters, 0, size.context);
  const free = `${formatBytes(budget.availableBytes)} of tensor memory are free (${budget.limit})`;
  if (weights > usable) {
    throw new OptionError(
      `pretrainLM: a model of dim ${o.dim}, layers ${o.layers}, intermediate ${config.intermediateSize} and vocabSize ${o.vocabSize} has ${parameters.toLocaleString('en-US')} parameters; ` +
        `its weights, AdamW state and gradients alone need about ${formatBytes(weights)} and ${free}; lower dim, layers or vocabSize`,
    );
  }
  const perToken = (total - weights) / tokens;
  const fitTokens = Math.floor((usable - weights) / perToken);
  throw new OptionError(
    `pretrainLM: batchSize ${size.batchSize} × context ${size.context} = ${tokens} tokens per step need about ${formatBytes(total - weights)} of activations on top of ${formatBytes(weights)} of weights and optimizer state, and ${free}; ` +
      `use batchSize × context ≤ ${Math.max(0, fitTokens)} tokens (e.g. batchSize ${Math.max(1, Math.floor(fitTokens / size.context))})`,
  );
}
