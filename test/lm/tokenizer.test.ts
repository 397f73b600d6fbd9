/** BOS/EOS rules of the transformers tokenizer classes, and generation_config precedence. */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generate } from '../../src/parallel/dispatch.js';
import { ConfigError } from '../../src/errors.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { PargsTokenizer } from '../../src/lm/tokenizer.js';
import { EOT, tinyTokenizerJson, writeTinyModel } from '../helpers/tiny-model.js';

const { json, eotId } = tinyTokenizerJson();

describe('PargsTokenizer', () => {
  it('round-trips text and decodes the empty list to the empty string', () => {
    const tok = PargsTokenizer.fromJson(json, { bos_token: EOT, eos_token: EOT });
    const text = 'the theme, héllo 🌍 世界\n\t  end';
    expect(tok.decode(tok.encode(text))).toBe(text);
    expect(tok.decode([])).toBe('');
    expect(tok.encode(' the', { addSpecialTokens: false })).toEqual([259]); // 256 bytes, then Ġt, th, he, Ġthe
  });

  it('GPT-2-style classes trust tokenizer.json’s template: no BOS even with add_bos_token', () => {
    const tok = PargsTokenizer.fromJson(json, { tokenizer_class: 'GPT2Tokenizer', bos_token: EOT, add_bos_token: true });
    expect(tok.addsBos).toBe(false);
    expect(tok.encode('hi')).toEqual(tok.encode('hi', { addSpecialTokens: false }));
  });

  it('Llama-type classes add BOS by default and EOS only when add_eos_token is set', () => {
    const llama = PargsTokenizer.fromJson(json, { tokenizer_class: 'LlamaTokenizerFast', bos_token: EOT, eos_token: EOT });
    expect(llama.addsBos).toBe(true);
    expect(llama.encode('hi')).toEqual([eotId, ...llama.encode('hi', { addSpecialTokens: false })]);
    const noBos = PargsTokenizer.fromJson(json, { tokenizer_class: 'LlamaTokenizer', bos_token: EOT, add_bos_token: false, add_eos_token: true, eos_token: EOT });
    expect(noBos.encode('hi')).toEqual([...noBos.encode('hi', { addSpecialTokens: false }), eotId]);
  });

  it('the special-token string in text encodes to its single id', () => {
    const tok = PargsTokenizer.fromJson(json, {});
    expect(tok.encode(`a${EOT}b`, { addSpecialTokens: false })).toEqual([97, eotId, 98]);
  });

  it('fingerprints differ for different tokenizer files', () => {
    const a = PargsTokenizer.fromJson(json, {});
    const other = structuredClone(json) as { model: { merges: string[] } };
    other.model.merges = other.model.merges.slice(0, 2);
    expect(PargsTokenizer.fromJson(other as unknown as Record<string, unknown>, {}).fingerprint).not.toBe(a.fingerprint);
  });
});

describe('generation_config.json', () => {
  it('its eos list wins over config.json and stops generation; --prompt text follows the BOS rule', async () => {
    const tiny = await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 21 });
    const lm0 = await loadCausalLM(tiny.dir);
    const [free] = await generate({ lm: lm0, promptIds: [[1, 2, 3]], maxNewTokens: 8, stopAtEos: false });
    lm0.dispose();
    const stopId = free.generatedIds[2];
    await writeFile(join(tiny.dir, 'generation_config.json'), JSON.stringify({ eos_token_id: [9999, stopId] }));
    const lm = await loadCausalLM(tiny.dir);
    expect(lm.generation.eosTokenIds).toEqual([9999, stopId]);
    const [stopped] = await generate({ lm, promptIds: [[1, 2, 3]], maxNewTokens: 8 });
    expect(stopped.generatedIds).toEqual(free.generatedIds.slice(0, free.generatedIds.indexOf(stopId) + 1));
    expect(stopped.finishReason).toBe('eos');
    lm.dispose();
  });

  it('repetition_penalty is applied; unimplemented processors are refused unless ignored', async () => {
    const tiny = await writeTinyModel({ modelType: 'gpt2', seed: 22 });
    await writeFile(join(tiny.dir, 'generation_config.json'), JSON.stringify({ repetition_penalty: 1e6 }));
    const lm = await loadCausalLM(tiny.dir);
    const [out] = await generate({ lm, promptIds: [[1, 2, 3]], maxNewTokens: 10, stopAtEos: false });
    expect(new Set([1, 2, 3, ...out.generatedIds]).size).toBe(13); // a huge penalty forbids every repeat
    lm.dispose();
    await writeFile(join(tiny.dir, 'generation_config.json'), JSON.stringify({ no_repeat_ngram_size: 3 }));
    const lm2 = await loadCausalLM(tiny.dir);
    await expect(generate({ lm: lm2, promptIds: [[1]], maxNewTokens: 2 })).rejects.toThrow(ConfigError);
    await expect(generate({ lm: lm2, promptIds: [[1]], maxNewTokens: 2, generationConfig: 'ignore' })).resolves.toHaveLength(1);
    lm2.dispose();
  });
});
