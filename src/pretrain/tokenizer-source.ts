/**
 * Where the pretraining tokenizer comes from: a given Hugging Face tokenizer folder, a checkpoint
 * being resumed, the cache of an earlier run on the same corpus, or a fresh byte-level BPE training
 * on the training split. Trained tokenizers are cached under a key of the corpus hash and the
 * vocabulary size, so a rerun (or a resume without its checkpoint) never trains twice.
 */
import { createHash } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { OptionError, TokenizerError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { PargsTokenizer, readJsonObject } from '../lm/tokenizer.js';
import { trainByteLevelBpe } from './bpe-trainer.js';
import { END_OF_TEXT, type Document } from './corpus.js';

export type TokenizerOrigin = 'given' | 'checkpoint' | 'cached' | 'trained';

/** A tokenizer as the two files a model folder ships, plus what training needs from it. */
export interface TokenizerBundle {
  tokenizerJson: Record<string, unknown>;
  tokenizerConfig: Record<string, unknown>;
  /** tokenizer.json as written (the hash is over this text). */
  jsonText: string;
  /** SHA-256 of `jsonText`: part of the token-cache key and checked on resume. */
  hash: string;
  tokenizer: PargsTokenizer;
  /** Id of `<|endoftext|>`, which ends every document in the token stream. */
  eotId: number;
  origin: TokenizerOrigin;
}

/** Bumped when the trainer changes what it produces, so old cached tokenizers are not reused. */
const TRAINER_VERSION = 1;

export function bundleFrom(tokenizerJson: Record<string, unknown>, tokenizerConfig: Record<string, unknown>, origin: TokenizerOrigin, jsonText?: string): TokenizerBundle {
  const text = jsonText ?? `${JSON.stringify(tokenizerJson, null, 2)}\n`;
  const hash = createHash('sha256').update(text).digest('hex');
  const tokenizer = PargsTokenizer.fromJson(tokenizerJson, tokenizerConfig, hash);
  const eot = tokenizer.encode(END_OF_TEXT, { addSpecialTokens: false });
  if (eot.length !== 1) {
    throw new TokenizerError(`the tokenizer has no single "${END_OF_TEXT}" token; pretraining needs it to separate documents`);
  }
  return { tokenizerJson, tokenizerConfig, jsonText: text, hash, tokenizer, eotId: eot[0], origin };
}


/** Loads tokenizer.json (+ tokenizer_config.json when present) from a folder. */
export async function loadTokenizerBundle(dir: string, origin: TokenizerOrigin): Promise<TokenizerBundle> {
  const json = await readJsonObject(join(dir, 'tokenizer.json'), true);
  const config = await readJsonObject(join(dir, 'tokenizer_config.json'), false);
  return bundleFrom(json!.value, config?.value ?? {}, origin, json!.text);
}

export interface ObtainTokenizerOptions {
  /** A tokenizer folder to use as is. */
  given?: string;
  train: readonly Document[];
  vocabSize: number;
  /** Identifies the corpus (and split) the tokenizer is trained on. */
  corpusHash: string;
  cacheDir: string;
  signal?: AbortSignal;
}

/** The given tokenizer, else a cached one for this corpus and size, else a newly trained (and cached) one. */
export async function obtainTokenizer(o: ObtainTokenizerOptions): Promise<TokenizerBundle> {
  if (o.given !== undefined) return loadTokenizerBundle(o.given, 'given');
  if (!Number.isInteger(o.vocabSize) || o.vocabSize < 258) {
    throw new OptionError(`vocabSize must be an integer ≥ 258 (256 bytes, "${END_OF_TEXT}" and a merge), got ${o.vocabSize}`);
  }
  const key = createHash('sha256').update(`bpe:${TRAINER_VERSION}:${o.vocabSize}:${o.corpusHash}`).digest('hex').slice(0, 32);
  const path = join(o.cacheDir, `tokenizer-${key}.json`);
  const cached = await readJsonObject(path, false).catch(() => undefined);
  const files = cached?.value as { tokenizerJson?: Record<string, unknown>; tokenizerConfig?: Record<string, unknown> } | undefined;
  if (files?.tokenizerJson && files.tokenizerConfig) return bundleFrom(files.tokenizerJson, files.tokenizerConfig, 'cached');
  const trained = trainByteLevelBpe(
    o.train.map((d) => d.text),
    { vocabSize: o.vocabSize, specialTokens: [END_OF_TEXT], signal: o.signal },
  );
  const bundle = bundleFrom(trained.tokenizerJson as Record<string, unknown>, trained.tokenizerConfig as Record<string, unknown>, 'trained');
  await mkdir(o.cacheDir, { recursive: true });
  await writeFileAtomic(path, JSON.stringify({ tokenizerJson: bundle.tokenizerJson, tokenizerConfig: bundle.tokenizerConfig }));
  return bundle;
}
