/**
 * The output folder of `trainPartialRM({ checkpointDir })` / `pargs train --out`: claimed and locked
 * for the whole run (io/output-dir.ts), checkpoints under OUT/checkpoints (checkpoint.ts), and the
 * final reward model written at the top of OUT, so `loadRewardModel(OUT)` and `pargs sample --rm OUT`
 * load it.
 */
import { OptionError, OutputError } from '../errors.js';
import { DEFAULT_KEEP_CHECKPOINTS, listCheckpoints } from '../io/checkpoint-store.js';
import { claimOutputDir, type ClaimedOutput } from '../io/output-dir.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { checkpointRoot, clearTrainingCheckpoints } from './checkpoint.js';
import { writeRewardModelFiles, type PartialRewardModel } from './reward-model.js';

export interface TrainingOutputOptions {
  checkpointDir?: string;
  checkpointEvery?: number;
  keepCheckpoints?: number;
  resume?: boolean;
  overwrite?: boolean;
}

function optionalPositiveInt(value: unknown, name: string): void {
  if (value !== undefined && (!Number.isInteger(value) || (value as number) < 1)) {
    throw new OptionError(`trainPartialRM: ${name} must be a positive integer, got ${JSON.stringify(value)}`);
  }
}

/** Checks the output options; returns how many checkpoints to keep. */
export function resolveOutputOptions(o: TrainingOutputOptions): number {
  if (o.checkpointDir !== undefined && (typeof o.checkpointDir !== 'string' || o.checkpointDir === '')) {
    throw new OptionError(`trainPartialRM: checkpointDir must be a folder path, got ${JSON.stringify(o.checkpointDir)}`);
  }
  optionalPositiveInt(o.checkpointEvery, 'checkpointEvery');
  optionalPositiveInt(o.keepCheckpoints, 'keepCheckpoints');
  for (const key of ['resume', 'overwrite'] as const) {
    if (o[key] !== undefined && typeof o[key] !== 'boolean') throw new OptionError(`trainPartialRM: ${key} must be true or false, got ${JSON.stringify(o[key])}`);
  }
  if (o.resume && o.overwrite) throw new OptionError('trainPartialRM: resume and overwrite exclude each other: resume continues the run in checkpointDir, overwrite starts it over');
  return o.keepCheckpoints ?? DEFAULT_KEEP_CHECKPOINTS;
}

/**
 * Claims `dir` for a training run. Without `resume`, an unfinished earlier run of ours is refused
 * unless `overwrite` (which deletes its checkpoints; the run then starts over).
 */
export async function claimTrainingOutput(o: TrainingOutputOptions & { checkpointDir: string }, backbone: CausalLM, onNote: (note: string) => void): Promise<ClaimedOutput> {
  const claimed = await claimOutputDir(
    o.checkpointDir,
    { kind: 'reward-model', what: 'trainPartialRM: checkpointDir (pargs train --out)', overwrite: o.overwrite, resume: o.resume, protect: [backbone.source] },
    onNote,
  );
  try {
    const existing = await listCheckpoints(checkpointRoot(claimed.dir));
    if (o.resume && existing.length === 0 && claimed.earlier?.complete) {
      throw new OutputError(`${claimed.dir} holds a reward model without checkpoints, so there is nothing to resume; pass --overwrite (overwrite: true) to replace it, or choose another folder`);
    }
    if (!o.resume) {
      if (existing.length > 0 && !o.overwrite) {
        throw new OutputError(
          `${claimed.dir} holds an unfinished training run (checkpoint at step ${existing[0].step}); pass --resume (resume: true) to continue it or --overwrite (overwrite: true) to start over`,
        );
      }
      if (o.overwrite) await clearTrainingCheckpoints(claimed.dir);
    }
    return claimed;
  } catch (err) {
    await claimed.release();
    throw err;
  }
}

/** Puts the trained model at the top of the claimed folder and marks the folder complete. */
export async function saveFinalModel(claimed: ClaimedOutput, rm: PartialRewardModel): Promise<void> {
  await writeRewardModelFiles(rm, claimed.dir);
  await claimed.markComplete();
}
