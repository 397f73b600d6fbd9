/**
 * The options of trainPartialRM: their schema (checked at the door) and their resolution into the
 * complete, validated settings the trainer runs on (`Resolved`), defaults filled in.
 */
import type { PreferenceSet } from '../data/types.js';
import { OptionError } from '../errors.js';
import * as specs from '../option-specs.js';
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
}

export const TRAIN_PARTIAL_RM_SCHEMA: Schema = {
  backbone: required(specs.causalLM()),
  pairs: required(specs.pairsInput()),
  evalPairs: specs.pairsInput(),
  mode: oneOf('partial', 'full'),
  prefix: tagged('kind', { all: {}, sample: { perPair: required(specs.positiveInt()) } }),
  alignment: oneOf('eos', 'shortest'),
  minPrefix: specs.positiveInt(),
  weighting: oneOf('per-prefix', 'per-pair'),
  head: tagged('kind', { linear: {}, mlp: { hidden: required(specs.positiveInt()) }, vocab: {} }),
  init: specs.rewardModel(),
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
  };
}
