/** Evaluation refuses to run past the model's context (max_position_embeddings), for RoPE models too. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OptionError } from '../../src/errors.js';
import { responseLogProbs } from '../../src/eval/lm-scores.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { evaluateLM } from '../../src/pretrain/eval-lm.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM; // llama (RoPE), context 16
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 23, config: { max_position_embeddings: 16 } })).dir);
});
afterAll(() => lm.dispose());

describe('evaluation past the context', () => {
  it('evaluateLM refuses a window longer than the context, and scores long texts in windows within it', async () => {
    await expect(evaluateLM({ lm, text: 'the cat sat on the mat', context: 17 })).rejects.toThrow(/context 17 exceeds this model's 16 positions/);
    const r = await evaluateLM({ lm, text: 'the cat sat on the mat and the dog sat on the log' });
    expect(r.context).toBe(16);
    expect(r.windows).toBeGreaterThan(1);
  });

  it('responseLogProbs refuses sequences past the context with their count', async () => {
    const ok = { promptIds: [260, 1, 2], responseIds: [3, 4] };
    const long = { promptIds: new Array(10).fill(5), responseIds: new Array(8).fill(6) };
    const err = await responseLogProbs(lm, [ok, long, ok, long]).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(OptionError);
    expect((err as Error).message).toMatch(/2 of 4 prompt \+ response sequences are longer than the model's context of 16 tokens \(first: item 1, longest: 18\)/);
    expect((await responseLogProbs(lm, [ok]))[0]).toHaveLength(2);
  });
});
