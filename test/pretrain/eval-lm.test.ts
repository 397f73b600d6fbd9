import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { OptionError } from '../../src/errors.js';
import { evaluateLM } from '../../src/pretrain/eval-lm.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  const tiny = await writeTinyModel({ modelType: 'llama', seed: 21, kvHeads: 2, scale: 0.1 });
  lm = await loadCausalLM(tiny.dir);
});
afterAll(() => lm.dispose());

const TEXT = 'the theory — héllo wörld, the other thing';

/** −Σ log p(window targets) with a float64 log-softmax over the model's own logits. */
async function windowNats(ids: number[], targets: number[]): Promise<number> {
  const logits = lm.forward({ ids: [ids], logits: 'all' }).logits!;
  const z = (await logits.data()) as Float32Array;
  logits.dispose();
  const V = lm.config.vocabSize;
  let nats = 0;
  targets.forEach((target, t) => {
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, z[t * V + v]);
    let sum = 0;
    for (let v = 0; v < V; v++) sum += Math.exp(z[t * V + v] - max);
    nats += max + Math.log(sum) - z[t * V + target];
  });
  return nats;
}

describe('evaluateLM', () => {
  it('matches a hand computation over non-overlapping windows, per token and per UTF-8 byte', async () => {
    const bos = lm.generation.bosTokenId as number;
    const stream = [bos, ...lm.tokenizer.encode(TEXT, { addSpecialTokens: false })];
    const C = 5;
    let nats = 0;
    for (let start = 0; start < stream.length - 1; start += C) {
      const ids = stream.slice(start, Math.min(start + C, stream.length - 1));
      nats += await windowNats(ids, stream.slice(start + 1, start + 1 + ids.length));
    }
    const r = await evaluateLM({ lm, text: TEXT, context: C });
    const bytes = new TextEncoder().encode(TEXT).length;
    expect(r.tokens).toBe(stream.length - 1);
    expect(r.bytes).toBe(bytes);
    expect(r.windows).toBe(Math.ceil((stream.length - 1) / C));
    expect(r.totalNats).toBeCloseTo(nats, 3);
    expect(r.lossPerToken).toBeCloseTo(nats / (stream.length - 1), 5);
    expect(r.perplexity).toBeCloseTo(Math.exp(nats / (stream.length - 1)), 3);
    expect(r.lossPerByte).toBeCloseTo(nats / bytes, 5);
    expect(r.bitsPerByte).toBeCloseTo(nats / bytes / Math.LN2, 5);
    expect(r.unscoredTokens).toBe(0);
  });

  it('with a stride below the context scores each token once, from overlapping windows', async () => {
    const stream = [lm.generation.bosTokenId as number, ...lm.tokenizer.encode(TEXT, { addSpecialTokens: false })];
    const L = stream.length;
    // Windows [0, 4), [2, 6), [4, 8), …: the first scores 4 targets, each later one its last 2.
    let nats = 0;
    let windows = 0;
    for (let begin = 0, done = 0; done < L - 1; begin += 2, windows++) {
      const end = Math.min(begin + 4, L - 1);
      const ids = stream.slice(begin, end);
      const targets = stream.slice(begin + 1, end + 1);
      const skip = done - begin;
      nats += (await windowNats(ids, targets)) - (skip > 0 ? await windowNats(ids.slice(0, skip), targets.slice(0, skip)) : 0);
      done = end;
    }
    const r = await evaluateLM({ lm, text: TEXT, context: 4, stride: 2 });
    expect(r.windows).toBe(windows);
    expect(r.tokens).toBe(L - 1);
    expect(r.totalNats).toBeCloseTo(nats, 3);
    const full = await windowNats(stream.slice(0, -1), stream.slice(1));
    expect((await evaluateLM({ lm, text: TEXT, context: 64 })).totalNats).toBeCloseTo(full, 3);
  });

  it('sums over several texts, each starting from BOS, and is deterministic', async () => {
    const a = await evaluateLM({ lm, text: 'the cat' });
    const b = await evaluateLM({ lm, text: 'other words here' });
    const both = await evaluateLM({ lm, texts: ['the cat', 'other words here'] });
    expect(both.totalNats).toBeCloseTo(a.totalNats + b.totalNats, 4);
    expect(both.tokens).toBe(a.tokens + b.tokens);
    expect((await evaluateLM({ lm, texts: ['the cat', 'other words here'] })).totalNats).toBe(both.totalNats);
  });

  it('validates its options', async () => {
    await expect(evaluateLM({ lm })).rejects.toThrow(OptionError);
    await expect(evaluateLM({ lm, text: 'x', context: 4, stride: 8 })).rejects.toThrow(/stride/);
    await expect(evaluateLM({ lm, text: '' })).rejects.toThrow(/no token/);
  });
});
