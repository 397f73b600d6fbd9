/** The GPT-NeoX folders and transformers reference values written by test/reference/make-gpt-neox.py. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const GPT_NEOX_FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'gpt-neox');

export interface NeoxReference {
  transformers: string;
  vocab_size: number;
  prompt: number[];
  logits: number[]; // [T, V], every position of `prompt`
  greedy: number[];
  batch: number[][];
  batch_last_logits: number[]; // [B, V], the batch left-padded
  batch_greedy: number[][];
  text: string;
  text_ids: number[];
  /** GPTNeoXForSequenceClassification on the same backbone (the parallel variant only): score.weight [1, d]. */
  rm_score_weight?: number[];
  /** Its reward after every token of `prompt`. */
  rm_prefix_rewards?: number[];
  /** Its reward of each `batch` row, run alone. */
  rm_batch_rewards?: number[];
}

export function readNeoxReference(variant: 'parallel' | 'sequential'): NeoxReference {
  return JSON.parse(readFileSync(join(GPT_NEOX_FIXTURES, variant, 'reference.json'), 'utf8')) as NeoxReference;
}
