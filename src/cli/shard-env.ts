/**
 * `pargs features --shard auto`: this job's shard from the environment of the common array-job runners.
 * - Slurm job arrays (`sbatch --array=0-N-1`): SLURM_ARRAY_TASK_ID, _MIN, _MAX, _STEP, _COUNT.
 * - Kubernetes Indexed Jobs (`completionMode: Indexed`): JOB_COMPLETION_INDEX; the count is not in a
 *   pod's environment, so the Job sets PARGS_SHARD_COUNT to its `completions`.
 * - Anything else: PARGS_SHARD_INDEX and PARGS_SHARD_COUNT.
 */
import { OptionError } from '../errors.js';

export interface EnvShard {
  index: number;
  count: number;
  /** Which runner's variables gave the shard, for the log line. */
  source: string;
}

function integer(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const text = env[name];
  if (text === undefined || text.trim() === '') return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 0) throw new OptionError(`--shard auto: ${name}="${text}" is not a non-negative integer below 2^53`);
  return n;
}

function checked(index: number, count: number, source: string): EnvShard {
  if (count < 1 || index >= count) throw new OptionError(`--shard auto: ${source} gives shard ${index} of ${count}; the index must be below the count`);
  return { index, count, source };
}

export function shardFromEnv(env: NodeJS.ProcessEnv = process.env): EnvShard {
  const slurmId = integer(env, 'SLURM_ARRAY_TASK_ID');
  if (slurmId !== undefined) {
    const min = integer(env, 'SLURM_ARRAY_TASK_MIN') ?? 0;
    const max = integer(env, 'SLURM_ARRAY_TASK_MAX');
    const step = integer(env, 'SLURM_ARRAY_TASK_STEP') ?? 1;
    const count = integer(env, 'SLURM_ARRAY_TASK_COUNT');
    // A list like --array=1,4,9 has no fixed step: its task ids do not map onto 0 … count − 1.
    if (count === undefined || max === undefined || step < 1 || (max - min) / step + 1 !== count || (slurmId - min) % step !== 0) {
      throw new OptionError('--shard auto: this Slurm array is not a regular range; submit it with sbatch --array=0-(N-1) (a step is fine, a list is not), or pass --shard I/N');
    }
    return checked((slurmId - min) / step, count, 'Slurm');
  }
  const k8sIndex = integer(env, 'JOB_COMPLETION_INDEX');
  if (k8sIndex !== undefined) {
    const count = integer(env, 'PARGS_SHARD_COUNT');
    if (count === undefined) throw new OptionError('--shard auto: JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job) but PARGS_SHARD_COUNT is not; set it in the Job to the value of spec.completions');
    return checked(k8sIndex, count, 'Kubernetes');
  }
  const index = integer(env, 'PARGS_SHARD_INDEX');
  const count = integer(env, 'PARGS_SHARD_COUNT');
  if (index !== undefined && count !== undefined) return checked(index, count, 'PARGS_SHARD_INDEX/COUNT');
  throw new OptionError('--shard auto: no array-job index in the environment (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, or PARGS_SHARD_INDEX with PARGS_SHARD_COUNT); run under a job array or pass --shard I/N');
}
