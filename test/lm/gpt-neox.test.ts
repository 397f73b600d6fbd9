/**
 * GPT-NeoX (Pythia) against Hugging Face transformers itself: the committed folders in
 * test/fixtures/gpt-neox/ and their reference.json were written by test/reference/make-gpt-neox.py
 * (transformers 5.18, float32, eager attention). One parallel-residual model (Hub-style config:
 * rotary_pct 0.25, rotary_emb_base) and one sequential (transformers-5 rope_parameters: 0.5 rotated,
 * base 500, no attention biases). Runs on whichever backend is active (PARGS_BACKEND or the default).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/parallel/dispatch.js';
import { tf } from '../../src/engine/tf.js';
import { openSafetensorsDir } from '../../src/io/weight-source.js';
import { leftPad, type CausalLM } from '../../src/lm/causal-lm.js';
import { exportHfTensors } from '../../src/lm/hf-weights.js';
import type { KVCache } from '../../src/lm/kv-cache.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { GPT_NEOX_FIXTURES as FIXTURES, readNeoxReference } from '../helpers/gpt-neox-fixtures.js';

/** The tolerance of the other architectures' parity tests (test/lm/parity.test.ts). */
const TOL = 1e-4;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

const data = async (t: tf.Tensor): Promise<Float32Array> => (await t.data()) as Float32Array;

describe.each([
  { variant: 'parallel' as const, parallel: true, rotaryDim: 4 },
  { variant: 'sequential' as const, parallel: false, rotaryDim: 4 },
])('GPT-NeoX $variant residual vs transformers', ({ variant, parallel, rotaryDim }) => {
  const ref = readNeoxReference(variant);
  const P = ref.prompt;
  let lm: CausalLM;
  beforeAll(async () => {
    lm = await loadCausalLM(join(FIXTURES, variant));
  });
  afterAll(() => lm?.dispose());

  it('reads the config as transformers does', () => {
    expect(lm.config).toMatchObject({ modelType: 'gpt_neox', parallelResidual: parallel, rotaryDim, vocabSize: ref.vocab_size, norm: 'layernorm', activation: 'gelu', tieWordEmbeddings: false });
  });

  it('logits at every position match transformers', async () => {
    const out = lm.forward({ ids: [P], logits: 'all' });
    expect(maxAbsDiff(await data(out.logits!), ref.logits)).toBeLessThan(TOL);
    out.logits!.dispose();
    out.hidden.dispose();
  });

  it('a left-padded batch gives transformers\' last-position logits for each row', async () => {
    const pre = lm.prefill(ref.batch);
    expect(maxAbsDiff(await data(pre.logits), ref.batch_last_logits)).toBeLessThan(TOL);
    for (const t of [pre.logits, pre.hidden, pre.cache]) t.dispose();
  });

  it('greedy generation gives transformers\' tokens, alone and in a left-padded batch', async () => {
    const [alone] = await generate({ lm, promptIds: [P], maxNewTokens: ref.greedy.length, stopAtEos: false });
    expect(alone.generatedIds).toEqual(ref.greedy);
    const batch = await generate({ lm, promptIds: ref.batch, maxNewTokens: ref.batch_greedy[0].length, stopAtEos: false });
    expect(batch.map((g) => g.generatedIds)).toEqual(ref.batch_greedy);
  });

  it('cached incremental decoding gives the logits of the full forward', async () => {
    const full = lm.forward({ ids: [P], logits: 'all' });
    const fullLogits = await data(full.logits!);
    full.logits!.dispose();
    full.hidden.dispose();
    const V = lm.config.vocabSize;
    let { logits, cache, hidden } = lm.prefill([P.slice(0, 3)]);
    hidden.dispose();
    for (let t = 3; t <= P.length; t++) {
      expect(maxAbsDiff(await data(logits), fullLogits.subarray((t - 1) * V, t * V))).toBeLessThan(TOL);
      if (t === P.length) break;
      const next = lm.step(cache, [P[t]]);
      logits.dispose();
      cache.dispose();
      next.hidden.dispose();
      ({ logits, cache } = next);
    }
    logits.dispose();
    cache.dispose();
  });

  it('candidates scored against one cached prefix equal separate steps (guided decoding\'s k-wide step)', async () => {
    const pre = lm.prefill([P.slice(0, 6)]);
    const candidates = [7, 100, P[6]];
    const out = lm.forward({ ids: [candidates], cache: pre.cache, candidates: true, logits: 'all' });
    const logits = await data(out.logits!); // [1, 3, V]
    const V = lm.config.vocabSize;
    for (const [j, c] of candidates.entries()) {
      const alone = lm.step(pre.cache, [c]);
      expect(maxAbsDiff(logits.subarray(j * V, (j + 1) * V), await data(alone.logits))).toBeLessThan(TOL);
      for (const t of [alone.logits, alone.hidden, alone.cache]) t.dispose();
    }
    for (const t of [out.hidden, out.logits!, pre.logits, pre.hidden, pre.cache]) t.dispose();
    out.candidateKV!.forEach((l) => [l.keysT, l.values].forEach((t) => t.dispose()));
  });

  it('a forward split at layer 1 (toLayer / fromLayer) equals the whole model', async () => {
    const { ids, mask } = leftPad(ref.batch, lm.padId);
    const whole = lm.prefill(ref.batch);
    const lower = lm.forward({ ids, mask, toLayer: 1, returnCache: true });
    const residual = tf.reshape(lower.hidden, [-1, lm.config.hiddenSize]) as tf.Tensor2D; // [B·T, d]
    const top = lm.forward({ ids, mask, residual, fromLayer: 1, logits: 'last', returnCache: true });
    expect(maxAbsDiff(await data(top.logits!), await data(whole.logits))).toBeLessThan(TOL);
    for (const t of [whole.logits, whole.hidden, lower.hidden, residual, top.hidden, top.logits!]) t.dispose();
    for (const c of [whole.cache, lower.cache as KVCache, top.cache as KVCache]) c.dispose();
  });

  it('the tokenizer files transformers wrote encode text to its ids', () => {
    expect(lm.tokenizer.encode(ref.text)).toEqual(ref.text_ids);
  });

  it('exporting the params gives back the checkpoint tensors bit for bit (per-head q/k/v order restored)', async () => {
    const source = await openSafetensorsDir(join(FIXTURES, variant));
    try {
      const exported = await exportHfTensors(lm.config, lm.params);
      expect(exported.map((t) => t.name).sort()).toEqual(source.names().sort());
      for (const t of exported) {
        expect(t.shape).toEqual(source.info(t.name).shape);
        expect(maxAbsDiff(t.data, await source.readF32(t.name))).toBe(0);
      }
    } finally {
      await source.close();
    }
  });

  it('repeated generation does not grow the tensor count', async () => {
    await generate({ lm, promptIds: ref.batch, maxNewTokens: 3, stopAtEos: false });
    const before = tf.memory().numTensors;
    await generate({ lm, promptIds: ref.batch, maxNewTokens: 3, stopAtEos: false });
    expect(tf.memory().numTensors).toBe(before);
  });
});
