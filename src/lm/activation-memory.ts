/**
 * Estimates of the tensor memory a forward pass needs, from the model config alone, so a batch that
 * cannot fit is refused before it runs. The forward frees each block's intermediates when the block
 * ends (transformer.ts), so the peak is the residual stream plus the larger of one attention block and
 * one MLP block. The counts are float32 values per token, kept above what bench/feature-memory.ts
 * measures on wasm at the bundled and GPT-2-small sizes.
 */
import type { ModelConfig } from './config.js';

/**
 * Float32 values per token alive inside one attention block at `keys` keys per query. Counted from the
 * ops (norm temporaries, q/k/v projection and split, RoPE products, transposes, context, output) and
 * calibrated against tf.profile's peak on wasm (bench/feature-memory.ts): ≈ 39·d + 4.5·H·Tk measured
 * for multi-head attention, so this stays an upper bound.
 */
function attentionFloats(c: ModelConfig, keys: number): number {
  const qkv = (c.numHeads + 2 * c.numKvHeads) * c.headDim;
  return 24 * c.hiddenSize + 5 * qkv + 5 * c.numHeads * keys;
}

/**
 * Float32 values per token alive inside one MLP block: up projection (and bias), the activation's
 * elementwise temporaries (tanh-GELU evaluated as x·σ(2u) makes 7), the gated product, the output.
 */
function mlpFloats(c: ModelConfig): number {
  return 4 * c.hiddenSize + (c.mlp === 'gated' ? 8 : 10) * c.intermediateSize;
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

/** Bytes of a KV cache for `rows` sequences of `length` tokens: keys and values of every layer. */
export function kvCacheBytes(c: ModelConfig, rows: number, length: number): number {
  return 4 * rows * length * c.numLayers * 2 * c.numKvHeads * c.headDim;
}

/**
 * Factor from the activations a layer keeps for backprop to the peak of its forward and backward: the
 * backward holds the gradients of those activations beside them. tf.profile's peak of a 2-block
 * forward + backward on wasm at the bundled size was 1.99–2.18× the kept count (8 and 32 sequences of 48
 * and 96 tokens); 2.5 keeps the estimate above it.
 */
const BACKWARD_FACTOR = 2.5;

/**
 * Peak bytes of one training step of the top `blocks` layers (reward training with `trainable:
 * top-blocks`) over `sequences` sequences padded to `length` tokens: per layer the activations kept for
 * backprop (as in `trainingStepBytes`) and their gradients, the input residual, the final norm's output
 * and the [T, Tk] mask. The weights, moments and gradients of the blocks are counted by the caller.
 */
export function topBlocksStepBytes(c: ModelConfig, blocks: number, sequences: number, length: number): number {
  const perTokenLayer = attentionFloats(c, length) + mlpFloats(c) + 4 * c.hiddenSize;
  return 4 * BACKWARD_FACTOR * sequences * length * (blocks * perTokenLayer + 4 * c.hiddenSize + length);
}
