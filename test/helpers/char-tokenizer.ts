/**
 * A character-level tokenizer.json for the text-bridge tests: printable ASCII (ids 0–94), optional merges
 * (their tokens follow), then <|endoftext|>; no pre-tokenizer, a Fuse decoder (tokens joined as they are),
 * so every token is whole characters and decoding only ever appends. `decoder` replaces the Fuse decoder.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EOT, writeTinyModel, type TinyOptions } from './tiny-model.js';

export function charTokenizerJson(merges: string[] = [], decoder: Record<string, unknown> = { type: 'Fuse' }): { json: Record<string, unknown>; eotId: number; size: number } {
  const vocab: Record<string, number> = {};
  for (let c = 32; c <= 126; c++) vocab[String.fromCharCode(c)] = c - 32;
  for (const m of merges) vocab[m.replace(' ', '')] = Object.keys(vocab).length;
  const eotId = Object.keys(vocab).length;
  return {
    eotId,
    size: eotId + 1,
    json: {
      version: '1.0',
      added_tokens: [{ id: eotId, content: EOT, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: null,
      post_processor: null,
      decoder,
      model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, vocab, merges },
    },
  };
}

/** A tiny model folder whose tokenizer is `charTokenizerJson(merges, decoder)` and whose vocabulary is exactly its ids. */
export async function writeCharModel(o: TinyOptions & { merges?: string[]; decoder?: Record<string, unknown> }): Promise<string> {
  const { merges, decoder, ...tiny } = o;
  const tok = charTokenizerJson(merges, decoder);
  const { dir } = await writeTinyModel({ ...tiny, vocab: tok.size, config: { bos_token_id: tok.eotId, eos_token_id: tok.eotId, ...(tiny.config ?? {}) } });
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tok.json));
  return dir;
}
