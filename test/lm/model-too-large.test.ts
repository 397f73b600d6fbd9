/**
 * A model that cannot fit its backend is refused from config.json alone, before any tensor exists:
 * the folders here hold only a config (no tokenizer, no weights), so any later step would fail with a
 * different error. GPT-2-large (774 M parameters) is the case that used to abort the wasm module.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { tf } from '../../src/engine/tf.js';
import { tensorMemoryBudget, WASM_HEAP_MAX_BYTES } from '../../src/engine/memory-budget.js';
import { importNativeBinding } from '../../src/engine/native/import.js';
import { ModelTooLargeError, SafetensorsError, TokenizerError } from '../../src/errors.js';
import { parseModelConfig } from '../../src/lm/config.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { modelMemory } from '../../src/lm/model-memory.js';
import { loadRewardModel } from '../../src/reward/reward-model.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const GPT2 = (layers: number, d: number, heads: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  model_type: 'gpt2', architectures: ['GPT2LMHeadModel'], vocab_size: 50257, n_positions: 1024, n_layer: layers, n_embd: d, n_head: heads, ...extra,
});
const GPT2_MEDIUM = GPT2(24, 1024, 16);
const GPT2_LARGE = GPT2(36, 1280, 20);
/** Llama-3.1-405B's shape: 1.6 TB in float32, more memory than any machine this suite runs on. */
const LLAMA_405B = {
  model_type: 'llama', architectures: ['LlamaForCausalLM'], vocab_size: 128256, hidden_size: 16384, intermediate_size: 53248,
  num_hidden_layers: 126, num_attention_heads: 128, num_key_value_heads: 8, max_position_embeddings: 4096,
};

async function configOnly(config: Record<string, unknown>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'pargs-too-large-'));
  await writeFile(join(dir, 'config.json'), JSON.stringify(config));
  return dir;
}

async function refusal(load: () => Promise<unknown>): Promise<ModelTooLargeError> {
  const before = tf.memory().numTensors;
  const err = await load().then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(ModelTooLargeError);
  expect(tf.memory().numTensors).toBe(before);
  return err as ModelTooLargeError;
}

afterEach(() => {
  delete process.env.PARGS_MEMORY_LIMIT;
});

describe('models too large for the backend are refused before loading', () => {
  it('refuses GPT-2-large on wasm with the bytes needed, the heap limit and the native fix', async () => {
    const dir = await configOnly(GPT2_LARGE);
    const err = await refusal(() => loadCausalLM(dir, { backend: 'wasm' }));
    const need = modelMemory(parseModelConfig(GPT2_LARGE, 'config'), 'wasm');
    expect(err.neededBytes).toBe(need.total);
    expect(err.backend).toBe('wasm');
    expect(err.message).toContain(`${need.total} bytes`);
    expect(err.message).toMatch(/774\.0 M parameters/);
    expect(err.message).toMatch(/WebAssembly heap tops out at 4\.00 GiB/);
    expect(err.message).toContain('npx pargs native install');
    expect(err.message).toContain('--backend tensorflow');
    expect(err.message).toMatch(/Nothing was loaded/);
  });

  it('counts what the wasm heap really holds: weights, the tied head copy and XNNPACK’s packed copies', () => {
    const medium = modelMemory(parseModelConfig(GPT2_MEDIUM, 'config'), 'wasm');
    const large = modelMemory(parseModelConfig(GPT2_LARGE, 'config'), 'wasm');
    // Measured at GPT-2-medium shapes on wasm: 1,550 MiB of tensors, then +1,355 MiB on the first forward.
    expect(medium.weights / 2 ** 20).toBeCloseTo(1550, -1);
    expect(Math.abs(medium.packed / 2 ** 20 - 1355) / 1355).toBeLessThan(0.02);
    expect(medium.total).toBeLessThan(WASM_HEAP_MAX_BYTES); // GPT-2-medium still runs on wasm
    expect(large.weights + large.packed).toBeGreaterThan(WASM_HEAP_MAX_BYTES);
    expect(large.weights).toBeLessThan(WASM_HEAP_MAX_BYTES); // it loaded, then aborted on the first forward
    // A reward model's backbone never multiplies by its LM head.
    expect(modelMemory(parseModelConfig(GPT2_LARGE, 'config'), 'wasm', false).packed).toBeLessThan(large.packed);
    expect(modelMemory(parseModelConfig(GPT2_LARGE, 'config'), 'tensorflow').packed).toBe(0);
  });

  it('charges XNNPACK’s packed copies of a loaded model to the wasm heap budget until it is disposed', async () => {
    const tiny = await writeTinyModel({ modelType: 'gpt2' });
    const lm = await loadCausalLM(tiny.dir, { backend: 'wasm' });
    const packed = modelMemory(lm.config, 'wasm').packed;
    expect(packed).toBeGreaterThan(0);
    expect(tensorMemoryBudget().inUseBytes).toBe(tf.memory().numBytes + packed);
    lm.dispose();
    expect(tensorMemoryBudget().inUseBytes).toBe(tf.memory().numBytes);
  });

  it('refuses a Hugging Face reward model folder the same way (loadRewardModel)', async () => {
    const dir = await configOnly(GPT2(36, 1280, 20, { architectures: ['GPT2ForSequenceClassification'], num_labels: 1 }));
    const err = await refusal(() => loadRewardModel(dir, undefined, { backend: 'wasm' }));
    expect(err.message).toMatch(/WebAssembly heap.*npx pargs native install/);
  });

  it('says when auto fell back to wasm because native TensorFlow is missing', async () => {
    const dir = await configOnly(GPT2_LARGE);
    const native = (await importNativeBinding()).loaded;
    if (native) {
      // Auto runs it on native, where it fits: the load gets past the check and stops at the missing files.
      await expect(loadCausalLM(dir, { backend: 'auto' })).rejects.toSatisfy((e) => e instanceof TokenizerError || e instanceof SafetensorsError);
      return;
    }
    const err = await refusal(() => loadCausalLM(dir, { backend: 'auto' }));
    expect(err.message).toMatch(/Backend "auto" chose WebAssembly because native TensorFlow is not available/);
  });

  it('refuses against free system memory off wasm, and honours PARGS_MEMORY_LIMIT', async () => {
    const big = await refusal(async () => loadCausalLM(await configOnly(LLAMA_405B), { backend: 'cpu' }));
    expect(big.message).toMatch(/405\d{3}\.\d M parameters.*free system memory/);
    process.env.PARGS_MEMORY_LIMIT = '64MiB';
    const capped = await refusal(async () => loadCausalLM(await configOnly(GPT2(12, 768, 12)), { backend: 'cpu' }));
    expect(capped.message).toMatch(/124\.4 M parameters.*PARGS_MEMORY_LIMIT = 64 MiB/);
    // A tiny model fits the same limit: it gets past the check and stops at the missing tokenizer.
    await expect(loadCausalLM(await configOnly(GPT2(2, 64, 4, { vocab_size: 300 })), { backend: 'cpu' })).rejects.toThrow(TokenizerError);
  });
});
