/**
 * What a worker does with each task: the single-thread loops the main thread would run, on the
 * worker's own copy of the models. Decoding chunks run on padded views of the models, so each chunk
 * sees the left padding of the whole prompt list.
 */
import { bestOfN } from '../decode/baselines.js';
import { generate } from '../decode/generate.js';
import { guidedSample } from '../decode/guided.js';
import { PargsError } from '../errors.js';
import { PartialRewardModel } from '../reward/reward-model.js';
import { forwardFeatureBatch } from '../reward/features.js';
import type { WorkerModels } from './models.js';
import { PaddedCausalLM } from './padded-lm.js';
import type { Task } from './protocol.js';

/** Runs one task; `emit` forwards per-token events to the main thread when the caller asked for them. */
export async function runTask(models: WorkerModels, task: Task, emit: (event: unknown) => void): Promise<{ value: unknown; transfer: ArrayBuffer[] }> {
  if (task.kind === 'features') {
    const host = await forwardFeatureBatch(models.lm, task.jobs);
    return { value: host, transfer: [host.buffer as ArrayBuffer] };
  }
  const lm = new PaddedCausalLM(models.lm, task.padTo);
  if (task.kind === 'generate') {
    const value = await generate({ ...task.options, lm, onToken: task.events ? emit : undefined });
    return { value, transfer: [] };
  }
  if (!models.head || !models.mode) throw new PargsError('reward-guided task sent to a worker started without a reward head');
  const scorer = models.scorer === models.lm ? lm : new PaddedCausalLM(models.scorer, task.padTo);
  // The worker owns the head for its lifetime: this wrapper is never disposed.
  const rewardModel = new PartialRewardModel(scorer, models.head, models.mode);
  if (task.kind === 'bestOfN') return { value: await bestOfN({ ...task.options, lm, rewardModel }), transfer: [] };
  const value = await guidedSample({ ...task.options, lm, rewardModel, onToken: task.events ? emit : undefined });
  return { value, transfer: [] };
}
