/**
 * The public entry points that take `workers`: each is the single-thread loop of its floor (decode/,
 * reward/) given the worker-thread offload of this one, so the loops know nothing of threads and the
 * results are bit-identical for any worker count (see decode-parallel.ts, features-parallel.ts).
 */
import * as baselines from '../decode/baselines.js';
import type { ArgsSampleOptions, BestOfNOptions, BestOfNResult } from '../decode/baselines.js';
import * as plain from '../decode/generate.js';
import type { GeneratedToken, GenerateOptions, Generation } from '../decode/generate.js';
import * as guided from '../decode/guided.js';
import type { GuidedGeneration, GuidedSampleOptions, GuidedToken } from '../decode/guided.js';
import * as features from '../reward/features.js';
import type { FeaturePassOptions, PrefixFeatures } from '../reward/features.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import * as trainer from '../reward/trainer.js';
import type { TrainPartialRMOptions } from '../reward/trainer.js';
import * as valueHead from '../reward/value-head.js';
import type { TrainValueHeadOptions } from '../reward/value-head.js';
import { bestOfNOnWorkers, generateOnWorkers, guidedOnWorkers } from './decode-parallel.js';
import { extractOnWorkers } from './features-parallel.js';

/** Decodes `options.prompts` with the base model alone (decode/generate.ts), on `workers` threads. */
export function generate(options: GenerateOptions): Promise<Generation[]> {
  return plain.generate(options, generateOnWorkers);
}

export function generateStream(options: Omit<GenerateOptions, 'onToken'>): AsyncGenerator<GeneratedToken, Generation[], undefined> {
  return plain.generateStream(options, generateOnWorkers);
}

export function sample(options: GenerateOptions): Promise<Generation[]> {
  return baselines.sample(options, generateOnWorkers);
}

/** PARGS (decode/guided.ts), on `workers` threads. */
export function guidedSample(options: GuidedSampleOptions): Promise<GuidedGeneration[]> {
  return guided.guidedSample(options, guidedOnWorkers);
}

export function guidedSampleStream(options: Omit<GuidedSampleOptions, 'onToken'>): AsyncGenerator<GuidedToken, GuidedGeneration[], undefined> {
  return guided.guidedSampleStream(options, guidedOnWorkers);
}

export function argsSample(options: ArgsSampleOptions): Promise<GuidedGeneration[]> {
  return baselines.argsSample(options, guidedOnWorkers);
}

export function bestOfN(options: BestOfNOptions): Promise<BestOfNResult[]> {
  return baselines.bestOfN(options, bestOfNOnWorkers);
}

/** The one-pass feature extraction (reward/features.ts), its batches on `workers` threads. */
export function extractPrefixFeatures(o: FeaturePassOptions): Promise<PrefixFeatures> {
  return features.extractPrefixFeatures(o, extractOnWorkers);
}

export function trainPartialRM(options: TrainPartialRMOptions): Promise<PartialRewardModel> {
  return trainer.trainPartialRM(options, extractOnWorkers);
}

export function trainValueHead(o: TrainValueHeadOptions): Promise<PartialRewardModel> {
  return valueHead.trainValueHead(o, extractOnWorkers);
}
