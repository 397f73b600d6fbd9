/** The seeds table: mean ± s.e. across seeds and the within-seed s.e., against hand-computed values. */
import { describe, expect, it } from 'vitest';
import { acrossSeeds, acrossSeedsOfMeans } from '../../src/demo/aggregate.js';
import { formatAcrossSeeds } from '../../src/demo/tables.js';

describe('aggregation across seeds', () => {
  it('mean and standard error across seeds', () => {
    // Seed values 0.1, 0.2, 0.4: mean 0.7 / 3; deviations −0.1333, −0.0333, 0.1667; squares sum 0.046667;
    // sample variance 0.023333; s.e. √(0.023333 / 3) = 0.088192.
    const a = acrossSeeds([0.1, 0.2, 0.4]);
    expect(a.mean).toBeCloseTo(0.233333, 6);
    expect(a.stderr).toBeCloseTo(0.088192, 6);
    expect(a.seeds).toBe(3);
    // An empty decile in one seed is left out, not counted as 0.
    expect(acrossSeeds([0.5, Number.NaN, 0.7])).toMatchObject({ mean: 0.6, seeds: 2 });
    // One seed: the across-seed error is unknown (NaN), not 0.
    expect(acrossSeeds([0.3]).stderr).toBeNaN();
  });

  it('per-prompt means carry the mean within-seed s.e., and format as "m ± across (within)"', () => {
    const a = acrossSeedsOfMeans([
      { mean: 0.1, stderr: 0.01, n: 96 },
      { mean: 0.2, stderr: 0.02, n: 96 },
      { mean: 0.4, stderr: 0.03, n: 96 },
    ]);
    expect(a.withinSeedStderr).toBeCloseTo(0.02, 12);
    expect(formatAcrossSeeds(a)).toBe('0.233 ± 0.088 (0.020)');
    expect(formatAcrossSeeds(acrossSeedsOfMeans([{ mean: 0.34, stderr: 0.023, n: 96 }]))).toBe('0.340 (0.023)');
    expect(formatAcrossSeeds(acrossSeeds([0.5, 0.7]), 2)).toBe('0.60 ± 0.10');
  });
});
