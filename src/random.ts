/**
 * Seeded randomness. Every random choice in pargs draws from a named sub-stream of one user seed, so
 * adding a draw to one stream (say, data order) never shifts another (say, decoding).
 */
import seedrandom from 'seedrandom';
import { OptionError } from './errors.js';

/** A source of uniform numbers in [0, 1). */
export type Rng = () => number;

export function validateSeed(seed: unknown, where: string): number {
  if (typeof seed !== 'number' || !Number.isSafeInteger(seed)) {
    throw new OptionError(`${where}: seed must be a safe integer, got ${JSON.stringify(seed)}`);
  }
  return seed;
}

/** The named sub-stream `stream` of `seed` (e.g. 'decode', 'data-order', 'head-init'). */
export function createRng(seed: number, stream: string): Rng {
  const prng = seedrandom(`pargs:${seed}:${stream}`);
  return () => prng.double();
}
