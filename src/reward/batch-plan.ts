/**
 * Batch sizes of the feature pass, planned against tensor memory before the first forward runs: a
 * batch that cannot fit is an `OptionError` naming `tokensPerBatch` and a value that fits, never a
 * wasm abort halfway through. By default each batch takes as many sequences as fit, up to 4096 tokens.
 */
import { formatBytes, USABLE_FRACTION, type MemoryBudget } from '../engine/memory-budget.js';
import { OptionError } from '../errors.js';
import { forwardBytesPerToken } from '../lm/activation-memory.js';
import type { ModelConfig } from '../lm/config.js';

/** Default cap on padded tokens per forward: larger batches buy little speed on CPU. */
export const DEFAULT_TOKENS_PER_BATCH = 4096;
/** Padded tokens of `length`-token sequences that fit in `usable` bytes. */
function fittingTokens(config: ModelConfig, length: number, usable: number): number {
  return Math.floor(usable / forwardBytesPerToken(config, length));
}

/** The longest sequence that fits on its own (binary search; the cost grows with the length). */
function longestFitting(config: ModelConfig, usable: number, upTo: number): number {
  let lo = 0;
  let hi = upTo;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fittingTokens(config, mid, usable) >= mid) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Rows per batch for sequences of `lengths` (sorted longest first), each batch padded to its first
 * (longest) row. `requested` is the user's tokensPerBatch, or undefined for the memory-sized default.
 */
export function planFeatureBatches(config: ModelConfig, lengths: readonly number[], requested: number | undefined, budget: MemoryBudget): number[] {
  if (lengths.length === 0) return [];
  const usable = budget.availableBytes * USABLE_FRACTION;
  const where = `${formatBytes(budget.availableBytes)} of tensor memory are free (${budget.limit}, ${formatBytes(budget.inUseBytes)} already in use)`;
  const longest = lengths[0];
  const fitLongest = fittingTokens(config, longest, usable);
  if (fitLongest < longest) {
    const fits = longestFitting(config, usable, longest);
    throw new OptionError(
      `the feature pass cannot fit even one ${longest}-token sequence: it needs about ${formatBytes(longest * forwardBytesPerToken(config, longest))} and ${where}; ` +
        `encode with maxLength ≤ ${fits} (overLength 'drop' or 'truncate'), or free memory (PARGS_MEMORY_LIMIT, a smaller model)`,
    );
  }
  const rows: number[] = [];
  for (let start = 0; start < lengths.length; ) {
    const T = lengths[start];
    const fit = fittingTokens(config, T, usable);
    const cap = requested ?? Math.min(DEFAULT_TOKENS_PER_BATCH, fit);
    const count = Math.max(1, Math.min(lengths.length - start, Math.floor(cap / T)));
    if (count * T > fit) {
      throw new OptionError(
        `tokensPerBatch ${requested} is too large for this backbone: a batch of ${count} × ${T} tokens needs about ${formatBytes(count * T * forwardBytesPerToken(config, T))} and ${where}; ` +
          `use tokensPerBatch ≤ ${fitLongest}, or leave it unset to size batches from free memory`,
      );
    }
    rows.push(count);
    start += count;
  }
  return rows;
}
