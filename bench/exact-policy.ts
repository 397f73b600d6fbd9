/**
 * The exact policy's host work per step, alone: the composition of policy.ts (log-softmax over V, the
 * guided scores, the draw from softmax(scores), the policy log-probability, the trace's top-10 — what
 * guided-vocab.ts ran before exact-policy.ts) against exactPolicyChoice plus the same trace, on the same
 * rows, interleaved per round. Rows of random logits and rewards, B = 8, V = 4096 (the bundled model)
 * and 50257 (GPT-2). Both must choose the same tokens; the bench checks it.
 *
 *   npx tsx bench/exact-policy.ts [--rounds R]   (default 7; 64 steps of B rows per round and method)
 */
import { exactPolicyChoice } from '../src/decode/exact-policy.js';
import { chooseCandidate, guidedScores, logSoftmax, topKIndices } from '../src/decode/policy.js';
import { createRng } from '../src/random.js';
import { intFlag, loadAverage, median, round } from './common.js';

const rounds = intFlag('rounds', 7);
const B = 8;
const STEPS = 64;
const BETA = 2;

/** The composed reference: returns the chosen ids, so both variants do (and are checked to do) the same work. */
function composed(logits: Float32Array, rewards: Float32Array, V: number, u: number[]): number[] {
  const ids: number[] = [];
  for (let b = 0; b < B; b++) {
    const lp = logSoftmax(logits.subarray(b * V, (b + 1) * V));
    const scores = guidedScores(lp, rewards.subarray(b * V, (b + 1) * V), BETA, b);
    const j = chooseCandidate(scores, { kind: 'sample' }, u[b]);
    let max = -Infinity;
    for (let i = 0; i < V; i++) if (scores[i] > max) max = scores[i];
    let sum = 0;
    for (let i = 0; i < V; i++) sum += Math.exp(scores[i] - max);
    if (!Number.isFinite(scores[j] - max - Math.log(sum))) throw new Error('non-finite policy log-probability');
    topKIndices(lp, 10);
    ids.push(j);
  }
  return ids;
}

function fused(logits: Float32Array, rewards: Float32Array, V: number, u: number[], scratch: Float64Array): number[] {
  const ids: number[] = [];
  for (let b = 0; b < B; b++) {
    const row = logits.subarray(b * V, (b + 1) * V);
    ids.push(exactPolicyChoice(row, rewards.subarray(b * V, (b + 1) * V), BETA, { kind: 'sample' }, u[b], b, scratch).tokenId);
    topKIndices(row, 10);
  }
  return ids;
}

const loadBefore = loadAverage();
const rows = [];
for (const V of [4096, 50257]) {
  const rng = createRng(1, `exact-bench:${V}`);
  const logits = Float32Array.from({ length: B * V }, () => 6 * rng() - 3);
  const rewards = Float32Array.from({ length: B * V }, () => 2 * rng() - 1);
  const draws = Array.from({ length: STEPS }, () => Array.from({ length: B }, () => rng()));
  const scratch = new Float64Array(V);
  const ms = { composed: [] as number[], fused: [] as number[] };
  let mismatches = 0;
  for (let r = 0; r < rounds; r++) {
    const order = r % 2 === 0 ? (['composed', 'fused'] as const) : (['fused', 'composed'] as const);
    const chosen: Record<string, number[]> = {};
    for (const which of order) {
      const start = performance.now();
      const ids: number[] = [];
      for (const u of draws) ids.push(...(which === 'composed' ? composed(logits, rewards, V, u) : fused(logits, rewards, V, u, scratch)));
      ms[which].push(performance.now() - start);
      chosen[which] = ids;
    }
    mismatches += chosen.composed.filter((id, i) => id !== chosen.fused[i]).length;
  }
  const perStep = (x: number[]) => round(median(x) / STEPS, 3);
  rows.push({ V, B, composedMsPerStep: perStep(ms.composed), fusedMsPerStep: perStep(ms.fused), fusedSpeedup: round(median(ms.composed.map((c, i) => c / ms.fused[i])), 2), mismatches });
}
process.stdout.write(`${JSON.stringify({ benchmark: 'exact-policy-host', rounds, steps: STEPS, loadAverage1m: { before: loadBefore, after: loadAverage() }, rows }, null, 2)}\n`);
