/**
 * Training checkpoints of a reward head: a loadable reward model (reward_model.json + head.safetensors)
 * plus the optimizer moments and the training position, written atomically as one folder. Resuming
 * restores all three; the data order of the remaining steps is rebuilt from the step number.
 */
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { removeStaleSiblings, writeDirAtomic } from '../io/atomic-dir.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { AdamW, AdamWState } from '../pretrain/adamw.js';
import { loadRewardModel, writeRewardModelFiles, type PartialRewardModel } from './reward-model.js';

const STATE_FILE = 'training_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

export interface TrainingPosition {
  /** Optimizer updates completed. */
  step: number;
  totalSteps: number;
  /** Identifies the options and data that determine the trajectory; resume refuses a mismatch. */
  runKey: string;
  /** Progress history so far (loss per step, evals), carried into the resumed run. */
  history: unknown;
}

export async function saveTrainingCheckpoint(dir: string, rm: PartialRewardModel, optimizer: AdamW, position: TrainingPosition): Promise<void> {
  const state = await optimizer.state();
  await writeDirAtomic(dir, async (tmp) => {
    await writeRewardModelFiles(rm, tmp);
    const tensors = [...state.moments].flatMap(([name, { m, v }]) => [
      { name: `m.${name}`, dtype: 'F32' as const, shape: [m.length], data: m },
      { name: `v.${name}`, dtype: 'F32' as const, shape: [v.length], data: v },
    ]);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors);
    await writeFile(join(tmp, STATE_FILE), `${JSON.stringify({ ...position, optimizerStep: state.step }, null, 2)}\n`);
  });
}

export interface LoadedCheckpoint {
  rm: PartialRewardModel;
  optimizerState: AdamWState;
  position: TrainingPosition;
}

/** Loads `dir` if it holds a checkpoint (undefined when the folder does not exist). */
export async function loadTrainingCheckpoint(dir: string, backbone: CausalLM): Promise<LoadedCheckpoint | undefined> {
  await removeStaleSiblings(dir);
  if (!(await stat(dir).then((s) => s.isDirectory(), () => false))) return undefined;
  const statePath = join(dir, STATE_FILE);
  let raw: TrainingPosition & { optimizerStep: number };
  try {
    raw = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${statePath} is missing or corrupted (${(err as Error).message}); delete "${dir}" to start over`);
  }
  if (!Number.isInteger(raw.step) || !Number.isInteger(raw.totalSteps) || typeof raw.runKey !== 'string' || !Number.isInteger(raw.optimizerStep)) {
    throw new CheckpointError(`${statePath} is malformed; delete "${dir}" to start over`);
  }
  const rm = await loadRewardModel(dir, backbone);
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  const optimizerPath = join(dir, OPTIMIZER_FILE);
  let file: SafetensorsFile;
  try {
    file = await SafetensorsFile.open(optimizerPath);
  } catch (err) {
    rm.dispose();
    throw new CheckpointError(`${optimizerPath} is missing or corrupted: ${(err as Error).message}`);
  }
  try {
    for (const name of rm.head.variables.keys()) {
      moments.set(name, { m: await file.readF32(`m.${name}`), v: await file.readF32(`v.${name}`) });
    }
  } catch (err) {
    rm.dispose();
    throw new CheckpointError(`${optimizerPath} lacks optimizer moments: ${(err as Error).message}`);
  } finally {
    await file.close();
  }
  return { rm, optimizerState: { step: raw.optimizerStep, moments }, position: { step: raw.step, totalSteps: raw.totalSteps, runKey: raw.runKey, history: raw.history } };
}
