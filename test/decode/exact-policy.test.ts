/** The exact policy's fused host step against a brute-force softmax over the vocabulary. */
import { describe, expect, it } from 'vitest';
import { exactPolicyChoice, logSumExp } from '../../src/decode/exact-policy.js';
import { DecodingError } from '../../src/errors.js';
import { createRng } from '../../src/random.js';

/** float64 brute force: p(v) = exp(s_v / T) / Σ exp(s / T), s_v = log π_ref(v) + β·R[v]. */
function bruteForce(logits: Float32Array, rewards: Float32Array, beta: number, temperature: number) {
  const lp = Array.from(logits, (x) => x - Math.log(Array.from(logits).reduce((a, y) => a + Math.exp(y), 0)));
  const scores = lp.map((x, v) => x + beta * rewards[v]);
  const z = scores.reduce((a, s) => a + Math.exp(s / temperature), 0);
  return { lp, scores, probs: scores.map((s) => Math.exp(s / temperature) / z) };
}

function row(V: number, seed: number): { logits: Float32Array; rewards: Float32Array } {
  const rng = createRng(seed, 'exact-policy-test');
  return { logits: Float32Array.from({ length: V }, () => 4 * rng() - 2), rewards: Float32Array.from({ length: V }, () => 2 * rng() - 1) };
}

describe('exactPolicyChoice', () => {
  it('draws the inverse-CDF token of the brute-force softmax for every u, with its log-probabilities', () => {
    const V = 97;
    const { logits, rewards } = row(V, 1);
    const scratch = new Float64Array(V);
    for (const temperature of [1, 0.7]) {
      const ref = bruteForce(logits, rewards, 1.5, temperature);
      for (let i = 0; i < 200; i++) {
        const u = (i + 0.5) / 200;
        let cumulative = 0;
        let expected = V - 1;
        for (let v = 0; v < V; v++) {
          cumulative += ref.probs[v];
          if (u < cumulative) {
            expected = v;
            break;
          }
        }
        const c = exactPolicyChoice(logits, rewards, 1.5, { kind: 'sample', temperature }, u, 0, scratch);
        expect(c.tokenId).toBe(expected);
        expect(c.policyLogProb).toBeCloseTo(Math.log(ref.probs[expected]), 10);
        expect(c.logProb).toBeCloseTo(ref.lp[expected], 10);
        expect(c.score).toBeCloseTo(ref.scores[expected], 10);
        expect(c.reward).toBe(rewards[expected]);
      }
    }
  });

  it('the draws follow the policy: token frequencies over many uniform draws match the probabilities', () => {
    const V = 12;
    const { logits, rewards } = row(V, 2);
    const ref = bruteForce(logits, rewards, 3, 1);
    const counts = new Array<number>(V).fill(0);
    const rng = createRng(9, 'draws');
    const N = 20000;
    const scratch = new Float64Array(V);
    for (let i = 0; i < N; i++) counts[exactPolicyChoice(logits, rewards, 3, { kind: 'sample' }, rng(), 0, scratch).tokenId]++;
    counts.forEach((n, v) => expect(Math.abs(n / N - ref.probs[v])).toBeLessThan(4 * Math.sqrt(ref.probs[v] / N) + 1e-3));
  });

  it('greedy is the argmax of log π_ref + β·R, the lowest id among ties, policy log-probability 0', () => {
    const V = 50;
    const { logits, rewards } = row(V, 3);
    const ref = bruteForce(logits, rewards, 2, 1);
    const best = ref.scores.indexOf(Math.max(...ref.scores));
    const c = exactPolicyChoice(logits, rewards, 2, { kind: 'greedy' }, 0.3, 0, new Float64Array(V));
    expect(c.tokenId).toBe(best);
    expect(c.policyLogProb).toBe(0);
    const tied = exactPolicyChoice(new Float32Array([0, 1, 1, 0]), new Float32Array(4), 1, { kind: 'greedy' }, 0, 0, new Float64Array(4));
    expect(tied.tokenId).toBe(1);
  });

  it('a ruled-out token (logit −∞) is never drawn; a non-finite reward or all −∞ logits are DecodingErrors naming the row', () => {
    const logits = new Float32Array([0, -Infinity, 0]);
    const scratch = new Float64Array(3);
    for (let i = 0; i < 50; i++) expect(exactPolicyChoice(logits, new Float32Array(3), 1, { kind: 'sample' }, i / 50, 0, scratch).tokenId).not.toBe(1);
    expect(() => exactPolicyChoice(new Float32Array(3), new Float32Array([0, NaN, 0]), 1, { kind: 'sample' }, 0.5, 4, scratch)).toThrow(/row 4, candidate 1.*non-finite/);
    expect(() => exactPolicyChoice(new Float32Array(3), new Float32Array([0, 1e308, 0]), 1e10, { kind: 'sample' }, 0.5, 0, scratch)).toThrow(DecodingError);
    expect(() => exactPolicyChoice(new Float32Array([-Infinity, -Infinity]), new Float32Array(2), 1, { kind: 'sample' }, 0.5, 0, scratch)).toThrow(/every candidate has score −∞/);
  });

  it('logSumExp is stable for large logits and −∞ for an empty or all −∞ row', () => {
    expect(logSumExp([1000, 1000])).toBeCloseTo(1000 + Math.log(2), 10);
    expect(logSumExp([-Infinity, -Infinity])).toBe(-Infinity);
    expect(logSumExp([])).toBe(-Infinity);
  });
});
