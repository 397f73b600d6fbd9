/**
 * The options of trainPartialRM: their schema (checked at the door) and their resolution into the
 * complete, validated settings the trainer runs on (`Resolved`), defaults filled in.
 */
import type { PreferenceSet } from '../data/types.js';
import { OptionError } from '../errors.js';
import * as specs from '../option-specs.js';
import { causalLM } from '../lm/lm-specs.js';
import { rewardModel } from './reward-model-spec.js';
import { boolean, checkOptions, func, number, oneOf, required, signal, string, tagged, type Schema } from '../options.js';
import { validateSeed } from '../random.js';
import type { PrefixSelection, Weighting } from './examples.js';
import { validateHeadSpec, type HeadSpec } from './head.js';
import type { Alignment, RewardMode } from './prefixes.js';
import type { TrainPartialRMOptions } from './trainer.js';
import type { VocabObjective } from './vocab-train.js';

export interface Resolved {
  mode: RewardMode;
  prefix: PrefixSelection;
  alignment: Alignment;
  minPrefix: number;
  weighting: Weighting;
  head: HeadSpec;
  objective: VocabObjective;
  epochs: number;
  batchSize: number;
  lr: number;
  weightDecay: number;
  warmupRatio: number;
  clip: number;
  margin: number;
  seed: number;
  /** Present only when top blocks train (head-only runs resolve exactly as before, run keys included). */
  trainable?: { kind: 'top-blocks'; blocks: number };
}

/** What trains: the head alone (default), or also the top `blocks` transformer blocks and the final norm. */
export type Trainable = { kind: 'head' } | { kind: 'top-blocks'; blocks: number };

export const TRAIN_PARTIAL_RM_SCHEMA: Schema = {
  backbone: required(causalLM()),
  pairs: required(specs.pairsInput()),
  evalPairs: specs.pairsInput(),
  mode: oneOf('partial', 'full'),
  prefix: tagged('kind', { all: {}, sample: { perPair: required(specs.positiveInt()) } }),
  alignment: oneOf('eos', 'shortest'),
  minPrefix: specs.positiveInt(),
  weighting: oneOf('per-prefix', 'per-pair'),
  head: tagged('kind', { linear: {}, mlp: { hidden: required(specs.positiveInt()) }, vocab: {} }),
  trainable: tagged('kind', { head: {}, 'top-blocks': { blocks: required(number()) } }),
  init: rewardModel(),
  objective: oneOf('bt-prefix', 'farma'),
  epochs: specs.positiveInt(),
  batchSize: specs.positiveInt(),
  lr: number({ above: 0 }),
  weightDecay: specs.nonNegative(),
  warmupRatio: number({ min: 0 }),
  clip: specs.nonNegative(),
  margin: specs.nonNegative(),
  seed: specs.seed(),
  evalEvery: specs.positiveInt(),
  checkpointDir: string(),
  checkpointEvery: specs.positiveInt(),
  keepCheckpoints: specs.positiveInt(),
  resume: boolean(),
  overwrite: boolean(),
  features: specs.prefixFeatures(),
  tokensPerBatch: specs.positiveInt(),
  memoryBudgetBytes: specs.memoryBudget(),
  workers: specs.positiveInt(),
  signal: signal(),
  onProgress: func(),
};

function positiveInt(value: unknown, name: string): number {
  if (!Number.isInteger(value) || (value as number) < 1) throw new OptionError(`trainPartialRM: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return value as number;
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) throw new OptionError(`trainPartialRM: ${name} must be a non-negative number, got ${value}`);
  return value;
}

export function resolve(o: TrainPartialRMOptions): Resolved {
  checkOptions('trainPartialRM', o, TRAIN_PARTIAL_RM_SCHEMA);
  if (!o.backbone) throw new OptionError('trainPartialRM: backbone is required (a CausalLM from loadCausalLM)');
  // Options about the output folder would be ignored without one (resume: true trained from scratch).
  for (const key of ['resume', 'overwrite', 'checkpointEvery', 'keepCheckpoints'] as const) {
    if (o[key] !== undefined && o[key] !== false && o.checkpointDir === undefined) {
      throw new OptionError(`trainPartialRM: ${key} ${JSON.stringify(o[key])} needs checkpointDir, the run's output folder (CLI: --out) where its checkpoints are; pass checkpointDir, or drop ${key}`);
    }
  }
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
  let head = validateHeadSpec(o.head ?? { kind: 'linear' });
  // A vocabulary head covers the backbone's vocabulary; the size is stored with it and checked at load.
  if (head.kind === 'vocab') head = { kind: 'vocab', vocabSize: o.backbone.config.vocabSize };
  const objective = o.objective ?? 'bt-prefix';
  if (objective === 'farma' && head.kind !== 'vocab') throw new OptionError(`trainPartialRM: objective 'farma' trains a vocabulary head (its max-consistency target is max over next tokens); add head: { kind: 'vocab' } (--head vocab), got head ${JSON.stringify(head)}`);
  if (objective === 'farma' && mode !== 'partial') throw new OptionError("trainPartialRM: objective 'farma' needs mode 'partial' (its consistency stage runs over prefixes)");
  const trainable = resolveTrainable(o, head);
  const warmupRatio = o.warmupRatio ?? 0.05;
  if (!(warmupRatio >= 0 && warmupRatio < 1)) throw new OptionError(`trainPartialRM: warmupRatio must be in [0, 1), got ${warmupRatio}`);
  return {
    mode,
    prefix,
    alignment,
    minPrefix: positiveInt(o.minPrefix ?? 1, 'minPrefix'),
    weighting,
    head,
    objective,
    epochs: positiveInt(o.epochs ?? 1, 'epochs'),
    batchSize: positiveInt(o.batchSize ?? 256, 'batchSize'),
    lr,
    weightDecay: nonNegative(o.weightDecay ?? 0.01, 'weightDecay'),
    warmupRatio,
    clip: nonNegative(o.clip ?? 1, 'clip'),
    margin: nonNegative(o.margin ?? 0, 'margin'),
    seed: validateSeed(o.seed ?? 0, 'trainPartialRM'),
    ...(trainable ? { trainable } : {}),
  };
}

/**
 * `trainable: top-blocks` needs 1 ≤ blocks ≤ the backbone's layers, a linear or MLP head, and its own
 * residual pass: precomputed features (final hidden states) and worker threads do not apply to it.
 */
function resolveTrainable(o: TrainPartialRMOptions, head: HeadSpec): Resolved['trainable'] {
  const t = o.trainable ?? { kind: 'head' };
  if (t.kind === 'head') return undefined;
  const N = o.backbone.config.numLayers;
  if (!Number.isInteger(t.blocks) || t.blocks < 1 || t.blocks > N) {
    throw new OptionError(`trainPartialRM: trainable.blocks must be an integer from 1 to the backbone's ${N} layers, got ${JSON.stringify(t.blocks)} (--unfreeze M)`);
  }
  if (head.kind === 'vocab') throw new OptionError("trainPartialRM: trainable 'top-blocks' works with a linear or MLP head; the vocabulary head (FaRMA) trains on final states only — use head: { kind: 'linear' } or trainable: { kind: 'head' }");
  if (o.features) throw new OptionError("trainPartialRM: features (precomputed final hidden states) cannot train top blocks, which need the residual entering them; drop features or use trainable: { kind: 'head' }");
  if (o.workers !== undefined && o.workers !== 1) throw new OptionError(`trainPartialRM: workers ${o.workers} is not supported with trainable 'top-blocks': its residual pass runs in this thread; drop workers (or pass 1)`);
  return { kind: 'top-blocks', blocks: t.blocks };
}
