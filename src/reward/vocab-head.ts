/**
 * The vocabulary-wide reward head of FaRMA (Rashid et al., ICML 2025): R(h) = h·W + b, W [d, V], one
 * reward per possible next token. The reward of `prompt ⊕ y_{1..i}` is R(h_{i−1})[y_i], h_{i−1} the
 * backbone's final hidden state BEFORE token i (at the prompt's last token for i = 1), so one backbone
 * state scores every continuation at once: a guided token costs one LM step plus one [d, V] head row.
 */
import { tf } from '../engine/tf.js';
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { RewardHead } from './head.js';

export function isVocabHead(head: RewardHead): boolean {
  return head.spec.kind === 'vocab';
}

function weights(head: RewardHead): { W: tf.Variable; b: tf.Variable } {
  if (!isVocabHead(head)) throw new OptionError(`expected a vocabulary reward head, got a ${head.spec.kind} head`);
  head.assertLive('vocabRewards');
  return { W: head.variables.get('weight') as tf.Variable, b: head.variables.get('bias') as tf.Variable };
}

/** Rewards of every next token: states [N, d] → [N, V]. */
export function vocabRewards(head: RewardHead, states: tf.Tensor2D): tf.Tensor2D {
  const { W, b } = weights(head);
  return tf.tidy(() => tf.add(tf.matMul(states, W as tf.Tensor2D), b) as tf.Tensor2D); // [N, V]
}

/**
 * R(states[n])[tokens[n]] → [N]: only the N needed columns of W are gathered (the gradient reaches only
 * them), instead of the full [N, V] product.
 */
export function tokenRewards(head: RewardHead, states: tf.Tensor2D, tokens: tf.Tensor1D): tf.Tensor1D {
  const { W, b } = weights(head);
  return tf.tidy(() => {
    const columns = tf.gather(tf.transpose(W), tokens); // [N, d]
    return tf.add(tf.sum(tf.mul(states, columns), 1), tf.gather(b, tokens)) as tf.Tensor1D; // [N]
  });
}

/** The best achievable next-token reward max_v R(h)[v] for states [N, d] → [N]. */
export function maxRewards(head: RewardHead, states: tf.Tensor2D): tf.Tensor1D {
  return tf.tidy(() => tf.max(vocabRewards(head, states), 1) as tf.Tensor1D); // [N]
}

/** A vocabulary head must cover exactly the backbone's vocabulary. */
export function checkVocabHead(head: RewardHead, backbone: CausalLM): void {
  if (head.spec.kind !== 'vocab') return;
  if (head.spec.vocabSize !== backbone.config.vocabSize) {
    throw new OptionError(`the vocabulary reward head scores ${head.spec.vocabSize} tokens, but the backbone "${backbone.source}" has a vocabulary of ${backbone.config.vocabSize}; use it with the backbone it was trained on`);
  }
}

/**
 * R(h_{i−1})[y_i] for every response token i = 1…L, from one backbone pass over prompt ⊕ response:
 * the states at sequence indices P − 1 … P + L − 2 score the tokens at P … P + L − 1.
 */
export async function vocabPrefixRewards(backbone: CausalLM, head: RewardHead, promptIds: readonly number[], responseIds: readonly number[]): Promise<number[]> {
  if (responseIds.length === 0) return [];
  const out = backbone.forward({ ids: [[...promptIds, ...responseIds]], logits: 'none' });
  const rewards = tf.tidy(() => {
    const d = backbone.config.hiddenSize;
    const before = tf.slice(tf.reshape(out.hidden, [-1, d]), [promptIds.length - 1, 0], [responseIds.length, d]) as tf.Tensor2D; // [L, d]
    return tokenRewards(head, before, tf.tensor1d(Int32Array.from(responseIds), 'int32')); // [L]
  });
  out.hidden.dispose();
  const values = Array.from(await rewards.data());
  rewards.dispose();
  return values;
}

/**
 * Complete-response rewards R(h_{L−1})[y_L] of left-padded sequences (every row ends at T − 1): the
 * state at T − 2 scores the last token. Each sequence needs at least two tokens (a prompt and a token).
 */
export function vocabLastRewards(backbone: CausalLM, head: RewardHead, sequences: readonly number[][], ids: number[][], mask: number[][]): tf.Tensor1D {
  const T = ids[0].length;
  const tooShort = sequences.findIndex((s) => s.length < 2);
  if (tooShort >= 0) throw new OptionError(`a vocabulary reward head scores a response token from the state before it: sequence ${tooShort} has ${sequences[tooShort].length} token(s); give a prompt and at least one response token`);
  const forward = backbone.forward({ ids, mask, logits: 'none' });
  try {
    return tf.tidy(() => {
      const d = backbone.config.hiddenSize;
      const rows = tf.tensor1d(Int32Array.from(sequences, (_, b) => b * T + T - 2), 'int32');
      const before = tf.gather(tf.reshape(forward.hidden, [-1, d]), rows) as tf.Tensor2D; // [b, d]
      return tokenRewards(head, before, tf.tensor1d(Int32Array.from(sequences, (s) => s[s.length - 1]), 'int32')); // [b]
    });
  } finally {
    forward.hidden.dispose();
  }
}
