/**
 * Messages between the main thread and a pargs worker. A worker is started with a `WorkerInit`
 * (which models to load, and the reward head's weights when decoding is guided), answers `ready`,
 * then runs one task at a time: `task` in, any number of `event`s and one `result` (or `error`) out.
 */
import type { BackendName } from '../engine/backend.js';
import type { GenerateOptions } from '../decode/generate.js';
import type { GuidedSampleOptions } from '../decode/guided.js';
import type { BestOfNOptions } from '../decode/baselines.js';
import type { HeadSpec, HostParam } from '../reward/head.js';
import type { RewardMode } from '../reward/prefixes.js';

/** A model folder and the fingerprint the main thread's copy has: a worker refuses any other weights. */
export interface ModelRef {
  dir: string;
  fingerprint: string;
}

export interface HeadPayload {
  spec: HeadSpec;
  inputDim: number;
  mode: RewardMode;
  /** Sent as Float32Arrays: a head trained in memory needs no file. */
  params: HostParam[];
}

export interface WorkerInit {
  backend: BackendName;
  lm: ModelRef;
  /** The reward model's backbone when it is another model than `lm`; absent: the LM itself (fused). */
  scorer?: ModelRef;
  head?: HeadPayload;
}

/** One sequence of the feature pass: its ids and the positions whose hidden states are kept. */
export interface FeatureJob {
  ids: number[];
  positions: number[];
}

/** Decoding options that cross the thread boundary (no models, signal or callbacks). */
export type PlainGenerateOptions = Omit<GenerateOptions, 'lm' | 'signal' | 'onToken' | 'prompts' | 'workers'>;
export type PlainBestOfNOptions = Omit<BestOfNOptions, 'lm' | 'rewardModel' | 'signal' | 'prompts' | 'workers'>;
export type PlainGuidedOptions = Omit<GuidedSampleOptions, 'lm' | 'rewardModel' | 'signal' | 'onToken' | 'prompts' | 'workers'>;

export type Task =
  /** One feature-pass batch exactly as the main thread planned it. */
  | { kind: 'features'; jobs: FeatureJob[] }
  /** A chunk of prompts, left-padded to `padTo` tokens: the length the whole prompt list pads to. */
  | { kind: 'generate'; options: PlainGenerateOptions; padTo: number; events: boolean }
  | { kind: 'guided'; options: PlainGuidedOptions; padTo: number; events: boolean }
  | { kind: 'bestOfN'; options: PlainBestOfNOptions; padTo: number };

export type ToMain =
  | { type: 'ready' }
  | { type: 'event'; id: number; event: unknown }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id?: number; name: string; message: string; stack?: string };

export type ToWorker = { type: 'task'; id: number; task: Task };
