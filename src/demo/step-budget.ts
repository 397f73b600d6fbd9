/**
 * Equal optimizer steps for reward models whose epochs hold different numbers of examples: the partial
 * RM has one example per (pair, prefix), the full-sequence RM one per pair, so at the same epochs and
 * batch size the full RM would take ~L times fewer steps and lose any comparison for being under-trained.
 * `matchSteps` picks epochs and a batch size that give exactly the target number of steps.
 */
import { OptionError } from '../errors.js';

export interface StepPlan {
  epochs: number;
  batchSize: number;
  /** epochs × ⌈examples / batchSize⌉, the trainer's count; always equal to the target. */
  steps: number;
}

/** Optimizer steps of trainPartialRM: every epoch is ⌈examples / batch⌉ steps (the last batch may be short). */
export function trainerSteps(examplesPerEpoch: number, epochs: number, batchSize: number): number {
  return epochs * Math.ceil(examplesPerEpoch / batchSize);
}

/**
 * Epochs and batch size for `examplesPerEpoch` examples that give exactly `targetSteps` steps, with the
 * batch size as close to `preferredBatch` as an exact match allows (on a log scale). Steps per epoch k
 * must divide the target, and batch ⌈examples / k⌉ must give back k steps; k = 1 (the whole epoch in
 * one batch) always does, so a plan always exists.
 */
export function matchSteps(targetSteps: number, examplesPerEpoch: number, preferredBatch: number): StepPlan {
  for (const [name, v] of [['targetSteps', targetSteps], ['examplesPerEpoch', examplesPerEpoch], ['preferredBatch', preferredBatch]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new OptionError(`matchSteps: ${name} must be a positive integer, got ${v}`);
  }
  let best: StepPlan | undefined;
  for (let k = 1; k <= Math.min(targetSteps, examplesPerEpoch); k++) {
    if (targetSteps % k !== 0) continue;
    const batchSize = Math.ceil(examplesPerEpoch / k);
    if (Math.ceil(examplesPerEpoch / batchSize) !== k) continue;
    const plan = { epochs: targetSteps / k, batchSize, steps: targetSteps };
    if (!best || Math.abs(Math.log(batchSize / preferredBatch)) < Math.abs(Math.log(best.batchSize / preferredBatch))) best = plan;
  }
  return best as StepPlan;
}
