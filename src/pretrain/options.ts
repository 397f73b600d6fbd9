/**
 * `pretrainLM` options: the public type, defaults, validation, and the subset ("settings") that
 * determines the trained weights, which a resumed run must reproduce exactly.
 */
import { resolve, sep } from 'node:path';
import { OptionError } from '../errors.js';
import { DEFAULT_KEEP_CHECKPOINTS } from '../io/checkpoint-store.js';
import { nonNegative, nonNegativeInt, positiveInt, seed } from '../option-specs.js';
import { anyOf, boolean, checkOptions, func, integer, number, object, oneOf, required, signal, string, strings, type Schema } from '../options.js';
import { validateSeed } from '../random.js';
import type { ValidationSpec } from './corpus.js';
import { defaultIntermediate } from './model-config.js';
import { validateSchedule } from '../train/schedule.js';

export type PretrainEvent =
  | { type: 'tokenizer'; origin: 'given' | 'checkpoint' | 'cached' | 'trained'; vocabSize: number }
  | { type: 'tokenize'; cached: boolean; trainTokens: number; validationTokens: number; documents: number }
  | { type: 'resume'; step: number }
  | { type: 'step'; step: number; steps: number; loss: number; lr: number; gradNorm: number; tokensPerSec: number; elapsedMs: number }
  | { type: 'eval'; step: number; valLoss: number }
  | { type: 'checkpoint'; step: number; dir: string }
  /** Not an error, but worth knowing: a stale lock taken over, a corrupted checkpoint skipped on resume. */
  | { type: 'note'; message: string }
  | { type: 'done'; steps: number; trainLoss: number; valLoss: number; out: string; wallTimeMs: number };

export interface PretrainOptions {
  /** A .txt file, a folder of .txt files, or the documents themselves. */
  corpus: string | readonly string[];
  /**
   * The model folder to write (config.json, model.safetensors, tokenizer files, training.json), whole
   * or not at all. Must be new, empty or an earlier pargs model (replaced only with `overwrite`).
   */
  out: string;
  /**
   * Checkpoints (`workDir/checkpoints/step-N/`) and caches, locked for the run; default `<out>.work`
   * (beside `out`, so the model folder stays clean). Must be new, empty or an earlier work folder of ours.
   */
  workDir?: string;
  /** Replace an earlier model in `out` and start over an unfinished run in `workDir`. */
  overwrite?: boolean;
  /** Checkpoints kept in `workDir/checkpoints` (default 2). */
  keepCheckpoints?: number;
  /** Tokenized-corpus and trained-tokenizer cache; default `<workDir>/cache`. */
  cacheDir?: string;
  /** A tokenizer folder to use instead of training a byte-level BPE on the corpus. */
  tokenizer?: string;
  layers: number;
  dim: number;
  heads: number;
  kvHeads?: number;
  /** SwiGLU inner width (default ≈ 8/3·dim, a multiple of 32). */
  intermediate?: number;
  /** Training window length T (also the model's max_position_embeddings). */
  context: number;
  /** Vocabulary size of the trained tokenizer (ignored with `tokenizer`). */
  vocabSize: number;
  steps: number;
  batchSize: number;
  /** Peak learning rate. */
  lr: number;
  /** Default: 5 % of the steps. */
  warmupSteps?: number;
  /** Default 0.1 (matrices only). */
  weightDecay?: number;
  /** Global gradient-norm limit; default 1.0, 0 disables. */
  clip?: number;
  beta1?: number;
  beta2?: number;
  seed: number;
  /** Steps between held-out evaluations; default a tenth of the run. */
  evalEvery?: number;
  /** Validation tokens scored per evaluation (default 8192). */
  evalTokens?: number;
  /** Default `{ fraction: 0.05 }`. */
  validation?: ValidationSpec;
  tieEmbeddings?: boolean;
  /** Continue from the checkpoint in `workDir` (start fresh when there is none). */
  resume?: boolean;
  /** Steps between checkpoints; default a twentieth of the run. */
  checkpointEvery?: number;
  /** Weights dtype of model.safetensors (default F16). */
  dtype?: 'F32' | 'F16';
  signal?: AbortSignal;
  onProgress?: (event: PretrainEvent) => void;
}

/** Everything with defaults applied. */
export interface ResolvedOptions extends Required<Omit<PretrainOptions, 'signal' | 'onProgress' | 'tokenizer' | 'kvHeads' | 'corpus' | 'validation'>> {
  corpus: string | readonly string[];
  tokenizer?: string;
  kvHeads: number;
  validation: ValidationSpec;
  signal?: AbortSignal;
  onProgress: (event: PretrainEvent) => void;
}

function int(value: unknown, name: string, min: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new OptionError(`pretrainLM: ${name} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`);
  }
  return value;
}

function num(value: unknown, name: string, ok: (v: number) => boolean, range: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !ok(value)) {
    throw new OptionError(`pretrainLM: ${name} must be ${range}, got ${JSON.stringify(value)}`);
  }
  return value;
}

export const PRETRAIN_SCHEMA: Schema = {
  corpus: required(anyOf(string(), strings())),
  out: required(string()),
  workDir: string(),
  cacheDir: string(),
  tokenizer: string(),
  layers: required(positiveInt()),
  dim: required(integer({ min: 2 })),
  heads: required(positiveInt()),
  kvHeads: positiveInt(),
  intermediate: positiveInt(),
  context: required(positiveInt()),
  vocabSize: required(integer({ min: 2 })),
  steps: required(positiveInt()),
  batchSize: required(positiveInt()),
  lr: required(number({ above: 0 })),
  warmupSteps: nonNegativeInt(),
  weightDecay: nonNegative(),
  clip: nonNegative(),
  beta1: number({ min: 0 }),
  beta2: number({ min: 0 }),
  seed: required(seed()),
  evalEvery: positiveInt(),
  evalTokens: positiveInt(),
  validation: anyOf(object({ fraction: number() }, '{ fraction }'), object({ files: required(strings()) }, '{ files }')),
  tieEmbeddings: boolean(),
  resume: boolean(),
  checkpointEvery: positiveInt(),
  keepCheckpoints: positiveInt(),
  overwrite: boolean(),
  dtype: oneOf('F32', 'F16'),
  signal: signal(),
  onProgress: func(),
};

export function resolveOptions(o: PretrainOptions): ResolvedOptions {
  checkOptions('pretrainLM', o, PRETRAIN_SCHEMA);
  if (typeof o.out !== 'string' || o.out === '') throw new OptionError('pretrainLM: out must be the path of the model folder to write');
  const steps = int(o.steps, 'steps', 1);
  const workDir = resolve(o.workDir ?? `${resolve(o.out)}.work`);
  const out = resolve(o.out);
  if (workDir === out || workDir.startsWith(`${out}${sep}`)) {
    throw new OptionError(`pretrainLM: workDir ${workDir} must not be out (${out}) or inside it: out receives the model at the end and must then hold nothing pargs did not write`);
  }
  if (o.overwrite !== undefined && typeof o.overwrite !== 'boolean') throw new OptionError(`pretrainLM: overwrite must be true or false, got ${JSON.stringify(o.overwrite)}`);
  if (o.overwrite && o.resume) throw new OptionError('pretrainLM: resume and overwrite exclude each other: resume continues the run in workDir, overwrite starts it over');
  const dim = int(o.dim, 'dim', 2);
  const r: ResolvedOptions = {
    corpus: o.corpus,
    out: o.out,
    workDir,
    cacheDir: o.cacheDir ?? `${workDir}/cache`,
    tokenizer: o.tokenizer,
    layers: int(o.layers, 'layers', 1),
    dim,
    heads: int(o.heads, 'heads', 1),
    kvHeads: int(o.kvHeads ?? o.heads, 'kvHeads', 1),
    intermediate: int(o.intermediate ?? defaultIntermediate(dim), 'intermediate', 1),
    context: int(o.context, 'context', 1),
    vocabSize: int(o.vocabSize, 'vocabSize', 2),
    steps,
    batchSize: int(o.batchSize, 'batchSize', 1),
    lr: num(o.lr, 'lr', (v) => v > 0, 'a positive number'),
    warmupSteps: int(o.warmupSteps ?? Math.round(steps / 20), 'warmupSteps', 0),
    weightDecay: num(o.weightDecay ?? 0.1, 'weightDecay', (v) => v >= 0, 'a non-negative number'),
    clip: num(o.clip ?? 1, 'clip', (v) => v >= 0, 'a non-negative number (0 disables clipping)'),
    beta1: num(o.beta1 ?? 0.9, 'beta1', (v) => v >= 0 && v < 1, 'in [0, 1)'),
    beta2: num(o.beta2 ?? 0.95, 'beta2', (v) => v >= 0 && v < 1, 'in [0, 1)'),
    seed: validateSeed(o.seed, 'pretrainLM'),
    evalEvery: int(o.evalEvery ?? Math.max(1, Math.round(steps / 10)), 'evalEvery', 1),
    evalTokens: int(o.evalTokens ?? 8192, 'evalTokens', 1),
    validation: o.validation ?? { fraction: 0.05 },
    tieEmbeddings: o.tieEmbeddings ?? true,
    resume: o.resume ?? false,
    overwrite: o.overwrite ?? false,
    keepCheckpoints: int(o.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS, 'keepCheckpoints', 1),
    checkpointEvery: int(o.checkpointEvery ?? Math.max(1, Math.round(steps / 20)), 'checkpointEvery', 1),
    dtype: o.dtype ?? 'F16',
    signal: o.signal,
    onProgress: o.onProgress ?? (() => undefined),
  };
  if (r.dtype !== 'F16' && r.dtype !== 'F32') throw new OptionError(`pretrainLM: dtype must be 'F16' or 'F32', got ${JSON.stringify(r.dtype)}`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new OptionError('pretrainLM: onProgress must be a function');
  validateSchedule({ peak: r.lr, warmupSteps: r.warmupSteps, totalSteps: steps });
  return r;
}

/** The options that change the trained weights; a resumed run must match these exactly. */
export function trainingSettings(r: ResolvedOptions, vocabSize: number): Record<string, unknown> {
  return {
    layers: r.layers, dim: r.dim, heads: r.heads, kvHeads: r.kvHeads, intermediate: r.intermediate,
    context: r.context, vocabSize, steps: r.steps, batchSize: r.batchSize, lr: r.lr,
    warmupSteps: r.warmupSteps, weightDecay: r.weightDecay, clip: r.clip, beta1: r.beta1, beta2: r.beta2,
    seed: r.seed, tieEmbeddings: r.tieEmbeddings,
  };
}
