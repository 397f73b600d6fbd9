/**
 * Matrix-product throughput of the active backend, for benchmarks and for telling users what
 * speed to expect (wasm SIMD is ~30× the plain-JS cpu backend on one core).
 */
import { OptionError } from '../errors.js';
import { tf } from './tf.js';

export interface MatMulSpeedOptions {
  /** Timed products (default 5). */
  iterations?: number;
  /** Untimed products first: the first call pays for kernel setup and memory growth (default 1). */
  warmup?: number;
  /** Seed of the random operands (default 0); values do not matter, only determinism does. */
  seed?: number;
}

function positiveInt(value: number, name: string, allowZero = false): number {
  if (!Number.isInteger(value) || value < (allowZero ? 0 : 1)) {
    throw new OptionError(`${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${value}`);
  }
  return value;
}

/**
 * Times `iterations` products of an m×k by a k×n float32 matrix on the current backend and
 * returns GFLOP/s, counting 2·m·k·n floating-point operations per product.
 */
export function measureMatMulGflops(m: number, k: number, n: number, opts: MatMulSpeedOptions = {}): number {
  positiveInt(m, 'm');
  positiveInt(k, 'k');
  positiveInt(n, 'n');
  const iterations = positiveInt(opts.iterations ?? 5, 'iterations');
  const warmup = positiveInt(opts.warmup ?? 1, 'warmup', true);
  const seed = opts.seed ?? 0;

  const a = tf.randomUniform([m, k], -1, 1, 'float32', seed); // [m, k]
  const b = tf.randomUniform([k, n], -1, 1, 'float32', seed + 1); // [k, n]
  try {
    // dataSync forces completion on backends that queue work (and is a no-op cost otherwise).
    const run = (): void => {
      const c = tf.matMul(a, b); // [m, n]
      c.dataSync();
      c.dispose();
    };
    for (let i = 0; i < warmup; i++) run();
    const start = performance.now();
    for (let i = 0; i < iterations; i++) run();
    const seconds = Math.max((performance.now() - start) / 1000, 1e-9);
    return (2 * m * k * n * iterations) / seconds / 1e9;
  } finally {
    a.dispose();
    b.dispose();
  }
}
