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
import type { CandidateTrace, GuidedGeneration, GuidedToken } from './guided-results.js';
import { exactPolicyChoice, logSumExp } from './exact-policy.js';
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
  // The exact policy's per-row work buffer, reused across rows and steps.
  const scratch = exact ? new Float64Array(V) : undefined;
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
        const logitRow = logitHost.subarray(b * V, (b + 1) * V);
        const rAll = rewardHost.subarray(b * V, (b + 1) * V);
        const token = exact ? exactToken(row, step, logitRow, rAll) : topKToken(row, step, logitRow, rAll);
        const result = results[row];
        result.generatedIds.push(token.tokenId);
        result.trace.push(token);
        s.onToken?.(token);
        return token.tokenId;
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

  /** The exact policy over all V tokens (exact-policy.ts); the trace lists the EXACT_TRACE most probable. */
  function exactToken(row: number, step: number, logitRow: Float32Array, rAll: Float32Array): GuidedToken {
    const c = exactPolicyChoice(logitRow, rAll, beta, mode, s.rngs[row](), row, scratch as Float64Array);
    const candidates: CandidateTrace[] = topKIndices(logitRow, Math.min(EXACT_TRACE, V)).map((v) => {
      const logProb = logitRow[v] - c.logZ;
      return { tokenId: v, text: tokenText(v), logProb, reward: rAll[v], score: logProb + beta * rAll[v] };
    });
    return { row, step, tokenId: c.tokenId, text: tokenText(c.tokenId), logProb: c.logProb, policyLogProb: c.policyLogProb, reward: c.reward, score: c.score, candidates };
  }

  /** k candidates: the top-k of π_ref (as PARGS), or of log π_ref + β·R (combined, FaRMA's decoding). */
  function topKToken(row: number, step: number, logitRow: Float32Array, rAll: Float32Array): GuidedToken {
    let candidates: number[];
    let lp: number[];
    if (s.combined) {
      const lpAll = logSoftmax(logitRow);
      candidates = topKIndices(guidedScores(lpAll, rAll, beta, row), topK);
      lp = candidates.map((v) => lpAll[v]);
    } else {
      // log π_ref is monotone in the logits: no V-sized log-softmax, only its normaliser.
      const logZ = logSumExp(logitRow);
      candidates = topKIndices(logitRow, topK);
      lp = candidates.map((v) => logitRow[v] - logZ);
    }
    const r = candidates.map((v) => rAll[v]);
    const scores = guidedScores(lp, r, beta, row);
    const j = chooseCandidate(scores, mode, s.rngs[row]());
    const policyLogProb = mode.kind === 'greedy' ? 0 : logSoftmax(Float64Array.from(scores, (x) => x / (mode.temperature ?? 1)))[j];
    const trace: CandidateTrace[] = candidates.map((v, i) => ({ tokenId: v, text: tokenText(v), logProb: lp[i], reward: r[i], score: scores[i] }));
    return { row, step, tokenId: candidates[j], text: tokenText(candidates[j]), logProb: lp[j], policyLogProb, reward: r[j], score: scores[j], candidates: trace };
  }

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
