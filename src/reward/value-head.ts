/**
 * trainValueHead: the prefix value model of Controlled Decoding (CD, FUDGE-style), a head on the frozen
 * backbone's one-pass features regressed with mean squared error onto the score of complete responses
 * that continue each prefix: V(x, y_≤i) ≈ E[ r(x, y) | y starts with y_≤i ].
 *
 * Monte-Carlo target with one rollout per prefix: the samples are the pairs' own two responses, and
 * every prefix of a response gets that response's complete score (`targets[p] = [chosen, rejected]`, from
 * a full-sequence reward model or a judge). Under EOS alignment (the features' plan, as PARGS trains) the
 * shorter response's padded rows are the complete response followed by EOS, whose value is its score too.
 * One example = one (pair, prefix row) with both sides, as in trainPartialRM, so at the same epochs and
 * batch size both heads take the same number of optimizer steps.
 *
 * The result is a PartialRewardModel (mode 'partial': it scores prefixes) whose `training.objective` is
 * 'value-mse'; guidedSample uses it unchanged, `save` / `loadRewardModel` keep the marker.
 */
import { tf } from '../engine/tf.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import { yieldAndCheck } from '../engine/yield.js';
import { OptionError } from '../errors.js';
import * as specs from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { arrayOf, checkOptions, custom, func, number, required, signal, tagged, type Schema } from '../options.js';
import { AdamW } from '../train/adamw.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import { createRng, validateSeed } from '../random.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { epochExamples, examplesPerEpoch, gatherBatch } from './examples.js';
import { extractPrefixFeatures, hashPairs, type FeatureOffload, type PrefixFeatures } from './features.js';
import { RewardHead, validateHeadSpec, type HeadSpec } from './head.js';
import type { TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';

/** `training.objective` of a value head: what `pargs sample --method cd` checks for. */
export const VALUE_OBJECTIVE = 'value-mse';

export const isValueHead = (rm: PartialRewardModel): boolean => rm.training.objective === VALUE_OBJECTIVE;

export interface TrainValueHeadOptions {
  backbone: CausalLM;
  /** The sampled responses, as preference pairs (their label is not used; both sides are samples). */
  pairs: readonly TokenPair[];
  /** One [chosen score, rejected score] per pair: the complete responses' scores every prefix regresses onto. */
  targets: readonly (readonly [number, number])[];
  /** Precomputed features of exactly `pairs` in partial mode (e.g. the PARGS training features). */
  features?: PrefixFeatures;
  head?: HeadSpec;
  epochs?: number;
  /** (pair, prefix) examples per step, each with both sides (default 256). */
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  warmupRatio?: number;
  clip?: number;
  seed?: number;
  signal?: AbortSignal;
  onProgress?: (event: { kind: 'step'; step: number; totalSteps: number; loss: number; lr: number }) => void;
}

export const TRAIN_VALUE_HEAD_SCHEMA: Schema = {
  backbone: required(causalLM()),
  pairs: required(arrayOf(specs.tokenPair(), 'an array of token pairs (from encodePreferences)')),
  targets: required(arrayOf(custom('a [chosen, rejected] pair of finite numbers', (v) => Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number' && Number.isFinite(x)), ['1', [1]]), 'an array of [chosen, rejected] scores')),
  features: specs.prefixFeatures(),
  head: tagged('kind', { linear: {}, mlp: { hidden: required(specs.positiveInt()) } }),
  epochs: specs.positiveInt(),
  batchSize: specs.positiveInt(),
  lr: number({ above: 0 }),
  weightDecay: specs.nonNegative(),
  warmupRatio: number({ min: 0 }),
  clip: specs.nonNegative(),
  seed: specs.seed(),
  signal: signal(),
  onProgress: func(),
};

/** The regression targets of a batch: both sides of each example, chosen rows first ([2n]). */
export function batchTargets(batch: readonly { pair: number }[], targets: readonly (readonly [number, number])[]): Float32Array {
  const out = new Float32Array(2 * batch.length);
  batch.forEach((e, i) => {
    out[i] = targets[e.pair][0];
    out[batch.length + i] = targets[e.pair][1];
  });
  return out;
}

/** Mean squared error of the head over every (pair, prefix, side) row of `features`. */
export async function valueMse(head: RewardHead, features: PrefixFeatures, targets: readonly (readonly [number, number])[]): Promise<number> {
  let sum = 0;
  let count = 0;
  for (const pair of features.pairIndices) {
    for (const side of [0, 1] as const) {
      const rows = features.store.get(pair, side);
      const n = rows.length / features.dim;
      const pred = tf.tidy(() => head.apply(tf.tensor2d(rows, [n, features.dim]))); // [n]
      const values = await pred.data();
      pred.dispose();
      for (const v of values) sum += (v - targets[pair][side]) ** 2;
      count += n;
    }
  }
  return sum / count;
}

/** `offload`: where its feature pass may run (see `FeatureOffload`); the public `trainValueHead` is parallel/dispatch.ts'. */
export async function trainValueHead(o: TrainValueHeadOptions, offload?: FeatureOffload): Promise<PartialRewardModel> {
  checkOptions('trainValueHead', o, TRAIN_VALUE_HEAD_SCHEMA);
  if (o.targets.length !== o.pairs.length) throw new OptionError(`trainValueHead: targets has ${o.targets.length} entries for ${o.pairs.length} pairs; give one [chosen, rejected] score per pair`);
  if (o.pairs.length === 0) throw new OptionError('trainValueHead: pairs is empty');
  const spec = validateHeadSpec(o.head ?? { kind: 'linear' });
  const epochs = o.epochs ?? 1;
  const batchSize = o.batchSize ?? 256;
  const lr = o.lr ?? 1e-3;
  const warmupRatio = o.warmupRatio ?? 0.05;
  if (!(warmupRatio < 1)) throw new OptionError(`trainValueHead: warmupRatio must be in [0, 1), got ${warmupRatio}`);
  const clip = o.clip ?? 1;
  const seed = validateSeed(o.seed ?? 0, 'trainValueHead');
  const { backbone } = o;
  if (o.features) {
    if (o.features.backboneFingerprint !== backbone.fingerprint) throw new OptionError('trainValueHead: the given features were computed on another backbone');
    if (o.features.pairsHash !== hashPairs(o.pairs)) throw new OptionError('trainValueHead: the given features were computed on another pair list; pass the pairs they were made from');
    if (o.features.prefixes.mode !== 'partial') throw new OptionError("trainValueHead: the features must be of prefixes (mode 'partial'), not complete responses");
  }
  const features = o.features ?? (await extractPrefixFeatures({ backbone, pairs: o.pairs, prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 }, signal: o.signal }, offload));
  let head: RewardHead | undefined;
  let optimizer: AdamW | undefined;
  let kept = false;
  try {
    const fresh = RewardHead.init(spec, backbone.config.hiddenSize, createRng(seed, 'value-head-init'));
    head = fresh;
    const adamw = new AdamW([...fresh.variables].map(([name, variable]) => ({ name, variable, decay: !name.endsWith('bias') })), { weightDecay: o.weightDecay ?? 0.01, beta2: 0.999 });
    optimizer = adamw;
    const perEpoch = examplesPerEpoch(features, { kind: 'all' });
    if (perEpoch === 0) throw new OptionError('trainValueHead: no pair has a response token to regress on');
    const stepsPerEpoch = Math.ceil(perEpoch / batchSize);
    const totalSteps = stepsPerEpoch * epochs;
    const schedule = { peak: lr, warmupSteps: Math.floor(warmupRatio * totalSteps), totalSteps };
    validateSchedule(schedule);
    const variables = [...head.variables.values()];
    const losses: { step: number; loss: number }[] = [];
    const initialMse = await valueMse(head, features, o.targets);
    let examples = epochExamples(features, { kind: 'all' }, 'per-prefix', seed, 0);
    for (let step = 0; step < totalSteps; step++) {
      await yieldAndCheck(o.signal, 'trainValueHead');
      const inEpoch = step % stepsPerEpoch;
      if (inEpoch === 0 && step > 0) examples = epochExamples(features, { kind: 'all' }, 'per-prefix', seed, step / stepsPerEpoch);
      const batch = examples.slice(inEpoch * batchSize, (inEpoch + 1) * batchSize);
      const host = gatherBatch(features, batch);
      const y = batchTargets(batch, o.targets);
      const stepLr = learningRate(step, schedule);
      const [lossT, normT] = tf.tidy(() => {
        const n = batch.length;
        const x = tf.concat([tf.tensor2d(host.chosen, [n, features.dim]), tf.tensor2d(host.rejected, [n, features.dim])]) as tf.Tensor2D; // [2n, d]
        const target = tf.tensor1d(y); // [2n]
        const { value, grads } = tf.variableGrads(() => tf.mean(tf.square(tf.sub(fresh.apply(x), target))) as tf.Scalar, variables);
        const clipped = clipByGlobalNorm(grads, clip);
        adamw.apply(Object.fromEntries([...fresh.variables].map(([name, v]) => [name, clipped.grads[v.name]])), stepLr);
        return [value, clipped.norm];
      });
      const [loss, gradNorm] = [(await lossT.data())[0], (await normT.data())[0]];
      lossT.dispose();
      normT.dispose();
      assertFiniteStep('trainValueHead', step + 1, { loss, gradNorm }, `Lower lr (now ${lr}) or rescale the targets.`);
      assertFiniteWeights('trainValueHead', step + 1, head.variables, `Lower lr (now ${lr}).`);
      losses.push({ step: step + 1, loss });
      o.onProgress?.({ kind: 'step', step: step + 1, totalSteps, loss, lr: stepLr });
    }
    const finalMse = await valueMse(head, features, o.targets);
    const rm = new PartialRewardModel(backbone, head, 'partial', {
      objective: VALUE_OBJECTIVE,
      target: 'the complete score of the response each prefix belongs to (Monte-Carlo, one rollout per prefix)',
      options: { head: spec, epochs, batchSize, lr, warmupRatio, clip, seed },
      steps: totalSteps,
      pairs: features.pairIndices.length,
      mse: { initial: initialMse, final: finalMse },
      history: { steps: losses, evals: [] },
    });
    kept = true;
    return rm;
  } finally {
    optimizer?.dispose();
    if (!kept) head?.dispose();
    if (features !== o.features) features.store.dispose();
  }
}
