/**
 * Learning-rate schedule for pretraining: linear warm-up to the peak, then cosine decay to a floor
 * (10 % of the peak by default), as in GPT-style recipes. Warm-up keeps the first AdamW steps small
 * while the second-moment estimates are still noisy; the floor keeps late steps useful.
 */
import { OptionError } from '../errors.js';

export interface ScheduleOptions {
  /** Peak learning rate, reached at the end of warm-up. */
  peak: number;
  /** Updates spent ramping up linearly (0 = start at the peak). */
  warmupSteps: number;
  /** Total updates of the run; the cosine reaches the floor at the last one. */
  totalSteps: number;
  /** Floor as a fraction of the peak (default 0.1). */
  minRatio?: number;
}

export function validateSchedule(o: ScheduleOptions): void {
  if (!(o.peak > 0) || !Number.isFinite(o.peak)) throw new OptionError(`learning rate must be a positive number, got ${o.peak}`);
  if (!Number.isInteger(o.totalSteps) || o.totalSteps < 1) throw new OptionError(`steps must be a positive integer, got ${o.totalSteps}`);
  if (!Number.isInteger(o.warmupSteps) || o.warmupSteps < 0 || o.warmupSteps > o.totalSteps) {
    throw new OptionError(`warmupSteps must be an integer in [0, steps = ${o.totalSteps}], got ${o.warmupSteps}`);
  }
  const r = o.minRatio ?? 0.1;
  if (!(r >= 0 && r <= 1)) throw new OptionError(`minRatio must be in [0, 1], got ${r}`);
}

/**
 * The learning rate of update `step` (0-based: the first update is step 0).
 * Warm-up: peak·(step+1)/warmup, so the first update is not wasted at lr 0 and step warmup−1 is at
 * the peak. Decay: floor + (peak − floor)·½(1 + cos(π·p)) with p going from 0 at step `warmup` to 1
 * at the last step.
 */
export function learningRate(step: number, o: ScheduleOptions): number {
  const floor = o.peak * (o.minRatio ?? 0.1);
  if (step < o.warmupSteps) return (o.peak * (step + 1)) / o.warmupSteps;
  const decaySteps = o.totalSteps - o.warmupSteps;
  if (decaySteps <= 1) return o.peak;
  const progress = Math.min(1, (step - o.warmupSteps) / (decaySteps - 1));
  return floor + (o.peak - floor) * 0.5 * (1 + Math.cos(Math.PI * progress));
}
