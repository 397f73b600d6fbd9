/**
 * Divergence checks. A NaN or ±Infinity in a loss, a gradient norm or a weight never recovers, and
 * everything computed from it is garbage that still looks like a model (JSON even writes NaN as null),
 * so training stops at the first one, before anything is saved, with the step and the value named.
 */
import { TrainingError } from '../errors.js';
import { tf } from './tf.js';

/** Index of the first NaN or ±Infinity in `data`, or −1. A plain loop, 2–3 ns per value. */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    // v − v is 0 for every finite v and NaN for NaN and ±Infinity.
    const v = data[i];
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * Throws a `TrainingError` if any of the named scalars (loss, gradient norm, ...) is not finite.
 * `where` names the caller, `step` is 1-based, `hint` says what to change.
 */
export function assertFiniteStep(where: string, step: number, values: Readonly<Record<string, number>>, hint: string): void {
  const bad = Object.entries(values).filter(([, v]) => !Number.isFinite(v));
  if (bad.length === 0) return;
  const list = bad.map(([name, v]) => `${name} = ${v}`).join(', ');
  throw new TrainingError(`${where}: training diverged at step ${step}: ${list}; nothing was saved for this step. ${hint}`);
}

/**
 * Throws a `TrainingError` naming every weight tensor that holds a NaN or ±Infinity. One reduction per
 * tensor on the device and a single small read: cheap next to the step that produced the weights.
 */
export function assertFiniteWeights(where: string, step: number, weights: ReadonlyMap<string, tf.Tensor> | readonly { name: string; variable: tf.Tensor }[], hint: string): void {
  const named = weights instanceof Map ? [...weights] : (weights as readonly { name: string; variable: tf.Tensor }[]).map((p) => [p.name, p.variable] as const);
  if (named.length === 0) return;
  const counts = tf.tidy(() => tf.stack(named.map(([, t]) => tf.sum(tf.cast(tf.logicalNot(tf.isFinite(t)), 'int32')))));
  const host = counts.dataSync();
  counts.dispose();
  const bad = named.flatMap(([name], i) => (host[i] > 0 ? [`"${name}" (${host[i]} of ${named[i][1].size} values)`] : []));
  if (bad.length === 0) return;
  throw new TrainingError(`${where}: training diverged at step ${step}: the update made weights NaN or infinite in ${bad.join(', ')}; nothing was saved for this step. ${hint}`);
}
