/**
 * The one check that sequences fit a model's context (max_position_embeddings), for every pass over
 * whole sequences: the feature pass of training, reward scoring, evaluation log-probabilities. Positions
 * past the context are outside what the model was trained on (and past GPT-2's position table), so a
 * feature, reward or log-probability computed there would come out as if valid. Every sequence is
 * checked, and the refusal counts them all, before any work. (Generation checks prompts plus new tokens
 * itself: decode/generate.ts `checkContext`.)
 */
import { OptionError } from '../errors.js';

/**
 * Throws an OptionError when any of `lengths` exceeds `context`. `message` words it for the caller from
 * the indices of the sequences over it (in order) and the index of the longest.
 */
export function refuseBeyondContext(lengths: readonly number[], context: number, message: (over: readonly number[], longest: number) => string): void {
  const over: number[] = [];
  lengths.forEach((n, i) => {
    if (n > context) over.push(i);
  });
  if (over.length === 0) return;
  const longest = over.reduce((a, i) => (lengths[i] > lengths[a] ? i : a));
  throw new OptionError(message(over, longest));
}
