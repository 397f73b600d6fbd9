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
import type { DropReport, PreferencePair, PreferenceSet } from '../data/types.js';
import { AbortError, OptionError } from '../errors.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { ChatRendering } from '../lm/chat-template.js';
import { textPair, tokenPair } from '../option-specs.js';
import { arrayOf, checkArgument } from '../options.js';
import { AdamW } from '../train/adamw.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import type { ClaimedOutput } from '../io/output-dir.js';
import { computeDiagnostics, type RewardDiagnostics } from './diagnostics.js';
import { epochExamples, examplesPerEpoch, gatherBatch, pairMargins, type PrefixSelection, type Weighting } from './examples.js';
import { extractPrefixFeatures, hashPairs, type FeaturePassOptions, type PrefixFeatures } from './features.js';
import { checkHeadFits, type HeadSpec, type HostParam } from './head.js';
import type { RewardModel } from './reward-model-interface.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import { claimTrainingOutput, resolveOutputOptions, saveFinalModel } from './output.js';
import type { Alignment, RewardMode, TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';
import { resolve, TRAIN_PARTIAL_RM_SCHEMA, type Resolved, type Trainable } from './train-options.js';
import { headOptimizer, initHeadParams, initialHead, saveStartCheckpoint } from './train-start.js';
import { extractResidualStates } from './residual-pass.js';
import { trainTopBlocks } from './block-train.js';
import { trainVocabHead, type VocabObjective } from './vocab-train.js';
import { checkpointToResume, createCadence } from './train-cadence.js';

export type TrainEvent =
  | { kind: 'encoded'; split: 'train' | 'eval'; report: DropReport; conversationRendering?: ChatRendering }
  | { kind: 'features'; split: 'train' | 'eval'; sequencesDone: number; sequences: number; tokens: number }
  | { kind: 'step'; step: number; totalSteps: number; epoch: number; loss: number; accuracy: number; margin: number; lr: number; gradNorm: number; stage?: 'bt-prefix' | 'bt-complete' | 'max-consistency' }
  | { kind: 'eval'; step: number; diagnostics: RewardDiagnostics }
  | { kind: 'checkpoint'; step: number; dir: string }
  | { kind: 'resumed'; step: number; dir: string }
  /** Something the user should know that is not an error: a stale lock taken over, a corrupted checkpoint skipped. */
  | { kind: 'note'; message: string };

export interface TrainPartialRMOptions {
  /** The frozen backbone (usually the policy LM itself). */
  backbone: CausalLM;
  /**
   * Preference pairs: text (a `PreferenceSet` from `loadPreferences`, or `{prompt, chosen, rejected}`
   * rows), encoded here with the backbone's tokenizer (longer than 512 tokens or the backbone's context:
   * dropped and reported in the `encoded` event);
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
  /** `{ kind: 'linear' }` (default), `{ kind: 'mlp', hidden }`, or `{ kind: 'vocab' }`: FaRMA's reward-per-next-token head. */
  head?: HeadSpec;
  /**
   * `{ kind: 'head' }` (default): only the head trains, on frozen final hidden states. `{ kind: 'top-blocks',
   * blocks: m }`: the top m transformer blocks and the final norm train with it; the lower blocks run
   * once per sequence (their output is cached) and stay unchanged. The trained blocks are saved with
   * the head (blocks.safetensors). Not with the vocabulary head, `features` or `workers`.
   */
  trainable?: Trainable;
  /**
   * Start the (linear) head from this reward model's head instead of a random one — e.g. an HF
   * `*ForSequenceClassification` RM's `score` row with bias 0, then continue on prefixes (the paper's
   * TL;DR recipe). It must read the same backbone weights (`backboneFingerprint`) as `backbone`.
   */
  init?: RewardModel;
  /**
   * 'bt-prefix' (default): the Bradley–Terry prefix loss of PARGS. 'farma' (vocabulary head only):
   * FaRMA's rounds of Bradley–Terry on complete responses and max-consistency on chosen prefixes;
   * `epochs` counts the rounds. See docs/api.md.
   */
  objective?: VocabObjective;
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
  /**
   * The output folder: locked for the run, checkpoints in `checkpointDir/checkpoints/step-N/`, the final
   * reward model at its top (loadable with `loadRewardModel(checkpointDir)`). Must be new, empty or an
   * earlier output of ours; see the output-folder rules in docs/guide.md.
   */
  checkpointDir?: string;
  /** Checkpoint every N steps (default: each epoch's end). */
  checkpointEvery?: number;
  /** Checkpoints kept (default 2): a corrupted newest one falls back to the previous one on resume. */
  keepCheckpoints?: number;
  /** Continue from the newest valid checkpoint in `checkpointDir`. */
  resume?: boolean;
  /** Replace an earlier result (or unfinished run) in `checkpointDir`. */
  overwrite?: boolean;
  /**
   * Precomputed training features over exactly `pairs` (e.g. merged shards from `loadFeatureShards`);
   * the feature pass is skipped. Their prefix options must match mode, alignment and minPrefix.
   */
  features?: PrefixFeatures;
  /** Padded tokens per backbone forward in the feature pass (default: what fits in free tensor memory, at most 4096). */
  tokensPerBatch?: number;
  /** Float32 feature bytes kept in memory before spilling to disk (default 1 GiB). */
  memoryBudgetBytes?: number;
  /** Worker threads for the feature pass (default: PARGS_WORKERS, else the available cores); identical results for any n. */
  workers?: number;
  signal?: AbortSignal;
  onProgress?: (event: TrainEvent) => void;
}

/**
 * A text comparison as a user writes it: `{ prompt, chosen, rejected }`, with the rest of
 * `PreferencePair` optional (`source` defaults to the row's index in the array).
 */
export type TextPair = Pick<PreferencePair, 'prompt' | 'chosen' | 'rejected'> & Partial<Omit<PreferencePair, 'prompt' | 'chosen' | 'rejected'>>;

export type PairsInput = PreferenceSet | readonly TextPair[] | readonly TokenPair[];

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

export interface TrainingHistory {
  /** Per optimizer step; `accuracy` (chosen ranked above rejected) only for Bradley–Terry objectives. */
  steps: { step: number; loss: number; accuracy?: number }[];
  evals: { step: number; diagnostics: RewardDiagnostics }[];
}

/** A key over everything that determines the trajectory: options, backbone and the exact pairs. */
function runKey(r: Resolved, backbone: CausalLM, pairs: readonly TokenPair[], initParams?: HostParam[]): string {
  const h = createHash('sha256').update(JSON.stringify(r)).update(backbone.fingerprint);
  for (const p of initParams ?? []) h.update(p.name).update(new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength));
  for (const p of pairs) h.update(JSON.stringify(p.margin === undefined ? [p.promptIds, p.chosenIds, p.rejectedIds] : [p.promptIds, p.chosenIds, p.rejectedIds, p.margin]));
  return h.digest('hex');
}

export async function trainPartialRM(options: TrainPartialRMOptions): Promise<PartialRewardModel> {
  const r = resolve(options);
  const keep = resolveOutputOptions(options);
  const note = (message: string): void => options.onProgress?.({ kind: 'note', message });
  const output = options.checkpointDir ? await claimTrainingOutput({ ...options, checkpointDir: options.checkpointDir }, options.backbone, note) : undefined;
  try {
    return await trainIntoOutput(options, r, keep, output);
  } finally {
    await output?.release();
  }
}

async function trainIntoOutput(options: TrainPartialRMOptions, r: Resolved, keep: number, output: ClaimedOutput | undefined): Promise<PartialRewardModel> {
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
      return await (from === undefined ? extractPrefixFeatures(o) : extractResidualStates(o, from));
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
