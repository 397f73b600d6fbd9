/**
 * trainPartialRM: Bradley–Terry training of a reward head on prefix pairs, over a frozen backbone.
 *
 * 1. One backbone pass per sequence gives the features of every prefix (features.ts).
 * 2. The head is trained on (pair, prefix) examples with AdamW, warm-up + cosine decay and gradient
 *    clipping. Only head variables reach the optimizer: the backbone stays bit-identical.
 * 3. Diagnostics on the eval split; atomic checkpoints; exact resume.
 */
import { createHash } from 'node:crypto';
import { tf } from '../engine/tf.js';
import { encodePreferences } from '../data/encode.js';
import type { PreferencePair, PreferenceSet } from '../data/types.js';
import { AbortError, OptionError } from '../errors.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { textPair, tokenPair } from '../option-specs.js';
import { arrayOf, checkArgument } from '../options.js';
import { AdamW } from '../train/adamw.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import type { ClaimedOutput } from '../io/output-dir.js';
import { computeDiagnostics, type TrainingHistory } from './diagnostics.js';
import { epochExamples, examplesPerEpoch, gatherBatch, pairMargins } from './examples.js';
import { extractPrefixFeatures, hashPairs, type FeatureOffload, type FeaturePassOptions, type PrefixFeatures } from './features.js';
import { checkHeadFits, type HostParam } from './head.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import { claimTrainingOutput, resolveOutputOptions, saveFinalModel } from './output.js';
import type { TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';
import { resolve, TRAIN_PARTIAL_RM_SCHEMA, type PairsInput, type Resolved, type TextPair, type TrainEvent, type TrainPartialRMOptions } from './train-options.js';
import { headOptimizer, initHeadParams, initialHead, saveStartCheckpoint } from './train-start.js';
import { extractResidualStates } from './residual-pass.js';
import { trainTopBlocks } from './block-train.js';
import { trainVocabHead } from './vocab-train.js';
import { checkpointToResume, createCadence } from './train-cadence.js';

export type { PairsInput, TextPair, TrainEvent, TrainPartialRMOptions } from './train-options.js';

/** Token-id pairs from any accepted form; text is encoded with the backbone's tokenizer. */
function toTokenPairs(input: PairsInput, backbone: CausalLM, split: 'train' | 'eval', onProgress?: (e: TrainEvent) => void): readonly TokenPair[] {
  const isSet = !Array.isArray(input) && Array.isArray((input as PreferenceSet).pairs);
  const rows = isSet ? (input as PreferenceSet).pairs : (input as readonly (TextPair | TokenPair)[]);
  if (!Array.isArray(rows)) throw new OptionError(`trainPartialRM: ${split === 'train' ? 'pairs' : 'evalPairs'} must be a PreferenceSet or an array of pairs`);
  const name = split === 'train' ? 'pairs' : 'evalPairs';
  if (rows.length > 0 && typeof (rows[0] as PreferencePair).prompt !== 'string') {
    return checkArgument('trainPartialRM', name, rows as readonly TokenPair[], arrayOf(tokenPair(), 'an array of token pairs'));
  }
  if (!isSet) checkArgument('trainPartialRM', name, rows, arrayOf(textPair(), 'an array of {prompt, chosen, rejected} pairs'));
  const textRows = isSet ? (input as PreferenceSet) : (rows as readonly TextPair[]).map((row, index): PreferencePair => ({ ...row, source: row.source ?? { index } }));
  const encoded = encodePreferences(textRows, backbone.tokenizer, { maxLength: Math.min(512, backbone.config.maxPositions) });
  onProgress?.({ kind: 'encoded', split, report: encoded.report, ...(encoded.conversationRendering ? { conversationRendering: encoded.conversationRendering } : {}) });
  return encoded.pairs;
}

/** Precomputed features must describe exactly these pairs, this backbone and these prefix options. */
function checkFeatures(f: PrefixFeatures, prefixes: PrefixFeatures['prefixes'], pairs: readonly TokenPair[], backbone: CausalLM): void {
  if (f.backboneFingerprint !== backbone.fingerprint) throw new OptionError('trainPartialRM: the given features were computed on another backbone');
  if (f.pairsHash !== hashPairs(pairs)) throw new OptionError('trainPartialRM: the given features were computed on another pair list; pass the pairs they were made from');
  if (f.prefixes.mode !== prefixes.mode || f.prefixes.alignment !== prefixes.alignment || f.prefixes.minPrefix !== prefixes.minPrefix || (f.prefixes.states ?? 'prefix-ends') !== (prefixes.states ?? 'prefix-ends')) {
    throw new OptionError(`trainPartialRM: the features were made with ${JSON.stringify(f.prefixes)}, the options ask for ${JSON.stringify(prefixes)}`);
  }
}

export type { TrainingHistory } from './diagnostics.js';

/** A key over everything that determines the trajectory: options, backbone and the exact pairs. */
function runKey(r: Resolved, backbone: CausalLM, pairs: readonly TokenPair[], initParams?: HostParam[]): string {
  const h = createHash('sha256').update(JSON.stringify(r)).update(backbone.fingerprint);
  for (const p of initParams ?? []) h.update(p.name).update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  for (const p of pairs) h.update(JSON.stringify(p.margin === undefined ? [p.promptIds, p.chosenIds, p.rejectedIds] : [p.promptIds, p.chosenIds, p.rejectedIds, p.margin]));
  return h.digest('hex');
}

/** `offload`: where its feature passes may run (see `FeatureOffload`); the public `trainPartialRM` is parallel/dispatch.ts'. */
export async function trainPartialRM(options: TrainPartialRMOptions, offload?: FeatureOffload): Promise<PartialRewardModel> {
  const r = resolve(options);
  const keep = resolveOutputOptions(options);
  const note = (message: string): void => options.onProgress?.({ kind: 'note', message });
  const output = options.checkpointDir ? await claimTrainingOutput({ ...options, checkpointDir: options.checkpointDir }, options.backbone, note) : undefined;
  try {
    return await trainIntoOutput(options, r, keep, output, offload);
  } finally {
    await output?.release();
  }
}

async function trainIntoOutput(options: TrainPartialRMOptions, r: Resolved, keep: number, output: ClaimedOutput | undefined, offload: FeatureOffload | undefined): Promise<PartialRewardModel> {
  const { backbone, signal, onProgress } = options;
  checkHeadFits(r.head, backbone.config.hiddenSize, r.batchSize, tensorMemoryBudget());
  const pairs = toTokenPairs(options.pairs, backbone, 'train', onProgress);
  const evalPairs = options.evalPairs ? toTokenPairs(options.evalPairs, backbone, 'eval', onProgress) : undefined;
  if (pairs.length === 0) throw new OptionError('trainPartialRM: no pair is left after encoding (see the encoded event’s drop report)');
  const passOptions = { backbone, tokensPerBatch: options.tokensPerBatch, memoryBudgetBytes: options.memoryBudgetBytes, workers: options.workers, signal };
  const prefixes = { mode: r.mode, alignment: r.alignment, minPrefix: r.minPrefix, ...(r.head.kind === 'vocab' ? { states: 'from-prompt-end' as const } : {}) };
  if (options.features) checkFeatures(options.features, prefixes, pairs, backbone);
  const initParams = options.init ? await initHeadParams(options.init, r, backbone) : undefined;
  const key = runKey(r, backbone, pairs, initParams);
  /** With trained top blocks, the pass caches the residual entering the first of them. */
  const from = r.trainable ? backbone.config.numLayers - r.trainable.blocks : undefined;
  /** Runs a feature pass; an abort during it still leaves a resumable checkpoint (see saveStartCheckpoint). */
  const featurePass = async (o: FeaturePassOptions): Promise<PrefixFeatures> => {
    try {
      return await (from === undefined ? extractPrefixFeatures(o, offload) : extractResidualStates(o, from));
    } catch (err) {
      if (!(err instanceof AbortError) || !output) throw err;
      const saved = await saveStartCheckpoint(output.dir, r, backbone, pairs, key, options.resume === true, keep, initParams);
      throw new AbortError(`trainPartialRM was aborted during the feature pass; ${saved ? 'a step-0 checkpoint was written to' : 'the existing checkpoint stays in'} "${options.checkpointDir}" (resume: true / --resume continues; the feature pass is redone)`);
    }
  };
  const train = options.features ?? (await featurePass({ ...passOptions, pairs, prefixes, onProgress: (e) => onProgress?.({ ...e, split: 'train' }) }));
  let evalFeatures: PrefixFeatures | undefined;
  let rm: PartialRewardModel | undefined;
  let optimizer: AdamW | undefined;
  try {
    if (train.pairIndices.length === 0) throw new OptionError(`trainPartialRM: no pair has a prefix of at least minPrefix = ${r.minPrefix} tokens`);
    if (evalPairs?.length) {
      evalFeatures = await featurePass({
        ...passOptions,
        pairs: evalPairs,
        prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1, ...(r.head.kind === 'vocab' ? { states: 'from-prompt-end' as const } : {}) },
        onProgress: (e) => onProgress?.({ ...e, split: 'eval' }),
      });
    }
    if (r.trainable) {
      return await trainTopBlocks({ backbone, r, pairs, evalPairs, train, evalFeatures, key, keep, output, initParams, options });
    }
    if (r.head.kind === 'vocab') {
      return await trainVocabHead({ backbone, r, pairs, evalPairs, train, evalFeatures, key, keep, output, options });
    }
    const perEpoch = examplesPerEpoch(train, r.prefix);
    const stepsPerEpoch = Math.ceil(perEpoch / r.batchSize);
    const totalSteps = stepsPerEpoch * r.epochs;
    const schedule = { peak: r.lr, warmupSteps: Math.floor(r.warmupRatio * totalSteps), totalSteps };
    validateSchedule(schedule);
    const history: TrainingHistory = { steps: [], evals: [] };
    const checkpoint = await checkpointToResume(output, backbone, key, options);
    const startStep = checkpoint?.position.step ?? 0;
    if (checkpoint) {
      Object.assign(history, checkpoint.position.history as TrainingHistory);
      onProgress?.({ kind: 'resumed', step: startStep, dir: checkpoint.dir });
    }
    rm = checkpoint?.rm ?? new PartialRewardModel(backbone, initialHead(r, backbone, initParams), r.mode);
    const head = rm.head;
    optimizer = headOptimizer(head, r);
    if (checkpoint) optimizer.restore(checkpoint.optimizerState);
    const live = { rm, optimizer };
    const cadence = createCadence({
      output, key, keep, r, totalSteps, stepsPerEpoch, train, history, options, state: () => live,
      diagnose: async () => (evalFeatures && evalPairs ? computeDiagnostics(head, evalFeatures, evalPairs) : undefined),
    });

    const variables = [...head.variables.values()];
    const margins = pairMargins(pairs, r.margin);
    let examples = startStep < totalSteps ? epochExamples(train, r.prefix, r.weighting, r.seed, Math.floor(startStep / stepsPerEpoch)) : [];
    for (let step = startStep; step < totalSteps; step++) {
      await cadence.beforeStep(step);
      const epoch = Math.floor(step / stepsPerEpoch);
      const inEpoch = step % stepsPerEpoch;
      if (inEpoch === 0 && step !== startStep) examples = epochExamples(train, r.prefix, r.weighting, r.seed, epoch);
      const batch = examples.slice(inEpoch * r.batchSize, (inEpoch + 1) * r.batchSize);
      const host = gatherBatch(train, batch, margins);
      const lr = learningRate(step, schedule);
      const stats = tf.tidy(() => {
        const n = batch.length;
        const chosen = tf.tensor2d(host.chosen, [n, train.dim]); // [n, d]
        const rejected = tf.tensor2d(host.rejected, [n, train.dim]); // [n, d]
        const weights = r.weighting === 'per-pair' ? tf.tensor1d(host.weights) : undefined; // [n]
        const pairMargin = host.margins ? tf.tensor1d(host.margins) : undefined; // [n]
        let gap: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const rc = head.apply(chosen); // [n]
          const rr = head.apply(rejected); // [n]
          gap = tf.keep(tf.sub(rc, rr));
          return bradleyTerryPrefixLoss(rc, rr, { margin: r.margin, margins: pairMargin, weights });
        }, variables);
        const clipped = clipByGlobalNorm(grads, r.clip);
        const names = [...head.variables.keys()];
        const byName = Object.fromEntries(names.map((name) => [name, clipped.grads[head.variables.get(name)!.name]]));
        optimizer!.apply(byName, lr);
        // `gap` was kept out of the gradient tape's scope to report accuracy and margin; free it here.
        const g = gap as tf.Tensor1D;
        const reported = [value, tf.mean(tf.cast(tf.greater(g, 0), 'float32')), tf.mean(g), clipped.norm] as tf.Scalar[];
        g.dispose();
        return reported;
      });
      const [loss, accuracy, margin, gradNorm] = await Promise.all(stats.map(async (t) => (await t.data())[0]));
      stats.forEach((t) => t.dispose());
      assertFiniteStep('trainPartialRM', step + 1, { loss, gradNorm }, `Lower lr (now ${r.lr}) or check the features for NaN.`);
      assertFiniteWeights('trainPartialRM', step + 1, head.variables, `Lower lr (now ${r.lr}).`);
      history.steps.push({ step: step + 1, loss, accuracy });
      onProgress?.({ kind: 'step', step: step + 1, totalSteps, epoch, loss, accuracy, margin, lr, gradNorm });
      await cadence.afterStep(step + 1);
    }
    await cadence.finish();
    if (output) await saveFinalModel(output, rm);
    return rm;
  } catch (err) {
    rm?.dispose();
    throw err;
  } finally {
    optimizer?.dispose();
    if (train !== options.features) train.store.dispose();
    evalFeatures?.store.dispose();
  }
}

export { TRAIN_PARTIAL_RM_SCHEMA };
