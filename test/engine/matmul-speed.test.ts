import { beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { initBackend } from '../../src/engine/backend.js';
import { measureMatMulGflops } from '../../src/engine/matmul-speed.js';
import { tf } from '../../src/engine/tf.js';

describe('measureMatMulGflops', () => {
  beforeAll(async () => {
    await initBackend({ backend: 'wasm', log: () => {} });
  });

  it('returns a positive finite rate and disposes everything', () => {
    const before = tf.memory().numTensors;
    const gflops = measureMatMulGflops(64, 96, 32, { iterations: 3 });
    expect(Number.isFinite(gflops)).toBe(true);
    expect(gflops).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects non-positive or fractional sizes with OptionError', () => {
    expect(() => measureMatMulGflops(0, 4, 4)).toThrow(OptionError);
    expect(() => measureMatMulGflops(4, 2.5, 4)).toThrow(/k must be a positive integer/);
    expect(() => measureMatMulGflops(4, 4, 4, { iterations: 0 })).toThrow(OptionError);
  });
});
