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
import type { DropReport, PreferencePair } from '../data/types.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { ChatRendering } from '../lm/chat-template.js';
import type { RewardDiagnostics } from './diagnostics.js';
import type { PrefixFeatures } from './features.js';
import type { RewardModel } from './reward-model-interface.js';
import type { TokenPair } from './prefixes.js';

/** The vocabulary head's objective: Bradley–Terry on prefixes, or FaRMA's. */
export type VocabObjective = 'bt-prefix' | 'farma';

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
