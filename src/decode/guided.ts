/**
 * guidedSample: tokenwise reward-guided decoding (PARGS, and PARGS-G in greedy mode).
 *
 * Each step takes the top-k tokens of π_ref, scores each candidate v by r(prefix ⊕ v) in ONE batched
 * single-token step against the reward backbone's cache (all k candidates attend to the shared prefix),
 * and picks from softmax((log π_ref(v) + β·r) / T). When the reward model's backbone is the LM itself,
 * the chosen candidate's hidden state from that same step gives the next logits (one LM-head row), and
 * its keys/values extend the cache: no second pass. When it is a BranchedLM on the LM (trained top
 * blocks), the two share the lower layers' pass and cache (partial-fuse.ts). A vocabulary reward head
 * (FaRMA) takes the one-LM-step path of guided-vocab.ts instead.
 */
import { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { OptionError, throwIfAborted } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { KVCache } from '../lm/kv-cache.js';
import { guidedMode, nonNegativeInt, positiveInt, promptIds, prompts, seed, stopOptions } from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { rewardModel } from '../reward/reward-model-spec.js';
import { boolean, checkOptions, func, number, oneOf, required, signal, without, type Schema } from '../options.js';
import { createRng, validateSeed } from '../random.js';
import { rmSource, type RewardModel } from '../reward/reward-model-interface.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { checkContext, DEFAULT_MAX_NEW_TOKENS, resolvePrompts, validateFirstRow, type Offload, type Prompt } from './generate.js';
import { chooseCandidate, guidedScores, logSoftmax, topKIndices, type GuidedMode } from './policy.js';
import { PadReadout } from './pad-readout.js';
import { streamOf } from './stream.js';
import { tokenTextCache } from './token-text.js';
import { needsTextBridge, promptTexts, TextBridge, type BridgeTokens } from './token-bridge.js';
import { vocabGuidedSample } from './guided-vocab.js';
import { disposePartialScored, PARTIAL_FUSE_CALLS, partialFuseFrom, PartialFusion, type PartialCaches, type PartialScored } from './partial-fuse.js';
import { isVocabHead } from '../reward/vocab-head.js';

export type { GuidedMode } from './policy.js';

export interface StopOptions {
  /** Stop at the model's EOS ids (default true). EOS is always a legal candidate. */
  eos?: boolean;
  /** Further token ids that end a row (kept in the output, like EOS). */
  tokenIds?: readonly number[];
  /** Strings that end a row; the text is cut before the stop string. */
  strings?: readonly string[];
}

export interface GuidedSampleOptions {
  lm: CausalLM;
  rewardModel: RewardModel;
  /** Text prompts or conversations (rendered with the chat template), as in `generate`. */
  prompts?: readonly Prompt[];
  promptIds?: readonly (readonly number[])[];
  /** Reward weight β (default 1; the paper: 2 for PARGS, 1 for PARGS-G). */
  beta?: number;
  /** Candidates per step from π_ref (default 10); the vocabulary size gives the exact, untruncated policy. */
  topK?: number;
  /**
   * Which top-k a step keeps (default 'reference'): the k most probable tokens under π_ref (PARGS), or,
   * with a vocabulary reward head only, the k best by the combined score log π_ref + β·R (FaRMA's decoding).
   */
  candidates?: 'reference' | 'combined';
  /** Default { kind: 'sample', temperature: 1 }. */
  mode?: GuidedMode;
  /** Default `DEFAULT_MAX_NEW_TOKENS` (64), as every decoding function. */
  maxNewTokens?: number;
  stop?: StopOptions;
  seed?: number;
  signal?: AbortSignal;
  onToken?: (token: GuidedToken) => void;
  /**
   * Share what the two models share (default true): the whole backbone when the RM's is the LM, the lower
   * layers when it is the LM with trained top blocks; false forces separate passes (tests, benchmarks).
   */
  fuse?: boolean;
  /**
   * Score through the text bridge (token-bridge.ts) even when the reward model reads the LM's tokenizer
   * (tests, benchmarks); it is used anyway, and only then, when the tokenizers differ.
   */
  textBridge?: boolean;
  /** Worker threads that share the prompts (see `GenerateOptions.workers`); results are identical for any n. */
  workers?: number;
  /** Index of the first prompt within a larger list (see `GenerateOptions.firstRow`). */
  firstRow?: number;
}

import type { GuidedGeneration, GuidedToken } from './guided-results.js';
export type { CandidateTrace, GuidedGeneration, GuidedToken } from './guided-results.js';

/** The keys of `guidedSample` and their types (argsSample, guidedSampleStream and guidedSampleNoCache derive theirs). */
export const GUIDED_SAMPLE_SCHEMA: Schema = {
  lm: required(causalLM()),
  rewardModel: required(rewardModel()),
  prompts: prompts(),
  promptIds: promptIds(),
  beta: number(),
  topK: positiveInt(),
  candidates: oneOf('reference', 'combined'),
  mode: guidedMode(),
  maxNewTokens: nonNegativeInt(),
  stop: stopOptions(),
  seed: seed(),
  signal: signal(),
  onToken: func(),
  fuse: boolean(),
  textBridge: boolean(),
  workers: positiveInt(),
  firstRow: nonNegativeInt(),
};

function validate(o: GuidedSampleOptions): { beta: number; topK: number; mode: GuidedMode; maxNewTokens: number; seed: number } {
  checkOptions('guidedSample', o, GUIDED_SAMPLE_SCHEMA);
  if (!o.lm) throw new OptionError('guidedSample: lm is required');
  if (!o.rewardModel) throw new OptionError('guidedSample: rewardModel is required (see trainPartialRM / loadRewardModel)');
  const beta = o.beta ?? 1;
  if (typeof beta !== 'number' || !Number.isFinite(beta)) throw new OptionError(`guidedSample: beta must be a finite number, got ${beta}`);
  const vocab = o.lm.config.vocabSize;
  const mode = o.mode ?? { kind: 'sample' };
  if (mode.exact === true) {
    if (!isVocabHead(o.rewardModel.head)) {
      throw new OptionError(`guidedSample: mode.exact runs the policy over all ${vocab} tokens, which needs a vocabulary reward head (head kind 'vocab') to score them in one call; the reward model${rmSource(o.rewardModel)} has a ${o.rewardModel.headSpec.kind} head — train one with head { kind: 'vocab' }, or pass topK: ${vocab} to score every token as a candidate row`);
    }
    if (o.topK !== undefined && o.topK !== vocab) throw new OptionError(`guidedSample: mode.exact keeps every token (topK = ${vocab}); drop topK ${o.topK}, or drop exact for a top-k policy`);
    if (o.candidates === 'combined') throw new OptionError("guidedSample: mode.exact keeps every token, so candidates 'combined' (a top-k of log π_ref + β·R) does not apply; drop one of them");
  }
  const topK = mode.exact === true ? vocab : o.topK ?? 10;
  if (!Number.isInteger(topK) || topK < 1 || topK > vocab) throw new OptionError(`guidedSample: topK must be an integer in [1, ${vocab}] (the vocabulary size), got ${topK}`);
  if (mode.kind === 'sample') {
    const t = mode.temperature ?? 1;
    if (!(t > 0) || !Number.isFinite(t)) throw new OptionError(`guidedSample: mode.temperature must be a positive finite number, got ${t}`);
  } else if (mode.kind !== 'greedy') {
    throw new OptionError(`guidedSample: mode must be { kind: 'sample', temperature? } or { kind: 'greedy' }, got ${JSON.stringify(mode)}`);
  }
  const maxNewTokens = o.maxNewTokens ?? DEFAULT_MAX_NEW_TOKENS;
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) throw new OptionError(`guidedSample: maxNewTokens must be a non-negative integer, got ${maxNewTokens}`);
  if (isVocabHead(o.rewardModel.head) && (o.textBridge === true || needsTextBridge(o.lm, o.rewardModel))) {
    throw new OptionError(`guidedSample: the reward model${rmSource(o.rewardModel)} has a vocabulary head, which scores the LM's next-token ids and so needs the LM's tokenizer; the text bridge serves reward models with a linear or MLP head`);
  }
  if (o.candidates === 'combined' && !isVocabHead(o.rewardModel.head)) {
    throw new OptionError(`guidedSample: candidates 'combined' ranks every token by log π_ref + β·R, which needs a vocabulary reward head (head kind 'vocab'); the reward model${rmSource(o.rewardModel)} has a ${o.rewardModel.headSpec.kind} head, which scores only the candidates it is given — use candidates 'reference'`);
  }
  return { beta, topK, mode, maxNewTokens, seed: validateSeed(o.seed ?? 0, 'guidedSample') };
}

/** Rows still generating, the caches they run on, and the next-token logits of π_ref. */
interface State {
  active: number[]; // original row index of each batch row
  logits: tf.Tensor2D; // [n, V]
  /** The LM's cache (partially fused: of its top layers only). */
  lmCache: KVCache;
  /** The reward backbone's cache; the LM's own when fused (partially fused: the RM's top layers). */
  rmCache: KVCache;
  /** Partially fused: the shared lower layers' cache. */
  lower?: KVCache;
}

/** PARGS in this thread (`offload`: see `Offload`); the public `guidedSample` is parallel/dispatch.ts'. */
export async function guidedSample(options: GuidedSampleOptions, offload?: Offload<GuidedSampleOptions, GuidedGeneration[]>): Promise<GuidedGeneration[]> {
  const { beta, topK, mode, maxNewTokens, seed } = validate(options);
  const { lm, rewardModel, signal } = options;
  const scorer = rewardModel.backbone;
  const bridged = options.textBridge === true || needsTextBridge(lm, rewardModel);
  const fused = !bridged && scorer === lm && options.fuse !== false;
  const sharedFrom = bridged || options.fuse === false ? undefined : partialFuseFrom(lm, rewardModel);
  const partial = sharedFrom === undefined ? undefined : new PartialFusion(lm, scorer, sharedFrom);
  const callsPerToken = fused ? 1 : partial ? PARTIAL_FUSE_CALLS : 2;
  const prompts = resolvePrompts(options);
  checkContext(lm, prompts, maxNewTokens);
  const eos = new Set(options.stop?.eos === false ? [] : lm.generation.eosTokenIds);
  const stopIds = new Set(options.stop?.tokenIds ?? []);
  const stopStrings = options.stop?.strings ?? [];
  const firstRow = validateFirstRow(options.firstRow, 'guidedSample');
  const rngs = prompts.map((_, row) => createRng(seed, `decode:${firstRow + row}`));
  const withText = (out: GuidedGeneration[]): GuidedGeneration[] => {
    for (const r of out) r.text = r.finishReason === 'stop' && stopStrings.length ? cutAtStop(lm.tokenizer.decode(r.generatedIds), stopStrings) : lm.tokenizer.decode(r.generatedIds);
    return out;
  };
  // A vocabulary head scores every next token from the prefix's state: one LM step per token (guided-vocab.ts), in this thread.
  if (isVocabHead(rewardModel.head)) {
    return withText(await vocabGuidedSample({ lm, rewardModel: rewardModel as PartialRewardModel, prompts, beta, topK, combined: options.candidates === 'combined', mode, maxNewTokens, rngs, fuse: options.fuse !== false, signal, onToken: options.onToken, finished }));
  }
  // The bridge stays in this thread: it reads the prompts' own text, and offloaded work gets prompt ids.
  const elsewhere = bridged ? undefined : offload?.(options, prompts);
  if (elsewhere) return elsewhere;
  const results: GuidedGeneration[] = prompts.map((promptIds) => ({ promptIds, generatedIds: [], text: '', finishReason: 'length', trace: [], modelCalls: callsPerToken }));
  const V = lm.config.vocabSize;
  const d = scorer.config.hiddenSize;

  throwIfAborted(signal, 'guidedSample');
  // Through the bridge the RM reads its own ids, with its pad rule (token-bridge.ts).
  const padReadout = bridged ? undefined : await PadReadout.start(rewardModel, prompts);
  if (padReadout) results.forEach((r) => r.modelCalls++);
  let state: State;
  if (partial) {
    const pre = partial.prefill(prompts);
    state = { active: prompts.map((_, i) => i), logits: pre.logits, lmCache: pre.caches.lmTop, rmCache: pre.caches.rmTop, lower: pre.caches.lower };
  } else {
    const pre = lm.prefill(prompts);
    pre.hidden.dispose();
    state = { active: prompts.map((_, i) => i), logits: pre.logits, lmCache: pre.cache, rmCache: pre.cache };
  }
  let bridge: TextBridge | undefined;
  if (bridged) {
    try {
      bridge = TextBridge.start(lm, rewardModel, promptTexts(lm, options.prompts, prompts), 'guidedSample');
    } catch (err) {
      state.logits.dispose();
      state.lmCache.dispose();
      throw err;
    }
  } else if (!fused && !partial) {
    const rmPre = scorer.prefill(prompts);
    rmPre.hidden.dispose();
    rmPre.logits.dispose();
    state.rmCache = rmPre.cache;
  }
  const tokenText = tokenTextCache(lm.tokenizer);
  const disposeState = (s: State): void => {
    s.logits.dispose();
    s.lmCache.dispose();
    if (s.rmCache !== s.lmCache) s.rmCache.dispose();
    s.lower?.dispose();
  };
  const partialCaches = (s: State): PartialCaches => ({ lower: s.lower as KVCache, lmTop: s.lmCache, rmTop: s.rmCache });
  try {
    for (let step = 0; step < maxNewTokens; step++) {
      await yieldAndCheck(signal, 'guidedSample');
      const n = state.active.length;
      const host = (await state.logits.data()) as Float32Array; // [n·V]
      const logProbs = state.active.map((_, b) => logSoftmax(host.subarray(b * V, (b + 1) * V)));
      const candidates = logProbs.map((lp) => topKIndices(lp, topK)); // [n][k], most probable first

      // One batched single-token step: every row's k candidates against that row's prefix cache.
      // Partially fused: the shared lower layers once, then the RM's top layers, on the same candidates.
      const shared = partial?.score(partialCaches(state), candidates);
      const scored = bridge || partial ? undefined : scorer.forward({ ids: candidates, cache: state.rmCache, candidates: true, logits: 'none' });
      const flatHidden = shared ? shared.hidden : scored && (tf.reshape(scored.hidden, [n * topK, d]) as tf.Tensor2D); // [n·k, d]
      // The step's tensors are freed however it ends, also when choosing throws (DecodingError, onToken).
      let next: State | undefined;
      try {
        let rewards: Float32Array; // [n·k]
        let bridgeTokens: BridgeTokens[] = [];
        if (bridge) ({ rewards, tokens: bridgeTokens } = await bridge.scoreRows(state.active, state.active.map((row) => results[row].generatedIds), candidates));
        else {
          const rewardTensor = rewardModel.rewardsFromHidden(flatHidden as tf.Tensor2D); // [n·k]
          rewards = (await rewardTensor.data()) as Float32Array;
          rewardTensor.dispose();
        }

        const chosen = state.active.map((row, b) => {
          const lp = candidates[b].map((v) => logProbs[b][v]);
          const r = rewards.subarray(b * topK, (b + 1) * topK);
          padReadout?.adjust(row, candidates[b], r);
          const scores = guidedScores(lp, r, beta, row);
          const j = chooseCandidate(scores, mode, rngs[row]());
          const policyLogProb = mode.kind === 'greedy' ? 0 : logSoftmax(Float64Array.from(scores, (x) => x / (mode.temperature ?? 1)))[j];
          const tokenId = candidates[b][j];
          padReadout?.chosen(row, tokenId, r[j]);
          const token: GuidedToken = {
            row,
            step,
            tokenId,
            text: tokenText(tokenId),
            logProb: lp[j],
            policyLogProb,
            reward: r[j],
            score: scores[j],
            candidates: candidates[b].map((v, i) => ({ tokenId: v, text: tokenText(v), logProb: lp[i], reward: r[i], score: scores[i] })),
          };
          if (bridge) token.textBridge = bridgeTokens[b];
          const result = results[row];
          result.generatedIds.push(tokenId);
          result.trace.push(token);
          result.modelCalls += callsPerToken;
          options.onToken?.(token);
          return j;
        });

        // After the last token nothing needs the next logits or the extended caches.
        if (step < maxNewTokens - 1) next = shared ? advancePartial(state, shared, chosen, candidates) : advance(state, scored?.candidateKV ?? [], chosen, candidates, flatHidden);
      } finally {
        if (shared) disposePartialScored(shared);
        scored?.hidden.dispose();
        if (!shared) flatHidden?.dispose();
        for (const l of scored?.candidateKV ?? []) {
          l.keysT.dispose();
          l.values.dispose();
        }
      }
      if (!next) {
        state.active.forEach((row) => finished(results[row]));
        break;
      }
      disposeState(state);
      state = next;

      const keep = state.active.flatMap((row, b) => (finished(results[row]) ? [] : [b]));
      if (keep.length === 0) break;
      if (keep.length < state.active.length) state = compact(state, keep);
    }
  } finally {
    disposeState(state);
    if (bridge) results.forEach((r, row) => (r.textBridge = (bridge as TextBridge).tokens(row)));
    bridge?.dispose();
  }
  return withText(results);

  function finished(r: GuidedGeneration): boolean {
    const last = r.generatedIds[r.generatedIds.length - 1];
    if (eos.has(last)) r.finishReason = 'eos';
    else if (stopIds.has(last)) r.finishReason = 'stop';
    else if (stopStrings.length && stopStrings.some((s) => lm.tokenizer.decode(r.generatedIds).includes(s))) r.finishReason = 'stop';
    else return false;
    return true;
  }

  /** Extends the caches by the chosen candidates and computes the next logits. */
  function advance(s: State, candidateKV: Parameters<KVCache['appendCandidate']>[0], chosen: number[], candidates: number[][], flatHidden: tf.Tensor2D | undefined): State {
    if (bridge) {
      bridge.chooseRows(s.active, chosen);
      const out = lm.step(s.lmCache, chosen.map((j, b) => candidates[b][j]));
      out.hidden.dispose();
      return { active: s.active, logits: out.logits, lmCache: out.cache, rmCache: out.cache };
    }
    const rmCache = s.rmCache.appendCandidate(candidateKV, chosen);
    if (fused) {
      const rows = tf.tensor1d(Int32Array.from(chosen, (j, b) => b * topK + j), 'int32');
      const chosenHidden = tf.gather(flatHidden as tf.Tensor2D, rows) as tf.Tensor2D; // [n, d]
      const logits = lm.logitsFromHidden(chosenHidden) as tf.Tensor2D; // [n, V]: the one LM-head row per row
      rows.dispose();
      chosenHidden.dispose();
      return { active: s.active, logits, lmCache: rmCache, rmCache };
    }
    const out = lm.step(s.lmCache, chosen.map((j, b) => candidates[b][j]));
    out.hidden.dispose();
    return { active: s.active, logits: out.logits, lmCache: out.cache, rmCache };
  }

  /** The partially fused step's second half: the LM's top layers on the chosen candidates, three caches extended. */
  function advancePartial(s: State, shared: PartialScored, chosen: number[], candidates: number[][]): State {
    const out = (partial as PartialFusion).advance(partialCaches(s), shared, chosen, chosen.map((j, b) => candidates[b][j]));
    return { active: s.active, logits: out.logits, lmCache: out.caches.lmTop, rmCache: out.caches.rmTop, lower: out.caches.lower };
  }

  /** Drops finished rows from the batch (`keep` is non-empty). */
  function compact(s: State, keep: number[]): State {
    const lmCache = s.lmCache.selectRows(keep);
    const logits = tf.tidy(() => tf.gather(s.logits, tf.tensor1d(Int32Array.from(keep), 'int32')) as tf.Tensor2D);
    const rmCache = s.rmCache === s.lmCache ? lmCache : s.rmCache.selectRows(keep);
    const lower = s.lower?.selectRows(keep);
    const active = keep.map((b) => s.active[b]);
    s.active.forEach((row, b) => keep.includes(b) || bridge?.drop(row));
    disposeState(s);
    return lower ? { active, logits, lmCache, rmCache, lower } : { active, logits, lmCache, rmCache };
  }
}

function cutAtStop(text: string, stops: readonly string[]): string {
  const at = Math.min(...stops.map((s) => text.indexOf(s)).filter((i) => i >= 0));
  return Number.isFinite(at) ? text.slice(0, at) : text;
}

/** The same decoding as an async iterator of tokens; the iterator's return value is the results. */
export function guidedSampleStream(options: Omit<GuidedSampleOptions, 'onToken'>, offload?: Offload<GuidedSampleOptions, GuidedGeneration[]>): AsyncGenerator<GuidedToken, GuidedGeneration[], undefined> {
  checkOptions('guidedSampleStream', options, without(GUIDED_SAMPLE_SCHEMA, 'onToken'));
  return streamOf<GuidedToken, GuidedGeneration[]>((emit, signal) => guidedSample({ ...options, onToken: emit, signal }, offload), options.signal);
}
