/**
 * Partially fused guided decoding: the reward model's backbone is a `BranchedLM` on the LM itself (a
 * reward model whose top m blocks were trained), so both models run the very same layers < from. One
 * cache serves those shared lower layers, and each model keeps a cache of its own top layers.
 *
 * Prefill: the lower layers once for the prompts, then the LM's top layers (→ logits) and the RM's.
 * Each step: the n·k candidates run the lower layers once (candidates mode), then the RM's top layers
 * (→ RM hidden → rewards); after the choice, only the n chosen candidates' lower residuals (gathered,
 * not recomputed) run through the LM's top layers (→ next logits). The lower and RM-top caches grow by
 * the chosen candidate's keys/values from the candidate steps; the LM-top cache by its own step.
 * Three layer-range forwards per token, which `modelCalls` counts (prefill: three too).
 */
import { tf } from '../engine/tf.js';
import { BranchedLM } from '../lm/branched-lm.js';
import { leftPad, type CausalLM } from '../lm/causal-lm.js';
import type { KVCache, LayerKV } from '../lm/kv-cache.js';
import type { ForwardOutput } from '../lm/transformer.js';
import type { RewardModel } from '../reward/reward-model-interface.js';

/** Forward calls per token (and in the prefill) of the partially fused path. */
export const PARTIAL_FUSE_CALLS = 3;

/** The three caches: layers [0, from) shared, and each model's layers [from, N). */
export interface PartialCaches {
  lower: KVCache;
  lmTop: KVCache;
  rmTop: KVCache;
}

/** One step's candidate pass: the RM's final hidden states and what extending the caches needs. */
export interface PartialScored {
  /** The RM's final hidden states of every candidate, [n·k, d], in (row, candidate) order. */
  hidden: tf.Tensor2D;
  /** The residual entering layer `from` of every candidate, [n·k, d]. */
  residual: tf.Tensor2D;
  lowerKV: LayerKV[];
  rmKV: LayerKV[];
}

/**
 * The first layer the reward model's backbone does not share with `lm`, when it is a `BranchedLM`
 * whose base is `lm` (its layers below are the LM's own tensors); undefined otherwise.
 */
export function partialFuseFrom(lm: CausalLM, rewardModel: RewardModel): number | undefined {
  const backbone = rewardModel.backbone;
  return backbone instanceof BranchedLM && backbone.base === lm ? backbone.from : undefined;
}

export class PartialFusion {
  private readonly d: number;

  constructor(
    private readonly lm: CausalLM,
    private readonly scorer: CausalLM,
    private readonly from: number,
  ) {
    this.d = lm.config.hiddenSize;
  }

  /** The prompts (left-padded) through the lower layers once and each model's top layers: π_ref's logits [B, V] and the caches. */
  prefill(prompts: readonly (readonly number[])[]): { logits: tf.Tensor2D; caches: PartialCaches } {
    const { ids, mask } = leftPad(prompts, this.lm.padId);
    const from = this.from;
    const lower = this.lm.forward({ ids, mask, toLayer: from, returnCache: true }); // hidden: [B, T, d]
    const residual = tf.reshape(lower.hidden, [-1, this.d]) as tf.Tensor2D; // [B·T, d]
    lower.hidden.dispose();
    const lowerCache = lower.cache as KVCache;
    let lmTop: KVCache | undefined;
    try {
      const lmOut = this.lm.forward({ ids, mask, residual, fromLayer: from, logits: 'last', returnCache: true });
      lmOut.hidden.dispose();
      lmTop = lmOut.cache as KVCache;
      try {
        const rmOut = this.scorer.forward({ ids, mask, residual, fromLayer: from, logits: 'none', returnCache: true });
        rmOut.hidden.dispose();
        return { logits: lmOut.logits as tf.Tensor2D, caches: { lower: lowerCache, lmTop, rmTop: rmOut.cache as KVCache } };
      } catch (err) {
        lmOut.logits?.dispose();
        throw err;
      }
    } catch (err) {
      lowerCache.dispose();
      lmTop?.dispose();
      throw err;
    } finally {
      residual.dispose();
    }
  }

  /** Every row's k candidates through the shared lower layers once, then the RM's top layers. */
  score(caches: PartialCaches, candidates: readonly (readonly number[])[]): PartialScored {
    const n = candidates.length;
    const k = candidates[0].length;
    const lower = this.lm.forward({ ids: candidates, cache: caches.lower, candidates: true, toLayer: this.from }); // hidden: [n, k, d]
    const residual = tf.reshape(lower.hidden, [n * k, this.d]) as tf.Tensor2D; // [n·k, d]
    lower.hidden.dispose();
    const lowerKV = lower.candidateKV as LayerKV[];
    try {
      const top = this.scorer.forward({ ids: candidates, residual, fromLayer: this.from, cache: caches.rmTop, candidates: true, logits: 'none' }); // hidden: [n, k, d]
      const hidden = tf.reshape(top.hidden, [n * k, this.d]) as tf.Tensor2D; // [n·k, d]
      top.hidden.dispose();
      return { hidden, residual, lowerKV, rmKV: top.candidateKV as LayerKV[] };
    } catch (err) {
      disposeKV(lowerKV);
      residual.dispose();
      throw err;
    }
  }

  /**
   * After the choice: the chosen candidates' residuals through the LM's top layers (→ next logits
   * [n, V]), and all three caches extended by the chosen tokens. `caches` and `scored` stay intact.
   */
  advance(caches: PartialCaches, scored: PartialScored, chosen: readonly number[], tokens: readonly number[]): { logits: tf.Tensor2D; caches: PartialCaches } {
    const k = scored.lowerKV[0].values.shape[2];
    const residual = tf.tidy(() => tf.gather(scored.residual, tf.tensor1d(Int32Array.from(chosen, (j, b) => b * k + j), 'int32')) as tf.Tensor2D); // [n, d]
    let out: ForwardOutput;
    try {
      out = this.lm.forward({ ids: tokens.map((t) => [t]), residual, fromLayer: this.from, cache: caches.lmTop, logits: 'last', returnCache: true });
    } finally {
      residual.dispose();
    }
    out.hidden.dispose();
    const lmTop = out.cache as KVCache;
    let lower: KVCache | undefined;
    try {
      lower = caches.lower.appendCandidate(scored.lowerKV, chosen);
      const rmTop = caches.rmTop.appendCandidate(scored.rmKV, chosen);
      return { logits: out.logits as tf.Tensor2D, caches: { lower, lmTop, rmTop } };
    } catch (err) {
      // Nothing made here outlives a failed step: the caller keeps `caches` and `scored`.
      out.logits?.dispose();
      lmTop.dispose();
      lower?.dispose();
      throw err;
    }
  }
}

/** The caches' rows `keep`, in that order; the given caches stay valid. */
export function selectPartialRows(caches: PartialCaches, keep: readonly number[]): PartialCaches {
  return { lower: caches.lower.selectRows(keep), lmTop: caches.lmTop.selectRows(keep), rmTop: caches.rmTop.selectRows(keep) };
}

export function disposePartialCaches(caches: PartialCaches): void {
  caches.lower.dispose();
  caches.lmTop.dispose();
  caches.rmTop.dispose();
}

export function disposePartialScored(scored: PartialScored): void {
  scored.hidden.dispose();
  scored.residual.dispose();
  disposeKV(scored.lowerKV);
  disposeKV(scored.rmKV);
}

function disposeKV(layers: readonly LayerKV[]): void {
  for (const l of layers) {
    l.keysT.dispose();
    l.values.dispose();
  }
}
