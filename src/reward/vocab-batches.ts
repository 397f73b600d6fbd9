/**
 * The batches of a vocabulary-head run, in order, rebuilt from the seed alone (so a resumed run needs
 * only its step index): for 'bt-prefix' the linear head's prefix examples, for 'farma' per round one
 * epoch of complete responses, then one of chosen prefixes (see vocab-train.ts).
 */
import { createRng } from '../random.js';
import { epochExamples } from './examples.js';
import type { PrefixFeatures } from './features.js';
import type { TokenPair } from './prefixes.js';
import type { Resolved } from './train-options.js';


/** The resolved training options a vocabulary-head run reads (a subset of trainPartialRM's). */
export type VocabTrainSettings = Pick<Resolved, 'objective' | 'mode' | 'head' | 'prefix' | 'weighting' | 'epochs' | 'batchSize' | 'lr' | 'weightDecay' | 'warmupRatio' | 'clip' | 'margin' | 'seed'>;

/** One batch: Bradley–Terry rows (chosen and rejected state + token) or consistency rows (before, token, after). */
export type Batch =
  | { stage: 'bt-prefix' | 'bt-complete'; items: { pair: number; chosenRow: number; chosenToken: number; rejectedRow: number; rejectedToken: number; weight: number }[] }
  | { stage: 'max-consistency'; items: { pair: number; row: number; token: number }[] };

function shuffled<T>(items: T[], seed: number, stream: string): T[] {
  const rng = createRng(seed, stream);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Every batch of the run, in order: rebuilt from the seed alone. */
export function vocabBatches(f: Pick<PrefixFeatures, 'plans' | 'pairIndices'>, pairs: readonly TokenPair[], s: VocabTrainSettings): Batch[] {
  const out: Batch[] = [];
  const token = (pair: number, side: 0 | 1, i: number): number => {
    const plan = f.plans[pair]!;
    const sequence = side === 0 ? plan.chosenSequence : plan.rejectedSequence;
    return sequence[pairs[pair].promptIds.length + i - 1];
  };
  for (let epoch = 0; epoch < s.epochs; epoch++) {
    if (s.objective === 'bt-prefix') {
      // Prefix i of a pair: states row i − 1 on both sides (aligned), tokens y_i of each side.
      const examples = epochExamples(f, s.prefix, s.weighting, s.seed, epoch).map((e) => {
        const i = f.plans[e.pair]!.prefixLengths[e.row];
        return { pair: e.pair, chosenRow: i - 1, chosenToken: token(e.pair, 0, i), rejectedRow: i - 1, rejectedToken: token(e.pair, 1, i), weight: e.weight };
      });
      for (const items of chunk(examples, s.batchSize)) out.push({ stage: 'bt-prefix', items });
      continue;
    }
    // FaRMA round: complete responses (unpadded lengths, capped at the aligned length), then chosen prefixes.
    const complete = shuffled(f.pairIndices.map((pair) => {
      const L = f.plans[pair]!.alignedLength;
      const lc = Math.min(pairs[pair].chosenIds.length, L);
      const lr = Math.min(pairs[pair].rejectedIds.length, L);
      return { pair, chosenRow: lc - 1, chosenToken: token(pair, 0, lc), rejectedRow: lr - 1, rejectedToken: token(pair, 1, lr), weight: 1 };
    }), s.seed, `farma-bt:${epoch}`);
    for (const items of chunk(complete, s.batchSize)) out.push({ stage: 'bt-complete', items });
    const prefixes = shuffled(f.pairIndices.flatMap((pair) => f.plans[pair]!.prefixLengths.map((i) => ({ pair, row: i - 1, token: token(pair, 0, i) }))), s.seed, `farma-max:${epoch}`);
    for (const items of chunk(prefixes, s.batchSize)) out.push({ stage: 'max-consistency', items });
  }
  return out;
}
