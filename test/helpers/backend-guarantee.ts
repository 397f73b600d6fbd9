/**
 * The reproducibility guarantee each backend gives, as test assertions (docs/guide.md "Backends"):
 * - WebAssembly and cpu: bit-identical across workers, resume, fused vs separate — compared exactly.
 * - native TensorFlow: its kernels pick their blocking (and so their rounding) by batch shape, and oneDNN
 *   reorders sums, so the same number computed in a batch of 2 or of 8 differs in the last bits. There,
 *   token ids, texts and every other non-number must be identical, and every number must agree within
 *   NATIVE_RTOL relative (+ NATIVE_ATOL absolute) — measured differences are ~1e-7 relative.
 */
import { expect } from 'vitest';
import { tf } from '../../src/engine/tf.js';

export const NATIVE_RTOL = 1e-5;
export const NATIVE_ATOL = 1e-6;

/** True where results must be bit-identical: every backend but native TensorFlow (default: the active one). */
export function exactBackend(backend: string = tf.getBackend()): boolean {
  return backend !== 'tensorflow';
}

/** Paths (like `[3].trace[0].reward`) where two values break the native guarantee. */
function mismatches(actual: unknown, expected: unknown, path: string, out: string[]): void {
  if (out.length >= 5) return;
  if (typeof expected === 'number' && typeof actual === 'number') {
    const ok = Object.is(actual, expected) || Math.abs(actual - expected) <= NATIVE_ATOL + NATIVE_RTOL * Math.abs(expected);
    if (!ok) out.push(`${path}: ${actual} vs ${expected}`);
    return;
  }
  if (ArrayBuffer.isView(expected) && ArrayBuffer.isView(actual)) {
    const a = Array.from(actual as unknown as ArrayLike<number>);
    const e = Array.from(expected as unknown as ArrayLike<number>);
    if (a.length !== e.length) out.push(`${path}: length ${a.length} vs ${e.length}`);
    else for (let i = 0; i < e.length; i++) mismatches(a[i], e[i], `${path}[${i}]`, out);
    return;
  }
  if (Array.isArray(expected) && Array.isArray(actual)) {
    if (actual.length !== expected.length) out.push(`${path}: length ${actual.length} vs ${expected.length}`);
    else expected.forEach((e, i) => mismatches(actual[i], e, `${path}[${i}]`, out));
    return;
  }
  if (expected !== null && typeof expected === 'object' && actual !== null && typeof actual === 'object') {
    const keys = new Set([...Object.keys(expected), ...Object.keys(actual)]);
    for (const k of keys) mismatches((actual as Record<string, unknown>)[k], (expected as Record<string, unknown>)[k], `${path}.${k}`, out);
    return;
  }
  if (!Object.is(actual, expected)) out.push(`${path}: ${JSON.stringify(actual)} vs ${JSON.stringify(expected)}`);
}

/**
 * Asserts the backend's reproducibility guarantee between two results of the same computation;
 * `backend` names the one that computed them when that was another process.
 */
export function expectReproduced(actual: unknown, expected: unknown, backend?: string): void {
  if (exactBackend(backend)) {
    expect(actual).toEqual(expected);
    return;
  }
  const out: string[] = [];
  mismatches(actual, expected, '$', out);
  expect(out, `native results differ beyond ${NATIVE_RTOL} relative + ${NATIVE_ATOL} absolute`).toEqual([]);
}
