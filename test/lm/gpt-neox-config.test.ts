/**
 * GPT-NeoX config.json parsing: GPTNeoXConfig's class defaults, both spellings of the rotary settings,
 * and typed refusals (config files are untrusted input) that name the value and what to do.
 */
import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, SafetensorsError } from '../../src/errors.js';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { openSafetensorsDir } from '../../src/io/weight-source.js';
import { countParameters, parseModelConfig } from '../../src/lm/config.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { ropeInverseFrequencies } from '../../src/lm/rope.js';
import { GPT_NEOX_FIXTURES as FIXTURES, readNeoxReference } from '../helpers/gpt-neox-fixtures.js';

/** EleutherAI/pythia-70m's config.json (the keys that matter). */
const pythia70m = {
  model_type: 'gpt_neox', architectures: ['GPTNeoXForCausalLM'], vocab_size: 50304, hidden_size: 512, num_hidden_layers: 6,
  num_attention_heads: 8, intermediate_size: 2048, rotary_pct: 0.25, rotary_emb_base: 10000, max_position_embeddings: 2048,
  layer_norm_eps: 1e-5, hidden_act: 'gelu', use_parallel_residual: true, tie_word_embeddings: false, bos_token_id: 0, eos_token_id: 0,
};
const tiny = { model_type: 'gpt_neox', vocab_size: 100, hidden_size: 32, num_hidden_layers: 1, num_attention_heads: 2, intermediate_size: 64 };

describe('parseModelConfig for gpt_neox', () => {
  it('pythia-70m: 16-wide rotary slices of 64-wide heads, parallel residual, biases, untied head', () => {
    const c = parseModelConfig(pythia70m);
    expect(c).toMatchObject({ headDim: 64, rotaryDim: 16, ropeTheta: 10000, parallelResidual: true, norm: 'layernorm', mlp: 'plain', positional: 'rope', qkvBias: true, outputBias: true, mlpBias: true, tieWordEmbeddings: false, bosTokenId: 0, eosTokenIds: [0] });
    // The published parameter count of Pythia-70M (embed_in and embed_out both counted).
    expect(countParameters(c)).toBe(70_426_624);
  });

  it('missing keys take GPTNeoXConfig class defaults (rotary 0.25, base 10000, parallel, attention_bias, untied, gelu, bos 0 / eos 2)', () => {
    const c = parseModelConfig({ model_type: 'gpt_neox' });
    expect(c).toMatchObject({ hiddenSize: 6144, numHeads: 64, headDim: 96, rotaryDim: 24, ropeTheta: 10000, parallelResidual: true, qkvBias: true, tieWordEmbeddings: false, activation: 'gelu', normEps: 1e-5, bosTokenId: 0, eosTokenIds: [2] });
  });

  it('reads the transformers-5 spelling: rope_parameters { rope_theta, partial_rotary_factor }', () => {
    const c = parseModelConfig({ ...tiny, rope_parameters: { rope_type: 'default', rope_theta: 500, partial_rotary_factor: 0.5 } });
    expect([c.ropeTheta, c.rotaryDim]).toEqual([500, 8]);
    // Frequencies span the rotated channels only: inv_freq[i] = base^(−2i / rotaryDim).
    const inv = ropeInverseFrequencies(c);
    expect(inv.length).toBe(4);
    [1, 500 ** -0.25, 500 ** -0.5, 500 ** -0.75].forEach((f, i) => expect(inv[i]).toBeCloseTo(f, 6));
  });

  it('reads rope_scaling for the scaling type, with the base from rotary_emb_base', () => {
    const c = parseModelConfig({ ...tiny, rotary_emb_base: 800, rope_scaling: { type: 'linear', factor: 2 } });
    expect([c.ropeTheta, c.ropeScaling]).toEqual([800, { type: 'linear', factor: 2 }]);
  });

  it('accepts ignored keys that agree with what transformers reads (configs saved by older versions carry both)', () => {
    const c = parseModelConfig({ ...tiny, rotary_pct: 0.5, partial_rotary_factor: 0.5, rotary_emb_base: 500, rope_theta: 500 });
    expect([c.ropeTheta, c.rotaryDim]).toEqual([500, 8]);
  });

  it('use_parallel_residual false and attention_bias false are honoured', () => {
    const c = parseModelConfig({ ...tiny, use_parallel_residual: false, attention_bias: false });
    expect([c.parallelResidual, c.qkvBias, c.outputBias, c.mlpBias]).toEqual([false, false, false, true]);
  });

  const refusals: [string, Record<string, unknown>, RegExp][] = [
    ['rotary_pct above 1', { rotary_pct: 1.5 }, /"rotary_pct" is 1\.5: the rotated fraction of each head must be in \(0, 1\]/],
    ['rotary_pct 0', { rotary_pct: 0 }, /"rotary_pct" must be a positive number, got 0/],
    ['rotary_pct not a number', { rotary_pct: '0.25' }, /"rotary_pct" must be a positive number, got "0\.25"/],
    ['an odd rotated width', { rotary_pct: 0.1875 }, /int\(16 · 0\.1875\) = 3 channels per head.*even number ≥ 2/],
    ['a rotated width of 0', { rotary_pct: 0.05 }, /= 0 channels per head/],
    ['partial_rotary_factor above 1 in rope_parameters', { rope_parameters: { rope_theta: 10000, partial_rotary_factor: 2 } }, /"rope_parameters\.partial_rotary_factor" is 2/],
    ['heads that do not divide hidden_size', { num_attention_heads: 3 }, /"hidden_size" \(32\) must be divisible by "num_attention_heads" \(3\)/],
    ['a head_dim other than hidden/heads', { head_dim: 8 }, /"head_dim" is 8, but GPT-NeoX heads are hidden_size \/ num_attention_heads = 16 wide/],
    ['a top-level partial_rotary_factor transformers would ignore', { partial_rotary_factor: 0.5 }, /"partial_rotary_factor" is 0\.5, but for gpt_neox transformers reads 0\.25 from the class default of "rotary_pct" and ignores "partial_rotary_factor"; set "rotary_pct"/],
    ['a top-level rope_theta transformers would ignore', { rotary_emb_base: 10000, rope_theta: 500 }, /"rope_theta" is 500, but for gpt_neox transformers reads 10000 from "rotary_emb_base"/],
    ['an old key the rope dict overrides', { rotary_pct: 0.25, rope_parameters: { rope_theta: 10000, partial_rotary_factor: 0.5 } }, /"rotary_pct" is 0\.25, but for gpt_neox transformers reads 0\.5 from "rope_parameters\.partial_rotary_factor"/],
    ['both rope_scaling and rope_parameters', { rope_scaling: { type: 'linear', factor: 2 }, rope_parameters: { rope_theta: 10000 } }, /both "rope_scaling" and "rope_parameters"/],
    ['an unimplemented rope type', { rope_parameters: { rope_type: 'longrope', rope_theta: 10000 } }, /rope type "longrope" is not implemented/],
    ['use_parallel_residual not a boolean', { use_parallel_residual: 'yes' }, /"use_parallel_residual" must be true or false, got "yes"/],
    ['a hidden_size of 0', { hidden_size: 0 }, /"hidden_size" must be a positive integer, got 0/],
    ['an unknown activation', { hidden_act: 'gelu_erf' }, /"hidden_act" is "gelu_erf", which pargs does not implement \(supported: gelu,/],
    ['a sequence-classification head pargs does not load', { architectures: ['GPTNeoXForTokenClassification'] }, /"architectures" is \["GPTNeoXForTokenClassification"\]/],
  ];
  it.each(refusals)('refuses %s with a ConfigError naming the value', (_name, patch, message) => {
    const run = (): unknown => parseModelConfig({ ...tiny, ...patch });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(message);
  });
});

describe('loading GPT-NeoX folders', () => {
  async function copyOfFixture(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'pargs-neox-'));
    await cp(join(FIXTURES, 'parallel'), dir, { recursive: true });
    return dir;
  }

  it('a bad config.json in a folder is refused at load with the file named', async () => {
    const dir = await copyOfFixture();
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, rotary_pct: 3 }));
    await expect(loadCausalLM(dir)).rejects.toThrow(ConfigError);
    await expect(loadCausalLM(dir)).rejects.toThrow(/config\.json "rotary_pct" is 3/);
  });

  it('weights that do not fit the config are refused with the tensor named', async () => {
    const dir = await copyOfFixture();
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
    // The file has attention biases; a config without them would leave those tensors unread.
    await writeFile(join(dir, 'config.json'), JSON.stringify({ ...config, attention_bias: false }));
    await expect(loadCausalLM(dir)).rejects.toThrow(SafetensorsError);
    await expect(loadCausalLM(dir)).rejects.toThrow(/not used by a gpt_neox model with this config: gpt_neox\.layers\.0\.attention\.(dense|query_key_value)\.bias/);
  });

  it('reads the head as lm_head.weight too (transformers 5 loads that name), and refuses a folder with neither', async () => {
    const dir = await copyOfFixture();
    const source = await openSafetensorsDir(dir);
    const tensors = [];
    for (const name of source.names()) {
      tensors.push({ name: name === 'embed_out.weight' ? 'lm_head.weight' : name, dtype: 'F32' as const, shape: source.info(name).shape, data: await source.readF32(name) });
    }
    await source.close();
    await writeSafetensors(join(dir, 'model.safetensors'), tensors);
    const lm = await loadCausalLM(dir);
    const ref = readNeoxReference('parallel');
    const out = lm.forward({ ids: [ref.prompt], logits: 'last' });
    const last = (await out.logits!.data()) as Float32Array;
    const V = lm.config.vocabSize;
    last.forEach((x, i) => expect(Math.abs(x - ref.logits[(ref.prompt.length - 1) * V + i])).toBeLessThan(1e-4));
    out.logits!.dispose();
    out.hidden.dispose();
    lm.dispose();

    await writeSafetensors(join(dir, 'model.safetensors'), tensors.filter((t) => t.name !== 'lm_head.weight'));
    await expect(loadCausalLM(dir)).rejects.toThrow(/missing tensor "embed_out\.weight"/);
  });
});
