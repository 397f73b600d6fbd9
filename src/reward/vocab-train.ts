/**
 * Training of a vocabulary reward head (FaRMA) on the one-pass features (states 'from-prompt-end':
 * row j of a side = the state after j response tokens, row 0 the prompt's last token).
 *
 * Objectives:
 * - 'bt-prefix' (PARGS): Bradley–Terry on aligned same-length prefix pairs, the reward of prefix i
 *   being R(row i − 1)[y_i]; the examples, order and weighting of the linear head.
 * - 'farma' (the official recipe, `RM_FaRMA_train.sh`): `epochs` rounds, each one epoch of Bradley–Terry
 *   on complete responses (R(row L − 1)[y_L] per side), then one epoch of the max-consistency
 *   regression over every prefix of every chosen response (farma.ts).
 *
 * One warm-up + cosine schedule runs over all steps, and one AdamW state over both stages (the official
 * script restarts the optimizer and the linear-decay schedule per stage). Checkpoints, resume, evaluation
 * and abort as for the linear head (train-cadence.ts).
 */
import { tf } from '../engine/tf.js';
import { assertFiniteStep, assertFiniteWeights } from '../engine/finite.js';
import type { ClaimedOutput } from '../io/output-dir.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { clipByGlobalNorm } from '../train/clip.js';
import { learningRate, validateSchedule } from '../train/schedule.js';
import { computeDiagnostics } from './diagnostics.js';
import { pairMargins } from './examples.js';
import { maxConsistencyLoss } from './farma.js';
import type { PrefixFeatures } from './features.js';
import type { RewardHead } from './head.js';
import { bradleyTerryPrefixLoss } from './loss.js';
import { saveFinalModel } from './output.js';
import type { TokenPair } from './prefixes.js';
import { PartialRewardModel } from './reward-model.js';
import { checkpointToResume, createCadence, type CadenceOptions } from './train-cadence.js';
import type { Resolved } from './train-options.js';
import { headOptimizer, initialHead } from './train-start.js';
import type { TrainingHistory } from './diagnostics.js';
import { vocabBatches, type Batch, type VocabTrainSettings } from './vocab-batches.js';
import { tokenRewards } from './vocab-head.js';

export type { VocabObjective } from './train-options.js';

function rows(f: PrefixFeatures, pair: number, side: 0 | 1, row: number): Float32Array {
  return f.store.get(pair, side).subarray(row * f.dim, (row + 1) * f.dim);
}

/** The loss of one batch (inside a gradient tape) and, for Bradley–Terry stages, the reward gaps. */
function batchLoss(head: RewardHead, f: PrefixFeatures, batch: Batch, s: VocabTrainSettings, margins: readonly number[] | undefined): { loss: tf.Scalar; gap?: tf.Tensor1D } {
  const n = batch.items.length;
  const d = f.dim;
  if (batch.stage === 'max-consistency') {
    const before = new Float32Array(n * d);
    const after = new Float32Array(n * d);
    batch.items.forEach((e, k) => {
      before.set(rows(f, e.pair, 0, e.row), k * d);
      after.set(rows(f, e.pair, 0, e.row + 1), k * d);
    });
    const tokens = tf.tensor1d(Int32Array.from(batch.items, (e) => e.token), 'int32'); // [n]
    return { loss: maxConsistencyLoss(head, tf.tensor2d(before, [n, d]), tokens, tf.tensor2d(after, [n, d])) };
  }
  const chosen = new Float32Array(n * d);
  const rejected = new Float32Array(n * d);
  batch.items.forEach((e, k) => {
    chosen.set(rows(f, e.pair, 0, e.chosenRow), k * d);
    rejected.set(rows(f, e.pair, 1, e.rejectedRow), k * d);
  });
  const rc = tokenRewards(head, tf.tensor2d(chosen, [n, d]), tf.tensor1d(Int32Array.from(batch.items, (e) => e.chosenToken), 'int32')); // [n]
  const rr = tokenRewards(head, tf.tensor2d(rejected, [n, d]), tf.tensor1d(Int32Array.from(batch.items, (e) => e.rejectedToken), 'int32')); // [n]
  const weights = s.weighting === 'per-pair' && batch.stage === 'bt-prefix' ? tf.tensor1d(batch.items.map((e) => e.weight)) : undefined; // [n]
  const perPair = margins ? tf.tensor1d(batch.items.map((e) => margins[e.pair])) : undefined; // [n]
  return { loss: bradleyTerryPrefixLoss(rc, rr, { margin: s.margin, margins: perPair, weights }), gap: tf.sub(rc, rr) };
}

/** A vocabulary-head run: as a top-blocks run (block-train.ts), the features being final states 'from-prompt-end'. */
export interface VocabRun {
  backbone: CausalLM;
  r: Resolved;
  pairs: readonly TokenPair[];
  evalPairs?: readonly TokenPair[];
  train: PrefixFeatures;
  evalFeatures?: PrefixFeatures;
  key: string;
  keep: number;
  output?: ClaimedOutput;
  options: CadenceOptions;
}

/**
 * Trains a vocabulary head from zero, or from the checkpoint `resume` finds: the batch list is rebuilt
 * from the seed, so the step index is all a resumed run needs. Evaluation, checkpoints and abort follow
 * the head loop's cadence (train-cadence.ts). The caller owns the returned model.
 */
export async function trainVocabHead(run: VocabRun): Promise<PartialRewardModel> {
  const { backbone, r, train: f, output, options } = run;
  const batches = vocabBatches(f, run.pairs, r);
  const totalSteps = batches.length;
  const schedule = { peak: r.lr, warmupSteps: Math.floor(r.warmupRatio * totalSteps), totalSteps };
  validateSchedule(schedule);
  // Every epoch (a FaRMA round: both stages) has the same number of batches.
  const stepsPerEpoch = totalSteps / r.epochs;
  const margins = pairMargins(run.pairs, r.margin);
  const history: TrainingHistory = { steps: [], evals: [] };
  const checkpoint = await checkpointToResume(output, backbone, run.key, options);
  const startStep = checkpoint?.position.step ?? 0;
  if (checkpoint) {
    Object.assign(history, checkpoint.position.history as TrainingHistory);
    options.onProgress?.({ kind: 'resumed', step: startStep, dir: checkpoint.dir });
  }
  const rm = checkpoint?.rm ?? new PartialRewardModel(backbone, initialHead(r, backbone, undefined), r.mode);
  const head = rm.head;
  const optimizer = headOptimizer(head, r);
  try {
    if (checkpoint) optimizer.restore(checkpoint.optimizerState);
    const cadence = createCadence({
      output, key: run.key, keep: run.keep, r, totalSteps, stepsPerEpoch, train: f, history, options, state: () => ({ rm, optimizer }),
      diagnose: async () => (run.evalFeatures && run.evalPairs ? computeDiagnostics(head, run.evalFeatures, run.evalPairs) : undefined),
    });
    const variables = [...head.variables.values()];
    for (let step = startStep; step < totalSteps; step++) {
      await cadence.beforeStep(step);
      const batch = batches[step];
      const lr = learningRate(step, schedule);
      const stats = tf.tidy(() => {
        let gap: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const out = batchLoss(head, f, batch, r, margins);
          if (out.gap) gap = tf.keep(out.gap);
          return out.loss;
        }, variables);
        const clipped = clipByGlobalNorm(grads, r.clip);
        optimizer.apply(Object.fromEntries([...head.variables].map(([name, v]) => [name, clipped.grads[v.name]])), lr);
        const g = gap;
        const reported = [value, g ? tf.mean(tf.cast(tf.greater(g, 0), 'float32')) : tf.scalar(NaN), g ? tf.mean(g) : tf.scalar(NaN), clipped.norm] as tf.Scalar[];
        g?.dispose();
        return reported;
      });
      const [loss, accuracy, margin, gradNorm] = await Promise.all(stats.map(async (t) => (await t.data())[0]));
      stats.forEach((t) => t.dispose());
      assertFiniteStep('trainPartialRM', step + 1, { loss, gradNorm }, `Lower lr (now ${r.lr}).`);
      assertFiniteWeights('trainPartialRM', step + 1, head.variables, `Lower lr (now ${r.lr}).`);
      // Max-consistency steps rank nothing: no accuracy (NaN would not survive a checkpoint's JSON).
      history.steps.push({ step: step + 1, loss, ...(batch.stage === 'max-consistency' ? {} : { accuracy }) });
      options.onProgress?.({ kind: 'step', step: step + 1, totalSteps, epoch: Math.floor(step / stepsPerEpoch), stage: batch.stage, loss, accuracy, margin, lr, gradNorm });
      await cadence.afterStep(step + 1);
    }
    await cadence.finish();
    if (output) await saveFinalModel(output, rm);
    return rm;
  } catch (err) {
    rm.dispose();
    throw err;
  } finally {
    optimizer.dispose();
  }
}
