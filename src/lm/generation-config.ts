/**
 * generation_config.json: the defaults transformers' `generate` uses, which take precedence over
 * config.json for BOS/EOS/PAD. Logits processors that apply even under greedy decoding are either
 * implemented (`repetition_penalty`) or listed so generation can refuse them loudly instead of silently
 * producing different tokens than transformers would.
 */
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { readJsonObjectFile } from '../io/read-input.js';
import { tokenIdList, type ModelConfig } from './config.js';

export interface GenerationDefaults {
  bosTokenId: number | null;
  /** Generation stops when a row emits any of these. */
  eosTokenIds: number[];
  padTokenId: number | null;
  repetitionPenalty: number;
  /** Processor keys present with non-neutral values that pargs does not implement. */
  unsupportedProcessors: string[];
}

/** Keys whose neutral value means "off"; any other value would change greedy output in transformers. */
const UNSUPPORTED_PROCESSORS: Record<string, (v: unknown) => boolean> = {
  no_repeat_ngram_size: (v) => v !== 0,
  bad_words_ids: (v) => Array.isArray(v) && v.length > 0,
  min_length: (v) => v !== 0,
  min_new_tokens: (v) => v !== 0,
  forced_bos_token_id: () => true,
  forced_eos_token_id: () => true,
  suppress_tokens: (v) => Array.isArray(v) && v.length > 0,
  begin_suppress_tokens: (v) => Array.isArray(v) && v.length > 0,
  sequence_bias: () => true,
  exponential_decay_length_penalty: () => true,
};

export async function readGenerationDefaults(dir: string, config: ModelConfig): Promise<GenerationDefaults> {
  const path = join(dir, 'generation_config.json');
  // Optional; when present it must be a readable JSON object (null or an array is refused, naming the file).
  const raw = (await readJsonObjectFile(path, false, (message) => new ConfigError(message)))?.value ?? {};
  const eos = raw.eos_token_id === undefined ? config.eosTokenIds : tokenIdList(raw.eos_token_id, `${path} "eos_token_id"`);
  const single = (key: string, fallback: number | null): number | null => {
    const v = raw[key];
    if (v === undefined) return fallback;
    const ids = tokenIdList(v, `${path} "${key}"`);
    return ids[0] ?? null;
  };
  const penalty = raw.repetition_penalty ?? 1;
  if (typeof penalty !== 'number' || !(penalty > 0)) throw new ConfigError(`${path} "repetition_penalty" must be a positive number, got ${JSON.stringify(penalty)}`);
  const unsupportedProcessors = Object.entries(UNSUPPORTED_PROCESSORS)
    .filter(([key, active]) => raw[key] !== undefined && raw[key] !== null && active(raw[key]))
    .map(([key]) => key);
  return {
    bosTokenId: single('bos_token_id', config.bosTokenId),
    eosTokenIds: eos,
    padTokenId: single('pad_token_id', config.padTokenId ?? eos[0] ?? null),
    repetitionPenalty: penalty,
    unsupportedProcessors,
  };
}
