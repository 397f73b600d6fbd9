/**
 * Guided decoding with a vocabulary reward head (FaRMA): the state h_t after the prefix gives both the
 * LM's next-token logits and, through one [d, V] head row, the reward R(h_t)[v] of every next token v.
 * A step is one plain LM step (plus the head row); no k-row candidate step. With the reward backbone
 * being the LM (fused) that is all; otherwise the reward backbone takes the same one-token step.
 *
 * Candidates: the top-k of π_ref, most probable first, as PARGS; or (`combined`) the top-k of the combined
 * score log π_ref + β·R, best first — FaRMA's decoding, a logits processor adding w·R to the logits
 * before a top-k filter. topK = V is the exact, untruncated policy π(v) ∝ π_ref(v)·exp(β·R[v]) either way;
 * its candidates run in token-id order (no sort over V; the distribution is the same) and its trace
 * lists the 10 most probable candidates only.
 */
import { tf } from '../engine/tf.js';
import { yieldAndCheck } from '../engine/yield.js';
import { throwIfAborted } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { KVCache } from '../lm/kv-cache.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { vocabRewards } from '../reward/vocab-head.js';
import type { Rng } from '../random.js';
import type { CandidateTrace, GuidedGeneration, GuidedToken } from './guided.js';
import { chooseCandidate, guidedScores, logSoftmax, topKIndices, type GuidedMode } from './policy.js';
import { tokenTextCache } from './token-text.js';

/** Candidates kept in the trace of an exact-policy token. */
const EXACT_TRACE = 10;

export interface VocabDecodeSettings {
  lm: CausalLM;
  rewardModel: PartialRewardModel;
  prompts: number[][];
  beta: number;
  topK: number;
  /** Keep the top-k of log π_ref + β·R instead of the top-k of π_ref. */
  combined: boolean;
  mode: GuidedMode;
  maxNewTokens: number;
  rngs: Rng[];
  fuse: boolean;
  signal?: AbortSignal;
  onToken?: (token: GuidedToken) => void;
  /** Whether the row has finished after its latest token (sets finishReason). */
  finished: (r: GuidedGeneration) => boolean;
}

interface State {
  active: number[];
  logits: tf.Tensor2D; // [n, V]
  /** The reward backbone's state after each row's prefix. */
  hidden: tf.Tensor2D; // [n, d]
  lmCache: KVCache;
  rmCache: KVCache;
}

/** The last position's hidden state of each prefilled row: [B, T, d] → [B, d]. */
function lastHidden(hidden: tf.Tensor3D): tf.Tensor2D {
  const [B, T, d] = hidden.shape;
  return tf.tidy(() => tf.reshape(tf.slice(hidden, [0, T - 1, 0], [B, 1, d]), [B, d]) as tf.Tensor2D);
}

export async function vocabGuidedSample(s: VocabDecodeSettings): Promise<GuidedGeneration[]> {
  const { lm, rewardModel, beta, topK, mode } = s;
  const scorer = rewardModel.backbone;
  const fused = scorer === lm && s.fuse;
  const V = lm.config.vocabSize;
  const exact = topK === V;
  const callsPerToken = fused ? 1 : 2;
  const results: GuidedGeneration[] = s.prompts.map((promptIds) => ({ promptIds, generatedIds: [], text: '', finishReason: 'length', trace: [], modelCalls: callsPerToken }));

  throwIfAborted(s.signal, 'guidedSample');
  const pre = lm.prefill(s.prompts);
  let state: State;
  if (fused) {
    state = { active: s.prompts.map((_, i) => i), logits: pre.logits, hidden: lastHidden(pre.hidden), lmCache: pre.cache, rmCache: pre.cache };
    pre.hidden.dispose();
  } else {
    pre.hidden.dispose();
    const rmPre = scorer.prefill(s.prompts);
    rmPre.logits.dispose();
    state = { active: s.prompts.map((_, i) => i), logits: pre.logits, hidden: lastHidden(rmPre.hidden), lmCache: pre.cache, rmCache: rmPre.cache };
    rmPre.hidden.dispose();
  }
  const tokenText = tokenTextCache(s.lm.tokenizer);
  const disposeState = (x: State): void => {
    x.logits.dispose();
    x.hidden.dispose();
    x.lmCache.dispose();
    if (!fused) x.rmCache.dispose();
  };
  try {
    for (let step = 0; step < s.maxNewTokens; step++) {
      await yieldAndCheck(s.signal, 'guidedSample');
      const rewardTensor = vocabRewards(rewardModel.head, state.hidden); // [n, V]
      const [logitHost, rewardHost] = (await Promise.all([state.logits.data(), rewardTensor.data()])) as Float32Array[];
      rewardTensor.dispose();
      const chosen = state.active.map((row, b) => {
        const lpAll = logSoftmax(logitHost.subarray(b * V, (b + 1) * V));
        const rAll = rewardHost.subarray(b * V, (b + 1) * V);
        const combinedAll = exact || s.combined ? guidedScores(lpAll, rAll, beta, row) : null; // [V]
        const candidates = exact ? null : topKIndices(combinedAll ?? lpAll, topK);
        const lp = candidates ? candidates.map((v) => lpAll[v]) : lpAll;
        const r = candidates ? candidates.map((v) => rAll[v]) : rAll;
        const scores = candidates ? (combinedAll ? Float64Array.from(candidates, (v) => combinedAll[v]) : guidedScores(lp, r, beta, row)) : combinedAll!;
        const j = chooseCandidate(scores, mode, s.rngs[row]());
        const tokenId = candidates ? candidates[j] : j;
        const policyLogProb = mode.kind === 'greedy' ? 0 : policyLogProbOf(scores, j, mode.temperature ?? 1);
        const traced = candidates ?? topKIndices(lpAll, Math.min(EXACT_TRACE, V));
        const trace: CandidateTrace[] = traced.map((v, i) => {
          const at = candidates ? i : v;
          return { tokenId: v, text: tokenText(v), logProb: lp[at], reward: r[at], score: scores[at] };
        });
        const token: GuidedToken = { row, step, tokenId, text: tokenText(tokenId), logProb: lp[j], policyLogProb, reward: r[j], score: scores[j], candidates: trace };
        const result = results[row];
        result.generatedIds.push(tokenId);
        result.trace.push(token);
        s.onToken?.(token);
        return tokenId;
      });
      // Finished rows leave the batch before the next step, so no step is spent on them.
      const keep = state.active.flatMap((row, b) => (s.finished(results[row]) ? [] : [b]));
      if (keep.length === 0 || step === s.maxNewTokens - 1) break;
      if (keep.length < state.active.length) state = compact(state, keep);
      const next = advance(state, keep.map((b) => chosen[b]));
      disposeState(state);
      state = next;
      state.active.forEach((row) => (results[row].modelCalls += callsPerToken));
    }
  } finally {
    disposeState(state);
  }
  return results;

  /** One LM step on the chosen tokens; its hidden state scores the next step (fused), else the reward backbone steps too. */
  function advance(x: State, tokens: number[]): State {
    const out = lm.step(x.lmCache, tokens);
    if (fused) return { active: x.active, logits: out.logits, hidden: out.hidden, lmCache: out.cache, rmCache: out.cache };
    const rmOut = scorer.step(x.rmCache, tokens);
    rmOut.logits.dispose();
    out.hidden.dispose();
    return { active: x.active, logits: out.logits, hidden: rmOut.hidden, lmCache: out.cache, rmCache: rmOut.cache };
  }

  function compact(x: State, keep: number[]): State {
    const lmCache = x.lmCache.selectRows(keep);
    const rows = (t: tf.Tensor2D): tf.Tensor2D => tf.tidy(() => tf.gather(t, tf.tensor1d(Int32Array.from(keep), 'int32')) as tf.Tensor2D);
    const next = { active: keep.map((b) => x.active[b]), logits: rows(x.logits), hidden: rows(x.hidden), lmCache, rmCache: fused ? lmCache : x.rmCache.selectRows(keep) };
    disposeState(x);
    return next;
  }
}

/** log softmax(scores / temperature)[j] in one pass over the scores, without a V-sized array. */
function policyLogProbOf(scores: Float64Array, j: number, temperature: number): number {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i] > max) max = scores[i];
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += Math.exp((scores[i] - max) / temperature);
  return (scores[j] - max) / temperature - Math.log(sum);
}
