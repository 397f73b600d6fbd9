/** Step equalisation: the full-sequence RM gets exactly the partial RM's optimizer steps, for any setting. */
import { describe, expect, it } from 'vitest';
import { matchSteps, trainerSteps } from '../../src/demo/step-budget.js';
import { OptionError } from '../../src/errors.js';
import { createRng } from '../../src/random.js';

describe('matchSteps', () => {
  it('gives the target steps exactly for any epochs, batch size and data sizes', () => {
    const rng = createRng(7, 'step-budget-test');
    const int = (lo: number, hi: number) => lo + Math.floor(rng() * (hi - lo + 1));
    for (let trial = 0; trial < 2000; trial++) {
      const pairs = int(1, 600);
      const prefixesPerPair = int(1, 64);
      const epochs = int(1, 12);
      const batch = int(1, 512);
      const partialSteps = trainerSteps(pairs * prefixesPerPair, epochs, batch);
      const plan = matchSteps(partialSteps, pairs, batch);
      expect(trainerSteps(pairs, plan.epochs, plan.batchSize)).toBe(partialSteps);
      expect(plan.steps).toBe(partialSteps);
    }
  });

  it('keeps the preferred batch when it already divides evenly, and picks the nearest exact batch otherwise', () => {
    // 276 pairs at batch 138 → 2 steps per epoch; 208 steps = 104 epochs.
    expect(matchSteps(208, 276, 138)).toEqual({ epochs: 104, batchSize: 138, steps: 208 });
    // Preferred 128 would be 3 steps per epoch, which does not divide 208; of the exact options
    // (2 steps of 138, 4 of 69, …) 138 is the nearest to 128.
    expect(matchSteps(208, 276, 128)).toEqual({ epochs: 104, batchSize: 138, steps: 208 });
    // A prime target larger than the data: only one step per epoch works.
    expect(matchSteps(13, 5, 2)).toEqual({ epochs: 13, batchSize: 5, steps: 13 });
  });

  it('rejects non-positive sizes with a typed error', () => {
    expect(() => matchSteps(0, 10, 4)).toThrow(OptionError);
    expect(() => matchSteps(10, 2.5, 4)).toThrow(/examplesPerEpoch must be a positive integer, got 2.5/);
  });
});
