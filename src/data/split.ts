/**
 * splitPairs: a seeded train/eval split. The eval rows are chosen by a shuffle on the 'split' stream of
 * the seed, so the same seed always holds out the same rows and changing the training order (its own
 * stream) never moves a row across the split. Both parts keep the input order: ordering for training
 * is the trainer's job.
 */
import { OptionError } from '../errors.js';
import { checkArgument, checkOptions, custom, integer, number, required, type Schema } from '../options.js';
import { createRng, validateSeed } from '../random.js';

export type SplitOptions = { seed: number } & ({ evalFraction: number; evalCount?: undefined } | { evalCount: number; evalFraction?: undefined });

export interface Split<T> {
  train: T[];
  eval: T[];
}

function evalSize(n: number, options: SplitOptions): number {
  const { evalFraction, evalCount } = options as { evalFraction?: number; evalCount?: number };
  if ((evalFraction === undefined) === (evalCount === undefined)) {
    throw new OptionError('splitPairs: give exactly one of evalFraction and evalCount');
  }
  if (evalCount !== undefined) {
    if (!Number.isInteger(evalCount) || evalCount < 0 || evalCount > n) {
      throw new OptionError(`splitPairs: evalCount must be an integer from 0 to the number of pairs (${n}), got ${evalCount}`);
    }
    return evalCount;
  }
  if (typeof evalFraction !== 'number' || !(evalFraction >= 0 && evalFraction <= 1)) {
    throw new OptionError(`splitPairs: evalFraction must be a number from 0 to 1, got ${evalFraction}`);
  }
  return Math.round(evalFraction * n);
}

export const SPLIT_SCHEMA: Schema = { seed: required(integer()), evalFraction: number(), evalCount: integer() };

export function splitPairs<T>(pairs: readonly T[], options: SplitOptions): Split<T> {
  checkArgument('splitPairs', 'pairs', pairs, required(custom('an array', Array.isArray, ['pairs', {}, 1])));
  checkOptions('splitPairs', options, SPLIT_SCHEMA);
  const seed = validateSeed(options.seed, 'splitPairs');
  const k = evalSize(pairs.length, options);
  const rng = createRng(seed, 'split');
  const order = pairs.map((_, i) => i);
  // Fisher–Yates; only the first k positions are needed, so stop once they are fixed.
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (order.length - i));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const held = new Set(order.slice(0, k));
  const train: T[] = [];
  const evalPart: T[] = [];
  pairs.forEach((pair, i) => (held.has(i) ? evalPart : train).push(pair));
  return { train, eval: evalPart };
}
