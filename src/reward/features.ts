/**
 * The one backbone pass: with causal attention the hidden state at position t depends only on tokens
 * ≤ t, so one forward of `prompt ⊕ response` gives the features of every prefix of the response at
 * once. The paper runs each prefix as its own example (cost × L); this is the same objective for the
 * cost of one pass per sequence.
 *
 * Sequences are sorted by length and packed into batches of at most `tokensPerBatch` padded tokens,
 * so left padding wastes little; only the needed rows are gathered and copied to the host.
 */
import { createHash } from 'node:crypto';
import { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import { leftPad, type CausalLM } from '../lm/causal-lm.js';
import { memoryBudget, positiveInt, prefixOptions, shard, tokenPair } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { arrayOf, checkOptions, func, required, signal, type Schema } from '../options.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import { planFeatureBatches } from './batch-plan.js';
import { FeatureStore } from './feature-store.js';
import { planPair, type PairPlan, type PrefixPlanOptions, type TokenPair } from './prefixes.js';
import { refuseBeyondContext } from '../lm/context.js';
import { terminalTokenId } from '../lm/terminal-token.js';

export interface Shard {
  index: number;
  count: number;
}

export interface FeaturePassOptions {
  backbone: CausalLM;
  pairs: readonly TokenPair[];
  prefixes: Omit<PrefixPlanOptions, 'eosId'>;
  /**
   * Padded tokens per backbone forward: bounds activation memory. Default: as many as fit in the free
   * tensor memory (the wasm heap's 4 GiB on wasm), at most 4096; a value that cannot fit is refused.
   */
  tokensPerBatch?: number;
  /** Float32 bytes of features kept in memory before spilling to a float16 file (default 1 GiB). */
  memoryBudgetBytes?: number;
  /** Process only pairs with index ≡ shard.index (mod shard.count). */
  shard?: Shard;
  /**
   * Worker threads for the backbone passes (default: PARGS_WORKERS, else the available cores for passes
   * big enough to repay the start-up); each loads its own copy of the backbone from its folder. 1 runs
   * in this thread. Results are identical for any n.
   */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (event: { kind: 'features'; sequencesDone: number; sequences: number; tokens: number }) => void;
}

export interface PrefixFeatures {
  store: FeatureStore;
  /** The prefix plan the features were computed with. */
  prefixes: Omit<PrefixPlanOptions, 'eosId'>;
  /** SHA-256 over every pair's ids: features belong to exactly one pair list. */
  pairsHash: string;
  /** The backbone the features came from. */
  backboneFingerprint: string;
  /** One plan per input pair; null where the pair has no comparable prefix or lies outside the shard. */
  plans: (PairPlan | null)[];
  /** Indices of the pairs that have features. */
  pairIndices: number[];
  dim: number;
  stats: { sequences: number; tokens: number; paddedTokens: number; seconds: number };
  /**
   * Set when the store holds, per sequence, the residual stream entering this layer at every position
   * ([T, d], residual-pass.ts) instead of final hidden states at the compared positions.
   */
  residualFrom?: number;
}

export interface Job {
  pair: number;
  side: 0 | 1;
  ids: number[];
  positions: number[];
}

/** Identifies a pair list by its ids (order included). */
export function hashPairs(pairs: readonly TokenPair[]): string {
  const h = createHash('sha256');
  for (const p of pairs) h.update(JSON.stringify([p.promptIds, p.chosenIds, p.rejectedIds]));
  return h.digest('hex');
}

export function validateShard(shard: Shard | undefined, pairCount?: number): void {
  if (!shard) return;
  // Safe integers only: beyond 2^53 two different shard numbers are the same double.
  if (!Number.isSafeInteger(shard.count) || shard.count < 1 || !Number.isSafeInteger(shard.index) || shard.index < 0 || shard.index >= shard.count) {
    throw new OptionError(`extractPrefixFeatures: shard must be {index, count} with 0 ≤ index < count (integers below 2^53), got ${JSON.stringify(shard)}`);
  }
  // Pair i goes to shard i mod count: a shard at or past the pair count would be empty, a sign of a wrong count.
  if (pairCount !== undefined && shard.index >= pairCount) {
    throw new OptionError(`extractPrefixFeatures: shard ${shard.index}/${shard.count} holds no pairs: pair i goes to shard i mod ${shard.count}, and there are only ${pairCount} pairs; use at most ${pairCount} shards`);
  }
}

/**
 * The prefix plan of every pair (null outside the shard or without a comparable prefix), as the pass uses it.
 * With `states: 'from-prompt-end'` each side keeps every state from the prompt's last token (index P − 1,
 * the state before the first response token) to the sequence's end: row j is the state after j
 * response tokens, so a vocabulary head reads R(row i − 1)[y_i] and FaRMA's consistency target row i.
 */
export function planPairs(o: Pick<FeaturePassOptions, 'backbone' | 'pairs' | 'prefixes' | 'shard'>): (PairPlan | null)[] {
  // The terminal token (src/lm/terminal-token.ts): the end-of-turn id of a chat model, else the first EOS.
  const eosId = terminalTokenId(o.backbone.tokenizer, o.backbone.generation.eosTokenIds);
  return o.pairs.map((pair, i) => {
    if (o.shard && i % o.shard.count !== o.shard.index) return null;
    const { states, ...prefixes } = o.prefixes;
    const plan = planPair(pair, { ...prefixes, eosId });
    if (!plan || states !== 'from-prompt-end') return plan;
    const P = pair.promptIds.length;
    if (P === 0) throw new OptionError(`pair ${i} has an empty prompt: the vocabulary head scores the first response token from the prompt's last state; give every pair a prompt (at least a BOS token)`);
    const fromPromptEnd = (sequence: readonly number[]): number[] => Array.from({ length: sequence.length - P + 1 }, (_, j) => P - 1 + j);
    return { ...plan, chosenPositions: fromPromptEnd(plan.chosenSequence), rejectedPositions: fromPromptEnd(plan.rejectedSequence) };
  });
}

export const FEATURE_PASS_SCHEMA: Schema = {
  backbone: required(causalLM()),
  pairs: required(arrayOf(tokenPair(), 'an array of token pairs (from encodePreferences)')),
  prefixes: required(prefixOptions()),
  tokensPerBatch: positiveInt(),
  memoryBudgetBytes: memoryBudget(),
  shard: shard(),
  workers: positiveInt(),
  signal: signal(),
  onProgress: func(),
};

/** Sequences past the backbone's context are refused, all of them counted, before any work (lm/context.ts). */
function refuseJobsBeyondContext(jobs: readonly Job[], context: number): void {
  refuseBeyondContext(jobs.map((j) => j.ids.length), context, (over, longest) => {
    const pairs = new Set(over.map((i) => jobs[i].pair)).size;
    return (
      `${over.length} of ${jobs.length} sequences (${pairs} pairs) are longer than the backbone's context of ${context} tokens (the longest, pair ${jobs[longest].pair}, has ${jobs[longest].ids.length}); ` +
      `encode with maxLength ≤ ${context}: overLength 'drop' (the default) drops and reports them, 'truncate' shortens their responses`
    );
  });
}

/**
 * Runs a checked, planned feature pass somewhere else (parallel/ passes worker threads), or returns
 * undefined to run it in this thread: the jobs and their batches (`batchRows` jobs each) are fixed here.
 */
export type FeatureOffload = (o: FeaturePassOptions, plans: PrefixFeatures['plans'], jobs: Job[], batchRows: readonly number[]) => Promise<PrefixFeatures> | undefined;

/** The feature pass in this thread (`offload`: see `FeatureOffload`); the public one is parallel/dispatch.ts'. */
export async function extractPrefixFeatures(o: FeaturePassOptions, offload?: FeatureOffload): Promise<PrefixFeatures> {
  checkOptions('extractPrefixFeatures', o, FEATURE_PASS_SCHEMA);
  const { backbone } = o;
  validateShard(o.shard, o.pairs.length);
  const started = performance.now();
  const { plans, jobs } = planFeatureJobs(o);
  const batchRows = planBatchRows(o, jobs);
  const elsewhere = offload?.(o, plans, jobs, batchRows);
  if (elsewhere) return elsewhere;

  const d = backbone.config.hiddenSize;
  const store = new FeatureStore(d, o.memoryBudgetBytes);
  let done = 0;
  let tokens = 0;
  let paddedTokens = 0;
  try {
    for (let start = 0; start < jobs.length; ) {
      await yieldAndCheck(o.signal, 'the feature pass');
      const T = jobs[start].ids.length;
      const count = batchRows.shift() as number;
      const batch = jobs.slice(start, start + count);
      start += count;
      tokens += storeBatch(store, batch, await forwardFeatureBatch(backbone, batch), d);
      paddedTokens += T * batch.length;
      done += batch.length;
      o.onProgress?.({ kind: 'features', sequencesDone: done, sequences: jobs.length, tokens });
    }
  } catch (err) {
    store.dispose();
    throw err;
  }
  return featureResult(o, store, plans, { sequences: jobs.length, tokens, paddedTokens, seconds: (performance.now() - started) / 1000 });
}

/** One plan per pair (null outside the shard or without a comparable prefix), and the sequences to run, longest first. */
export function planFeatureJobs(o: Pick<FeaturePassOptions, 'backbone' | 'pairs' | 'prefixes' | 'shard'>): { plans: (PairPlan | null)[]; jobs: Job[] } {
  const plans = planPairs(o);
  const jobs: Job[] = [];
  plans.forEach((plan, pair) => {
    if (!plan) return;
    for (const [side, ids, positions] of [[0, plan.chosenSequence, plan.chosenPositions], [1, plan.rejectedSequence, plan.rejectedPositions]] as const) {
      jobs.push({ pair, side, ids, positions });
    }
  });
  refuseJobsBeyondContext(jobs, o.backbone.config.maxPositions);
  // Longest first: the first batch is the most memory-hungry, so a budget problem shows immediately.
  jobs.sort((a, b) => b.ids.length - a.ids.length || a.pair - b.pair || a.side - b.side);
  return { plans, jobs };
}

/**
 * Rows of each batch, in order: as many sequences as fit in `tokensPerBatch` padded tokens and in free
 * tensor memory (batch-plan.ts). Planned once, before any forward, and used alike by one thread and by
 * workers, so every batch is the same forward whoever runs it.
 */
export function planBatchRows(o: Pick<FeaturePassOptions, 'backbone' | 'tokensPerBatch'>, jobs: readonly Job[]): number[] {
  return planFeatureBatches(o.backbone.config, jobs.map((j) => j.ids.length), o.tokensPerBatch, tensorMemoryBudget());
}

/** The pass's result: the filled store with what identifies it (pairs, backbone, prefix options). */
export function featureResult(o: Pick<FeaturePassOptions, 'backbone' | 'pairs' | 'prefixes'>, store: FeatureStore, plans: PrefixFeatures['plans'], stats: PrefixFeatures['stats']): PrefixFeatures {
  return {
    store,
    prefixes: o.prefixes,
    pairsHash: hashPairs(o.pairs),
    backboneFingerprint: o.backbone.fingerprint,
    plans,
    pairIndices: plans.flatMap((p, i) => (p ? [i] : [])),
    dim: o.backbone.config.hiddenSize,
    stats,
  };
}

/** Puts a batch's host features ([rows·d], job after job) into the store; returns the batch's real tokens. */
export function storeBatch(store: FeatureStore, batch: readonly Job[], host: Float32Array, d: number): number {
  let offset = 0;
  let tokens = 0;
  for (const job of batch) {
    const n = job.positions.length * d;
    store.put(job.pair, job.side, host.slice(offset, offset + n));
    offset += n;
    tokens += job.ids.length;
  }
  return tokens;
}

/** One backbone forward of a batch; the hidden states at every job's positions, job after job, [rows·d] on the host. */
export async function forwardFeatureBatch(backbone: CausalLM, batch: readonly Pick<Job, 'ids' | 'positions'>[]): Promise<Float32Array> {
  const d = backbone.config.hiddenSize;
  const { ids, mask } = leftPad(batch.map((j) => j.ids), backbone.padId);
  const T = ids[0].length;
  const rowIndex: number[] = [];
  batch.forEach((job, b) => {
    const pad = T - job.ids.length;
    for (const p of job.positions) rowIndex.push(b * T + pad + p);
  });
  const out = backbone.forward({ ids, mask, logits: 'none' });
  const picked = tf.tidy(() => tf.gather(tf.reshape(out.hidden, [-1, d]), tf.tensor1d(Int32Array.from(rowIndex), 'int32'))); // [rows, d]
  out.hidden.dispose();
  const host = (await picked.data()) as Float32Array;
  picked.dispose();
  return host;
}
