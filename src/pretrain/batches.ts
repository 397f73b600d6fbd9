/**
 * Training batches and validation windows over a token stream.
 *
 * Training: B windows of T+1 tokens at uniformly random offsets (nanoGPT-style sampling with
 * replacement), drawn from a resumable seeded stream; its state plus the count of windows drawn is
 * the data cursor a checkpoint stores. Validation: fixed, non-overlapping windows spread over the
 * validation stream, so every evaluation scores exactly the same tokens.
 */
import { OptionError } from '../errors.js';
import { createStatefulRng, type RngState, type StatefulRng } from '../random.js';
import type { TokenArray } from './tokens.js';

/** Inputs [B][T] and the next-token targets, row-major [B·T]. */
export interface Batch {
  ids: number[][];
  targets: Int32Array;
}

export interface DataCursor {
  rng: RngState;
  /** Windows drawn so far (B per step). */
  windows: number;
}

export class WindowSampler {
  private readonly rng: StatefulRng;
  private drawn: number;

  constructor(
    private readonly tokens: TokenArray,
    private readonly context: number,
    private readonly batchSize: number,
    seed: number,
    resume?: DataCursor,
  ) {
    if (tokens.length < context + 1) {
      throw new OptionError(
        `the training split has ${tokens.length} tokens, fewer than one window of context + 1 = ${context + 1}; use a larger corpus or a smaller context`,
      );
    }
    this.rng = createStatefulRng(seed, 'pretrain-data', resume?.rng);
    this.drawn = resume?.windows ?? 0;
  }

  next(): Batch {
    const T = this.context;
    const starts = this.tokens.length - T; // offsets 0 … len − T − 1 leave room for the last target
    const ids: number[][] = [];
    const targets = new Int32Array(this.batchSize * T);
    for (let b = 0; b < this.batchSize; b++) {
      const s = Math.floor(this.rng.next() * starts);
      ids.push(Array.from(this.tokens.subarray(s, s + T)));
      targets.set(this.tokens.subarray(s + 1, s + T + 1), b * T);
    }
    this.drawn += this.batchSize;
    return { ids, targets };
  }

  cursor(): DataCursor {
    return { rng: this.rng.state(), windows: this.drawn };
  }
}

/**
 * Non-overlapping windows of T inputs (+1 target each), at most `maxTokens` targets in all, spread
 * evenly over the whole stream (the first at its start, the last at its end) so a capped evaluation
 * still samples every part of the validation text; grouped into batches of `batchSize` rows. A stream
 * shorter than T+1 gives one shorter window; a stream of under two tokens gives none.
 */
export function validationBatches(tokens: TokenArray, context: number, batchSize: number, maxTokens: number): Batch[] {
  const rows: { ids: number[]; targets: number[] }[] = [];
  const T = Math.min(context, tokens.length - 1);
  if (T < 1) return [];
  const count = Math.max(1, Math.min(Math.floor((tokens.length - 1) / T), Math.floor(maxTokens / T)));
  // count·T ≤ len − 1 makes the spacing at least T, so windows never overlap.
  const spacing = count > 1 ? Math.floor((tokens.length - 1 - T) / (count - 1)) : 0;
  for (let i = 0; i < count; i++) {
    const s = i * spacing;
    rows.push({ ids: Array.from(tokens.subarray(s, s + T)), targets: Array.from(tokens.subarray(s + 1, s + T + 1)) });
  }
  const batches: Batch[] = [];
  for (let i = 0; i < rows.length; i += batchSize) {
    const group = rows.slice(i, i + batchSize);
    batches.push({ ids: group.map((r) => r.ids), targets: Int32Array.from(group.flatMap((r) => r.targets)) });
  }
  return batches;
}
