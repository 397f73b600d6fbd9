/**
 * The baselines of the paper, in the same style as guidedSample:
 * - `sample`: plain sampling from π_ref (temperature, top-k, top-p; greedy on request) — `generate`
 *   with a sampling default;
 * - `argsSample`: ARGS (Khanov et al., ICLR 2024), score = logit + w·r with a full-sequence reward model;
 * - `bestOfN`: N genuine samples from π_ref, each scored by a reward model, the best marked.
 */
import { yieldAndCheck } from '../engine/yield.js';
import { firstNonFinite } from '../engine/finite.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import { DecodingError, OptionError } from '../errors.js';
import { decodeStrategy, nonNegativeInt, positiveInt, promptIds, prompts, seed } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { rewardModel } from '../reward/reward-model-spec.js';
import { boolean, checkOptions, number, required, signal, without, type Schema } from '../options.js';
import type { RewardModel } from '../reward/reward-model-interface.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { DEFAULT_MAX_NEW_TOKENS, GENERATE_SCHEMA, generate, resolvePrompts, validateFirstRow, type DecodeStrategy, type Generation, type GenerateOptions, type Offload, type Prompt } from './generate.js';
import { GUIDED_SAMPLE_SCHEMA, guidedSample, type GuidedGeneration, type GuidedSampleOptions } from './guided.js';
import { checkDecodeFits } from './memory-check.js';
import { bridgedScoreItems, needsTextBridge, promptTexts } from './token-bridge.js';
import { refuseBeyondContext } from '../lm/context.js';
import { scoredResponse } from '../lm/terminal-token.js';

/**
 * Plain sampling from the base model: `generate` whose default strategy is a genuine sample,
 * `{ kind: 'sample', temperature: 1 }` (no top-k/top-p filter), as its name says. Pass
 * `strategy: { kind: 'greedy' }` for greedy decoding (or call `generate`, whose default is greedy).
 * Until this release `sample` was an alias of `generate` and decoded greedily by default.
 */
export function sample(options: GenerateOptions, offload?: Offload<GenerateOptions, Generation[]>): Promise<Generation[]> {
  checkOptions('sample', options, GENERATE_SCHEMA);
  return generate({ ...options, strategy: options.strategy ?? { kind: 'sample', temperature: 1 } }, offload);
}

export interface ArgsSampleOptions extends Omit<GuidedSampleOptions, 'beta'> {
  /** Reward weight w (default 1; the ARGS paper: 1 on TL;DR, 1.5 on HH). */
  weight?: number;
}

/**
 * ARGS. Its score, logit(v) + w·r, differs from log π_ref(v) + w·r only by the row's log-partition,
 * a constant over the candidates, so argmax and softmax are the same: ARGS is the guided loop with
 * β = w — run with a full-sequence reward model (`trainPartialRM({ mode: 'full' })`).
 */
export const ARGS_SAMPLE_SCHEMA: Schema = { ...without(GUIDED_SAMPLE_SCHEMA, 'beta'), weight: number() };

export function argsSample(options: ArgsSampleOptions, offload?: Offload<GuidedSampleOptions, GuidedGeneration[]>): Promise<GuidedGeneration[]> {
  checkOptions('argsSample', options, ARGS_SAMPLE_SCHEMA);
  const { weight, ...rest } = options;
  return guidedSample({ ...rest, beta: weight ?? 1 }, offload);
}

export interface BestOfNOptions {
  lm: CausalLM;
  rewardModel: RewardModel;
  /** Text prompts or conversations (rendered with the chat template), as in `generate`. */
  prompts?: readonly Prompt[];
  promptIds?: readonly (readonly number[])[];
  /** Samples per prompt (default 4). */
  n?: number;
  /** How each sample is drawn (default { kind: 'sample', temperature: 1 }: genuine samples). */
  strategy?: DecodeStrategy;
  maxNewTokens?: number;
  seed?: number;
  stopAtEos?: boolean;
  signal?: AbortSignal;
  /** Worker threads that share the prompts (see `GenerateOptions.workers`); results are identical for any n. */
  workers?: number;
  /** Index of the first prompt within a larger list (see `GenerateOptions.firstRow`). */
  firstRow?: number;
}

export interface BestOfNResult {
  promptIds: number[];
  samples: (Generation & { reward: number })[];
  /** Index into `samples` of the highest reward (the first among ties). */
  best: number;
}

/** Responses per reward-model forward when scoring the samples. */
const SCORE_ROWS_PER_BATCH = 16;

export const BEST_OF_N_SCHEMA: Schema = {
  lm: required(causalLM()),
  rewardModel: required(rewardModel()),
  prompts: prompts(),
  promptIds: promptIds(),
  n: positiveInt(),
  strategy: decodeStrategy(),
  maxNewTokens: nonNegativeInt(),
  seed: seed(),
  stopAtEos: boolean(),
  workers: positiveInt(),
  firstRow: nonNegativeInt(),
  signal: signal(),
};

/** Runs checked Best-of-N work elsewhere (parallel/), or returns undefined to run it here; see `Offload`. */
export type BestOfNOffload = (options: BestOfNOptions, prompts: number[][], n: number) => Promise<BestOfNResult[]> | undefined;

export async function bestOfN(options: BestOfNOptions, offload?: BestOfNOffload): Promise<BestOfNResult[]> {
  checkOptions('bestOfN', options, BEST_OF_N_SCHEMA);
  const n = options.n ?? 4;
  if (!Number.isInteger(n) || n < 1) throw new OptionError(`bestOfN: n must be a positive integer, got ${n}`);
  if ((options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS) < 1) throw new OptionError('bestOfN: maxNewTokens must be at least 1: an empty response has no reward');
  const strategy = options.strategy ?? { kind: 'sample' };
  const prompts = resolvePrompts(options);
  const firstRow = validateFirstRow(options.firstRow, 'bestOfN');
  // A reward model on another tokenizer reads the responses' text (token-bridge.ts), in this thread.
  const bridged = needsTextBridge(options.lm, options.rewardModel);
  // Samples are scored whole, and scoring refuses sequences past the reward model's context: refuse
  // before generating rather than after (a text-bridged RM counts other tokens; its scoring checks).
  const maxNew = options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  const rmContext = options.rewardModel.backbone.config.maxPositions;
  if (!bridged) refuseBeyondContext(prompts.map((p) => p.length + maxNew), rmContext, (over, longest) => `bestOfN: ${over.length} of ${prompts.length} prompts plus maxNewTokens ${maxNew} exceed the reward model's context of ${rmContext} tokens (first: prompt ${over[0]}, longest: prompt ${longest} with ${prompts[longest].length} tokens), where its rewards would not be meaningful; lower maxNewTokens or shorten the prompts`);
  const elsewhere = bridged ? undefined : offload?.(options, prompts, n);
  if (elsewhere) return elsewhere;
  checkDecodeFits(`bestOfN: n ${n} × ${prompts.length} prompts`, options.lm.config, prompts.length * n, Math.max(...prompts.map((p) => p.length)), options.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS, tensorMemoryBudget());
  // All prompts × n samples in one batch; each batch row has its own random stream.
  const rows = prompts.flatMap((p) => new Array<number[]>(n).fill(p));
  const generations = await generate({ lm: options.lm, promptIds: rows, strategy, maxNewTokens: options.maxNewTokens, seed: options.seed, stopAtEos: options.stopAtEos, signal: options.signal, firstRow: firstRow * n });
  // Scored at the last content token, where training reads a complete response (src/lm/terminal-token.ts).
  const eosIds = options.lm.generation.eosTokenIds;
  const items = bridged
    ? bridgedScoreItems(options.lm, options.rewardModel, promptTexts(options.lm, options.prompts, prompts), generations.map((g, i) => ({ prompt: Math.floor(i / n), responseIds: scoredResponse(g.generatedIds, eosIds) })), 'bestOfN')
    : generations.map((g) => ({ promptIds: g.promptIds, responseIds: scoredResponse(g.generatedIds, eosIds) }));
  const rewards: number[] = [];
  // Scored a batch at a time, so the event loop (timers, Ctrl-C) gets a turn and an abort stops here too.
  for (let start = 0; start < items.length; start += SCORE_ROWS_PER_BATCH) {
    await yieldAndCheck(options.signal, 'bestOfN');
    rewards.push(...(await options.rewardModel.scoreIdsBatch(items.slice(start, start + SCORE_ROWS_PER_BATCH), SCORE_ROWS_PER_BATCH)));
  }
  const bad = firstNonFinite(rewards);
  if (bad >= 0) throw new DecodingError(`bestOfN: sample ${bad % n} of prompt ${Math.floor(bad / n)} got reward ${rewards[bad]}; the reward model's head or backbone holds non-finite weights`);
  return prompts.map((promptIds, p) => {
    const samples = generations.slice(p * n, (p + 1) * n).map((g, i) => ({ ...g, reward: rewards[p * n + i] }));
    let best = 0;
    samples.forEach((s, i) => {
      if (s.reward > samples[best].reward) best = i;
    });
    return { promptIds, samples, best };
  });
}
