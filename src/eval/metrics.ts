/**
 * The paper's evaluation metrics, as pure functions of responses and scores: mean judge reward with its
 * standard error, win/tie/lose rates against a baseline, two diversities — pooled (the product over
 * n = 2..4 of unique / total word n-grams over all responses together) and ARGS's per-response one —
 * and distinct-n.
 */
import { OptionError } from '../errors.js';
import { checkArgument, custom, number, required, string, strings } from '../options.js';

/** Scores may be NaN (a judge's own verdict), but must be numbers. */
const scoreList = () => required(custom('an array of numbers', (v) => Array.isArray(v) && v.every((x) => typeof x === 'number'), ['1', ['1'], null]));

export interface MeanWithError {
  mean: number;
  /** Standard error of the mean: sample standard deviation / √n (0 for n < 2). */
  stderr: number;
  n: number;
}

export function meanWithStderr(values: readonly number[]): MeanWithError {
  checkArgument('meanWithStderr', 'values', values, scoreList());
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, stderr: Number.NaN, n: 0 };
  const mean = values.reduce((s, v) => s + v, 0) / n;
  if (n < 2) return { mean, stderr: 0, n };
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { mean, stderr: Math.sqrt(variance / n), n };
}

export interface WinRate {
  win: number;
  tie: number;
  lose: number;
}

/** Pairwise comparison of per-prompt scores (same prompt order); |a − b| ≤ tolerance is a tie. */
export function winRate(scores: readonly number[], baseline: readonly number[], tolerance = 0): WinRate {
  checkArgument('winRate', 'scores', scores, scoreList());
  checkArgument('winRate', 'baseline', baseline, scoreList());
  checkArgument('winRate', 'tolerance', tolerance, number({ min: 0 }));
  if (scores.length !== baseline.length) throw new OptionError(`winRate: ${scores.length} scores against ${baseline.length} baseline scores; compare the same prompts`);
  if (scores.length === 0) return { win: Number.NaN, tie: Number.NaN, lose: Number.NaN };
  let win = 0;
  let tie = 0;
  scores.forEach((s, i) => {
    if (Math.abs(s - baseline[i]) <= tolerance) tie++;
    else if (s > baseline[i]) win++;
  });
  const n = scores.length;
  return { win: win / n, tie: tie / n, lose: (n - win - tie) / n };
}

/** Lower-cased word tokens (letters, digits and apostrophes), the unit of the n-gram metrics. */
export function words(text: string): string[] {
  checkArgument('words', 'text', text, required(string()));
  return text.toLowerCase().match(/[\p{L}\p{N}']+/gu) ?? [];
}

function ngramCounts(responses: readonly string[], n: number): { unique: number; total: number } {
  const seen = new Set<string>();
  let total = 0;
  for (const r of responses) {
    const w = words(r);
    for (let i = 0; i + n <= w.length; i++) {
      seen.add(w.slice(i, i + n).join(' '));
      total++;
    }
  }
  return { unique: seen.size, total };
}

/** distinct-n: unique / total word n-grams over all responses (0 when there are none). */
export function distinctN(responses: readonly string[], n: number): number {
  checkArgument('distinctN', 'responses', responses, required(strings()));
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`distinctN: n must be a positive integer, got ${n}`);
  const { unique, total } = ngramCounts(responses, n);
  return total === 0 ? 0 : unique / total;
}

/**
 * Pooled diversity: Π_{n=2..4} distinct-n over all responses together, so a method that writes the same
 * response to every prompt scores low even if each response is varied within itself.
 */
export function diversity(responses: readonly string[]): number {
  checkArgument('diversity', 'responses', responses, required(strings()));
  return [2, 3, 4].reduce((p, n) => p * distinctN(responses, n), 1);
}

/**
 * Tokens of ARGS's diversity: words (letters, digits, apostrophes) and every other non-space character
 * on its own, close to NLTK's word_tokenize, which splits punctuation off (it also splits "don't" into
 * "do n't", which this does not).
 */
export function argsTokens(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}']+|[^\s\p{L}\p{N}']/gu) ?? [];
}

/**
 * Diversity as ARGS's evaluation code defines it (deeplearning-wisc/args, metrics.py): per response,
 * Π_{n=2..4} unique n-grams ÷ (n-grams + 1), then the mean over responses. The +1 makes short
 * responses score lower (a response with fewer than 4 tokens scores 0); repetition across responses is
 * not seen (that is what the pooled `diversity` measures).
 */
export function argsDiversity(responses: readonly string[]): number {
  if (responses.length === 0) return Number.NaN;
  let sum = 0;
  for (const r of responses) {
    const tokens = argsTokens(r);
    let product = 1;
    for (let n = 2; n <= 4; n++) {
      const grams: string[] = [];
      for (let i = 0; i + n <= tokens.length; i++) grams.push(tokens.slice(i, i + n).join(' '));
      product *= new Set(grams).size / (grams.length + 1);
    }
    sum += product;
  }
  return sum / responses.length;
}
