/**
 * Estimates of the tensor memory a forward pass needs, from the model config alone, so a batch that
 * cannot fit is refused before it runs. The forward frees each block's intermediates when the block
 * ends (transformer.ts), so the peak is the residual stream plus the larger of one attention block and
 * one MLP block. The counts are float32 values per token, rounded up (every copy, split and
 * elementwise temporary counted); bench/feature-memory.ts checks them against the measured wasm heap.
 */
import type { ModelConfig } from './config.js';

/** Float32 values per token alive inside one attention block at `keys` keys per query. */
function attentionFloats(c: ModelConfig, keys: number): number {
  const d = c.hiddenSize;
  const qkv = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  // norm, q/k/v projection and its split, RoPE temporaries, transposes, context, output: ≤ 8 d-wide
  // tensors plus 3 qkv-wide ones; scores, scores + mask and the softmax (plus one temporary) per head.
  return 8 * d + 3 * qkv + 4 * c.numHeads * keys;
}

/** Float32 values per token alive inside one MLP block. */
function mlpFloats(c: ModelConfig): number {
  const inner = c.mlp === 'gated' ? 2 * c.intermediateSize : c.intermediateSize;
  // up projection, its split (gated), the activation's temporaries (tanh-GELU has several), product.
  return 3 * c.hiddenSize + 4 * inner;
}

/**
 * Peak bytes per token of an inference forward without logits (the feature pass) over sequences of
 * `keys` tokens: residual stream (3 copies at a block boundary), the [T, Tk] attention mask, RoPE
 * tables and the larger block.
 */
export function forwardBytesPerToken(c: ModelConfig, keys: number): number {
  const floats = 4 * c.hiddenSize + keys + 2 * c.headDim + Math.max(attentionFloats(c, keys), mlpFloats(c));
  return 4 * floats;
}

/**
 * Bytes of one training step of the whole model (pretraining) on `tokens` tokens of windows of
 * `context`: weights, AdamW moments, gradients and their clipped copies (5 per parameter), the
 * activations every layer keeps for backprop, and the logits with their softmax and gradient.
 */
export function trainingStepBytes(c: ModelConfig, parameters: number, tokens: number, context: number): number {
  const perTokenLayer = attentionFloats(c, context) + mlpFloats(c) + 4 * c.hiddenSize;
  const perToken = c.numLayers * perTokenLayer + 3 * c.vocabSize + context;
  return 4 * (5 * parameters + tokens * perToken);
}
