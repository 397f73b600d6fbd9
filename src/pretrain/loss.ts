/**
 * Next-token cross-entropy from logits, computed stably through log-softmax (max-shifted
 * log-sum-exp), picking each row's target log-probability with a gather on the flattened
 * [N·V] log-probabilities. On wasm the gather (whose gradient is a sparse scatter of N values)
 * is cheaper than the one-hot [N, V] product it replaces.
 */
import { OptionError } from '../errors.js';
import { tf } from '../engine/tf.js';

/** Flat indices n·V + target[n] into a row-major [N, V] matrix. */
export function flatTargetIndices(targets: ArrayLike<number>, vocabSize: number): Int32Array {
  const out = new Int32Array(targets.length);
  for (let n = 0; n < targets.length; n++) {
    const t = targets[n];
    if (!Number.isInteger(t) || t < 0 || t >= vocabSize) {
      throw new OptionError(`target token ${t} at position ${n} is outside the vocabulary [0, ${vocabSize})`);
    }
    out[n] = n * vocabSize + t;
  }
  return out;
}

/** log p(target[n] | row n) for every row of `logits` ([N, V] or [..., V] flattened): [N]. */
export function targetLogProbs(logits: tf.Tensor, targets: ArrayLike<number>): tf.Tensor1D {
  return tf.tidy(() => {
    const V = logits.shape[logits.rank - 1] as number;
    const logProbs = tf.logSoftmax(tf.reshape(logits, [-1, V])); // [N, V]
    if (logProbs.shape[0] !== targets.length) {
      throw new OptionError(`${targets.length} targets for ${logProbs.shape[0]} rows of logits`);
    }
    const index = tf.tensor1d(flatTargetIndices(targets, V), 'int32'); // [N]
    return tf.gather(tf.reshape(logProbs, [-1]), index) as tf.Tensor1D; // [N]
  });
}

/** Mean negative log-likelihood of `targets` under `logits` ([..., V] with N rows in all): a scalar. */
export function meanCrossEntropy(logits: tf.Tensor, targets: ArrayLike<number>): tf.Scalar {
  return tf.tidy(() => tf.neg(tf.mean(targetLogProbs(logits, targets))) as tf.Scalar);
}
