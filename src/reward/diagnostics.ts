/**
 * What a user needs when accuracy sits at 0.5: pair accuracy on complete responses, prefix accuracy by
 * relative position in the response (deciles), the mean reward margin, and reward mean/std — computed on
 * features of every aligned prefix (EOS alignment, all lengths), whatever mode the head was trained in,
 * so a full-sequence and a partial reward model are measured the same way.
 */
import { tf } from '../engine/tf.js';
import { yieldToEventLoop } from '../engine/yield.js';
import type { PrefixFeatures } from './features.js';
import { prefixFeatures, tokenPair } from '../option-specs.js';
import { arrayOf, checkArgument, instance, required } from '../options.js';
import { RewardHead } from './head.js';
import { isVocabHead, tokenRewards } from './vocab-head.js';
import type { TokenPair } from './prefixes.js';

export interface RewardDiagnostics {
  pairs: number;
  /** Fraction of pairs with r(prompt ⊕ chosen) > r(prompt ⊕ rejected) on complete responses (ties ½). */
  fullAccuracy: number;
  /** Accuracy over all aligned prefix pairs. */
  prefixAccuracy: number;
  /** Accuracy of prefix pairs whose length i / L falls in each tenth of the response (10 entries; NaN if none). */
  prefixAccuracyByDecile: number[];
  /** Mean of r(chosen) − r(rejected) on complete responses. */
  meanMargin: number;
  /** Mean and standard deviation of complete-response rewards (both sides). */
  rewardMean: number;
  rewardStd: number;
  /** Bradley–Terry loss over all aligned prefix pairs (per-prefix weighting). */
  prefixLoss: number;
}

/** Rewards of every feature row of every pair, [pair][side] → Float32Array of n rewards. */
async function rewardsOf(head: RewardHead, f: PrefixFeatures, pairs: readonly TokenPair[]): Promise<Map<number, [Float32Array, Float32Array]>> {
  const out = new Map<number, [Float32Array, Float32Array]>();
  const rowsPerCall = 8192;
  // A vocabulary head scores prefix i by R(state row i − 1)[y_i]: all rows but the last, with their next tokens.
  const vocab = isVocabHead(head);
  const tokens: number[] = [];
  let pending: { pair: number; side: 0 | 1; rows: Float32Array }[] = [];
  let pendingRows = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    await yieldToEventLoop();
    const all = new Float32Array(pendingRows * f.dim);
    let o = 0;
    for (const p of pending) {
      all.set(p.rows, o);
      o += p.rows.length;
    }
    const r = tf.tidy(() => {
      const states = tf.tensor2d(all, [pendingRows, f.dim]); // [rows, d]
      return vocab ? tokenRewards(head, states, tf.tensor1d(Int32Array.from(tokens), 'int32')) : head.apply(states); // [rows]
    });
    const values = (await r.data()) as Float32Array;
    r.dispose();
    let row = 0;
    for (const p of pending) {
      const n = p.rows.length / f.dim;
      const entry = out.get(p.pair) ?? [new Float32Array(0), new Float32Array(0)];
      entry[p.side] = values.slice(row, row + n);
      out.set(p.pair, entry);
      row += n;
    }
    pending = [];
    pendingRows = 0;
    tokens.length = 0;
  };
  for (const pair of f.pairIndices) {
    for (const side of [0, 1] as const) {
      let rows = f.store.get(pair, side);
      if (vocab) {
        rows = rows.subarray(0, rows.length - f.dim);
        const plan = f.plans[pair]!;
        tokens.push(...(side === 0 ? plan.chosenSequence : plan.rejectedSequence).slice(pairs[pair].promptIds.length));
      }
      pending.push({ pair, side, rows });
      pendingRows += rows.length / f.dim;
      if (pendingRows >= rowsPerCall) await flush();
    }
  }
  await flush();
  return out;
}

const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** `features` must come from a pass with mode 'partial', alignment 'eos', minPrefix 1 over `pairs`. */
export async function computeDiagnostics(head: RewardHead, features: PrefixFeatures, pairs: readonly TokenPair[]): Promise<RewardDiagnostics> {
  checkArgument('computeDiagnostics', 'head', head, required(instance(() => RewardHead, 'a RewardHead (rm.head)')));
  checkArgument('computeDiagnostics', 'features', features, required(prefixFeatures()));
  checkArgument('computeDiagnostics', 'pairs', pairs, required(arrayOf(tokenPair(), 'an array of token pairs')));
  const rewards = await rewardsOf(head, features, pairs);
  const decileHits = new Array<number>(10).fill(0);
  const decileCounts = new Array<number>(10).fill(0);
  let fullHits = 0;
  let marginSum = 0;
  let prefixHits = 0;
  let prefixCount = 0;
  let lossSum = 0;
  const endRewards: number[] = [];
  const hit = (a: number, b: number): number => (a > b ? 1 : a === b ? 0.5 : 0);
  for (const pair of features.pairIndices) {
    const [rc, rr] = rewards.get(pair) as [Float32Array, Float32Array];
    const L = rc.length;
    for (let i = 0; i < L; i++) {
      const h = hit(rc[i], rr[i]);
      const decile = Math.min(9, Math.floor((10 * i) / L)); // prefix i + 1 of L: relative position (i + 1) / L
      decileHits[decile] += h;
      decileCounts[decile] += 1;
      prefixHits += h;
      prefixCount += 1;
      lossSum += softplus(-(rc[i] - rr[i]));
    }
    // Complete responses end at their own lengths (later rows of the shorter one are EOS padding).
    const cEnd = rc[pairs[pair].chosenIds.length - 1];
    const rEnd = rr[pairs[pair].rejectedIds.length - 1];
    fullHits += hit(cEnd, rEnd);
    marginSum += cEnd - rEnd;
    endRewards.push(cEnd, rEnd);
  }
  const n = features.pairIndices.length;
  const mean = endRewards.reduce((s, r) => s + r, 0) / Math.max(1, endRewards.length);
  const variance = endRewards.reduce((s, r) => s + (r - mean) ** 2, 0) / Math.max(1, endRewards.length);
  return {
    pairs: n,
    fullAccuracy: fullHits / Math.max(1, n),
    prefixAccuracy: prefixHits / Math.max(1, prefixCount),
    prefixAccuracyByDecile: decileHits.map((h, i) => (decileCounts[i] ? h / decileCounts[i] : Number.NaN)),
    meanMargin: marginSum / Math.max(1, n),
    rewardMean: mean,
    rewardStd: Math.sqrt(variance),
    prefixLoss: lossSum / Math.max(1, prefixCount),
  };
}

/** What a training run records: per-step loss (and accuracy), and the diagnostics of each evaluation. */
export interface TrainingHistory {
  /** Per optimizer step; `accuracy` (chosen ranked above rejected) only for Bradley–Terry objectives. */
  steps: { step: number; loss: number; accuracy?: number }[];
  evals: { step: number; diagnostics: RewardDiagnostics }[];
}
