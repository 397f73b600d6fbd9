/**
 * One optimizer step of `trainable: top-blocks`, split to fit memory. A step's examples touch whole
 * sequences (both sides of each pair), and the top blocks keep every layer's activations for backprop
 * over all of them, so a batch of long pairs can need more than the wasm heap (an HH batch of 128 full
 * pairs through 2 blocks of the bundled model: ≈ 3 GiB). The examples are grouped by pair into chunks
 * whose forward and backward fit the budget; each chunk's loss is scaled by its share of the batch's
 * loss (its examples, or its loss weights), so the summed gradients equal one step over the whole batch
 * up to float32 summation order. A batch that fits runs as one chunk, unscaled, exactly as before.
 */
import { tf } from '../engine/tf.js';
import { formatBytes, type MemoryBudget, USABLE_FRACTION } from '../engine/memory-budget.js';
import { OptionError } from '../errors.js';
import { topBlocksStepBytes } from '../lm/activation-memory.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { TransformerParams } from '../lm/params.js';
import type { Example } from './examples.js';
import type { PrefixFeatures } from './features.js';
import type { RewardHead } from './head.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import { sequenceBatch, topBlockRewards } from './top-blocks.js';

/** Bytes one chunk's forward and backward may use: the budget less the blocks' gradients (raw, clipped, summed). */
export function chunkBudgetBytes(budget: MemoryBudget, trainableBytes: number): number {
  return budget.availableBytes * USABLE_FRACTION - 3 * trainableBytes;
}

/**
 * The batch's examples grouped into chunks of whole pairs, in order of first appearance, each within
 * `budgetBytes` by `topBlocksStepBytes` (the whole batch, unchanged, when it fits). A single pair that
 * does not fit is an OptionError.
 */
export function planStepChunks(features: PrefixFeatures, batch: readonly Example[], backbone: CausalLM, blocks: number, budgetBytes: number, limit: string): Example[][] {
  const d = features.dim;
  const byPair = new Map<number, Example[]>();
  for (const e of batch) (byPair.get(e.pair) ?? byPair.set(e.pair, []).get(e.pair))?.push(e);
  const length = (pair: number): number => Math.max(features.store.get(pair, 0).length, features.store.get(pair, 1).length) / d;
  const bytes = (pairs: number, tokens: number): number => topBlocksStepBytes(backbone.config, blocks, 2 * pairs, tokens);
  const lengths = [...byPair.keys()].map(length);
  // A batch that fits stays one chunk in its own order (the step as it is without splitting).
  if (bytes(byPair.size, Math.max(...lengths)) <= budgetBytes) return [[...batch]];
  const chunks: Example[][] = [];
  let current: Example[] = [];
  let pairs = 0;
  let longest = 0;
  for (const [pair, examples] of byPair) {
    const T = length(pair);
    if (bytes(1, T) > budgetBytes) {
      throw new OptionError(`trainPartialRM: pair ${pair} (${T} tokens) needs ${formatBytes(bytes(1, T))} to train ${blocks} top block(s), more than the ${formatBytes(Math.max(0, budgetBytes))} left under ${limit}; train fewer blocks (--unfreeze), drop long pairs (maxLength) or raise PARGS_MEMORY_LIMIT`);
    }
    if (pairs > 0 && bytes(pairs + 1, Math.max(longest, T)) > budgetBytes) {
      chunks.push(current);
      [current, pairs, longest] = [[], 0, 0];
    }
    current.push(...examples);
    pairs++;
    longest = Math.max(longest, T);
  }
  if (current.length) chunks.push(current);
  return chunks;
}

export interface BlockStepInput {
  backbone: CausalLM;
  params: TransformerParams;
  fromLayer: number;
  head: RewardHead;
  features: PrefixFeatures;
  chunks: readonly Example[][];
  variables: tf.Variable[];
  margin: number;
  /** Per-pair margins (indexed by pair), or undefined. */
  margins?: readonly number[];
  weighted: boolean;
}

/**
 * Loss, summed gradients (by variable name) and the chosen − rejected gaps of one step over its chunks.
 * Call inside tf.tidy; every chunk's tape is freed before the next chunk runs.
 */
export function blockStepGradients(o: BlockStepInput): { value: tf.Scalar; grads: Record<string, tf.Tensor>; gap: tf.Tensor1D } {
  const total = o.chunks.reduce((s, c) => s + (o.weighted ? c.reduce((w, e) => w + e.weight, 0) : c.length), 0);
  let value: tf.Scalar | undefined;
  const grads: Record<string, tf.Tensor> = {};
  const gaps: tf.Tensor1D[] = [];
  for (const chunk of o.chunks) {
    const share = (o.weighted ? chunk.reduce((w, e) => w + e.weight, 0) : chunk.length) / total;
    const weights = o.weighted ? tf.tensor1d(Float32Array.from(chunk, (e) => e.weight)) : undefined; // [n]
    const pairMargin = o.margins ? tf.tensor1d(Float32Array.from(chunk, (e) => (o.margins as readonly number[])[e.pair])) : undefined; // [n]
    const sequences = sequenceBatch(o.features, chunk);
    const step = tf.variableGrads(() => {
      const { chosen, rejected } = topBlockRewards(o.backbone, o.params, o.fromLayer, o.head, sequences); // [n] each
      gaps.push(tf.keep(tf.sub(chosen, rejected)));
      const loss = bradleyTerryPrefixLoss(chosen, rejected, { margin: o.margin, margins: pairMargin, weights });
      return o.chunks.length === 1 ? loss : (tf.mul(loss, share) as tf.Scalar);
    }, o.variables);
    weights?.dispose();
    pairMargin?.dispose();
    value = value ? addAndFree(value, step.value) : step.value;
    for (const [name, g] of Object.entries(step.grads)) grads[name] = grads[name] ? addAndFree(grads[name], g) : g;
  }
  const gap = gaps.length === 1 ? gaps[0] : (tf.concat(gaps) as tf.Tensor1D); // [batch]
  if (gaps.length > 1) gaps.forEach((g) => g.dispose());
  return { value: value as tf.Scalar, grads, gap };
}

function addAndFree<T extends tf.Tensor>(a: T, b: T): T {
  const sum = tf.add(a, b) as T;
  a.dispose();
  b.dispose();
  return sum;
}
