/** splitPairs: seeded, deterministic, disjoint, order-preserving. */
import { describe, expect, it } from 'vitest';
import { splitPairs } from '../../src/data/split.js';
import { OptionError } from '../../src/errors.js';

const items = Array.from({ length: 100 }, (_, i) => ({ id: i }));

describe('splitPairs', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const a = splitPairs(items, { evalFraction: 0.1, seed: 7 });
    const b = splitPairs(items, { evalFraction: 0.1, seed: 7 });
    const c = splitPairs(items, { evalFraction: 0.1, seed: 8 });
    expect(a).toEqual(b);
    expect(c.eval).not.toEqual(a.eval);
  });

  it('is disjoint, covers every pair once and keeps input order in both parts', () => {
    const { train, eval: held } = splitPairs(items, { evalCount: 23, seed: 1 });
    expect(held).toHaveLength(23);
    expect(train).toHaveLength(77);
    const ids = [...train, ...held].map((x) => x.id).sort((x, y) => x - y);
    expect(ids).toEqual(items.map((x) => x.id));
    for (const part of [train, held]) expect(part.map((x) => x.id)).toEqual([...part.map((x) => x.id)].sort((x, y) => x - y));
    // The held-out rows are spread over the input, not its head or tail.
    expect(held.map((x) => x.id)).not.toEqual(items.slice(0, 23).map((x) => x.id));
  });

  it('rounds evalFraction and handles the edges', () => {
    expect(splitPairs(items, { evalFraction: 0.125, seed: 0 }).eval).toHaveLength(13);
    expect(splitPairs(items, { evalFraction: 0, seed: 0 })).toEqual({ train: items, eval: [] });
    expect(splitPairs(items, { evalCount: 100, seed: 0 }).train).toEqual([]);
  });

  it('rejects bad options', () => {
    expect(() => splitPairs(items, { seed: 0 } as never)).toThrow(OptionError);
    expect(() => splitPairs(items, { seed: 0, evalCount: 1, evalFraction: 0.1 } as never)).toThrow(OptionError);
    expect(() => splitPairs(items, { evalCount: 101, seed: 0 })).toThrow(OptionError);
    expect(() => splitPairs(items, { evalFraction: 1.5, seed: 0 })).toThrow(OptionError);
    expect(() => splitPairs(items, { evalFraction: 0.1, seed: 0.5 })).toThrow(OptionError);
  });
});
