/**
 * Rewards of whole id sequences from a reward model's backbone and head: every prefix of one response
 * (one backbone pass), or the complete responses of many (left-padded batches). Both refuse sequences
 * past the backbone's context first (lm/context.ts), as training and evaluation do: a reward read at
 * positions the backbone never saw would come out as if valid.
 */
import { tf } from '../engine/tf.js';
import { OptionError } from '../errors.js';
import { leftPad, type CausalLM } from '../lm/causal-lm.js';
import { refuseBeyondContext } from '../lm/context.js';
import type { RewardHead } from './head.js';
import type { ScoreItem } from './reward-model-interface.js';
import { isVocabHead, vocabLastRewards, vocabPrefixRewards } from './vocab-head.js';

/** What scoring needs of a reward model: its backbone, head, read-out rule and a name for messages. */
export interface Scorer {
  backbone: CausalLM;
  head: RewardHead;
  /** Where the reward of `ids[0 … end]` is read (the last token; an HF model: the last non-pad token). */
  readIndex(ids: readonly number[], end: number): number;
  /** ` "DIR"`: where the reward model came from, or ''. */
  source: string;
}

/** Refuses items whose prompt + response exceed the backbone's context, naming `fn` and the counts. */
export function refuseScoringBeyondContext(fn: string, s: Scorer, items: readonly ScoreItem[]): void {
  const context = s.backbone.config.maxPositions;
  const lengths = items.map((it) => it.promptIds.length + it.responseIds.length);
  refuseBeyondContext(lengths, context, (over, longest) => {
    const what = items.length === 1
      ? `the prompt (${items[0].promptIds.length} tokens) + response (${items[0].responseIds.length} tokens) = ${lengths[0]} tokens are`
      : `${over.length} of ${items.length} prompt + response sequences (first: item ${over[0]}, longest: item ${longest} with ${lengths[longest]} tokens) are`;
    return `${fn}: ${what} longer than the context of the reward model${s.source} (${context} tokens, its backbone's max_position_embeddings); a reward read past it is not meaningful: shorten the prompt or response`;
  });
}

/** The reward after every response token (index i = prefix of i + 1 tokens), from one backbone pass. */
export async function prefixRewards(s: Scorer, fn: string, promptIds: readonly number[], responseIds: readonly number[]): Promise<number[]> {
  if (promptIds.length === 0) throw new OptionError(`${fn}: the prompt encodes to no tokens`);
  if (responseIds.length === 0) return [];
  refuseScoringBeyondContext(fn, s, [{ promptIds, responseIds }]);
  if (isVocabHead(s.head)) return vocabPrefixRewards(s.backbone, s.head, promptIds, responseIds);
  const ids = [...promptIds, ...responseIds];
  const out = s.backbone.forward({ ids: [ids], logits: 'none' });
  // The prefix of i response tokens ends at sequence index P + i − 1: rows P … P + L − 1 (or where readIndex says).
  const read = Int32Array.from(responseIds, (_, i) => s.readIndex(ids, promptIds.length + i));
  const rewards = tf.tidy(() => {
    const d = s.backbone.config.hiddenSize;
    const responseHidden = tf.gather(tf.reshape(out.hidden, [-1, d]), tf.tensor1d(read, 'int32')) as tf.Tensor2D; // [L, d]
    return s.head.apply(responseHidden); // [L]
  });
  out.hidden.dispose();
  const values = Array.from(await rewards.data());
  rewards.dispose();
  return values;
}

/**
 * Complete-response rewards of many (prompt, response) id pairs, batched: one left-padded forward per
 * `rowsPerBatch` sequences, reading the hidden state at each sequence's last token.
 */
export async function lastRewards(s: Scorer, fn: string, items: readonly ScoreItem[], rowsPerBatch: number): Promise<number[]> {
  items.forEach((it, i) => {
    if (it.promptIds.length + it.responseIds.length === 0) throw new OptionError(`${fn}: item ${i} has no tokens`);
  });
  refuseScoringBeyondContext(fn, s, items);
  const out: number[] = [];
  const d = s.backbone.config.hiddenSize;
  for (let start = 0; start < items.length; start += rowsPerBatch) {
    const batch = items.slice(start, start + rowsPerBatch).map((it) => [...it.promptIds, ...it.responseIds]);
    const { ids, mask } = leftPad(batch, s.backbone.padId);
    const T = ids[0].length;
    if (isVocabHead(s.head)) {
      const rewards = vocabLastRewards(s.backbone, s.head, batch, ids, mask);
      out.push(...(await rewards.data()));
      rewards.dispose();
      continue;
    }
    const forward = s.backbone.forward({ ids, mask, logits: 'none' });
    const rewards = tf.tidy(() => {
      // Left padding: row b's sequence starts at T − length; its last token is at T − 1.
      const last = tf.tensor1d(Int32Array.from(batch, (seq, b) => b * T + T - seq.length + s.readIndex(seq, seq.length - 1)), 'int32');
      return s.head.apply(tf.gather(tf.reshape(forward.hidden, [-1, d]), last) as tf.Tensor2D); // [b]
    });
    forward.hidden.dispose();
    out.push(...(await rewards.data()));
    rewards.dispose();
  }
  return out;
}
