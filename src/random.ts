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
  validateSeed(seed, 'createRng');
  if (typeof stream !== 'string') throw new OptionError(`createRng: stream must be a string naming the purpose (e.g. 'decode'), got ${JSON.stringify(stream)}`);
  const prng = seedrandom(`pargs:${seed}:${stream}`);
  return () => prng.double();
}

/** A resumable stream: `state()` captures the exact position, and restoring it continues bit for bit. */
export interface StatefulRng {
  next: Rng;
  /** A JSON-serialisable snapshot of the generator (a copy: later draws do not change it). */
  state(): RngState;
}

/** seedrandom's ARC4 state: two indices and the 256-entry permutation. */
export interface RngState {
  i: number;
  j: number;
  S: number[];
}

function isRngState(value: unknown): value is RngState {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return Number.isInteger(v.i) && Number.isInteger(v.j) && Array.isArray(v.S) && v.S.length === 256 && v.S.every((x) => Number.isInteger(x));
}

/**
 * The named sub-stream `stream` of `seed`, like `createRng`, but resumable: pass a snapshot from
 * `state()` as `restore` to continue exactly where that snapshot was taken (training checkpoints).
 */
export function createStatefulRng(seed: number, stream: string, restore?: RngState): StatefulRng {
  if (restore !== undefined && !isRngState(restore)) {
    throw new OptionError(`createStatefulRng: the saved state for stream "${stream}" is malformed`);
  }
  const prng = restore
    ? seedrandom('', { state: { i: restore.i, j: restore.j, S: [...restore.S] } })
    : seedrandom(`pargs:${seed}:${stream}`, { state: true });
  return {
    next: () => prng.double(),
    state: () => {
      const s = prng.state();
      return { i: s.i, j: s.j, S: [...s.S] };
    },
  };
}
