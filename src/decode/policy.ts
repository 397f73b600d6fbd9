/**
 * Pure next-token policy math on host arrays: no tensors, randomness injected as a uniform number, so
 * every rule here is unit-testable exactly (the llama2.c `sample_mult(probs, n, coin)` pattern).
 *
 * Tie-breaking everywhere: among equal values the lowest token id wins (torch.argmax does the same).
 */
import { DecodingError, OptionError } from '../errors.js';
import { boolean, checkArgument, custom, number, numbers, required, tagged } from '../options.js';

const iterable = () => required(custom('an iterable of token ids', (v) => v !== null && typeof v === 'object' && Symbol.iterator in v, [1, null, {}]));

/** log-softmax over the whole vocabulary, in float64. */
export function logSoftmax(logits: ArrayLike<number>): Float64Array {
  checkArgument('logSoftmax', 'logits', logits, required(numbers()));
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const logZ = max + Math.log(sum);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - logZ;
  return out;
}

/** Index of the largest value; the lowest index among ties. NaN never wins. */
export function argmax(values: ArrayLike<number>): number {
  checkArgument('argmax', 'values', values, required(numbers()));
  let best = -1;
  let bestValue = -Infinity;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > bestValue || (best === -1 && values[i] === bestValue)) {
      best = i;
      bestValue = values[i];
    }
  }
  if (best === -1) throw new OptionError('argmax: every value is NaN');
  return best;
}

/** The k indices with the largest values, largest first; ties ordered by lower index first. */
export function topKIndices(values: ArrayLike<number>, k: number): number[] {
  checkArgument('topKIndices', 'values', values, required(numbers()));
  if (!Number.isInteger(k) || k < 1 || k > values.length) {
    throw new OptionError(`topK must be an integer in [1, ${values.length}], got ${k}`);
  }
  if (k === values.length) {
    return Array.from({ length: k }, (_, i) => i).sort((a, b) => values[b] - values[a] || a - b);
  }
  // Keep a small sorted buffer: O(V·k) worst case, O(V) typical for k ≪ V.
  const idx: number[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (Number.isNaN(v)) continue;
    if (idx.length === k && v <= values[idx[k - 1]]) continue;
    let pos = idx.length;
    while (pos > 0 && values[idx[pos - 1]] < v) pos--;
    idx.splice(pos, 0, i);
    if (idx.length > k) idx.pop();
  }
  return idx;
}

/** softmax(scores / temperature) in float64. */
export function softmax(scores: ArrayLike<number>, temperature = 1): Float64Array {
  checkArgument('softmax', 'scores', scores, required(numbers()));
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new OptionError(`temperature must be a positive finite number, got ${temperature}`);
  }
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  const out = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) {
    out[i] = Math.exp((scores[i] - max) / temperature);
    sum += out[i];
  }
  for (let i = 0; i < out.length; i++) out[i] /= sum;
  return out;
}

/** Inverse-CDF draw: the first index whose cumulative probability exceeds `u` ∈ [0, 1). */
export function sampleIndex(probs: ArrayLike<number>, u: number): number {
  checkArgument('sampleIndex', 'probs', probs, required(numbers()));
  checkArgument('sampleIndex', 'u', u, required(number({ min: 0, max: 1 })));
  let cumulative = 0;
  let lastPositive = -1;
  for (let i = 0; i < probs.length; i++) {
    if (probs[i] <= 0) continue;
    cumulative += probs[i];
    lastPositive = i;
    if (u < cumulative) return i;
  }
  // Rounding can leave the total a hair below u; the draw then belongs to the last outcome with mass.
  if (lastPositive === -1) throw new OptionError('sampleIndex: no outcome has positive probability');
  return lastPositive;
}

/**
 * Nucleus filter: the smallest set of most probable indices whose mass reaches `topP` (at least one).
 * Returns the kept indices, most probable first.
 */
export function topPIndices(probs: ArrayLike<number>, topP: number): number[] {
  checkArgument('topPIndices', 'probs', probs, required(numbers()));
  if (!(topP > 0 && topP <= 1)) throw new OptionError(`topP must be in (0, 1], got ${topP}`);
  const order = Array.from({ length: probs.length }, (_, i) => i).sort((a, b) => probs[b] - probs[a] || a - b);
  const kept: number[] = [];
  let mass = 0;
  for (const i of order) {
    kept.push(i);
    mass += probs[i];
    if (mass >= topP) break;
  }
  return kept;
}

/** transformers' repetition penalty, in place: for each distinct seen id, logit·p if negative else logit/p. */
export function applyRepetitionPenalty(logits: Float32Array | Float64Array, seen: Iterable<number>, penalty: number): void {
  checkArgument('applyRepetitionPenalty', 'logits', logits, required(numbers()));
  checkArgument('applyRepetitionPenalty', 'seen', seen, iterable());
  checkArgument('applyRepetitionPenalty', 'penalty', penalty, required(number({ above: 0 })));
  if (penalty === 1) return;
  for (const id of new Set(seen)) {
    if (id < 0 || id >= logits.length) continue;
    logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
  }
}

/**
 * The tokenwise guided score of each candidate: log π_ref(v) + β·r(prefix ⊕ v). A reward that is not
 * finite (a diverged head), or a β·r that overflows, would turn the softmax into NaN and the draw into
 * noise, so it is a `DecodingError` naming β, the batch `row` and the candidate. log π_ref = −∞ (a
 * token the model rules out) stays legal: its score is −∞ and it is never chosen.
 */
export function guidedScores(logProbs: ArrayLike<number>, rewards: ArrayLike<number>, beta: number, row = 0): Float64Array {
  checkArgument('guidedScores', 'logProbs', logProbs, required(numbers()));
  checkArgument('guidedScores', 'rewards', rewards, required(numbers()));
  checkArgument('guidedScores', 'beta', beta, required(number()));
  if (!Number.isFinite(beta)) throw new DecodingError(`guided decoding: beta must be a finite number, got ${beta}`);
  const out = new Float64Array(logProbs.length);
  for (let i = 0; i < out.length; i++) {
    const weighted = beta * rewards[i];
    if (!Number.isFinite(weighted)) {
      const why = Number.isFinite(rewards[i]) ? `β·r overflows (β = ${beta}, r = ${rewards[i]}); use a smaller beta` : `the reward model returned r = ${rewards[i]} (β = ${beta}); its head or backbone holds non-finite weights`;
      throw new DecodingError(`guided decoding, row ${row}, candidate ${i}: ${why}`);
    }
    out[i] = logProbs[i] + weighted;
  }
  return out;
}

/**
 * How a guided step chooses among its candidates. `exact: true` (vocabulary reward heads) makes the
 * candidates the whole vocabulary — the untruncated policy, as `topK: V`.
 */
export type GuidedMode = { kind: 'sample'; temperature?: number; exact?: boolean } | { kind: 'greedy'; exact?: boolean };

/**
 * The candidate index to take: argmax of the scores (PARGS-G; ties to the lower index, i.e. the more
 * probable token under π_ref), or a draw from softmax(scores / temperature) (PARGS).
 */
export function chooseCandidate(scores: ArrayLike<number>, mode: GuidedMode, u: number): number {
  checkArgument('chooseCandidate', 'scores', scores, required(numbers()));
  checkArgument('chooseCandidate', 'mode', mode, required(tagged('kind', { greedy: { exact: boolean() }, sample: { temperature: number({ above: 0 }), exact: boolean() } })));
  let best = -Infinity;
  for (let i = 0; i < scores.length; i++) {
    if (Number.isNaN(scores[i]) || scores[i] === Infinity) throw new DecodingError(`guided decoding: candidate ${i} has score ${scores[i]}; every score must be finite (or −∞ for a ruled-out token)`);
    if (scores[i] > best) best = scores[i];
  }
  if (best === -Infinity) throw new DecodingError('guided decoding: every candidate has score −∞ (log π_ref = −∞); raise topK or check the logits');
  if (mode.kind === 'greedy') return argmax(scores);
  return sampleIndex(softmax(scores, mode.temperature ?? 1), u);
}
