/**
 * Benchmark models built in memory: named shapes, random weights (seeded `tf.randomNormal`, no files),
 * and the exact floating-point work of one forward pass, so measured times convert to GFLOP/s.
 */
import { tf } from '../src/engine/tf.js';
import { parseModelConfig, type ModelConfig } from '../src/lm/config.js';
import { expectedShapes, type LayerParams, type NormParams, type TransformerParams } from '../src/lm/params.js';

export interface BenchShape {
  name: string;
  /** A config.json as Hugging Face would write it. */
  raw: Record<string, unknown>;
}

export const GPT2_SMALL: BenchShape = {
  name: 'gpt2-small (12×768, V 50257)',
  raw: { model_type: 'gpt2', n_layer: 12, n_embd: 768, n_head: 12, vocab_size: 50257, n_positions: 1024 },
};

export const GPT2_MEDIUM: BenchShape = {
  name: 'gpt2-medium (24×1024, V 50257)',
  raw: { model_type: 'gpt2', n_layer: 24, n_embd: 1024, n_head: 16, vocab_size: 50257, n_positions: 1024 },
};

export const LLAMA_4x256: BenchShape = {
  name: 'llama 4×256 (V 4096)',
  raw: {
    model_type: 'llama', num_hidden_layers: 4, hidden_size: 256, num_attention_heads: 4, num_key_value_heads: 4,
    intermediate_size: 688, vocab_size: 4096, max_position_embeddings: 1024,
  },
};

export const LLAMA_6x384: BenchShape = {
  name: 'llama 6×384 (V 8192)',
  raw: {
    model_type: 'llama', num_hidden_layers: 6, hidden_size: 384, num_attention_heads: 6, num_key_value_heads: 6,
    intermediate_size: 1024, vocab_size: 8192, max_position_embeddings: 1024,
  },
};

/** A Llama of `layers` × `d` (head dim 64, SwiGLU width ≈ 8d/3 rounded to 64, V `vocab`): the model-size ladder. */
export function llamaShape(layers: number, d: number, vocab: number): BenchShape {
  const heads = Math.max(1, d / 64);
  return {
    name: `llama ${layers}×${d} (V ${vocab})`,
    raw: {
      model_type: 'llama', num_hidden_layers: layers, hidden_size: d, num_attention_heads: heads, num_key_value_heads: heads,
      intermediate_size: Math.round((8 * d) / 3 / 64) * 64, vocab_size: vocab, max_position_embeddings: 1024, tie_word_embeddings: true,
    },
  };
}

/**
 * Random weights in the `TransformerParams` layout: linear weights N(0, 0.02²) like GPT-2's init,
 * norm weights 1 and biases 0. Seeds are consecutive integers from `seed`, so a run is reproducible.
 */
export function randomParams(c: ModelConfig, seed = 1): TransformerParams {
  let next = seed;
  const normal = (shape: number[]): tf.Tensor => tf.randomNormal(shape, 0, 0.02, 'float32', next++);
  const d = c.hiddenSize;
  const { qkvOut, mlpIn } = expectedShapes(c);
  const norm = (): NormParams => {
    const p: NormParams = { weight: tf.ones([d]) as tf.Tensor1D }; // [d]
    if (c.norm === 'layernorm') p.bias = tf.zeros([d]) as tf.Tensor1D; // [d]
    return p;
  };
  const layers: LayerParams[] = [];
  for (let i = 0; i < c.numLayers; i++) {
    const l: LayerParams = {
      attnNorm: norm(),
      qkv: normal([d, qkvOut]) as tf.Tensor2D, // [d, (H + 2·Hkv)·hd]
      attnOut: normal([c.numHeads * c.headDim, d]) as tf.Tensor2D, // [H·hd, d]
      mlpNorm: norm(),
      mlpIn: normal([d, mlpIn]) as tf.Tensor2D, // [d, I] or [d, 2·I]
      mlpOut: normal([c.intermediateSize, d]) as tf.Tensor2D, // [I, d]
    };
    if (c.qkvBias) l.qkvBias = normal([qkvOut]) as tf.Tensor1D; // [(H + 2·Hkv)·hd]
    if (c.outputBias) l.attnOutBias = normal([d]) as tf.Tensor1D; // [d]
    if (c.mlpBias) {
      l.mlpInBias = normal([mlpIn]) as tf.Tensor1D; // [I] or [2·I]
      l.mlpOutBias = normal([d]) as tf.Tensor1D; // [d]
    }
    layers.push(l);
  }
  const embed = normal([c.vocabSize, d]) as tf.Tensor2D; // [V, d]
  // Tied heads are materialised as embedᵀ, as the loader does (transposed matMul is slow on wasm).
  const lmHead = (c.tieWordEmbeddings ? tf.transpose(embed) : normal([d, c.vocabSize])) as tf.Tensor2D; // [d, V]
  const params: TransformerParams = { embed, layers, finalNorm: norm(), lmHead };
  if (c.positional === 'learned') params.positionEmbed = normal([c.maxPositions, d]) as tf.Tensor2D; // [P, d]
  return params;
}

export function configOf(shape: BenchShape): ModelConfig {
  return parseModelConfig(shape.raw, shape.name);
}

/** Weights that enter a matMul once per token, excluding the LM head: q/k/v, output, MLP in and out. */
export function matMulParamsPerToken(c: ModelConfig): number {
  const { qkvOut, mlpIn } = expectedShapes(c);
  const d = c.hiddenSize;
  return c.numLayers * (d * qkvOut + c.numHeads * c.headDim * d + d * mlpIn + c.intermediateSize * d);
}

export interface ForwardWork {
  /** 2 · matMul weights · tokens. */
  projections: number;
  /** q·Kᵀ and probs·V: 2 · 2 · B · H · T · Tk · hd per layer (the forward computes masked entries too). */
  attention: number;
  /** RoPE's rotate-half product, 2 · hd² per rotated head vector (q and k), Llama family only. */
  rope: number;
  /** 2 · d · V per LM-head row. */
  lmHead: number;
  total: number;
}

/**
 * Floating-point operations of the matMuls one `forward` runs on B rows of T new tokens after `past`
 * cached tokens, with `headRows` LM-head rows. Elementwise work (norms, softmax, GELU, adds) is not
 * counted: it is O(B·T·d) against the matMuls' O(B·T·d²).
 */
export function forwardFlops(c: ModelConfig, B: number, T: number, past: number, headRows: number): ForwardWork {
  const tokens = B * T;
  const Tk = past + T;
  const projections = 2 * matMulParamsPerToken(c) * tokens;
  const attention = c.numLayers * 4 * B * c.numHeads * T * Tk * c.headDim;
  const rope = c.positional === 'rope' ? c.numLayers * 2 * tokens * (c.numHeads + c.numKvHeads) * c.headDim * c.headDim : 0;
  const lmHead = 2 * c.hiddenSize * c.vocabSize * headRows;
  return { projections, attention, rope, lmHead, total: projections + attention + rope + lmHead };
}
