/**
 * trainPartialRM: Bradley–Terry training of a reward head on prefix pairs, over a frozen backbone.
 *
 * 1. One backbone pass per sequence gives the features of every prefix (features.ts).
 * 2. The head is trained on (pair, prefix) examples with AdamW, warm-up + cosine decay and gradient
 *    clipping. Only head variables reach the optimizer: the backbone stays bit-identical.
 * 3. Diagnostics on the eval split; atomic checkpoints; exact resume.
 */
import { createHash } from 'node:crypto';
import * as tf from '@tensorflow/tfjs';
import { encodePreferences } from '../data/encode.js';
import type { DropReport, PreferencePair, PreferenceSet } from '../data/types.js';
import { OptionError, TrainingError, throwIfAborted } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { AdamW } from '../pretrain/adamw.js';
import { clipByGlobalNorm } from '../pretrain/clip.js';
import { learningRate, validateSchedule } from '../pretrain/schedule.js';
import { createRng, validateSeed } from '../random.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './checkpoint.js';
import { computeDiagnostics, type RewardDiagnostics } from './diagnostics.js';
import { epochExamples, examplesPerEpoch, gatherBatch, type PrefixSelection, type Weighting } from './examples.js';
import { extractPrefixFeatures, hashPairs, type PrefixFeatures } from './features.js';
import { RewardHead, validateHeadSpec, type HeadSpec } from './head.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import type { Alignment, RewardMode, TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';

export type TrainEvent =
  | { kind: 'encoded'; split: 'train' | 'eval'; report: DropReport }
  | { kind: 'features'; split: 'train' | 'eval'; sequencesDone: number; sequences: number; tokens: number }
  | { kind: 'step'; step: number; totalSteps: number; epoch: number; loss: number; accuracy: number; margin: number; lr: number; gradNorm: number }
  | { kind: 'eval'; step: number; diagnostics: RewardDiagnostics }
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'resumed'; step: number; dir: string };

export interface TrainPartialRMOptions {
  /** The frozen backbone (usually the policy LM itself). */
  backbone: CausalLM;
  /**
   * Preference pairs: text (a `PreferenceSet` from `loadPreferences`, or `{prompt, chosen, rejected}`
   * rows), encoded here with the backbone's tokenizer (longer than 512 tokens: dropped and reported);
   * or token-id pairs from `encodePreferences`.
   */
  pairs: PairsInput;
  /** Held-out pairs for diagnostics (optional), in any form `pairs` takes. */
  evalPairs?: PairsInput;
  /** 'partial' (default): prefixes, PARGS; 'full': complete responses only, an ordinary reward model. */
  mode?: RewardMode;
  /** Which prefixes of each pair per epoch: all of them (exact expectation, default) or m sampled. */
  prefix?: PrefixSelection;
  /** 'eos' (default, the paper): pad the shorter response with EOS; 'shortest': common length only. */
  alignment?: Alignment;
  /** Shortest prefix compared (default 1). */
  minPrefix?: number;
  /** 'per-prefix' (default, the paper: long pairs weigh more) or 'per-pair'. */
  weighting?: Weighting;
  head?: HeadSpec;
  epochs?: number;
  /** Prefix pairs per optimizer step (default 256). */
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  /** Fraction of steps spent warming up (default 0.05). */
  warmupRatio?: number;
  /** Global gradient-norm clip (default 1; 0 disables). */
  clip?: number;
  /** Bradley–Terry margin (default 0). */
  margin?: number;
  seed?: number;
  /** Evaluate every N steps (default: once per epoch and at the end). */
  evalEvery?: number;
  /** Write checkpoints here (atomically); with `resume`, continue from one found there. */
  checkpointDir?: string;
  /** Checkpoint every N steps (default: each epoch's end). */
  checkpointEvery?: number;
  resume?: boolean;
  /**
   * Precomputed training features over exactly `pairs` (e.g. merged shards from `loadFeatureShards`);
   * the feature pass is skipped. Their prefix options must match mode, alignment and minPrefix.
   */
  features?: PrefixFeatures;
  /** Padded tokens per backbone forward in the feature pass (default 4096). */
  tokensPerBatch?: number;
  /** Float32 feature bytes kept in memory before spilling to disk (default 1 GiB). */
  memoryBudgetBytes?: number;
  /** Worker threads for the feature pass (default: PARGS_WORKERS, else the available cores); identical results for any n. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (event: TrainEvent) => void;
}

export type PairsInput = PreferenceSet | readonly PreferencePair[] | readonly TokenPair[];

/** Token-id pairs from any accepted form; text is encoded with the backbone's tokenizer. */
function toTokenPairs(input: PairsInput, backbone: CausalLM, split: 'train' | 'eval', onProgress?: (e: TrainEvent) => void): readonly TokenPair[] {
  const isSet = !Array.isArray(input) && Array.isArray((input as PreferenceSet).pairs);
  const rows = isSet ? (input as PreferenceSet).pairs : (input as readonly (PreferencePair | TokenPair)[]);
  if (!Array.isArray(rows)) throw new OptionError(`trainPartialRM: ${split === 'train' ? 'pairs' : 'evalPairs'} must be a PreferenceSet or an array of pairs`);
  if (rows.length > 0 && typeof (rows[0] as PreferencePair).prompt !== 'string') return rows as readonly TokenPair[];
  const encoded = encodePreferences(isSet ? (input as PreferenceSet) : (rows as PreferencePair[]), backbone.tokenizer);
  onProgress?.({ kind: 'encoded', split, report: encoded.report });
  return encoded.pairs;
}

/** Precomputed features must describe exactly these pairs, this backbone and these prefix options. */
function checkFeatures(f: PrefixFeatures, prefixes: PrefixFeatures['prefixes'], pairs: readonly TokenPair[], backbone: CausalLM): void {
  if (f.backboneFingerprint !== backbone.fingerprint) throw new OptionError('trainPartialRM: the given features were computed on another backbone');
  if (f.pairsHash !== hashPairs(pairs)) throw new OptionError('trainPartialRM: the given features were computed on another pair list; pass the pairs they were made from');
  if (f.prefixes.mode !== prefixes.mode || f.prefixes.alignment !== prefixes.alignment || f.prefixes.minPrefix !== prefixes.minPrefix) {
    throw new OptionError(`trainPartialRM: the features were made with ${JSON.stringify(f.prefixes)}, the options ask for ${JSON.stringify(prefixes)}`);
  }
}

export interface TrainingHistory {
  steps: { step: number; loss: number; accuracy: number }[];
  evals: { step: number; diagnostics: RewardDiagnostics }[];
}

interface Resolved {
  mode: RewardMode;
  prefix: PrefixSelection;
  alignment: Alignment;
  minPrefix: number;
  weighting: Weighting;
  head: HeadSpec;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  clip: number;
  margin: number;
  seed: number;
}

const KNOWN_KEYS = new Set(['backbone', 'pairs', 'evalPairs', 'mode', 'prefix', 'alignment', 'minPrefix', 'weighting', 'head', 'epochs', 'batchSize', 'lr', 'weightDecay', 'warmupRatio', 'clip', 'margin', 'seed', 'evalEvery', 'checkpointDir', 'checkpointEvery', 'resume', 'features', 'tokensPerBatch', 'memoryBudgetBytes', 'workers', 'signal', 'onProgress']);

function positiveInt(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new OptionError(`trainPartialRM: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new OptionError(`trainPartialRM: ${name} must be a non-negative number, got ${value}`);
  return value;
}

function resolve(o: TrainPartialRMOptions): Resolved {
  for (const key of Object.keys(o)) if (!KNOWN_KEYS.has(key)) throw new OptionError(`trainPartialRM: unknown option "${key}"`);
  if (!o.backbone) throw new OptionError('trainPartialRM: backbone is required (a CausalLM from loadCausalLM)');
  const pairCount = Array.isArray(o.pairs) ? o.pairs.length : (o.pairs as PreferenceSet | undefined)?.pairs?.length;
  if (!pairCount) throw new OptionError('trainPartialRM: pairs must be a non-empty PreferenceSet or array of pairs (see loadPreferences / encodePreferences)');
  const mode = o.mode ?? 'partial';
  if (mode !== 'partial' && mode !== 'full') throw new OptionError(`trainPartialRM: mode must be 'partial' or 'full', got ${JSON.stringify(mode)}`);
  const prefix = o.prefix ?? { kind: 'all' };
  if (prefix.kind === 'sample') positiveInt(prefix.perPair, 'prefix.perPair');
  else if (prefix.kind !== 'all') throw new OptionError(`trainPartialRM: prefix must be {kind: 'all'} or {kind: 'sample', perPair}, got ${JSON.stringify(prefix)}`);
  const alignment = o.alignment ?? 'eos';
  if (alignment !== 'eos' && alignment !== 'shortest') throw new OptionError(`trainPartialRM: alignment must be 'eos' or 'shortest', got ${JSON.stringify(alignment)}`);
  const weighting = o.weighting ?? 'per-prefix';
  if (weighting !== 'per-prefix' && weighting !== 'per-pair') throw new OptionError(`trainPartialRM: weighting must be 'per-prefix' or 'per-pair', got ${JSON.stringify(weighting)}`);
  const lr = o.lr ?? 1e-3;
  if (!(lr > 0) || !Number.isFinite(lr)) throw new OptionError(`trainPartialRM: lr must be a positive number, got ${lr}`);
  const warmupRatio = o.warmupRatio ?? 0.05;
  if (!(warmupRatio >= 0 && warmupRatio < 1)) throw new OptionError(`trainPartialRM: warmupRatio must be in [0, 1), got ${warmupRatio}`);
  return {
    mode,
    prefix,
    alignment,
    minPrefix: positiveInt(o.minPrefix ?? 1, 'minPrefix'),
    weighting,
    head: validateHeadSpec(o.head ?? { kind: 'linear' }),
    epochs: positiveInt(o.epochs ?? 1, 'epochs'),
    batchSize: positiveInt(o.batchSize ?? 256, 'batchSize'),
    lr,
    weightDecay: nonNegative(o.weightDecay ?? 0.01, 'weightDecay'),
    warmupRatio,
    clip: nonNegative(o.clip ?? 1, 'clip'),
    margin: nonNegative(o.margin ?? 0, 'margin'),
    seed: validateSeed(o.seed ?? 0, 'trainPartialRM'),
  };
}

/** A key over everything that determines the trajectory: options, backbone and the exact pairs. */
function runKey(r: Resolved, backbone: CausalLM, pairs: readonly TokenPair[]): string {
  const h = createHash('sha256').update(JSON.stringify(r)).update(backbone.fingerprint);
  for (const p of pairs) h.update(JSON.stringify([p.promptIds, p.chosenIds, p.rejectedIds]));
  return h.digest('hex');
}

export async function trainPartialRM(options: TrainPartialRMOptions): Promise<PartialRewardModel> {
  const r = resolve(options);
  const { backbone, signal, onProgress } = options;
  const pairs = toTokenPairs(options.pairs, backbone, 'train', onProgress);
  const evalPairs = options.evalPairs ? toTokenPairs(options.evalPairs, backbone, 'eval', onProgress) : undefined;
  if (pairs.length === 0) throw new OptionError('trainPartialRM: no pair is left after encoding (see the encoded event’s drop report)');
  const passOptions = { backbone, tokensPerBatch: options.tokensPerBatch, memoryBudgetBytes: options.memoryBudgetBytes, workers: options.workers, signal };
  const prefixes = { mode: r.mode, alignment: r.alignment, minPrefix: r.minPrefix };
  if (options.features) checkFeatures(options.features, prefixes, pairs, backbone);
  const train =
    options.features ??
    (await extractPrefixFeatures({ ...passOptions, pairs, prefixes, onProgress: (e) => onProgress?.({ ...e, split: 'train' }) }));
  let evalFeatures: PrefixFeatures | undefined;
  let rm: PartialRewardModel | undefined;
  let optimizer: AdamW | undefined;
  try {
    if (train.pairIndices.length === 0) throw new OptionError(`trainPartialRM: no pair has a prefix of at least minPrefix = ${r.minPrefix} tokens`);
    if (evalPairs?.length) {
      evalFeatures = await extractPrefixFeatures({
        ...passOptions,
        pairs: evalPairs,
        prefixes: { mode: 'partial', alignment: 'eos', minPrefix: 1 },
        onProgress: (e) => onProgress?.({ ...e, split: 'eval' }),
      });
    }
    const perEpoch = examplesPerEpoch(train, r.prefix);
    const stepsPerEpoch = Math.ceil(perEpoch / r.batchSize);
    const totalSteps = stepsPerEpoch * r.epochs;
    const schedule = { peak: r.lr, warmupSteps: Math.floor(r.warmupRatio * totalSteps), totalSteps };
    validateSchedule(schedule);
    const key = runKey(r, backbone, pairs);
    const history: TrainingHistory = { steps: [], evals: [] };

    let startStep = 0;
    const checkpoint = options.resume && options.checkpointDir ? await loadTrainingCheckpoint(options.checkpointDir, backbone) : undefined;
    if (checkpoint) {
      if (checkpoint.position.runKey !== key) {
        checkpoint.rm.dispose();
        throw new OptionError(`trainPartialRM: the checkpoint in "${options.checkpointDir}" was made with other options, data or backbone; resume with the same ones or use a new checkpointDir`);
      }
      rm = checkpoint.rm;
      startStep = checkpoint.position.step;
      Object.assign(history, checkpoint.position.history as TrainingHistory);
      onProgress?.({ kind: 'resumed', step: startStep, dir: options.checkpointDir as string });
    } else {
      rm = new PartialRewardModel(backbone, RewardHead.init(r.head, backbone.config.hiddenSize, createRng(r.seed, 'head-init')), r.mode);
    }
    const head = rm.head;
    optimizer = new AdamW(
      [...head.variables].map(([name, variable]) => ({ name, variable, decay: !name.endsWith('bias') })),
      { weightDecay: r.weightDecay, beta2: 0.999 },
    );
    if (checkpoint) optimizer.restore(checkpoint.optimizerState);

    const evaluate = async (step: number): Promise<void> => {
      if (!evalFeatures || !evalPairs) return;
      const diagnostics = await computeDiagnostics(head, evalFeatures, evalPairs);
      history.evals.push({ step, diagnostics });
      onProgress?.({ kind: 'eval', step, diagnostics });
    };
    const summary = (): Record<string, unknown> => ({ options: r, steps: totalSteps, pairs: train.pairIndices.length, featurePass: train.stats, history });
    const saveCheckpoint = async (step: number): Promise<void> => {
      if (!options.checkpointDir || !rm || !optimizer) return;
      Object.assign(rm.training, summary());
      await saveTrainingCheckpoint(options.checkpointDir, rm, optimizer, { step, totalSteps, runKey: key, history });
      onProgress?.({ kind: 'checkpoint', step, dir: options.checkpointDir });
    };

    const variables = [...head.variables.values()];
    let examples = startStep < totalSteps ? epochExamples(train, r.prefix, r.weighting, r.seed, Math.floor(startStep / stepsPerEpoch)) : [];
    for (let step = startStep; step < totalSteps; step++) {
      if (signal?.aborted) {
        await saveCheckpoint(step);
        throwIfAborted(signal, 'trainPartialRM');
      }
      const epoch = Math.floor(step / stepsPerEpoch);
      const inEpoch = step % stepsPerEpoch;
      if (inEpoch === 0 && step !== startStep) examples = epochExamples(train, r.prefix, r.weighting, r.seed, epoch);
      const batch = examples.slice(inEpoch * r.batchSize, (inEpoch + 1) * r.batchSize);
      const host = gatherBatch(train, batch);
      const lr = learningRate(step, schedule);
      const stats = tf.tidy(() => {
        const n = batch.length;
        const chosen = tf.tensor2d(host.chosen, [n, train.dim]); // [n, d]
        const rejected = tf.tensor2d(host.rejected, [n, train.dim]); // [n, d]
        const weights = r.weighting === 'per-pair' ? tf.tensor1d(host.weights) : undefined; // [n]
        let gap: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const rc = head.apply(chosen); // [n]
          const rr = head.apply(rejected); // [n]
          gap = tf.keep(tf.sub(rc, rr));
          return bradleyTerryPrefixLoss(rc, rr, { margin: r.margin, weights });
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
      if (!Number.isFinite(loss)) {
        throw new TrainingError(`trainPartialRM: the loss became ${loss} at step ${step + 1} of ${totalSteps}; lower lr (now ${r.lr}) or check the features for NaN`);
      }
      history.steps.push({ step: step + 1, loss, accuracy });
      onProgress?.({ kind: 'step', step: step + 1, totalSteps, epoch, loss, accuracy, margin, lr, gradNorm });
      const done = step + 1;
      const epochEnd = done % stepsPerEpoch === 0;
      if ((options.evalEvery ? done % options.evalEvery === 0 : epochEnd) && done !== totalSteps) await evaluate(done);
      if ((options.checkpointEvery ? done % options.checkpointEvery === 0 : epochEnd) && done !== totalSteps) await saveCheckpoint(done);
    }
    await evaluate(totalSteps);
    Object.assign(rm.training, summary());
    await saveCheckpoint(totalSteps);
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
