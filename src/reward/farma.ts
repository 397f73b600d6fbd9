/**
 * FaRMA's max-consistency loss (Rashid et al., ICML 2025; `reward_trainer_optimal.py` of the official
 * code): the reward of a prefix, R(h_{i−1})[y_i], should equal the best reward one more token can
 * reach from it, max_v R(h_i)[v] — the Bellman-style condition that makes R(h)[v] the value of the best
 * completion. Mean squared error over prefixes; as in the official code the target is not detached,
 * so the gradient reaches both sides.
 */
import { tf } from '../engine/tf.js';
import type { RewardHead } from './head.js';
import { maxRewards, tokenRewards } from './vocab-head.js';

/**
 * before: states before token i [N, d]; tokens: y_i [N]; after: states after token i [N, d]
 * → mean over N of (R(before)[y] − max_v R(after)[v])².
 */
export function maxConsistencyLoss(head: RewardHead, before: tf.Tensor2D, tokens: tf.Tensor1D, after: tf.Tensor2D): tf.Scalar {
  return tf.tidy(() => {
    const reward = tokenRewards(head, before, tokens); // [N]
    const target = maxRewards(head, after); // [N]
    return tf.mean(tf.square(tf.sub(reward, target))) as tf.Scalar;
  });
}
