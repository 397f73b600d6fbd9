/**
 * How a reward-training run starts: the head's first parameters (seeded, or from an `init` reward model),
 * its AdamW optimizer, and the step-0 checkpoint written when a run is stopped before its first step.
 */
import { OptionError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { AdamW } from '../train/adamw.js';
import { createRng } from '../random.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint } from './checkpoint.js';
import { examplesPerEpoch } from './examples.js';
import { planPairs } from './features.js';
import { RewardHead, type HostParam } from './head.js';
import type { RewardModel } from './reward-model-interface.js';
import { rmSource } from './reward-model-interface.js';
import { PartialRewardModel } from './reward-model.js';
import type { Resolved } from './train-options.js';
import type { TokenPair } from './prefixes.js';
import { vocabBatches } from './vocab-batches.js';

/** The head's starting point: `init`'s parameters when given, else the seeded random head. */
export function initialHead(r: Resolved, backbone: CausalLM, initParams: HostParam[] | undefined): RewardHead {
  if (initParams) return RewardHead.fromHost(r.head, backbone.config.hiddenSize, initParams);
  return RewardHead.init(r.head, backbone.config.hiddenSize, createRng(r.seed, 'head-init'));
}

/** The parameters `init` starts the head from; refused unless it is a linear head on `backbone`'s weights. */
export async function initHeadParams(init: RewardModel, r: Resolved, backbone: CausalLM): Promise<HostParam[]> {
  const from = rmSource(init);
  if (init.backbone.backboneFingerprint !== backbone.backboneFingerprint) {
    throw new OptionError(
      `trainPartialRM: init${from} reads backbone weights with fingerprint ${init.backbone.backboneFingerprint.slice(0, 12)}…, the backbone "${backbone.source}" has ${backbone.backboneFingerprint.slice(0, 12)}…; ` +
        'a head only carries over to the backbone it was trained on — train on the reward model\'s own backbone weights',
    );
  }
  if (init.headSpec.kind !== 'linear' || r.head.kind !== 'linear') {
    throw new OptionError(`trainPartialRM: init${from} has a ${init.headSpec.kind} head and head is ${r.head.kind}; init works for linear heads (the score row of an HF reward model)`);
  }
  return init.head.toHost();
}

/** AdamW over the head's variables; biases are not decayed. */
export function headOptimizer(head: RewardHead, r: Resolved): AdamW {
  return new AdamW([...head.variables].map(([name, variable]) => ({ name, variable, decay: !name.endsWith('bias') })), { weightDecay: r.weightDecay, beta2: 0.999 });
}

/**
 * The checkpoint of a run stopped before its first step: the seeded initial head with fresh optimizer
 * moments at step 0, so `resume` recognises the run (same options and data) and continues it exactly.
 * An existing checkpoint that a resumed run would continue from is kept instead; returns whether one
 * was written.
 */
export async function saveStartCheckpoint(dir: string, r: Resolved, backbone: CausalLM, pairs: readonly TokenPair[], key: string, resume: boolean, keep: number, initParams: HostParam[] | undefined): Promise<boolean> {
  if (resume) {
    // A checkpoint that does not load is not ours to replace either: keep whatever is there.
    const existing = await loadTrainingCheckpoint(dir, backbone).catch(() => 'unreadable' as const);
    if (existing === 'unreadable') return false;
    if (existing) {
      existing.rm.dispose();
      return false;
    }
  }
  const vocab = r.head.kind === 'vocab';
  const plans = planPairs({ backbone, pairs, prefixes: { mode: r.mode, alignment: r.alignment, minPrefix: r.minPrefix, ...(vocab ? { states: 'from-prompt-end' as const } : {}) } });
  const planned = { plans, pairIndices: plans.flatMap((p, i) => (p ? [i] : [])) };
  // The vocabulary head's step count depends on its objective (FaRMA rounds have two stages).
  const totalSteps = vocab ? vocabBatches(planned, pairs, r).length : Math.ceil(examplesPerEpoch(planned, r.prefix) / r.batchSize) * r.epochs;
  const rm = new PartialRewardModel(backbone, initialHead(r, backbone, initParams), r.mode);
  const optimizer = headOptimizer(rm.head, r);
  try {
    await saveTrainingCheckpoint(dir, rm, optimizer, { step: 0, totalSteps, runKey: key, history: { steps: [], evals: [] } }, keep);
    return true;
  } finally {
    optimizer.dispose();
    rm.dispose();
  }
}
