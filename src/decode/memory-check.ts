/**
 * Early refusal of a decoding batch that cannot fit in tensor memory: the prefill forward over every
 * row plus the KV cache grown to prompt + maxNewTokens and one row of logits per sequence.
 */
import { formatBytes, USABLE_FRACTION, type MemoryBudget } from '../engine/memory-budget.js';
import { OptionError } from '../errors.js';
import { forwardBytesPerToken, kvCacheBytes } from '../lm/activation-memory.js';
import type { ModelConfig } from '../lm/config.js';

/** Estimated peak bytes of decoding `rows` sequences of up to `promptLength` + `maxNewTokens` tokens. */
export function decodeBytes(c: ModelConfig, rows: number, promptLength: number, maxNewTokens: number): number {
  const length = promptLength + maxNewTokens;
  return rows * promptLength * forwardBytesPerToken(c, length) + kvCacheBytes(c, rows, length) + 4 * rows * c.vocabSize;
}

/** Throws an `OptionError` naming `option` (e.g. "bestOfN: n 100000") when the batch cannot fit. */
export function checkDecodeFits(option: string, c: ModelConfig, rows: number, promptLength: number, maxNewTokens: number, budget: MemoryBudget): void {
  const bytes = decodeBytes(c, rows, promptLength, maxNewTokens);
  const usable = budget.availableBytes * USABLE_FRACTION;
  if (bytes <= usable) return;
  const fitRows = Math.floor(usable / decodeBytes(c, 1, promptLength, maxNewTokens));
  throw new OptionError(
    `${option} gives ${rows} sequences of up to ${promptLength + maxNewTokens} tokens, which need about ${formatBytes(bytes)} of tensor memory, but ${formatBytes(budget.availableBytes)} are free (${budget.limit}); ` +
      `at most ${fitRows} sequences fit: lower it, or maxNewTokens`,
  );
}
