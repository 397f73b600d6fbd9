/**
 * The one reward-model interface decoding, evaluation and training use. Two classes implement it:
 * `PartialRewardModel` (a head pargs trained on a frozen backbone; reward_model.json + head.safetensors)
 * and `HFRewardModel` (a Hugging Face `*ForSequenceClassification` folder with its own backbone), both
 * loaded by `loadRewardModel(dir, backbone?)`.
 */
import type { tf } from '../engine/tf.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { PargsTokenizer } from '../lm/tokenizer.js';
import type { HeadSpec, RewardHead } from './head.js';
import type { RewardMode } from './prefixes.js';

export interface ScoreItem {
  promptIds: readonly number[];
  responseIds: readonly number[];
}

export interface RewardModel {
  /** 'pargs': a pargs reward model folder; 'hf': a Hugging Face sequence-classification folder. */
  readonly format: 'pargs' | 'hf';
  /** The transformer whose final hidden states the head reads. Guidance shares the LM's cache iff this is the LM. */
  readonly backbone: CausalLM;
  /** The tokenizer the reward model reads ids of (its backbone's). */
  readonly tokenizer: PargsTokenizer;
  readonly mode: RewardMode;
  readonly headSpec: HeadSpec;
  /** The head on the backbone's final hidden states (an HF model's: weight = its score row, bias 0). */
  readonly head: RewardHead;
  /**
   * transformers' read-out of an HF reward model: the reward of a sequence sits at its last token that is
   * not this id. Null or absent: at its last token (pargs reward models).
   */
  readonly padTokenId?: number | null;
  /** Rewards of final hidden states [N, d] → [N] (the caller disposes the result). */
  rewardsFromHidden(hidden: tf.Tensor2D): tf.Tensor1D;
  encode(prompt: string, response: string): { promptIds: number[]; responseIds: number[] };
  /** The reward after every response token (index i = prefix of i + 1 tokens). */
  scorePrefixIds(promptIds: readonly number[], responseIds: readonly number[]): Promise<number[]>;
  /** Complete-response rewards of many id pairs, batched. */
  scoreIdsBatch(items: readonly ScoreItem[], rowsPerBatch?: number): Promise<number[]>;
  scorePrefixes(prompt: string, response: string): Promise<number[]>;
  /** The reward of the complete response. */
  score(prompt: string, response: string): Promise<number>;
  /** True after `dispose()`; every method then throws a DisposedError, as when its backbone was disposed. */
  readonly isDisposed: boolean;
  dispose(): void;
}

/** ` "DIR"` naming where a reward model was loaded from (its own folder, else its backbone's), for messages. */
export function rmSource(rm: RewardModel): string {
  const source = (rm as { source?: string }).source ?? rm.backbone.source;
  return source ? ` "${source}"` : '';
}
