/** Shared test utilities: deterministic data (no Math.random) and backend switching. */
import { tf } from '../../src/engine/tf.js';

/** mulberry32: a tiny seeded PRNG, so every run and both backends see the same numbers. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `size` values uniform in [-1, 1) from `seed`. */
export function randomValues(size: number, seed: number): Float32Array {
  const next = seededRandom(seed);
  const out = new Float32Array(size);
  for (let i = 0; i < size; i++) out[i] = 2 * next() - 1;
  return out;
}

export function sizeOf(shape: number[]): number {
  return shape.reduce((p, d) => p * d, 1);
}

/** Runs `fn` with `name` as the active backend (already initialised) and returns its result. */
export async function onBackend<T>(name: 'wasm' | 'cpu', fn: () => T): Promise<T> {
  if (!(await tf.setBackend(name))) throw new Error(`cannot switch to ${name}`);
  return fn();
}

/** Largest |a[i] - b[i]| (Infinity on length mismatch). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
