/**
 * The demo's reward models, trained fairly: the same linear head, learning rate and number of
 * optimizer steps. The partial RM (PARGS) sets the step budget from its epochs and batch size; the
 * full-sequence RM (ARGS, Best-of-N) and the evaluation RM (the judge no method is guided by) get epochs
 * and batch sizes that give exactly that many steps over their one-example-per-pair epochs. The CD value
 * head regresses the same (pair, prefix) examples as the partial RM, at its epochs and batch size, onto
 * the full-sequence RM's score of each complete response — the same preference data, seen through the
 * full RM, so it knows nothing the other guides do not. The vocabulary-head RM (FaRMA's head, one reward
 * per next token) trains with PARGS' Bradley–Terry prefix loss on the partial RM's pairs, epochs, batch
 * size and learning rate: the same examples and steps, a head V times wider.
 */
import { TrainingError } from '../errors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { RewardDiagnostics } from '../reward/diagnostics.js';
import { examplesPerEpoch } from '../reward/examples.js';
import { type PrefixFeatures } from '../reward/features.js';
import { extractPrefixFeatures } from '../parallel/dispatch.js';
import type { RewardMode, TokenPair } from '../reward/prefixes.js';
import type { PartialRewardModel } from '../reward/reward-model.js';
import { computeDiagnostics } from '../reward/diagnostics.js';
import { trainPartialRM } from '../parallel/dispatch.js';
import { trainValueHead } from '../parallel/dispatch.js';
import { matchSteps, trainerSteps } from './step-budget.js';

export type RewardModelRole = 'partial' | 'full' | 'judge' | 'cd' | 'vocab';

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
  /** The CD prefix value head (FUDGE-style), a reward head over prefixes. */
  cd: PartialRewardModel;
  /** The vocabulary-head partial RM (FaRMA's head, PARGS' prefix loss). */
  vocab: PartialRewardModel;
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
  cd: 'CD value head (MSE onto the full RM’s score of each complete response)',
  vocab: 'vocabulary-head partial reward model (FaRMA’s head, PARGS’ prefix loss)',
};

const PREFIXES = { mode: 'partial', alignment: 'eos', minPrefix: 1 } as const;

export async function trainDemoRewardModels(o: DemoRewardModelOptions): Promise<DemoRewardModels> {
  const trained: Partial<Record<RewardModelRole, PartialRewardModel>> = {};
  const reports = {} as Record<RewardModelRole, RewardModelReport>;
  const features = (mode: RewardMode, pairs: readonly TokenPair[]): Promise<PrefixFeatures> => extractPrefixFeatures({ backbone: o.lm, pairs, prefixes: { ...PREFIXES, mode }, signal: o.signal });
  // The partial RM's features are kept for the CD value head, which regresses on the same examples.
  const partialFeatures = await features('partial', o.guideTrain);
  const targetSteps = trainerSteps(examplesPerEpoch(partialFeatures, { kind: 'all' }), o.epochs, o.batchSize);
  const checkSteps = (role: RewardModelRole, steps: number): void => {
    if (steps !== targetSteps) throw new TrainingError(`the ${STAGE[role]} ran ${steps} optimizer steps, the partial RM ${targetSteps}; the comparison would not be fair`);
  };
  const train = async (role: RewardModelRole, mode: RewardMode, pairs: readonly TokenPair[]): Promise<void> => {
    const own = role === 'partial' ? partialFeatures : await features(mode, pairs);
    try {
      const examples = examplesPerEpoch(own, { kind: 'all' });
      const plan = role === 'partial' ? { epochs: o.epochs, batchSize: o.batchSize } : matchSteps(targetSteps, examples, o.batchSize);
      o.onStage?.(`training the ${STAGE[role]}: ${pairs.length} pairs, ${plan.epochs} epochs of ${examples} examples, batch ${plan.batchSize}`);
      const rm = await trainPartialRM({ backbone: o.lm, pairs, evalPairs: o.guideEval, features: own, mode, epochs: plan.epochs, batchSize: plan.batchSize, lr: o.lr, seed: o.seed, signal: o.signal });
      trained[role] = rm;
      checkSteps(role, rm.training.steps);
      const evals = rm.training.history.evals;
      reports[role] = { role, mode, trainPairs: pairs.length, examplesPerEpoch: examples, epochs: plan.epochs, batchSize: plan.batchSize, steps: targetSteps, diagnostics: evals[evals.length - 1].diagnostics };
    } finally {
      if (own !== partialFeatures) own.store.dispose();
    }
  };
  const trainCd = async (): Promise<void> => {
    const full = trained.full as PartialRewardModel;
    const scores = await full.scoreIdsBatch(o.guideTrain.flatMap((p) => [{ promptIds: p.promptIds, responseIds: p.chosenIds }, { promptIds: p.promptIds, responseIds: p.rejectedIds }]));
    const targets = o.guideTrain.map((_, i) => [scores[2 * i], scores[2 * i + 1]] as [number, number]);
    const examples = examplesPerEpoch(partialFeatures, { kind: 'all' });
    o.onStage?.(`training the ${STAGE.cd}: ${o.guideTrain.length} pairs, ${o.epochs} epochs of ${examples} examples, batch ${o.batchSize}`);
    const rm = await trainValueHead({ backbone: o.lm, pairs: o.guideTrain, targets, features: partialFeatures, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, signal: o.signal });
    trained.cd = rm;
    checkSteps('cd', rm.training.steps as number);
    const evalFeatures = await features('partial', o.guideEval);
    try {
      const diagnostics = await computeDiagnostics(rm.head, evalFeatures, o.guideEval);
      reports.cd = { role: 'cd', mode: 'partial', trainPairs: o.guideTrain.length, examplesPerEpoch: examples, epochs: o.epochs, batchSize: o.batchSize, steps: targetSteps, diagnostics };
    } finally {
      evalFeatures.store.dispose();
    }
  };
  const trainVocab = async (): Promise<void> => {
    const examples = examplesPerEpoch(partialFeatures, { kind: 'all' });
    o.onStage?.(`training the ${STAGE.vocab}: ${o.guideTrain.length} pairs, ${o.epochs} epochs of ${examples} examples, batch ${o.batchSize}`);
    // Its features are the states before each token ('from-prompt-end'), so the pass is its own.
    const rm = await trainPartialRM({ backbone: o.lm, pairs: o.guideTrain, evalPairs: o.guideEval, mode: 'partial', head: { kind: 'vocab' }, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, seed: o.seed, signal: o.signal });
    trained.vocab = rm;
    checkSteps('vocab', rm.training.steps);
    const evals = rm.training.history.evals;
    reports.vocab = { role: 'vocab', mode: 'partial', trainPairs: o.guideTrain.length, examplesPerEpoch: examples, epochs: o.epochs, batchSize: o.batchSize, steps: targetSteps, diagnostics: evals[evals.length - 1].diagnostics };
  };
  try {
    await train('partial', 'partial', o.guideTrain);
    await train('full', 'full', o.guideTrain);
    await train('judge', 'full', o.judgeTrain);
    await trainCd();
    await trainVocab();
  } catch (err) {
    for (const rm of Object.values(trained)) rm.dispose();
    throw err;
  } finally {
    partialFeatures.store.dispose();
  }
  return { partial: trained.partial!, full: trained.full!, judge: trained.judge!, cd: trained.cd!, vocab: trained.vocab!, reports };
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
