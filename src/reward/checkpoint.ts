/**
 * Training checkpoints of a reward head, inside the claimed output folder:
 *
 *   OUT/checkpoints/step-N/   reward_model.json + head.safetensors (+ blocks.safetensors with trained
 *                             top blocks: a loadable reward model), the
 *                             optimizer moments, training_state.json (step, run key, history) and
 *                             checkpoint.json (sha256 of each file; see io/checkpoint-store.ts)
 *
 * The last `keep` are kept; resuming verifies every checksum and falls back to the previous checkpoint
 * when the newest is corrupted. The data order of the remaining steps is rebuilt from the step number.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { clearCheckpoints, loadNewestCheckpoint, writeCheckpointDir } from '../io/checkpoint-store.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { topBlockTensors } from '../lm/branched-lm.js';
import type { CausalLM } from '../lm/causal-lm.js';
import type { AdamW, AdamWState } from '../train/adamw.js';
import { loadRewardModel, writeRewardModelFiles, type PartialRewardModel } from './reward-model.js';

const STATE_FILE = 'training_state.json';
const OPTIMIZER_FILE = 'optimizer.safetensors';

/** Where the checkpoints of a training run writing to `outDir` live. */
export const checkpointRoot = (outDir: string): string => join(outDir, 'checkpoints');

export interface TrainingPosition {
  /** Optimizer updates completed. */
  step: number;
  totalSteps: number;
  /** Identifies the options and data that determine the trajectory; resume refuses a mismatch. */
  runKey: string;
  /** Progress history so far (loss per step, evals), carried into the resumed run. */
  history: unknown;
}

/** Writes the checkpoint of `position.step` into OUT/checkpoints, keeping the newest `keep`. Returns its folder. */
export async function saveTrainingCheckpoint(outDir: string, rm: PartialRewardModel, optimizer: AdamW, position: TrainingPosition, keep: number): Promise<string> {
  const state = await optimizer.state();
  return writeCheckpointDir(checkpointRoot(outDir), position.step, keep, async (tmp) => {
    await writeRewardModelFiles(rm, tmp);
    const tensors = [...state.moments].flatMap(([name, { m, v }]) => [
      { name: `m.${name}`, dtype: 'F32' as const, shape: [m.length], data: m },
      { name: `v.${name}`, dtype: 'F32' as const, shape: [v.length], data: v },
    ]);
    await writeSafetensors(join(tmp, OPTIMIZER_FILE), tensors);
    await writeFile(join(tmp, STATE_FILE), `${JSON.stringify({ ...position, optimizerStep: state.step }, null, 2)}\n`);
  });
}

/** Deletes the checkpoints of an earlier run of ours in `outDir` (a fresh run with overwrite). */
export const clearTrainingCheckpoints = (outDir: string): Promise<void> => clearCheckpoints(checkpointRoot(outDir));

export interface LoadedCheckpoint {
  rm: PartialRewardModel;
  optimizerState: AdamWState;
  position: TrainingPosition;
  dir: string;
}

/** Loads the newest valid checkpoint under `outDir` (undefined when there is none). */
export async function loadTrainingCheckpoint(outDir: string, backbone: CausalLM, onFallback: (note: string) => void = () => undefined): Promise<LoadedCheckpoint | undefined> {
  const found = await loadNewestCheckpoint(checkpointRoot(outDir), (dir, step) => loadOne(dir, step, backbone), onFallback);
  return found && { ...found.value, dir: found.dir };
}

async function loadOne(dir: string, verifiedStep: number, backbone: CausalLM): Promise<Omit<LoadedCheckpoint, 'dir'>> {
  const statePath = join(dir, STATE_FILE);
  let raw: TrainingPosition & { optimizerStep: number };
  try {
    raw = JSON.parse(await readFile(statePath, 'utf8'));
  } catch (err) {
    throw new CheckpointError(`${statePath} is missing or corrupted (${(err as Error).message})`);
  }
  if (!Number.isInteger(raw.step) || !Number.isInteger(raw.totalSteps) || typeof raw.runKey !== 'string' || !Number.isInteger(raw.optimizerStep)) {
    throw new CheckpointError(`${statePath} is malformed`);
  }
  if (raw.step !== verifiedStep) throw new CheckpointError(`${statePath} says step ${raw.step} but the checkpoint is of step ${verifiedStep}; it was edited or corrupted`);
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
    const blockNames = rm.trainedBlocks ? topBlockTensors(rm.backbone.params, rm.trainedBlocks.from).map(([name]) => name) : [];
    for (const name of [...rm.head.variables.keys(), ...blockNames]) {
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
