/**
 * The Bradley–Terry prefix loss: mean over prefix pairs of −log σ(r_chosen − r_rejected − margin) (one
 * margin for all, or one per pair),
 * with log σ(z) written as −softplus(−z) (stable at ±1000, and safe inside a gradient tape on wasm).
 */
import { tf } from '../engine/tf.js';
import { logSigmoid } from '../engine/ops.js';
import { checkArgument, checkOptions, instance, number, required } from '../options.js';

const tensorSpec = () => instance(() => tf.Tensor, 'a tf.Tensor');

export interface BradleyTerryOptions {
  /** Required reward gap: the loss is −log σ(Δ − margin). Default 0. */
  margin?: number;
  /** Per-pair required gaps [N], used instead of `margin`: the loss of pair i is −log σ(Δᵢ − marginsᵢ). */
  margins?: tf.Tensor1D;
  /**
   * Per-pair weights [N] (e.g. a mask, or 1/L for per-pair weighting); the loss is Σ wᵢ·ℓᵢ / Σ wᵢ.
   * Default: every prefix pair weighs the same.
   */
  weights?: tf.Tensor1D;
}

/** rChosen, rRejected: [N] rewards of aligned prefixes → scalar loss. */
export function bradleyTerryPrefixLoss(rChosen: tf.Tensor1D, rRejected: tf.Tensor1D, options: BradleyTerryOptions = {}): tf.Scalar {
  checkArgument('bradleyTerryPrefixLoss', 'rChosen', rChosen, required(tensorSpec()));
  checkArgument('bradleyTerryPrefixLoss', 'rRejected', rRejected, required(tensorSpec()));
  checkOptions('bradleyTerryPrefixLoss', options, { margin: number(), margins: tensorSpec(), weights: tensorSpec() });
  return tf.tidy(() => {
    let gap = tf.sub(rChosen, rRejected); // [N]
    if (options.margins) gap = tf.sub(gap, options.margins);
    else if (options.margin) gap = tf.sub(gap, options.margin);
    const perPair = tf.neg(logSigmoid(gap)); // [N]
    if (!options.weights) return tf.mean(perPair) as tf.Scalar;
    return tf.div(tf.sum(tf.mul(perPair, options.weights)), tf.sum(options.weights)) as tf.Scalar;
  });
}
