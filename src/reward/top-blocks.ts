/**
 * The math of a reward model whose top m blocks train with its head: from the cached residual entering
 * layer N − m (residual-pass.ts), one forward of the top blocks per sequence gives the final hidden state
 * at every prefix end (causal attention), and the head reads them. Shared by training (inside a gradient
 * tape), by evaluation and by the finite-difference test.
 */
import { tf } from '../engine/tf.js';
import { leftPad, type CausalLM } from '../lm/causal-lm.js';
import type { TransformerParams } from '../lm/params.js';
import type { Example } from './examples.js';
import { FeatureStore } from './feature-store.js';
import type { PrefixFeatures } from './features.js';
import type { RewardHead } from './head.js';

/** A batch of whole sequences (both sides of each pair involved) and, per example, the rows to read. */
export interface SequenceBatch {
  residual: Float32Array; // [B·T·d], left-padded
  mask: number[][]; // [B, T]
  /** Row of the flattened [B·T] states each example reads, chosen and rejected. */
  chosenRows: Int32Array;
  rejectedRows: Int32Array;
}

/** Stacks the cached residuals of every pair the examples touch (chosen, rejected), left-padded. */
export function sequenceBatch(features: PrefixFeatures, examples: readonly Pick<Example, 'pair' | 'row'>[]): SequenceBatch {
  const d = features.dim;
  const pairs = [...new Set(examples.map((e) => e.pair))];
  const slot = new Map(pairs.map((p, k) => [p, k]));
  const states = pairs.flatMap((p) => [features.store.get(p, 0), features.store.get(p, 1)]);
  const lengths = states.map((s) => s.length / d);
  const { mask } = leftPad(lengths.map((n) => new Array<number>(n).fill(0)), 0);
  const T = mask[0].length;
  const residual = new Float32Array(states.length * T * d);
  states.forEach((s, b) => residual.set(s, (b * T + T - lengths[b]) * d));
  const rowOf = (b: number, position: number): number => b * T + T - lengths[b] + position;
  const chosenRows = new Int32Array(examples.length);
  const rejectedRows = new Int32Array(examples.length);
  examples.forEach((e, i) => {
    const plan = features.plans[e.pair];
    if (!plan) throw new Error(`top blocks: pair ${e.pair} has no plan`);
    const k = slot.get(e.pair) as number;
    chosenRows[i] = rowOf(2 * k, plan.chosenPositions[e.row]);
    rejectedRows[i] = rowOf(2 * k + 1, plan.rejectedPositions[e.row]);
  });
  return { residual, mask, chosenRows, rejectedRows };
}

/** Rewards of a batch's chosen and rejected rows through the top blocks (`params`) and the head: [n] each. */
export function topBlockRewards(backbone: CausalLM, params: TransformerParams, fromLayer: number, head: RewardHead, batch: SequenceBatch): { chosen: tf.Tensor1D; rejected: tf.Tensor1D } {
  const d = backbone.config.hiddenSize;
  const rows = batch.mask.length * batch.mask[0].length;
  const residual = tf.tensor2d(batch.residual, [rows, d]); // [B·T, d]
  const final = backbone.forwardFrom({ residual, mask: batch.mask, fromLayer }, params); // [B·T, d]
  residual.dispose();
  const chosen = head.apply(tf.gather(final, tf.tensor1d(batch.chosenRows, 'int32')) as tf.Tensor2D); // [n]
  const rejected = head.apply(tf.gather(final, tf.tensor1d(batch.rejectedRows, 'int32')) as tf.Tensor2D); // [n]
  return { chosen, rejected };
}

/**
 * Final hidden states at every planned position, from residual features through the top blocks: the
 * features a head-only pass would have given on the trained backbone (for diagnostics). `pairsPerCall`
 * bounds the sequences of one forward.
 */
export async function finalStatesFromResidual(features: PrefixFeatures, backbone: CausalLM, params: TransformerParams, pairsPerCall = 8): Promise<PrefixFeatures> {
  const from = features.residualFrom as number;
  const d = features.dim;
  const store = new FeatureStore(d, features.store.memoryBudgetBytes);
  try {
    for (let start = 0; start < features.pairIndices.length; start += pairsPerCall) {
      const chunk = features.pairIndices.slice(start, start + pairsPerCall);
      const examples = chunk.flatMap((pair) => (features.plans[pair]?.chosenPositions ?? []).map((_, row) => ({ pair, row })));
      const batch = sequenceBatch(features, examples);
      const picked = tf.tidy(() => {
        const residual = tf.tensor2d(batch.residual, [batch.mask.length * batch.mask[0].length, d]); // [B·T, d]
        const final = backbone.forwardFrom({ residual, mask: batch.mask, fromLayer: from }, params); // [B·T, d]
        return [tf.gather(final, tf.tensor1d(batch.chosenRows, 'int32')), tf.gather(final, tf.tensor1d(batch.rejectedRows, 'int32'))]; // [n, d] each
      });
      const [chosen, rejected] = (await Promise.all(picked.map((t) => t.data()))) as Float32Array[];
      picked.forEach((t) => t.dispose());
      let offset = 0;
      for (const pair of chunk) {
        const n = (features.plans[pair]?.chosenPositions.length ?? 0) * d;
        store.put(pair, 0, chosen.slice(offset, offset + n));
        store.put(pair, 1, rejected.slice(offset, offset + n));
        offset += n;
      }
    }
  } catch (err) {
    store.dispose();
    throw err;
  }
  const { residualFrom: _from, ...rest } = features;
  return { ...rest, store };
}
