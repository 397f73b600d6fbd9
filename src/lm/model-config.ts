/**
 * The normalised model configuration every part of lm/ runs from (config.ts parses config.json into it).
 * Its own file so the per-architecture parsers (config.ts, config-gpt-neox.ts) share it without importing
 * each other.
 */
import type { RopeScaling } from './rope-config.js';

export type ModelType = 'gpt2' | 'llama' | 'mistral' | 'qwen2' | 'gpt_neox';
export const SUPPORTED_MODEL_TYPES: readonly ModelType[] = ['gpt2', 'llama', 'mistral', 'qwen2', 'gpt_neox'];

export interface ModelConfig {
  modelType: ModelType;
  vocabSize: number;
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  intermediateSize: number;
  /** GPT-2 and GPT-NeoX: LayerNorm with bias; Llama family: RMSNorm. */
  norm: 'layernorm' | 'rmsnorm';
  normEps: number;
  /** An ACT2FN name, e.g. 'gelu_new' or 'silu'. */
  activation: string;
  /** 'plain': down(act(up x)); 'gated': down(act(gate x) · up x). */
  mlp: 'plain' | 'gated';
  /** GPT-2 learns absolute position embeddings; the Llama family and GPT-NeoX rotate q and k (half-split RoPE). */
  positional: 'learned' | 'rope';
  ropeTheta: number;
  /**
   * How many leading channels of each head RoPE rotates: headDim, or GPT-NeoX's
   * int(headDim · rotary_pct); the rest pass through unrotated. Even (HF builds [θ, θ] over it).
   */
  rotaryDim: number;
  ropeScaling: RopeScaling;
  /** Hard context limit for learned positions; the trained length for RoPE models. */
  maxPositions: number;
  /** GPT-2 `scale_attn_weights`: scores are divided by √headDim (always true for the Llama family). */
  scaleAttnWeights: boolean;
  /** GPT-2 `scale_attn_by_inverse_layer_idx`: scores are further divided by (layer index + 1). */
  scaleByInverseLayerIdx: boolean;
  /**
   * GPT-NeoX `use_parallel_residual`: x + attn(ln1 x) + mlp(ln2 x), both blocks reading the layer's
   * input; false (every other model) runs them in sequence, the MLP reading x + attn(ln1 x).
   */
  parallelResidual: boolean;
  qkvBias: boolean;
  outputBias: boolean;
  mlpBias: boolean;
  tieWordEmbeddings: boolean;
  /** Sliding-window attention (Mistral, Qwen2): key j is visible to query i iff i − W < j ≤ i. */
  slidingWindow: number | null;
  /**
   * The layers the window applies to (Qwen2: those ≥ `max_window_layers`, or `layer_types`' sliding
   * ones); absent means every layer (Mistral).
   */
  slidingWindowLayers?: number[];
  bosTokenId: number | null;
  eosTokenIds: number[];
  padTokenId: number | null;
  /** The parsed config.json as given, kept for round-tripping and diagnostics. */
  raw: Record<string, unknown>;
}
