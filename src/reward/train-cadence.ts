/**
 * What every reward-training loop (head, top blocks, vocabulary head) shares around its steps: where a
 * run starts (a fresh head, or the checkpoint `resume` finds, refused when another run made it), when
 * it evaluates and checkpoints, and what an abort leaves behind. The loops own their step math only.
 *
 * Cadence (the same for every loop): evaluate every `evalEvery` steps, else at each epoch's end; write
 * a checkpoint every `checkpointEvery` steps, else at each epoch's end; both always at the last step.
 * An abort between steps writes a checkpoint at the current step, then throws `AbortError`.
 */
import type { CausalLM } from '../lm/causal-lm.js';
import { yieldToEventLoop } from '../engine/yield.js';
import { AbortError, OptionError } from '../errors.js';
import type { ClaimedOutput } from '../io/output-dir.js';
import type { AdamW } from '../train/adamw.js';
import { loadTrainingCheckpoint, saveTrainingCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import type { RewardDiagnostics } from './diagnostics.js';
import type { PrefixFeatures } from './features.js';
import type { PartialRewardModel, RewardModelTraining } from './reward-model.js';
import type { Resolved } from './train-options.js';
import type { TrainingHistory } from './diagnostics.js';
import type { TrainEvent } from './train-options.js';

/** The options of trainPartialRM that the cadence reads. */
export interface CadenceOptions {
  resume?: boolean;
  checkpointDir?: string;
  evalEvery?: number;
  checkpointEvery?: number;
  signal?: AbortSignal;
  onProgress?: (e: TrainEvent) => void;
}

/**
 * The checkpoint a resumed run continues from (undefined without `resume`, an output folder or a
 * checkpoint); a checkpoint whose run key differs is freed and refused with `OptionError`.
 */
export async function checkpointToResume(output: ClaimedOutput | undefined, backbone: CausalLM, key: string, options: CadenceOptions): Promise<LoadedCheckpoint | undefined> {
  if (!options.resume || !output) return undefined;
  const checkpoint = await loadTrainingCheckpoint(output.dir, backbone, (message) => options.onProgress?.({ kind: 'note', message }));
  if (checkpoint && checkpoint.position.runKey !== key) {
    checkpoint.rm.dispose();
    throw new OptionError(`trainPartialRM: the checkpoint in "${options.checkpointDir}" was made with other options, data or backbone; resume with the same ones or use a new checkpointDir`);
  }
  return checkpoint;
}

export interface CadenceRun {
  output?: ClaimedOutput;
  key: string;
  keep: number;
  r: Resolved;
  totalSteps: number;
  stepsPerEpoch: number;
  train: PrefixFeatures;
  /** Shared with the loop: steps are pushed by the loop, evals here; restored from a checkpoint on resume. */
  history: TrainingHistory;
  options: CadenceOptions;
  /** The model and optimizer a checkpoint saves (read when one is written). */
  state: () => { rm: PartialRewardModel; optimizer: AdamW };
  /** Held-out diagnostics of the current weights; undefined when there are no eval pairs. */
  diagnose: () => Promise<RewardDiagnostics | undefined>;
}

export interface Cadence {
  /** Before step `step` (0-based): yields to the event loop; on abort, checkpoints `step` and throws AbortError. */
  beforeStep(step: number): Promise<void>;
  /** After `done` steps: evaluates and checkpoints when due (the last step is left to `finish`). */
  afterStep(done: number): Promise<void>;
  /** At the end: the last evaluation, the training summary on the model, and the last checkpoint. */
  finish(): Promise<void>;
}

export function createCadence(run: CadenceRun): Cadence {
  const { output, options, history, totalSteps } = run;
  const summary = (): RewardModelTraining => ({ options: { ...run.r }, steps: totalSteps, pairs: run.train.pairIndices.length, featurePass: run.train.stats, history });
  const evaluate = async (step: number): Promise<void> => {
    const diagnostics = await run.diagnose();
    if (!diagnostics) return;
    history.evals.push({ step, diagnostics });
    options.onProgress?.({ kind: 'eval', step, diagnostics });
  };
  const save = async (step: number): Promise<void> => {
    if (!output) return;
    const { rm, optimizer } = run.state();
    Object.assign(rm.training, summary());
    const dir = await saveTrainingCheckpoint(output.dir, rm, optimizer, { step, totalSteps, runKey: run.key, history }, run.keep);
    options.onProgress?.({ kind: 'checkpoint', step, dir });
  };
  const due = (done: number, every: number | undefined): boolean => (every ? done % every === 0 : done % run.stepsPerEpoch === 0) && done !== totalSteps;
  return {
    async beforeStep(step) {
      await yieldToEventLoop(); // timers, I/O and Ctrl-C run between steps
      if (!options.signal?.aborted) return;
      await save(step);
      throw new AbortError(`trainPartialRM was aborted after step ${step} of ${totalSteps}${options.checkpointDir ? `; the checkpoint in "${options.checkpointDir}" resumes it (resume: true / --resume)` : ''}`);
    },
    async afterStep(done) {
      if (due(done, options.evalEvery)) await evaluate(done);
      if (due(done, options.checkpointEvery)) await save(done);
    },
    async finish() {
      await evaluate(totalSteps);
      Object.assign(run.state().rm.training, summary());
      await save(totalSteps);
    },
  };
}
