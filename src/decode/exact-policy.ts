/**
 * The exact tokenwise policy of one row, π(v) ∝ π_ref(v)·exp(β·R[v]) over the whole vocabulary, in
 * few passes over V and no V-sized allocation per row: this host work is what the exact policy costs
 * over plain decoding (the head row itself is one [d, V] matmul, as large as the LM head).
 *
 * The same numbers as policy.ts's composition logSoftmax → guidedScores → chooseCandidate (the
 * reference the tests compare with), up to float rounding: score(v) = log π_ref(v) + β·R[v], greedy is
 * the argmax (lowest id among ties), sampling the inverse-CDF draw of softmax(score / temperature).
 */
import { DecodingError } from '../errors.js';
import type { GuidedMode } from './policy.js';

export interface ExactChoice {
  tokenId: number;
  /** log π_ref of the chosen token. */
  logProb: number;
  reward: number;
  /** log π_ref + β·R of the chosen token. */
  score: number;
  /** log-probability of the chosen token under the policy itself (0 in greedy mode). */
  policyLogProb: number;
  /** log Σ exp(logits): log π_ref(v) = logits[v] − logZ, for the trace. */
  logZ: number;
}

/** log Σ_v exp(x_v) in two passes (max, then the sum), as logSoftmax computes it. */
export function logSumExp(x: ArrayLike<number>): number {
  let max = -Infinity;
  for (let i = 0; i < x.length; i++) if (x[i] > max) max = x[i];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += Math.exp(x[i] - max);
  return max + Math.log(sum);
}

/**
 * Chooses the next token of one row from its logits [V] and vocabulary rewards [V]. `scratch` is a
 * caller-owned buffer of at least V entries (reused across rows and steps). `u` ∈ [0, 1) is the row's
 * uniform draw for this step (consumed in greedy mode too, as the k-candidate path does).
 */
export function exactPolicyChoice(logits: Float32Array, rewards: Float32Array, beta: number, mode: GuidedMode, u: number, row: number, scratch: Float64Array): ExactChoice {
  const V = logits.length;
  const logZ = logSumExp(logits);
  if (logZ === -Infinity) throw new DecodingError(`guided decoding, row ${row}: every candidate has score −∞ (every logit is −∞); check the logits`);
  const inverseT = mode.kind === 'sample' ? 1 / (mode.temperature ?? 1) : 1;
  // Pass 1: scores, their checks and their maximum.
  let best = -Infinity;
  let bestId = -1;
  for (let v = 0; v < V; v++) {
    const weighted = beta * rewards[v];
    if (!Number.isFinite(weighted)) {
      const why = Number.isFinite(rewards[v]) ? `β·r overflows (β = ${beta}, r = ${rewards[v]}); use a smaller beta` : `the reward model returned r = ${rewards[v]} (β = ${beta}); its head or backbone holds non-finite weights`;
      throw new DecodingError(`guided decoding, row ${row}, candidate ${v}: ${why}`);
    }
    const score = logits[v] - logZ + weighted;
    if (Number.isNaN(score) || score === Infinity) throw new DecodingError(`guided decoding: candidate ${v} has score ${score}; every score must be finite (or −∞ for a ruled-out token)`);
    scratch[v] = score;
    if (score > best) {
      best = score;
      bestId = v;
    }
  }
  if (bestId === -1) throw new DecodingError(`guided decoding, row ${row}: every candidate has score −∞; check the logits`);
  if (mode.kind === 'greedy') return { tokenId: bestId, logProb: logits[bestId] - logZ, reward: rewards[bestId], score: best, policyLogProb: 0, logZ };
  // Pass 2: unnormalised probabilities exp((score − max) / T), kept in place, and their sum.
  let sum = 0;
  for (let v = 0; v < V; v++) {
    const p = Math.exp((scratch[v] - best) * inverseT);
    scratch[v] = p;
    sum += p;
  }
  // Pass 3 (partial): the inverse-CDF draw against u·sum.
  const target = u * sum;
  let cumulative = 0;
  let tokenId = -1;
  for (let v = 0; v < V; v++) {
    if (scratch[v] <= 0) continue;
    cumulative += scratch[v];
    tokenId = v;
    if (target < cumulative) break;
  }
  // The chosen token's score, recomputed: the buffer now holds probabilities.
  const score = logits[tokenId] - logZ + beta * rewards[tokenId];
  return { tokenId, logProb: logits[tokenId] - logZ, reward: rewards[tokenId], score, policyLogProb: (score - best) * inverseT - Math.log(sum), logZ };
}
