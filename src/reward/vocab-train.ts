/**
 * Training of a vocabulary reward head (FaRMA) on the one-pass features (states 'from-prompt-end':
 * row j of a side = the state after j response tokens, row 0 the prompt's last token).
 *
 * Objectives:
 * - 'bt-prefix' (PARGS): Bradley–Terry on aligned same-length prefix pairs, the reward of prefix i
 *   being R(row i − 1)[y_i]; the examples, order and weighting of the linear head.
 * - 'farma' (the official recipe, `RM_FaRMA_train.sh`): `epochs` rounds, each one epoch of Bradley–Terry
 *   on complete responses (R(row L − 1)[y_L] per side), then one epoch of the max-consistency
 *   regression over every prefix of every chosen response (farma.ts).
 *
 * One warm-up + cosine schedule runs over all steps, and one AdamW state over both stages (the official
 * script restarts the optimizer and the linear-decay schedule per stage); checkpoints are not written
 * (see docs/api.md).
 */
import { tf } from '../engine/tf.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import { OptionError } from '../errors.js';
import { yieldAndCheck } from '../engine/yield.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { AdamW } from '../train/adamw.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import { createRng } from '../random.js';
import { epochExamples, type PrefixSelection, type Weighting } from './examples.js';
import { maxConsistencyLoss } from './farma.js';
import type { PrefixFeatures } from './features.js';
import { RewardHead, type HeadSpec } from './head.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import type { RewardMode, TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';
import { tokenRewards } from './vocab-head.js';

export type VocabObjective = 'bt-prefix' | 'farma';

export interface VocabTrainSettings {
  objective: VocabObjective;
  mode: RewardMode;
  head: HeadSpec;
  prefix: PrefixSelection;
  weighting: Weighting;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  clip: number;
  margin: number;
  seed: number;
}

export interface VocabStepEvent {
  kind: 'step';
  step: number;
  totalSteps: number;
  epoch: number;
  /** Which loss the step minimised: Bradley–Terry (prefix pairs or complete responses) or max-consistency. */
  stage: 'bt-prefix' | 'bt-complete' | 'max-consistency';
  loss: number;
  /** Fraction of the batch's pairs ranked right (Bradley–Terry stages; NaN for max-consistency). */
  accuracy: number;
  margin: number;
  lr: number;
  gradNorm: number;
}

/** One batch: Bradley–Terry rows (chosen and rejected state + token) or consistency rows (before, token, after). */
type Batch =
  | { stage: 'bt-prefix' | 'bt-complete'; items: { pair: number; chosenRow: number; chosenToken: number; rejectedRow: number; rejectedToken: number; weight: number }[] }
  | { stage: 'max-consistency'; items: { pair: number; row: number; token: number }[] };

function shuffled<T>(items: T[], seed: number, stream: string): T[] {
  const rng = createRng(seed, stream);
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** Every batch of the run, in order: rebuilt from the seed alone. */
export function vocabBatches(f: PrefixFeatures, pairs: readonly TokenPair[], s: VocabTrainSettings): Batch[] {
  const out: Batch[] = [];
  const token = (pair: number, side: 0 | 1, i: number): number => {
    const plan = f.plans[pair]!;
    const sequence = side === 0 ? plan.chosenSequence : plan.rejectedSequence;
    return sequence[pairs[pair].promptIds.length + i - 1];
  };
  for (let epoch = 0; epoch < s.epochs; epoch++) {
    if (s.objective === 'bt-prefix') {
      // Prefix i of a pair: states row i − 1 on both sides (aligned), tokens y_i of each side.
      const examples = epochExamples(f, s.prefix, s.weighting, s.seed, epoch).map((e) => {
        const i = f.plans[e.pair]!.prefixLengths[e.row];
        return { pair: e.pair, chosenRow: i - 1, chosenToken: token(e.pair, 0, i), rejectedRow: i - 1, rejectedToken: token(e.pair, 1, i), weight: e.weight };
      });
      for (const items of chunk(examples, s.batchSize)) out.push({ stage: 'bt-prefix', items });
      continue;
    }
    // FaRMA round: complete responses (unpadded lengths, capped at the aligned length), then chosen prefixes.
    const complete = shuffled(f.pairIndices.map((pair) => {
      const L = f.plans[pair]!.alignedLength;
      const lc = Math.min(pairs[pair].chosenIds.length, L);
      const lr = Math.min(pairs[pair].rejectedIds.length, L);
      return { pair, chosenRow: lc - 1, chosenToken: token(pair, 0, lc), rejectedRow: lr - 1, rejectedToken: token(pair, 1, lr), weight: 1 };
    }), s.seed, `farma-bt:${epoch}`);
    for (const items of chunk(complete, s.batchSize)) out.push({ stage: 'bt-complete', items });
    const prefixes = shuffled(f.pairIndices.flatMap((pair) => f.plans[pair]!.prefixLengths.map((i) => ({ pair, row: i - 1, token: token(pair, 0, i) }))), s.seed, `farma-max:${epoch}`);
    for (const items of chunk(prefixes, s.batchSize)) out.push({ stage: 'max-consistency', items });
  }
  return out;
}

function rows(f: PrefixFeatures, pair: number, side: 0 | 1, row: number): Float32Array {
  return f.store.get(pair, side).subarray(row * f.dim, (row + 1) * f.dim);
}

/** The loss of one batch (inside a gradient tape) and, for Bradley–Terry stages, the reward gaps. */
function batchLoss(head: RewardHead, f: PrefixFeatures, batch: Batch, s: VocabTrainSettings, margins: readonly number[] | undefined): { loss: tf.Scalar; gap?: tf.Tensor1D } {
  const n = batch.items.length;
  const d = f.dim;
  if (batch.stage === 'max-consistency') {
    const before = new Float32Array(n * d);
    const after = new Float32Array(n * d);
    batch.items.forEach((e, k) => {
      before.set(rows(f, e.pair, 0, e.row), k * d);
      after.set(rows(f, e.pair, 0, e.row + 1), k * d);
    });
    const tokens = tf.tensor1d(Int32Array.from(batch.items, (e) => e.token), 'int32'); // [n]
    return { loss: maxConsistencyLoss(head, tf.tensor2d(before, [n, d]), tokens, tf.tensor2d(after, [n, d])) };
  }
  const chosen = new Float32Array(n * d);
  const rejected = new Float32Array(n * d);
  batch.items.forEach((e, k) => {
    chosen.set(rows(f, e.pair, 0, e.chosenRow), k * d);
    rejected.set(rows(f, e.pair, 1, e.rejectedRow), k * d);
  });
  const rc = tokenRewards(head, tf.tensor2d(chosen, [n, d]), tf.tensor1d(Int32Array.from(batch.items, (e) => e.chosenToken), 'int32')); // [n]
  const rr = tokenRewards(head, tf.tensor2d(rejected, [n, d]), tf.tensor1d(Int32Array.from(batch.items, (e) => e.rejectedToken), 'int32')); // [n]
  const weights = s.weighting === 'per-pair' && batch.stage === 'bt-prefix' ? tf.tensor1d(batch.items.map((e) => e.weight)) : undefined; // [n]
  const perPair = margins ? tf.tensor1d(batch.items.map((e) => margins[e.pair])) : undefined; // [n]
  return { loss: bradleyTerryPrefixLoss(rc, rr, { margin: s.margin, margins: perPair, weights }), gap: tf.sub(rc, rr) };
}

/** Trains a fresh (zero) vocabulary head; `onStep` after every step. The caller owns the returned model. */
export async function trainVocabHead(o: {
  backbone: CausalLM;
  features: PrefixFeatures;
  pairs: readonly TokenPair[];
  margins: readonly number[] | undefined;
  settings: VocabTrainSettings;
  signal?: AbortSignal;
  onStep?: (e: VocabStepEvent) => void;
}): Promise<PartialRewardModel> {
  const s = o.settings;
  const batches = vocabBatches(o.features, o.pairs, s);
  const totalSteps = batches.length;
  const schedule = { peak: s.lr, warmupSteps: Math.floor(s.warmupRatio * totalSteps), totalSteps };
  validateSchedule(schedule);
  const perEpoch = totalSteps / s.epochs;
  const rm = new PartialRewardModel(o.backbone, RewardHead.init(s.head, o.backbone.config.hiddenSize, createRng(s.seed, 'head-init')), s.mode);
  const head = rm.head;
  const optimizer = new AdamW([...head.variables].map(([name, variable]) => ({ name, variable, decay: !name.endsWith('bias') })), { weightDecay: s.weightDecay, beta2: 0.999 });
  try {
    const variables = [...head.variables.values()];
    for (let step = 0; step < totalSteps; step++) {
      await yieldAndCheck(o.signal, 'trainPartialRM (vocabulary head)');
      const batch = batches[step];
      const lr = learningRate(step, schedule);
      const stats = tf.tidy(() => {
        let gap: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const out = batchLoss(head, o.features, batch, s, o.margins);
          if (out.gap) gap = tf.keep(out.gap);
          return out.loss;
        }, variables);
        const clipped = clipByGlobalNorm(grads, s.clip);
        optimizer.apply(Object.fromEntries([...head.variables].map(([name, v]) => [name, clipped.grads[v.name]])), lr);
        const g = gap;
        const reported = [value, g ? tf.mean(tf.cast(tf.greater(g, 0), 'float32')) : tf.scalar(NaN), g ? tf.mean(g) : tf.scalar(NaN), clipped.norm] as tf.Scalar[];
        g?.dispose();
        return reported;
      });
      const [loss, accuracy, margin, gradNorm] = await Promise.all(stats.map(async (t) => (await t.data())[0]));
      stats.forEach((t) => t.dispose());
      assertFiniteStep('trainPartialRM', step + 1, { loss, gradNorm }, `Lower lr (now ${s.lr}).`);
      assertFiniteWeights('trainPartialRM', step + 1, head.variables, `Lower lr (now ${s.lr}).`);
      o.onStep?.({ kind: 'step', step: step + 1, totalSteps, epoch: Math.floor(step / perEpoch), stage: batch.stage, loss, accuracy, margin, lr, gradNorm });
    }
    return rm;
  } catch (err) {
    rm.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}

/** Options the vocabulary head does not support yet: refused, never silently ignored. */
export function refuseVocabUnsupported(o: { resume?: boolean; checkpointEvery?: number; evalEvery?: number }): void {
  const given = (['resume', 'checkpointEvery', 'evalEvery'] as const).filter((k) => o[k] !== undefined && o[k] !== false);
  if (given.length === 0) return;
  throw new OptionError(`trainPartialRM: the vocabulary head does not support ${given.join(', ')} yet (it evaluates once at the end and writes no intermediate checkpoints); leave ${given.length === 1 ? 'it' : 'them'} out`);
}
