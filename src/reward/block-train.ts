/**
 * The training loop of `trainable: top-blocks`: the head and the top m blocks (with the final norm)
 * train together on the cached residual entering block N − m. Same examples, batches, AdamW, schedule,
 * clipping, evaluation and checkpoints as the head-only loop (trainer.ts); each step runs the top blocks
 * once over every sequence its examples touch and reads all of that step's prefixes from that forward.
 * The lower blocks are never in the tape, so they stay bit-identical.
 */
import { tf } from '../engine/tf.js';
import { tensorMemoryBudget } from '../engine/memory-budget.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import type { ClaimedOutput } from '../io/output-dir.js';
import { BranchedLM, topBlockTensors } from '../lm/branched-lm.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { AdamW } from '../train/adamw.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import { checkpointToResume, createCadence, type CadenceOptions } from './train-cadence.js';
import { computeDiagnostics } from './diagnostics.js';
import { epochExamples, examplesPerEpoch, pairMargins } from './examples.js';
import type { PrefixFeatures } from './features.js';
import { saveFinalModel } from './output.js';
import type { TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';
import type { Resolved } from './train-options.js';
import { initialHead } from './train-start.js';
import type { HostParam } from './head.js';
import { blockStepGradients, chunkBudgetBytes, planStepChunks } from './block-step.js';
import { finalStatesFromResidual } from './top-blocks.js';
import type { TrainingHistory } from './diagnostics.js';

export interface TopBlocksRun {
  backbone: CausalLM;
  r: Resolved;
  pairs: readonly TokenPair[];
  evalPairs?: readonly TokenPair[];
  /** Residual features of the training pairs (and of the eval pairs: partial, eos, minPrefix 1). */
  train: PrefixFeatures;
  evalFeatures?: PrefixFeatures;
  key: string;
  keep: number;
  output?: ClaimedOutput;
  initParams?: HostParam[];
  options: CadenceOptions;
}

/** Trainable copies of the base's top blocks (variables; the base's tensors stay untouched). */
function initialBlocks(base: CausalLM, from: number): Map<string, tf.Tensor> {
  const top = new Map<string, tf.Tensor>();
  for (const [name, t] of topBlockTensors(base.params, from)) top.set(name, tf.variable(t, true));
  return top;
}

/** AdamW over head and block parameters; matrices decay, norms and biases do not. */
function optimizerFor(rm: PartialRewardModel, from: number, r: Resolved): AdamW {
  const head = [...rm.head.variables].map(([name, variable]) => ({ name, variable, decay: !name.endsWith('bias') }));
  const blocks = topBlockTensors(rm.backbone.params, from).map(([name, t]) => ({ name, variable: t as tf.Variable, decay: /\.(qkv|attnOut|mlpIn|mlpOut)$/.test(name) }));
  return new AdamW([...head, ...blocks], { weightDecay: r.weightDecay, beta2: 0.999 });
}

export async function trainTopBlocks(run: TopBlocksRun): Promise<PartialRewardModel> {
  const { backbone, r, train, evalFeatures, evalPairs, key, keep, output, options } = run;
  const { onProgress } = options;
  const from = backbone.config.numLayers - (r.trainable as { blocks: number }).blocks;
  const perEpoch = examplesPerEpoch(train, r.prefix);
  const stepsPerEpoch = Math.ceil(perEpoch / r.batchSize);
  const totalSteps = stepsPerEpoch * r.epochs;
  const schedule = { peak: r.lr, warmupSteps: Math.floor(r.warmupRatio * totalSteps), totalSteps };
  validateSchedule(schedule);
  const history: TrainingHistory = { steps: [], evals: [] };
  let startStep = 0;
  let rm: PartialRewardModel | undefined;
  let optimizer: AdamW | undefined;
  try {
    const note = (message: string): void => onProgress?.({ kind: 'note', message });
    const checkpoint = await checkpointToResume(output, backbone, key, options);
    // A step-0 checkpoint written when the residual pass was aborted holds the initial head only.
    if (checkpoint && checkpoint.rm.trainedBlocks) {
      rm = checkpoint.rm;
      startStep = checkpoint.position.step;
      Object.assign(history, checkpoint.position.history as TrainingHistory);
      onProgress?.({ kind: 'resumed', step: startStep, dir: checkpoint.dir });
    } else {
      checkpoint?.rm.dispose();
      const branched = BranchedLM.create(backbone, from, initialBlocks(backbone, from));
      rm = new PartialRewardModel(branched, initialHead(r, backbone, run.initParams), r.mode, undefined, { from, base: backbone });
    }
    const live = rm;
    optimizer = optimizerFor(live, from, r);
    if (checkpoint?.rm.trainedBlocks) optimizer.restore(checkpoint.optimizerState);
    const opt = optimizer;
    const head = live.head;
    const blockVars = topBlockTensors(live.backbone.params, from).map(([, t]) => t as tf.Variable);
    const variables = [...head.variables.values(), ...blockVars];
    const names = [...head.variables.keys(), ...topBlockTensors(live.backbone.params, from).map(([name]) => name)];

    const cadence = createCadence({
      output, key, keep, r, totalSteps, stepsPerEpoch, train, history, options, state: () => ({ rm: live, optimizer: opt }),
      diagnose: async () => {
        if (!evalFeatures || !evalPairs) return undefined;
        const finals = await finalStatesFromResidual(evalFeatures, backbone, live.backbone.params);
        try {
          return await computeDiagnostics(head, finals, evalPairs);
        } finally {
          finals.store.dispose();
        }
      },
    });

    const margins = pairMargins(run.pairs, r.margin);
    // Planned once, against the memory free before the first step, so every step (and a resumed run) splits alike.
    const totalBlocks = backbone.config.numLayers - from;
    const budget = tensorMemoryBudget();
    const chunkBytes = chunkBudgetBytes(budget, 4 * variables.reduce((n, v) => n + v.size, 0));
    let splitNoted = false;
    let examples = startStep < totalSteps ? epochExamples(train, r.prefix, r.weighting, r.seed, Math.floor(startStep / stepsPerEpoch)) : [];
    for (let step = startStep; step < totalSteps; step++) {
      await cadence.beforeStep(step);
      const epoch = Math.floor(step / stepsPerEpoch);
      const inEpoch = step % stepsPerEpoch;
      if (inEpoch === 0 && step !== startStep) examples = epochExamples(train, r.prefix, r.weighting, r.seed, epoch);
      const batch = examples.slice(inEpoch * r.batchSize, (inEpoch + 1) * r.batchSize);
      const chunks = planStepChunks(train, batch, backbone, totalBlocks, chunkBytes, budget.limit);
      if (chunks.length > 1 && !splitNoted) {
        splitNoted = true;
        note(`step ${step + 1}: the batch trains in ${chunks.length} chunks of whole pairs to fit tensor memory (${budget.limit}); their gradients are summed into one step`);
      }
      const lr = learningRate(step, schedule);
      const stats = tf.tidy(() => {
        const { value, grads, gap } = blockStepGradients({
          backbone, params: live.backbone.params, fromLayer: from, head, features: train, chunks, variables, margin: r.margin, margins, weighted: r.weighting === 'per-pair',
        });
        const clipped = clipByGlobalNorm(grads, r.clip);
        opt.apply(Object.fromEntries(names.map((name, i) => [name, clipped.grads[variables[i].name]])), lr);
        const reported = [value, tf.mean(tf.cast(tf.greater(gap, 0), 'float32')), tf.mean(gap), clipped.norm] as tf.Scalar[];
        gap.dispose();
        return reported;
      });
      const [loss, accuracy, margin, gradNorm] = await Promise.all(stats.map(async (t) => (await t.data())[0]));
      stats.forEach((t) => t.dispose());
      assertFiniteStep('trainPartialRM', step + 1, { loss, gradNorm }, `Lower lr (now ${r.lr}).`);
      assertFiniteWeights('trainPartialRM', step + 1, names.map((name, i) => ({ name, variable: variables[i] })), `Lower lr (now ${r.lr}).`);
      history.steps.push({ step: step + 1, loss, accuracy });
      onProgress?.({ kind: 'step', step: step + 1, totalSteps, epoch, loss, accuracy, margin, lr, gradNorm });
      await cadence.afterStep(step + 1);
    }
    await cadence.finish();
    // The backbone's fingerprint names its numbers: rebuild it over the trained values.
    const trained = (live.backbone as BranchedLM).rebuilt();
    const result = new PartialRewardModel(trained, live.head, live.mode, live.training, { from, base: backbone });
    rm = result;
    if (output) await saveFinalModel(output, result);
    return result;
  } catch (err) {
    rm?.dispose();
    throw err;
  } finally {
    optimizer?.dispose();
  }
}
