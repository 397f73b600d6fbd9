/**
 * Training examples of the head: one example = one aligned prefix pair (pair p, prefix row j), as in the
 * paper's official code, where each (pair, i) is its own example and long pairs weigh more. Epoch order
 * and prefix sampling come from sub-streams keyed by epoch, so the batches of any step can be rebuilt
 * from the step number alone — which is what makes resume exact without saving RNG state.
 */
import { createRng } from '../random.js';
import type { PrefixFeatures } from './features.js';
import type { TokenPair } from './prefixes.js';

export type PrefixSelection = { kind: 'all' } | { kind: 'sample'; perPair: number };
export type Weighting = 'per-prefix' | 'per-pair';

export interface Example {
  pair: number;
  /** Row of the pair's feature block (same row for both sides: prefixes are aligned). */
  row: number;
  /** Loss weight: 1 (per-prefix), or 1 / (examples of this pair in the epoch) (per-pair). */
  weight: number;
}

function shuffleInPlace<T>(items: T[], rng: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
}

/** The shuffled examples of one epoch. */
export function epochExamples(features: Pick<PrefixFeatures, 'plans' | 'pairIndices'>, selection: PrefixSelection, weighting: Weighting, seed: number, epoch: number): Example[] {
  const sampler = createRng(seed, `prefix-sample:${epoch}`);
  const examples: Example[] = [];
  for (const pair of features.pairIndices) {
    const n = (features.plans[pair]?.prefixLengths.length ?? 0);
    let rows = Array.from({ length: n }, (_, j) => j);
    if (selection.kind === 'sample' && selection.perPair < n) {
      shuffleInPlace(rows, sampler);
      rows = rows.slice(0, selection.perPair).sort((a, b) => a - b);
    }
    const weight = weighting === 'per-pair' ? 1 / rows.length : 1;
    for (const row of rows) examples.push({ pair, row, weight });
  }
  shuffleInPlace(examples, createRng(seed, `data-order:${epoch}`));
  return examples;
}

/** Examples per epoch (the same every epoch: sampling draws a fixed count per pair). */
export function examplesPerEpoch(features: Pick<PrefixFeatures, 'plans' | 'pairIndices'>, selection: PrefixSelection): number {
  let total = 0;
  for (const pair of features.pairIndices) {
    const n = features.plans[pair]?.prefixLengths.length ?? 0;
    total += selection.kind === 'sample' ? Math.min(n, selection.perPair) : n;
  }
  return total;
}

/**
 * Each pair's Bradley–Terry margin (its own, else `fallback`), or undefined when no pair has its own,
 * so that the common case keeps the single global margin.
 */
export function pairMargins(pairs: readonly TokenPair[], fallback: number): number[] | undefined {
  if (!pairs.some((p) => p.margin !== undefined)) return undefined;
  return pairs.map((p) => p.margin ?? fallback);
}

/** Host feature rows of a batch: chosen and rejected [n, d], weights [n], and margins [n] when given per pair. */
export function gatherBatch(
  features: PrefixFeatures,
  batch: readonly Example[],
  margins?: readonly number[],
): { chosen: Float32Array; rejected: Float32Array; weights: Float32Array; margins?: Float32Array } {
  const d = features.dim;
  const chosen = new Float32Array(batch.length * d);
  const rejected = new Float32Array(batch.length * d);
  const weights = new Float32Array(batch.length);
  const exampleMargins = margins ? new Float32Array(batch.length) : undefined;
  batch.forEach((e, i) => {
    chosen.set(features.store.get(e.pair, 0).subarray(e.row * d, (e.row + 1) * d), i * d);
    rejected.set(features.store.get(e.pair, 1).subarray(e.row * d, (e.row + 1) * d), i * d);
    weights[i] = e.weight;
    if (exampleMargins && margins) exampleMargins[i] = margins[e.pair];
  });
  return exampleMargins ? { chosen, rejected, weights, margins: exampleMargins } : { chosen, rejected, weights };
}
