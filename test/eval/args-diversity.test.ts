/** ARGS's per-response diversity against hand-computed cases, beside the pooled diversity. */
import { describe, expect, it } from 'vitest';
import { argsDiversity, argsTokens, diversity } from '../../src/eval/metrics.js';

describe('argsDiversity: mean over responses of Π_{n=2..4} unique n-grams / (n-grams + 1)', () => {
  it('matches hand-computed values', () => {
    // "a b a b": bigrams ab, ba, ab → 2 / (3 + 1); trigrams aba, bab → 2 / 3; 4-gram abab → 1 / 2.
    expect(argsDiversity(['a b a b'])).toBeCloseTo((2 / 4) * (2 / 3) * (1 / 2), 12);
    // Four distinct tokens: 3/4 · 2/3 · 1/2 = 1/4.
    expect(argsDiversity(['x y z w'])).toBeCloseTo(1 / 4, 12);
    // The mean over responses: (1/6 + 1/4) / 2.
    expect(argsDiversity(['a b a b', 'x y z w'])).toBeCloseTo(5 / 24, 12);
    // Fewer than 4 tokens: no 4-gram, 0 / (0 + 1) = 0.
    expect(argsDiversity(['one two three'])).toBe(0);
    expect(argsDiversity([''])).toBe(0);
    expect(argsDiversity([])).toBeNaN();
  });

  it('counts punctuation as tokens, like NLTK word_tokenize', () => {
    expect(argsTokens('Good, good.')).toEqual(['good', ',', 'good', '.']);
    // bigrams "good ,", ", good", "good ." → 3/4; trigrams 2/3; 4-gram 1/2.
    expect(argsDiversity(['Good, good.'])).toBeCloseTo(1 / 4, 12);
  });

  it('does not see repetition across responses, which the pooled diversity does', () => {
    expect(argsDiversity(['x y z w', 'x y z w'])).toBeCloseTo(1 / 4, 12);
    expect(diversity(['x y z w', 'x y z w'])).toBeCloseTo(1 / 8, 12);
  });
});
