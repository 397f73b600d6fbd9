/**
 * Scores of responses under the base model: per-token log π_ref(y_t | prompt, y_<t), from which the
 * response perplexity; and the sequence-level KL estimate of a guided policy from its own traces.
 */
import { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { leftPad, type CausalLM } from '../lm/causal-lm.js';
import { refuseBeyondContext } from '../lm/context.js';
import type { GuidedToken } from '../decode/guided.js';
import { positiveInt } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { arrayOf, checkArgument, checkOptions, number, numbers, object, required, signal, tokenIds } from '../options.js';

export interface ResponseIds {
  promptIds: readonly number[];
  responseIds: readonly number[];
}

export interface ResponseLogProbsOptions {
  /** Sequences per forward (default 8). */
  rowsPerBatch?: number;
  /** Checked between batches; an abort rejects with AbortError. */
  signal?: AbortSignal;
}

/**
 * log π_ref of every response token, per item (batched, left-padded forwards). Items longer than the
 * model's context are refused up front, all of them counted: a perplexity over positions the model was
 * never trained on would be silently wrong.
 */
export async function responseLogProbs(lm: CausalLM, items: readonly ResponseIds[], options: ResponseLogProbsOptions = {}): Promise<number[][]> {
  checkArgument('responseLogProbs', 'lm', lm, required(causalLM()));
  checkArgument('responseLogProbs', 'items', items, required(arrayOf(object({ promptIds: required(tokenIds()), responseIds: required(tokenIds()) }, 'an item', true), 'an array of { promptIds, responseIds }')));
  checkOptions('responseLogProbs', options, { rowsPerBatch: positiveInt(), signal: signal() });
  const rowsPerBatch = options.rowsPerBatch ?? 8;
  const context = lm.config.maxPositions;
  const lengths = items.map((it) => it.promptIds.length + it.responseIds.length);
  refuseBeyondContext(lengths, context, (over, longest) => `responseLogProbs: ${over.length} of ${items.length} prompt + response sequences are longer than the model's context of ${context} tokens (first: item ${over[0]}, longest: ${lengths[longest]}); shorten the prompts or generate fewer tokens`);
  const out: number[][] = [];
  for (let start = 0; start < items.length; start += rowsPerBatch) {
    await yieldAndCheck(options.signal, 'responseLogProbs');
    const batch = items.slice(start, start + rowsPerBatch);
    const sequences = batch.map((it) => [...it.promptIds, ...it.responseIds]);
    const { ids, mask } = leftPad(sequences, lm.padId);
    const T = ids[0].length;
    const V = lm.config.vocabSize;
    // Row b, token t of the response is predicted at padded position pad + P + t − 1.
    const flat: number[] = [];
    batch.forEach((it, b) => {
      const pad = T - sequences[b].length;
      it.responseIds.forEach((token, t) => flat.push((b * T + pad + it.promptIds.length + t - 1) * V + token));
    });
    const forward = lm.forward({ ids, mask, logits: 'all' });
    forward.hidden.dispose();
    const picked = tf.tidy(() => {
      const logProbs = tf.logSoftmax(tf.reshape(forward.logits as tf.Tensor, [-1, V])); // [B·T, V]
      return tf.gather(tf.reshape(logProbs, [-1]), tf.tensor1d(Int32Array.from(flat), 'int32')); // [tokens]
    });
    forward.logits?.dispose();
    const values = Array.from(await picked.data());
    picked.dispose();
    let o = 0;
    for (const it of batch) {
      out.push(values.slice(o, o + it.responseIds.length));
      o += it.responseIds.length;
    }
  }
  return out;
}

/** exp(mean negative log-likelihood) over all response tokens. */
export function perplexity(logProbs: readonly (readonly number[])[]): number {
  checkArgument('perplexity', 'logProbs', logProbs, required(arrayOf(numbers(), 'an array of per-token log-probability arrays')));
  let sum = 0;
  let count = 0;
  for (const row of logProbs) for (const lp of row) {
    sum -= lp;
    count++;
  }
  return count === 0 ? Number.NaN : Math.exp(sum / count);
}

/**
 * Monte-Carlo estimate of KL(π ‖ π_ref) per response from a guided trace: Σ_t log π(y_t) − log π_ref(y_t),
 * the sampled tokens being draws from π itself.
 */
export function klFromTrace(trace: readonly GuidedToken[]): number {
  checkArgument('klFromTrace', 'trace', trace, required(arrayOf(object({ policyLogProb: required(number({ finite: false })), logProb: required(number({ finite: false })) }, 'a GuidedToken', true), 'a GuidedGeneration trace (an array of GuidedToken)')));
  return trace.reduce((s, t) => s + t.policyLogProb - t.logProb, 0);
}
