/**
 * The pieces of one guided token, timed in isolation at the shapes `guidedSample` meets (B rows, k
 * candidates, a prefix cache of `cacheLength` slots), for bench/decode.ts:
 *
 * - inherent: the unavoidable work — one k-row candidate step against the shared prefix cache
 *   (`forward({candidates: true, logits: 'none'})`) plus one LM-head row per batch row
 *   (`logitsFromHidden`). On wasm every kernel runs synchronously, so the clock stops when the last
 *   call returns; nothing is read back.
 * - the rest of a guided step, piece by piece: reading the [B, V] logits back, host log-softmax + top-k
 *   over the vocabulary, the reward head on B·k rows (and reading it), the cache append of the chosen
 *   candidates, the per-token text decode, and compaction (selectRows, only when a row finishes).
 */
import { tf } from '../src/engine/tf.js';
import type { CausalLM } from '../src/lm/causal-lm.js';
import type { KVCache, LayerKV } from '../src/lm/kv-cache.js';
import { logSoftmax, topKIndices } from '../src/decode/policy.js';
import { createRng } from '../src/random.js';
import type { PartialRewardModel } from '../src/reward/reward-model.js';

export const PARTS = ['readLogits', 'logSoftmaxTopK', 'rewardHead', 'cacheAppend', 'textDecode', 'compaction'] as const;
export type Part = (typeof PARTS)[number];

export interface CostProbe {
  /** One inherent-cost run, ms. */
  inherent(): number;
  /** One run of every other piece, ms each (synchronous reads: the same copy as `data()` on wasm). */
  parts(): Record<Part, number>;
  dispose(): void;
}

function ms(fn: () => void): number {
  const start = performance.now();
  fn();
  return performance.now() - start;
}

export function costProbe(lm: CausalLM, rm: PartialRewardModel, B: number, K: number, cacheLength: number, seed: number): CostProbe {
  const rng = createRng(seed, `bench:probe:${B}`);
  const V = lm.config.vocabSize;
  const d = lm.config.hiddenSize;
  const id = (): number => Math.floor(rng() * V);
  const pre = lm.prefill(Array.from({ length: B }, () => Array.from({ length: cacheLength }, id)));
  pre.hidden.dispose();
  const cache: KVCache = pre.cache;
  const logits = pre.logits; // [B, V], a stand-in for the next-step logits the loop reads
  const candidates = Array.from({ length: B }, () => Array.from({ length: K }, id));
  const chosen = Array.from({ length: B }, () => Math.floor(rng() * K));
  const chosenRows = Int32Array.from(chosen, (j, b) => b * K + j);
  const kept = lm.forward({ ids: candidates, cache, candidates: true, logits: 'none' });
  const candidateKV = kept.candidateKV as LayerKV[];
  const flatHidden = tf.reshape(kept.hidden, [B * K, d]) as tf.Tensor2D; // [B·k, d]
  kept.hidden.dispose();

  const inherent = (): number => {
    let out: ReturnType<CausalLM['forward']> | undefined;
    let extra: tf.Tensor[] = [];
    const t = ms(() => {
      out = lm.forward({ ids: candidates, cache, candidates: true, logits: 'none' });
      extra = tf.tidy(() => {
        const rows = tf.gather(tf.reshape(out!.hidden, [B * K, d]), tf.tensor1d(chosenRows, 'int32')); // [B, d]
        return [lm.logitsFromHidden(rows)]; // [B, V]
      });
    });
    tf.dispose([out!.hidden, ...extra, ...(out!.candidateKV ?? []).flatMap((l) => [l.keysT, l.values])]);
    return t;
  };

  const parts = (): Record<Part, number> => {
    let host: Float32Array = new Float32Array(0);
    const readLogits = ms(() => (host = logits.dataSync() as Float32Array));
    const logSoftmaxTopK = ms(() => {
      for (let b = 0; b < B; b++) {
        const lp = logSoftmax(host.subarray(b * V, (b + 1) * V));
        topKIndices(lp, K).map((v) => lp[v]);
      }
    });
    const rewardHead = ms(() => {
      const r = rm.rewardsFromHidden(flatHidden); // [B·k]
      r.dataSync();
      r.dispose();
    });
    const cacheAppend = ms(() => cache.appendCandidate(candidateKV, chosen).dispose());
    const textDecode = ms(() => chosen.forEach((j, b) => lm.tokenizer.decode([candidates[b][j]], { skipSpecialTokens: false })));
    const compaction =
      B > 1
        ? ms(() => {
            const keep = Array.from({ length: B - 1 }, (_, i) => i + 1);
            const c = cache.selectRows(keep);
            const l = tf.tidy(() => tf.gather(logits, tf.tensor1d(Int32Array.from(keep), 'int32')));
            c.dispose();
            l.dispose();
          })
        : 0;
    return { readLogits, logSoftmaxTopK, rewardHead, cacheAppend, textDecode, compaction };
  };

  return {
    inherent,
    parts,
    dispose: () => {
      cache.dispose();
      logits.dispose();
      flatHidden.dispose();
      tf.dispose(candidateKV.flatMap((l) => [l.keysT, l.values]));
    },
  };
}
