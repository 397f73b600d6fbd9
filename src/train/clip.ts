/**
 * Global-norm gradient clipping (as `torch.nn.utils.clip_grad_norm_`): when the L2 norm over all
 * gradients exceeds `maxNorm`, every gradient is scaled by maxNorm / norm, so one bad batch cannot
 * throw the weights far. Stays on the device: the scale is a tensor, no host round trip per step.
 */
import { tf } from '../engine/tf.js';

/** The clipped gradients (new tensors, same names) and the pre-clipping global norm, a scalar. */
export function clipByGlobalNorm(
  grads: Readonly<Record<string, tf.Tensor>>,
  maxNorm: number,
): { grads: Record<string, tf.Tensor>; norm: tf.Scalar } {
  return tf.tidy(() => {
    const names = Object.keys(grads);
    const squares = names.map((n) => tf.sum(tf.square(grads[n]))); // scalars
    const norm = tf.sqrt(tf.addN(squares)) as tf.Scalar; // scalar
    if (!(maxNorm > 0) || !Number.isFinite(maxNorm)) {
      return { grads: Object.fromEntries(names.map((n) => [n, tf.clone(grads[n])])), norm };
    }
    // min(1, maxNorm / norm) written as maxNorm / max(norm, maxNorm): no division by a zero norm.
    const scale = tf.div(maxNorm, tf.maximum(norm, maxNorm)); // scalar
    return { grads: Object.fromEntries(names.map((n) => [n, tf.mul(grads[n], scale)])), norm };
  });
}
