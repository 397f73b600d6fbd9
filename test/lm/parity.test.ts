/**
 * The TensorFlow.js port against an independent float64 reference of the transformers forward pass
 * (test/reference/naive-lm.ts): logits at every position, greedy tokens, cached decoding, left padding.
 */
import { tf } from '../../src/engine/tf.js';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/parallel/dispatch.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { naiveForward, naiveGreedy } from '../reference/naive-lm.js';
import { writeTinyModel, type TinyModel, type TinyOptions } from '../helpers/tiny-model.js';

const CASES: { name: string; options: TinyOptions }[] = [
  { name: 'gpt2 (tied, unprefixed names)', options: { modelType: 'gpt2', seed: 1 } },
  { name: 'gpt2 (transformer. prefix, untied, inverse-layer scaling)', options: { modelType: 'gpt2', seed: 2, prefixed: true, tie: false, config: { scale_attn_by_inverse_layer_idx: true } } },
  { name: 'llama with GQA (4 heads, 2 kv)', options: { modelType: 'llama', seed: 3, kvHeads: 2 } },
  { name: 'llama tied, MQA, llama3 rope scaling', options: { modelType: 'llama', seed: 4, kvHeads: 1, tie: true, config: { rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 16 } } } },
  { name: 'llama with attention and mlp bias, linear rope', options: { modelType: 'llama', seed: 5, config: { attention_bias: true, rope_scaling: { type: 'linear', factor: 2 } } } },
  { name: 'qwen2 (q/k/v biases)', options: { modelType: 'qwen2', seed: 6, kvHeads: 2 } },
  { name: 'mistral with sliding window 5', options: { modelType: 'mistral', seed: 7, kvHeads: 2, config: { sliding_window: 5 } } },
  { name: 'llama with explicit head_dim ≠ hidden/heads', options: { modelType: 'llama', seed: 8, kvHeads: 2, config: { head_dim: 16 } } },
  { name: 'llama F16 weights', options: { modelType: 'llama', seed: 9, kvHeads: 2, dtype: 'F16' } },
  { name: 'gpt2 BF16 weights', options: { modelType: 'gpt2', seed: 10, dtype: 'BF16' } },
  { name: 'llama yarn rope (factor 4, default attention factor)', options: { modelType: 'llama', seed: 11, kvHeads: 2, config: { head_dim: 16, rope_scaling: { rope_type: 'yarn', factor: 4, original_max_position_embeddings: 64 } } } },
  { name: 'llama yarn rope (mscale / mscale_all_dim)', options: { modelType: 'llama', seed: 12, config: { head_dim: 16, rope_scaling: { type: 'yarn', factor: 8, original_max_position_embeddings: 64, mscale: 1, mscale_all_dim: 0.5, beta_fast: 16, truncate: false } } } },
  { name: 'qwen2 sliding window 3 on layers ≥ max_window_layers 1', options: { modelType: 'qwen2', seed: 13, kvHeads: 2, config: { use_sliding_window: true, sliding_window: 3, max_window_layers: 1 } } },
];

const PROMPT = [5, 17, 200, 3, 99, 42, 7, 150, 11];
const loaded: CausalLM[] = [];
afterAll(() => loaded.forEach((lm) => lm.dispose()));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function setup(options: TinyOptions): Promise<{ tiny: TinyModel; lm: CausalLM }> {
  const tiny = await writeTinyModel(options);
  const lm = await loadCausalLM(tiny.dir);
  loaded.push(lm);
  return { tiny, lm };
}

describe.each(CASES)('$name', ({ options }) => {
  it('matches the float64 reference at every position (logits and hidden states)', async () => {
    const { tiny, lm } = await setup(options);
    const ref = naiveForward(tiny.config, tiny.weights, PROMPT);
    const out = lm.forward({ ids: [PROMPT], logits: 'all' });
    const logits = (await out.logits!.data()) as Float32Array;
    const hidden = (await out.hidden.data()) as Float32Array;
    const V = lm.config.vocabSize;
    const d = lm.config.hiddenSize;
    for (let t = 0; t < PROMPT.length; t++) {
      expect(maxAbsDiff(logits.subarray(t * V, (t + 1) * V), ref.logits[t])).toBeLessThan(1e-4);
      expect(maxAbsDiff(hidden.subarray(t * d, (t + 1) * d), ref.hidden[t])).toBeLessThan(1e-4);
    }
    out.logits!.dispose();
    out.hidden.dispose();
  });

  it('greedy generation equals the reference greedy tokens', async () => {
    const { tiny, lm } = await setup(options);
    const expected = naiveGreedy(tiny.config, tiny.weights, PROMPT, 12, []);
    const [got] = await generate({ lm, promptIds: [PROMPT], maxNewTokens: 12, stopAtEos: false });
    expect(got.generatedIds).toEqual(expected);
  });

  it('cached incremental decoding gives the logits of a full forward', async () => {
    const { lm } = await setup(options);
    const full = lm.forward({ ids: [PROMPT], logits: 'all' });
    const fullLogits = (await full.logits!.data()) as Float32Array;
    full.logits!.dispose();
    full.hidden.dispose();
    const V = lm.config.vocabSize;
    let { logits, cache, hidden } = lm.prefill([PROMPT.slice(0, 3)]);
    hidden.dispose();
    for (let t = 3; t < PROMPT.length; t++) {
      expect(maxAbsDiff((await logits.data()) as Float32Array, fullLogits.subarray((t - 1) * V, t * V))).toBeLessThan(1e-4);
      const next = lm.step(cache, [PROMPT[t]]);
      logits.dispose();
      cache.dispose();
      next.hidden.dispose();
      ({ logits, cache } = next);
    }
    expect(maxAbsDiff((await logits.data()) as Float32Array, fullLogits.subarray((PROMPT.length - 1) * V))).toBeLessThan(1e-4);
    logits.dispose();
    cache.dispose();
  });

  it('a left-padded batch gives each row the result it gets alone', async () => {
    const { lm } = await setup(options);
    const rows = [PROMPT, PROMPT.slice(4), [PROMPT[0]]];
    const batch = await generate({ lm, promptIds: rows, maxNewTokens: 6, stopAtEos: false });
    for (let r = 0; r < rows.length; r++) {
      const [alone] = await generate({ lm, promptIds: [rows[r]], maxNewTokens: 6, stopAtEos: false });
      expect(batch[r].generatedIds).toEqual(alone.generatedIds);
    }
    const prefilled = lm.prefill(rows);
    const batchLogits = (await prefilled.logits.data()) as Float32Array;
    const V = lm.config.vocabSize;
    for (let r = 0; r < rows.length; r++) {
      const alone = lm.prefill([rows[r]]);
      expect(maxAbsDiff(batchLogits.subarray(r * V, (r + 1) * V), (await alone.logits.data()) as Float32Array)).toBeLessThan(1e-4);
      alone.logits.dispose();
      alone.hidden.dispose();
      alone.cache.dispose();
    }
    prefilled.logits.dispose();
    prefilled.hidden.dispose();
    prefilled.cache.dispose();
  });
});

describe('KV cache rows', () => {
  it('selectRows and broadcast continue each row exactly as the original row would', async () => {
    const { lm } = await setup({ modelType: 'llama', seed: 11, kvHeads: 2 });
    const pre = lm.prefill([PROMPT, PROMPT.slice(2)]);
    const wide = pre.cache.broadcast(3); // rows [0,0,0,1,1,1]
    const reordered = pre.cache.selectRows([1, 0]);
    const a = lm.step(wide, [1, 2, 3, 4, 5, 6]);
    const b = lm.step(reordered, [4, 1]);
    const ref = lm.step(pre.cache, [1, 4]);
    const V = lm.config.vocabSize;
    const [av, bv, rv] = [(await a.logits.data()) as Float32Array, (await b.logits.data()) as Float32Array, (await ref.logits.data()) as Float32Array];
    expect(maxAbsDiff(av.subarray(0, V), rv.subarray(0, V))).toBeLessThan(1e-5); // row 0, token 1
    expect(maxAbsDiff(av.subarray(3 * V, 4 * V), rv.subarray(V))).toBeLessThan(1e-5); // row 1, token 4
    expect(maxAbsDiff(bv.subarray(0, V), rv.subarray(V))).toBeLessThan(1e-5);
    expect(maxAbsDiff(bv.subarray(V), rv.subarray(0, V))).toBeLessThan(1e-5);
    for (const o of [a, b, ref]) {
      o.logits.dispose();
      o.hidden.dispose();
      o.cache.dispose();
    }
    for (const c of [wide, reordered, pre.cache]) c.dispose();
    pre.logits.dispose();
    pre.hidden.dispose();
  });

  it('a candidates forward scores k alternatives against one prefix exactly as k separate steps', async () => {
    for (const options of [{ modelType: 'gpt2', seed: 14 }, { modelType: 'mistral', seed: 15, kvHeads: 2, config: { sliding_window: 4 } }] as TinyOptions[]) {
      const { lm } = await setup(options);
      const pre = lm.prefill([PROMPT, PROMPT.slice(3)]);
      const candidates = [[7, 8, 9], [10, 7, 11]];
      const out = lm.forward({ ids: candidates, cache: pre.cache, candidates: true, logits: 'all' });
      const hidden = (await out.hidden.data()) as Float32Array; // [2, 3, d]
      const d = lm.config.hiddenSize;
      const chosen = [2, 0];
      for (let b = 0; b < 2; b++) {
        for (let j = 0; j < 3; j++) {
          const alone = lm.step(pre.cache.selectRows([b]), [candidates[b][j]]);
          expect(maxAbsDiff(hidden.subarray((b * 3 + j) * d, (b * 3 + j + 1) * d), (await alone.hidden.data()) as Float32Array)).toBeLessThan(1e-4);
          for (const t of [alone.logits, alone.hidden, alone.cache]) t.dispose();
        }
      }
      // Committing the chosen candidates continues exactly like stepping with those tokens.
      const committed = pre.cache.appendCandidate(out.candidateKV!, chosen);
      const stepped = lm.step(pre.cache, chosen.map((j, b) => candidates[b][j]));
      const a = lm.step(committed, [3, 4]);
      const b = lm.step(stepped.cache, [3, 4]);
      expect(maxAbsDiff((await a.logits.data()) as Float32Array, (await b.logits.data()) as Float32Array)).toBeLessThan(1e-4);
      for (const t of [a.logits, a.hidden, a.cache, b.logits, b.hidden, b.cache, stepped.logits, stepped.hidden, stepped.cache, committed, out.hidden, out.logits!, pre.logits, pre.hidden, pre.cache]) t.dispose();
      out.candidateKV!.forEach((l) => [l.keysT, l.values].forEach((t) => t.dispose()));
    }
  });

  it('repeated generation does not grow the tensor count', async () => {
    const { lm } = await setup({ modelType: 'qwen2', seed: 12, kvHeads: 2 });
    await generate({ lm, promptIds: [PROMPT, [1, 2]], maxNewTokens: 4, strategy: { kind: 'sample', temperature: 0.9, topK: 20, topP: 0.9 } });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) {
      await generate({ lm, promptIds: [PROMPT, [1, 2]], maxNewTokens: 4, strategy: { kind: 'sample', temperature: 0.9, topK: 20, topP: 0.9 } });
      const pre = lm.prefill([PROMPT]);
      const s = pre.cache.selectRows([0, 0]);
      for (const t of [pre.logits, pre.hidden, pre.cache, s]) t.dispose();
    }
    expect(tf.memory().numTensors).toBe(before);
  });

  it('sampling is deterministic for a seed and differs across seeds', async () => {
    const { lm } = await setup({ modelType: 'gpt2', seed: 13 });
    const run = (seed: number) => generate({ lm, promptIds: [PROMPT], maxNewTokens: 16, seed, stopAtEos: false, strategy: { kind: 'sample', temperature: 1.5 } });
    const [a, b, c] = await Promise.all([run(1), run(1), run(2)]);
    expect(a[0].generatedIds).toEqual(b[0].generatedIds);
    expect(a[0].generatedIds).not.toEqual(c[0].generatedIds);
  });
});

describe('dynamic NTK rope', () => {
  const options: TinyOptions = { modelType: 'llama', seed: 16, kvHeads: 2, config: { max_position_embeddings: 6, rope_scaling: { type: 'dynamic', factor: 2 } } };

  it('past max_position_embeddings a full forward matches the reference with the grown base', async () => {
    const { tiny, lm } = await setup(options);
    const ref = naiveForward(tiny.config, tiny.weights, PROMPT); // 9 positions > 6
    const plain = naiveForward({ ...tiny.config, rope_scaling: null }, tiny.weights, PROMPT);
    const out = lm.forward({ ids: [PROMPT], logits: 'all' });
    const logits = (await out.logits!.data()) as Float32Array;
    const V = lm.config.vocabSize;
    const last = logits.subarray((PROMPT.length - 1) * V);
    expect(maxAbsDiff(last, ref.logits[PROMPT.length - 1])).toBeLessThan(1e-4);
    // The scaling really changes the result (so the check above can fail).
    expect(maxAbsDiff(last, plain.logits[PROMPT.length - 1])).toBeGreaterThan(1e-3);
    out.logits!.dispose();
    out.hidden.dispose();
  });

  it('within max_position_embeddings it is plain rope', async () => {
    const { tiny, lm } = await setup(options);
    const short = PROMPT.slice(0, 6);
    const plain = naiveForward({ ...tiny.config, rope_scaling: null }, tiny.weights, short);
    const out = lm.forward({ ids: [short], logits: 'last' });
    expect(maxAbsDiff((await out.logits!.data()) as Float32Array, plain.logits[5])).toBeLessThan(1e-4);
    out.logits!.dispose();
    out.hidden.dispose();
  });

  it('with a KV cache, a step past the limit rotates only the new token with the grown base (as transformers)', async () => {
    const { tiny, lm } = await setup(options);
    const { logits, cache, hidden } = lm.prefill([PROMPT.slice(0, 6)]); // positions 0..5: plain rope
    const next = lm.step(cache, [PROMPT[6]]); // position 6: seq_len 7 > 6
    const got = (await next.logits.data()) as Float32Array;
    // Reference: keys 0..5 rotated with the plain base, the new query/key with the base for seq_len 7.
    const full = naiveForward(tiny.config, tiny.weights, PROMPT.slice(0, 7));
    const refit = lm.forward({ ids: [PROMPT.slice(0, 7)], logits: 'last' });
    const refitLogits = (await refit.logits!.data()) as Float32Array;
    expect(maxAbsDiff(refitLogits, full.logits[6])).toBeLessThan(1e-4);
    // The cached step differs from re-running everything with the grown base: old keys kept their rotation.
    expect(maxAbsDiff(got, refitLogits)).toBeGreaterThan(1e-6);
    for (const t of [logits, hidden, next.logits, next.hidden, refit.logits!, refit.hidden]) t.dispose();
    cache.dispose();
    next.cache.dispose();
  });
});
