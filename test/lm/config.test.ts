import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { countParameters, parseModelConfig } from '../../src/lm/config.js';
import { ropeInverseFrequencies } from '../../src/lm/rope.js';

const llama = { model_type: 'llama', hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 4, intermediate_size: 128, vocab_size: 100 };

describe('parseModelConfig defaults (Hugging Face class defaults, not zero)', () => {
  it('GPT-2 without tie_word_embeddings is tied, with n_inner = 4·n_embd and gelu_new', () => {
    const c = parseModelConfig({ model_type: 'gpt2', n_embd: 32, n_head: 4, n_layer: 1, vocab_size: 50 });
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.intermediateSize).toBe(128);
    expect(c.activation).toBe('gelu_new');
    expect(c.eosTokenIds).toEqual([50256]);
    expect([c.qkvBias, c.outputBias, c.mlpBias]).toEqual([true, true, true]);
  });

  it('Llama: untied, kv heads = heads, eps 1e-6, rope theta 10000, bos 1 / eos 2', () => {
    const c = parseModelConfig(llama);
    expect(c).toMatchObject({ tieWordEmbeddings: false, numKvHeads: 4, headDim: 16, normEps: 1e-6, ropeTheta: 10000, bosTokenId: 1, eosTokenIds: [2] });
    expect([c.qkvBias, c.outputBias, c.mlpBias]).toEqual([false, false, false]);
  });

  it('Llama attention_bias covers q, k, v and o; mlp_bias the MLP', () => {
    const c = parseModelConfig({ ...llama, attention_bias: true, mlp_bias: true });
    expect([c.qkvBias, c.outputBias, c.mlpBias]).toEqual([true, true, true]);
  });

  it('Qwen2 has q/k/v biases, no o or MLP bias, and ignores a listed sliding_window unless use_sliding_window', () => {
    const c = parseModelConfig({ ...llama, model_type: 'qwen2', num_key_value_heads: 2, sliding_window: 32768, use_sliding_window: false });
    expect([c.qkvBias, c.outputBias, c.mlpBias, c.slidingWindow]).toEqual([true, false, false, null]);
  });

  it('Mistral defaults sliding_window to 4096 when absent; explicit null disables it', () => {
    const mistral = { ...llama, model_type: 'mistral', hidden_size: 128, num_attention_heads: 16 };
    expect(parseModelConfig(mistral).slidingWindow).toBe(4096);
    expect(parseModelConfig({ ...mistral, sliding_window: null }).slidingWindow).toBeNull();
    expect(parseModelConfig(mistral).numKvHeads).toBe(8); // MistralConfig's class default
  });

  it('explicit head_dim wins over hidden/heads; eos may be a list', () => {
    const c = parseModelConfig({ ...llama, head_dim: 32, eos_token_id: [7, 9] });
    expect(c.headDim).toBe(32);
    expect(c.eosTokenIds).toEqual([7, 9]);
  });

  it('reads rope_theta from v5 rope_parameters', () => {
    expect(parseModelConfig({ ...llama, rope_parameters: { rope_type: 'default', rope_theta: 500000 } }).ropeTheta).toBe(500000);
  });

  it('counts GPT-2-small parameters as 124,439,808', () => {
    expect(countParameters(parseModelConfig({ model_type: 'gpt2' }))).toBe(124_439_808);
  });

  it('llama3 rope scaling keeps high frequencies, divides low ones by the factor', () => {
    const c = parseModelConfig({ ...llama, rope_theta: 500000, rope_scaling: { rope_type: 'llama3', factor: 32, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 } });
    const scaled = ropeInverseFrequencies(c);
    const plain = ropeInverseFrequencies({ ...c, ropeScaling: { type: 'default' } });
    expect(scaled[0]).toBe(plain[0]);
    expect(scaled[scaled.length - 1]).toBeCloseTo(plain[plain.length - 1] / 32, 12);
  });
});

describe('Qwen2 sliding window (Qwen2Config: layers ≥ max_window_layers, only when use_sliding_window)', () => {
  const qwen = { ...llama, model_type: 'qwen2', num_key_value_heads: 2, num_hidden_layers: 4 };
  it('applies the window to layers ≥ max_window_layers', () => {
    const c = parseModelConfig({ ...qwen, use_sliding_window: true, sliding_window: 16, max_window_layers: 2 });
    expect([c.slidingWindow, c.slidingWindowLayers]).toEqual([16, [2, 3]]);
  });
  it('defaults: sliding_window 4096, max_window_layers 28 (so no layer of a 4-layer model)', () => {
    const c = parseModelConfig({ ...qwen, use_sliding_window: true });
    expect([c.slidingWindow, c.slidingWindowLayers]).toEqual([4096, []]);
  });
  it('saved layer_types win over max_window_layers; sliding_window null turns it off', () => {
    const types = ['full_attention', 'sliding_attention', 'full_attention', 'sliding_attention'];
    expect(parseModelConfig({ ...qwen, use_sliding_window: true, sliding_window: 8, max_window_layers: 0, layer_types: types }).slidingWindowLayers).toEqual([1, 3]);
    expect(parseModelConfig({ ...qwen, use_sliding_window: true, sliding_window: null }).slidingWindow).toBeNull();
  });
});

describe('parseModelConfig refuses what it cannot run faithfully', () => {
  const cases: [string, unknown, RegExp][] = [
    ['not an object', [1, 2], /JSON object/],
    ['no model_type', { hidden_size: 8 }, /model_type/],
    ['unsupported model_type', { model_type: 'gemma' }, /"gemma", which pargs does not support \(supported: gpt2, llama, mistral, qwen2, gpt_neox\)/],
    ['unknown hidden_act', { ...llama, hidden_act: 'gelu_erf' }, /"hidden_act" is "gelu_erf", which pargs does not implement/],
    ['unknown GPT-2 activation_function', { model_type: 'gpt2', activation_function: 'gelu2' }, /"activation_function" is "gelu2"/],
    ['non-causal architecture', { ...llama, architectures: ['LlamaForTokenClassification'] }, /architectures/],
    ['quantized checkpoint', { ...llama, quantization_config: { quant_method: 'gptq' } }, /quantization_config/],
    ['custom code', { ...llama, auto_map: { AutoModel: 'x.Y' } }, /auto_map/],
    ['longrope', { ...llama, rope_scaling: { rope_type: 'longrope', long_factor: [1], short_factor: [1] } }, /rope type "longrope" is not implemented/],
    ['yarn rope without a factor', { ...llama, rope_scaling: { rope_type: 'yarn' } }, /rope_scaling\.factor/],
    ['dynamic rope with factor 0', { ...llama, rope_scaling: { type: 'dynamic', factor: 0 } }, /rope_scaling\.factor/],
    ['yarn truncate not a boolean', { ...llama, rope_scaling: { rope_type: 'yarn', factor: 4, truncate: 'no' } }, /truncate/],
    ['llama3 rope missing a field', { ...llama, rope_scaling: { rope_type: 'llama3', factor: 8 } }, /low_freq_factor/],
    ['partial rotary', { ...llama, partial_rotary_factor: 0.5 }, /partial_rotary_factor/],
    ['Qwen2 layer_types of the wrong length', { ...llama, model_type: 'qwen2', num_key_value_heads: 2, use_sliding_window: true, layer_types: ['full_attention'] }, /layer_types/],
    ['Qwen2 negative max_window_layers', { ...llama, model_type: 'qwen2', num_key_value_heads: 2, use_sliding_window: true, max_window_layers: -1 }, /max_window_layers/],
    ['GPT-2 cross attention', { model_type: 'gpt2', add_cross_attention: true }, /add_cross_attention/],
    ['heads not dividing kv heads', { ...llama, num_key_value_heads: 3 }, /num_key_value_heads/],
    ['hidden not divisible by heads', { ...llama, hidden_size: 66 }, /divisible/],
    ['negative layer count', { ...llama, num_hidden_layers: -1 }, /num_hidden_layers/],
    ['string vocab size', { ...llama, vocab_size: '100' }, /vocab_size/],
    ['bad eos id', { ...llama, eos_token_id: 'x' }, /eos_token_id/],
    ['non-boolean tie', { ...llama, tie_word_embeddings: 'yes' }, /tie_word_embeddings/],
  ];
  it.each(cases)('%s', (_name, raw, message) => {
    expect(() => parseModelConfig(raw)).toThrow(ConfigError);
    expect(() => parseModelConfig(raw)).toThrow(message);
  });
});
