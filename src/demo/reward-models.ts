/**
 * The demo's three reward models, trained fairly: the same linear head, learning rate and number of
 * optimizer steps. The partial RM (PARGS) sets the step budget from its epochs and batch size; the
 * full-sequence RM (ARGS, Best-of-N) and the evaluation RM (the judge no method is guided by) get epochs
 * and batch sizes that give exactly that many steps over their one-example-per-pair epochs.
 */
import { TrainingError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import { examplesPerEpoch } from '../reward/examples.js';
import { extractPrefixFeatures, type PrefixFeatures } from '../reward/features.js';
import type { RewardMode, TokenPair } from '../reward/prefixes.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { trainPartialRM } from '../reward/trainer.js';
import { matchSteps, trainerSteps } from './step-budget.js';

export type RewardModelRole = 'partial' | 'full' | 'judge';

export interface RewardModelReport {
  role: RewardModelRole;
  mode: RewardMode;
  trainPairs: number;
  examplesPerEpoch: number;
  epochs: number;
  batchSize: number;
  /** Optimizer steps the trainer ran (read back from the trained model). */
  steps: number;
  /** On the held-out guide pairs, which no reward model trained on. */
  diagnostics: RewardDiagnostics;
}

export interface DemoRewardModels {
  partial: PartialRewardModel;
  full: PartialRewardModel;
  judge: PartialRewardModel;
  reports: Record<RewardModelRole, RewardModelReport>;
}

export interface DemoRewardModelOptions {
  lm: CausalLM;
  /** Pairs of the guiding reward models (partial and full). */
  guideTrain: readonly TokenPair[];
  /** Held-out pairs: diagnostics of all three. */
  guideEval: readonly TokenPair[];
  /** The evaluation RM's own pairs, disjoint from both lists above. */
  judgeTrain: readonly TokenPair[];
  /** Epochs and batch size of the partial RM; they fix the step budget of all three. */
  epochs: number;
  batchSize: number;
  lr: number;
  seed: number;
  signal?: AbortSignal;
  onStage?: (stage: string) => void;
}

const STAGE: Record<RewardModelRole, string> = {
  partial: 'partial-sequence reward model (PARGS)',
  full: 'full-sequence reward model (ARGS, Best-of-N)',
  judge: 'evaluation reward model (full-sequence, its own pairs; guides nothing)',
};

export async function trainDemoRewardModels(o: DemoRewardModelOptions): Promise<DemoRewardModels> {
  const trained: Partial<Record<RewardModelRole, PartialRewardModel>> = {};
  const reports = {} as Record<RewardModelRole, RewardModelReport>;
  let targetSteps = 0;
  const train = async (role: RewardModelRole, mode: RewardMode, pairs: readonly TokenPair[]): Promise<void> => {
    const features: PrefixFeatures = await extractPrefixFeatures({ backbone: o.lm, pairs, prefixes: { mode, alignment: 'eos', minPrefix: 1 }, signal: o.signal });
    try {
      const examples = examplesPerEpoch(features, { kind: 'all' });
      if (role === 'partial') targetSteps = trainerSteps(examples, o.epochs, o.batchSize);
      const plan = role === 'partial' ? { epochs: o.epochs, batchSize: o.batchSize } : matchSteps(targetSteps, examples, o.batchSize);
      o.onStage?.(`training the ${STAGE[role]}: ${pairs.length} pairs, ${plan.epochs} epochs of ${examples} examples, batch ${plan.batchSize}`);
      const rm = await trainPartialRM({ backbone: o.lm, pairs, evalPairs: o.guideEval, features, mode, epochs: plan.epochs, batchSize: plan.batchSize, lr: o.lr, seed: o.seed, signal: o.signal });
      trained[role] = rm;
      const steps = rm.training.steps;
      if (steps !== targetSteps) throw new TrainingError(`the ${STAGE[role]} ran ${steps} optimizer steps, the partial RM ${targetSteps}; the comparison would not be fair`);
      const evals = rm.training.history.evals;
      reports[role] = { role, mode, trainPairs: pairs.length, examplesPerEpoch: examples, epochs: plan.epochs, batchSize: plan.batchSize, steps, diagnostics: evals[evals.length - 1].diagnostics };
    } finally {
      features.store.dispose();
    }
  };
  try {
    await train('partial', 'partial', o.guideTrain);
    await train('full', 'full', o.guideTrain);
    await train('judge', 'full', o.judgeTrain);
  } catch (err) {
    for (const rm of Object.values(trained)) rm.dispose();
    throw err;
  }
  return { partial: trained.partial!, full: trained.full!, judge: trained.judge!, reports };
}

/** Held-out prefix pairs per tenth of the response, counted as computeDiagnostics counts them (EOS alignment). */
export function prefixPairsByDecile(pairs: readonly TokenPair[]): number[] {
  const counts = new Array<number>(10).fill(0);
  for (const p of pairs) {
    const L = Math.max(p.chosenIds.length, p.rejectedIds.length);
    for (let i = 0; i < L; i++) counts[Math.min(9, Math.floor((10 * i) / L))]++;
  }
  return counts;
}
