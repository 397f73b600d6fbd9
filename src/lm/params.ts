/**
 * The transformer's weights in the layout the forward pass wants, independent of where they came from
 * (a Hugging Face checkpoint, or variables being pretrained). Linear weights are stored [in, out] so
 * every projection is a plain matMul (transposed matMul is 10–50× slower on wasm); q, k, v are fused
 * into one [d, (H + 2·Hkv)·hd] matrix and a gated MLP's gate and up into one [d, 2·I] matrix, so each
 * block runs three big matMuls instead of six small ones.
 */
import { tf } from '../engine/tf.js';
import type { ModelConfig } from './config.js';

export interface NormParams {
  weight: tf.Tensor1D; // [d]
  bias?: tf.Tensor1D; // [d] (LayerNorm only)
}

export interface LayerParams {
  attnNorm: NormParams;
  qkv: tf.Tensor2D; // [d, (H + 2·Hkv)·hd], columns [q | k | v], heads contiguous within each
  qkvBias?: tf.Tensor1D; // [(H + 2·Hkv)·hd]
  attnOut: tf.Tensor2D; // [H·hd, d]
  attnOutBias?: tf.Tensor1D; // [d]
  mlpNorm: NormParams;
  mlpIn: tf.Tensor2D; // plain: [d, I]; gated: [d, 2·I], columns [gate | up]
  mlpInBias?: tf.Tensor1D; // [I] or [2·I]
  mlpOut: tf.Tensor2D; // [I, d]
  mlpOutBias?: tf.Tensor1D; // [d]
}

export interface TransformerParams {
  embed: tf.Tensor2D; // [V, d]
  positionEmbed?: tf.Tensor2D; // [P, d] (learned positions only)
  layers: LayerParams[];
  finalNorm: NormParams;
  /** [d, V]. For tied embeddings this is embedᵀ, materialised once for inference. */
  lmHead: tf.Tensor2D;
}

/** Every tensor in a params tree, in a fixed order (for disposal, fingerprints and optimizers). */
export function paramTensors(p: TransformerParams): tf.Tensor[] {
  const out: tf.Tensor[] = [p.embed];
  if (p.positionEmbed) out.push(p.positionEmbed);
  const norm = (n: NormParams): void => {
    out.push(n.weight);
    if (n.bias) out.push(n.bias);
  };
  for (const l of p.layers) {
    norm(l.attnNorm);
    out.push(l.qkv);
    if (l.qkvBias) out.push(l.qkvBias);
    out.push(l.attnOut);
    if (l.attnOutBias) out.push(l.attnOutBias);
    norm(l.mlpNorm);
    out.push(l.mlpIn);
    if (l.mlpInBias) out.push(l.mlpInBias);
    out.push(l.mlpOut);
    if (l.mlpOutBias) out.push(l.mlpOutBias);
  }
  norm(p.finalNorm);
  if (!out.includes(p.lmHead)) out.push(p.lmHead);
  return out;
}

/** Shapes each parameter must have for `config`; used to validate checkpoints before building tensors. */
export function expectedShapes(c: ModelConfig): { qkvOut: number; mlpIn: number } {
  return {
    qkvOut: (c.numHeads + 2 * c.numKvHeads) * c.headDim,
    mlpIn: c.mlp === 'gated' ? 2 * c.intermediateSize : c.intermediateSize,
  };
}
