import { describe, expect, it } from 'vitest';
import { chooseToken } from '../../src/decode/generate.js';
import { applyRepetitionPenalty, argmax, logSoftmax, sampleIndex, softmax, topKIndices, topPIndices } from '../../src/decode/policy.js';
import { OptionError } from '../../src/errors.js';

describe('policy math', () => {
  it('logSoftmax equals log(exp(x)/Σexp) and is stable for huge logits', () => {
    const out = logSoftmax([1, 2, 3]);
    const z = Math.log(Math.exp(1) + Math.exp(2) + Math.exp(3));
    expect([...out]).toEqual([1 - z, 2 - z, 3 - z].map((v) => expect.closeTo(v, 12)));
    for (const v of logSoftmax([1000, 1000])) expect(v).toBeCloseTo(-Math.LN2, 12);
  });

  it('argmax takes the lowest index among ties', () => {
    expect(argmax([1, 5, 5, 2])).toBe(1);
    expect(argmax([Number.NaN, -Infinity, -Infinity])).toBe(1);
  });

  it('topK orders by value then index, and validates k', () => {
    expect(topKIndices([0.1, 0.5, 0.5, 0.9, 0.2], 3)).toEqual([3, 1, 2]);
    expect(topKIndices([3, 1, 2], 3)).toEqual([0, 2, 1]);
    expect(() => topKIndices([1, 2], 0)).toThrow(OptionError);
    expect(() => topKIndices([1, 2], 3)).toThrow(OptionError);
  });

  it('softmax with temperature', () => {
    const p = softmax([0, Math.log(3)], 1);
    expect(p[0]).toBeCloseTo(0.25, 12);
    expect(softmax([0, Math.log(3)], 0.5)[0]).toBeCloseTo(0.1, 12);
    expect(() => softmax([1], 0)).toThrow(OptionError);
  });

  it('sampleIndex inverts the CDF', () => {
    const p = [0.2, 0, 0.5, 0.3];
    expect(sampleIndex(p, 0)).toBe(0);
    expect(sampleIndex(p, 0.19999)).toBe(0);
    expect(sampleIndex(p, 0.2)).toBe(2);
    expect(sampleIndex(p, 0.7)).toBe(3);
    expect(sampleIndex([0.5, 0.49999999], 0.99999999999)).toBe(1); // rounding shortfall → last outcome with mass
  });

  it('topP keeps the smallest most-probable set reaching the mass', () => {
    expect(topPIndices([0.1, 0.6, 0.3], 0.8)).toEqual([1, 2]);
    expect(topPIndices([0.1, 0.6, 0.3], 0.5)).toEqual([1]);
    expect(topPIndices([0.1, 0.6, 0.3], 1)).toEqual([1, 2, 0]);
  });

  it('repetition penalty divides positive and multiplies negative logits once per distinct id', () => {
    const l = new Float32Array([2, -2, 1]);
    applyRepetitionPenalty(l, [0, 1, 1], 2);
    expect([...l]).toEqual([1, -4, 1]);
  });

  it('chooseToken: greedy, and sampling restricted to top-k', () => {
    const logits = new Float32Array([0, 10, 9, -5]);
    expect(chooseToken(logits, { kind: 'greedy' }, () => 0.99)).toBe(1);
    // top-2 = [1, 2] with probabilities ∝ [e^10, e^9]; u just under p(1) picks 1, above picks 2.
    const p1 = 1 / (1 + Math.exp(-1));
    expect(chooseToken(logits, { kind: 'sample', topK: 2 }, () => p1 - 1e-9)).toBe(1);
    expect(chooseToken(logits, { kind: 'sample', topK: 2 }, () => p1 + 1e-9)).toBe(2);
    expect(chooseToken(logits, { kind: 'sample', topP: 0.5 }, () => 0.999)).toBe(1);
  });
});
