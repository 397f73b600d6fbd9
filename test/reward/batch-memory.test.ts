/**
 * The feature pass plans its batches against tensor memory before the first forward, and refuses
 * sequences past the backbone's context with a count. A small heap is simulated with PARGS_MEMORY_LIMIT.
 */
import { tf } from '../../src/engine/tf.js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { forwardBytesPerToken } from '../../src/lm/activation-memory.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { planFeatureBatches } from '../../src/reward/batch-plan.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import { type TrainEvent } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 91, config: { max_position_embeddings: 24 } })).dir);
});
afterAll(() => lm.dispose());
afterEach(() => {
  delete process.env.PARGS_MEMORY_LIMIT;
});

// 16 pairs, every sequence 2 + 4 = 6 tokens: 32 sequences, 192 tokens.
const pairs = Array.from({ length: 16 }, (_, i) => ({ promptIds: [260, 5 + i], chosenIds: [20, 21, 22, 23], rejectedIds: [30, 31, 32, 33] }));
const prefixes = { mode: 'partial' as const, alignment: 'eos' as const, minPrefix: 1 };

/** Caps tensor memory at what exists now plus room for `tokens` 6-token positions (before the 0.75 margin). */
function limitTo(tokens: number): void {
  process.env.PARGS_MEMORY_LIMIT = String(tf.memory().numBytes + Math.ceil((tokens * forwardBytesPerToken(lm.config, 6)) / 0.75));
}

describe('feature pass memory planning', () => {
  it('a tokensPerBatch that cannot fit → OptionError naming it and a value that fits; nothing leaks', async () => {
    limitTo(40);
    const before = tf.memory().numTensors;
    const err = await extractPrefixFeatures({ backbone: lm, pairs, prefixes, tokensPerBatch: 4096 }).then((f) => f.store.dispose(), (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/tokensPerBatch 4096 is too large.*PARGS_MEMORY_LIMIT.*use tokensPerBatch ≤ (39|40)\b/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the default sizes batches from the free memory and runs to completion, equal to one big batch', async () => {
    const unlimited = await extractPrefixFeatures({ backbone: lm, pairs, prefixes });
    limitTo(40);
    const events: number[] = [];
    const limited = await extractPrefixFeatures({ backbone: lm, pairs, prefixes, onProgress: (e) => events.push(e.sequencesDone) });
    expect(events.length).toBeGreaterThan(4); // 32 sequences in batches of at most 6 rows
    expect(events.at(-1)).toBe(32);
    for (let p = 0; p < pairs.length; p++) {
      for (const side of [0, 1] as const) {
        const a = unlimited.store.get(p, side);
        const b = limited.store.get(p, side);
        for (let i = 0; i < a.length; i++) expect(b[i]).toBeCloseTo(a[i], 5);
      }
    }
    unlimited.store.dispose();
    limited.store.dispose();
  });

  it('a single sequence too large for memory → OptionError naming maxLength', () => {
    const budget = { availableBytes: 1000, inUseBytes: 0, limit: 'test' };
    expect(() => planFeatureBatches(lm.config, [6], undefined, budget)).toThrow(/cannot fit even one 6-token sequence.*maxLength ≤ \d/);
  });
});

describe('sequences past the backbone context', () => {
  it('are refused before any forward, with the count of sequences and pairs', async () => {
    const long = [...pairs.slice(0, 3), { promptIds: [260, 1], chosenIds: new Array(30).fill(20), rejectedIds: [30] }, { promptIds: [260, 2], chosenIds: new Array(23).fill(21), rejectedIds: [30] }];
    const before = tf.memory().numTensors;
    const err = await extractPrefixFeatures({ backbone: lm, pairs: long, prefixes }).then((f) => f.store.dispose(), (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    // EOS alignment pads the rejected side to the chosen length: both sequences of pairs 3 and 4 are over.
    expect((err as Error).message).toMatch(/^4 of 10 sequences \(2 pairs\) are longer than the backbone's context of 24 tokens \(the longest, pair 3, has 32\)/);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('trainPartialRM on text drops (and reports) rows past the backbone context instead of running past it', async () => {
    const rows = [
      ...Array.from({ length: 6 }, (_, i) => ({ prompt: `q${i}`, chosen: ' yes', rejected: ' no', source: { index: i } })),
      { prompt: 'q', chosen: ' a very long answer that runs well past twenty four tokens of context', rejected: ' no', source: { index: 6 } },
    ];
    const events: TrainEvent[] = [];
    const rm = await trainPartialRM({ backbone: lm, pairs: rows, epochs: 1, onProgress: (e) => events.push(e) });
    rm.dispose();
    const encoded = events.find((e) => e.kind === 'encoded');
    expect(encoded?.kind === 'encoded' && encoded.report.counts['too-long']).toBe(1);
    expect(encoded?.kind === 'encoded' && encoded.report.kept).toBe(6);
  });
});
