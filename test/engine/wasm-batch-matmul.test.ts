/** The XNNPACK-per-batch wasm BatchMatMul kernel against the plain-JS cpu backend. */
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../../src/engine/backend.js';
import { tf } from '../../src/engine/tf.js';
import { maxAbsDiff, onBackend, randomValues, sizeOf } from './helpers.js';

beforeAll(async () => {
  await initBackend({ backend: 'wasm' });
  await tf.setBackend('cpu');
  await tf.setBackend('wasm');
});

const CASES: { label: string; a: number[]; b: number[]; tA?: boolean; tB?: boolean }[] = [
  { label: '4-D attention scores', a: [2, 3, 5, 4], b: [2, 3, 4, 6] },
  { label: '3-D', a: [4, 7, 3], b: [4, 3, 2] },
  { label: 'b shared by every batch entry', a: [3, 5, 4], b: [4, 6] },
  { label: 'a shared by every batch entry', a: [1, 5, 4], b: [3, 4, 6] },
  { label: 'transposed (stock kernel)', a: [2, 4, 5], b: [2, 6, 4], tA: true, tB: true },
];

describe('wasm BatchMatMul', () => {
  it.each(CASES)('$label matches the cpu backend', async ({ a, b, tA = false, tB = false }) => {
    const run = (): Float32Array =>
      tf.tidy(() => tf.matMul(tf.tensor(randomValues(sizeOf(a), 1), a), tf.tensor(randomValues(sizeOf(b), 2), b), tA, tB).dataSync() as Float32Array);
    const wasm = await onBackend('wasm', run);
    const cpu = await onBackend('cpu', run);
    await tf.setBackend('wasm');
    expect(wasm.length).toBe(cpu.length);
    expect(maxAbsDiff(wasm, cpu)).toBeLessThan(1e-5);
  });

  it('leaves no tensors behind', async () => {
    await tf.setBackend('wasm');
    const x = tf.tensor(randomValues(2 * 3 * 4, 3), [2, 3, 4]);
    const y = tf.tensor(randomValues(2 * 4 * 5, 4), [2, 4, 5]);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) tf.matMul(x, y).dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([x, y]);
  });
});
