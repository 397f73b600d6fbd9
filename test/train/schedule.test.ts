import { describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { learningRate, validateSchedule } from '../../src/train/schedule.js';

describe('learning-rate schedule', () => {
  const o = { peak: 1e-3, warmupSteps: 10, totalSteps: 110 };

  it('ramps linearly to the peak over the warm-up', () => {
    expect(learningRate(0, o)).toBeCloseTo(1e-4, 12);
    expect(learningRate(4, o)).toBeCloseTo(5e-4, 12);
    expect(learningRate(9, o)).toBeCloseTo(1e-3, 12);
  });

  it('decays along a cosine to 10 % of the peak at the last step', () => {
    expect(learningRate(10, o)).toBeCloseTo(1e-3, 12);
    // Halfway through the 100 decay steps (progress 49.5/99 = 0.5): floor + (peak − floor)/2.
    expect(learningRate(10 + 49.5, o)).toBeCloseTo(1e-4 + 0.45e-3, 12);
    expect(learningRate(109, o)).toBeCloseTo(1e-4, 12);
    for (let s = 10; s < 109; s++) expect(learningRate(s + 1, o)).toBeLessThan(learningRate(s, o));
  });

  it('honours minRatio and a zero warm-up', () => {
    const z = { peak: 2, warmupSteps: 0, totalSteps: 5, minRatio: 0 };
    expect(learningRate(0, z)).toBe(2);
    expect(learningRate(2, z)).toBeCloseTo(1, 12);
    expect(learningRate(4, z)).toBeCloseTo(0, 12);
  });

  it('rejects bad settings', () => {
    expect(() => validateSchedule({ peak: 0, warmupSteps: 0, totalSteps: 1 })).toThrow(OptionError);
    expect(() => validateSchedule({ peak: 1, warmupSteps: 5, totalSteps: 4 })).toThrow(/warmupSteps/);
  });
});
