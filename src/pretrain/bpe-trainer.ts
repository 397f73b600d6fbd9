/**
 * Deterministic byte-level BPE trainer that emits a Hugging Face `tokenizer.json` (GPT-2 style:
 * ByteLevel pre-tokenizer + decoder, BPE model, special tokens as added tokens) plus a matching
 * `tokenizer_config.json`, loadable by `@huggingface/tokenizers` and by Python `tokenizers`.
 *
 * Algorithm: count unique pre-tokenized words, then merge over unique words weighted by their
 * counts, keeping pair counts and a pair → words index up to date incrementally so each merge only
 * touches the words that contain the pair. The best pair comes from a max-heap with lazy
 * invalidation (stale entries are dropped when popped).
 *
 * Tie-break rule: among pairs with the highest count, the one with the smallest (left id, right id)
 * wins, compared left id first. Ids are byte values for the 256 base symbols and creation order for
 * merged tokens, so the result depends only on the input, never on Map iteration order.
 */
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OptionError, throwIfAborted } from '../errors.js';
import { checkArgument, checkOptions, custom, func, integer, required, signal, string, strings, type Schema } from '../options.js';
import { BYTE_TO_UNICODE, countWords } from './byte-level.js';

export interface BpeTrainOptions {
  /** Total vocabulary: 256 byte symbols + learned merges + special tokens. */
  vocabSize: number;
  /** Appended after the learned tokens, in this order; default `['<|endoftext|>']`. */
  specialTokens?: string[];
  /** Stop once the best pair occurs fewer times than this (weighted by word counts); default 2. */
  minFrequency?: number;
  onProgress?: (e: { merges: number; target: number }) => void;
  signal?: AbortSignal;
}

export interface TrainedTokenizer {
  tokenizerJson: object;
  tokenizerConfig: object;
  /** Actual vocabulary size; smaller than requested when the corpus runs out of frequent pairs. */
  vocabSize: number;
  /** Number of merges learned. */
  merges: number;
}

const BYTE_SYMBOLS = 256;
const MAX_VOCAB = 65536;
const DEFAULT_SPECIALS = ['<|endoftext|>'];
/** Merges between `onProgress` calls, so a chatty callback cannot dominate training time. */
const PROGRESS_EVERY = 64;

interface Resolved {
  vocabSize: number;
  specials: string[];
  minFrequency: number;
  onProgress?: (e: { merges: number; target: number }) => void;
  signal?: AbortSignal;
}

export const BPE_SCHEMA: Schema = { vocabSize: required(integer()), specialTokens: strings(), minFrequency: integer(), onProgress: func(), signal: signal() };

function resolveOptions(options: BpeTrainOptions): Resolved {
  checkOptions('trainByteLevelBpe', options, BPE_SCHEMA);
  const specials = options.specialTokens ?? DEFAULT_SPECIALS;
  if (!Array.isArray(specials)) {
    throw new OptionError(`specialTokens must be an array of strings; got ${String(specials)}`);
  }
  const byteSymbols = new Set(BYTE_TO_UNICODE);
  specials.forEach((s, i) => {
    if (typeof s !== 'string' || s.length === 0) {
      throw new OptionError(`specialTokens[${i}] must be a non-empty string; got ${JSON.stringify(s)}`);
    }
    if (specials.indexOf(s) !== i) {
      throw new OptionError(`specialTokens contains ${JSON.stringify(s)} twice; list each once`);
    }
    // A one-character special equal to a byte symbol would claim that symbol's vocab entry.
    if (byteSymbols.has(s)) {
      throw new OptionError(`specialTokens[${i}] ${JSON.stringify(s)} collides with a byte symbol`);
    }
  });
  const { vocabSize } = options;
  const min = BYTE_SYMBOLS + specials.length;
  if (!Number.isInteger(vocabSize) || vocabSize <= min || vocabSize > MAX_VOCAB) {
    throw new OptionError(
      `vocabSize must be an integer with ${min} < vocabSize <= ${MAX_VOCAB} ` +
        `(256 byte symbols + ${specials.length} special tokens + at least one merge); got ${String(vocabSize)}`,
    );
  }
  const minFrequency = options.minFrequency ?? 2;
  if (!Number.isInteger(minFrequency) || minFrequency < 1) {
    throw new OptionError(`minFrequency must be an integer >= 1; got ${String(minFrequency)}`);
  }
  if (options.onProgress !== undefined && typeof options.onProgress !== 'function') {
    throw new OptionError(`onProgress must be a function; got ${typeof options.onProgress}`);
  }
  return { vocabSize, specials: [...specials], minFrequency, onProgress: options.onProgress, signal: options.signal };
}

/**
 * Binary max-heap of (count, pair key) in parallel arrays. Keys are `left * stride + right`, so a
 * smaller key is exactly the lexicographically smaller pair, which gives the documented tie-break.
 */
class PairHeap {
  private readonly counts: number[] = [];
  private readonly keys: number[] = [];

  get size(): number {
    return this.keys.length;
  }
  topCount(): number {
    return this.counts[0];
  }
  topKey(): number {
    return this.keys[0];
  }
  private before(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.keys.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): void {
    const last = this.keys.length - 1;
    this.swap(0, last);
    this.counts.pop();
    this.keys.pop();
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let best = i;
      if (l < last && this.before(l, best)) best = l;
      if (r < last && this.before(r, best)) best = r;
      if (best === i) return;
      this.swap(i, best);
      i = best;
    }
  }
}

/**
 * Trains a byte-level BPE tokenizer. Stops early (returning the smaller actual `vocabSize`) when no
 * pair occurs at least `minFrequency` times. Merges whose result would spell a special token are
 * skipped so every vocab string stays unique.
 */
export function trainByteLevelBpe(texts: Iterable<string>, options: BpeTrainOptions): TrainedTokenizer {
  const opts = resolveOptions(options);
  if (typeof texts === 'string' || texts === null || typeof texts !== 'object' || !(Symbol.iterator in texts)) {
    // A bare string is iterable too, but per-character "texts" would silently train garbage.
    throw new OptionError(`texts must be an iterable of strings (e.g. an array); got ${typeof texts}`);
  }
  const { signal, specials } = opts;
  throwIfAborted(signal, 'BPE training');
  const counted = countWords(texts, specials, signal);

  const encoder = new TextEncoder();
  const words: number[][] = [];
  const weights: number[] = [];
  for (const [w, c] of counted) {
    words.push(Array.from(encoder.encode(w)));
    weights.push(c);
  }
  counted.clear();

  const stride = opts.vocabSize;
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  for (let wi = 0; wi < words.length; wi++) {
    const w = words[wi];
    for (let i = 0; i + 1 < w.length; i++) {
      const key = w[i] * stride + w[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + weights[wi]);
      let set = where.get(key);
      if (set === undefined) where.set(key, (set = new Set()));
      set.add(wi);
    }
  }
  const heap = new PairHeap();
  for (const [key, count] of pairCount) heap.push(count, key);

  const tokens: string[] = [...BYTE_TO_UNICODE];
  const tokenId = new Map<string, number>(tokens.map((t, i) => [t, i]));
  const specialSet = new Set(specials);
  const merges: string[] = [];
  const targetTokens = opts.vocabSize - specials.length;
  const target = targetTokens - BYTE_SYMBOLS;
  const delta = new Map<number, number>();

  while (tokens.length < targetTokens) {
    throwIfAborted(signal, 'BPE training');
    // Lazy invalidation: an entry is live only while its count still matches the pair's count.
    while (heap.size > 0 && pairCount.get(heap.topKey()) !== heap.topCount()) heap.pop();
    if (heap.size === 0 || heap.topCount() < opts.minFrequency) break;
    const key = heap.topKey();
    heap.pop();
    const left = Math.floor(key / stride);
    const right = key - left * stride;
    const text = tokens[left] + tokens[right];
    pairCount.delete(key);
    const affected = where.get(key);
    where.delete(key);
    if (specialSet.has(text) || affected === undefined) continue;

    // Two different merges can spell the same string; reuse its id so vocab strings stay unique.
    let id = tokenId.get(text);
    if (id === undefined) {
      id = tokens.length;
      tokens.push(text);
      tokenId.set(text, id);
    }
    merges.push(`${tokens[left]} ${tokens[right]}`);

    delta.clear();
    for (const wi of affected) {
      const w = words[wi];
      const c = weights[wi];
      let found = false;
      for (let i = 0; i + 1 < w.length; i++) {
        if (w[i] === left && w[i + 1] === right) {
          found = true;
          break;
        }
      }
      // The index is never pruned, so a word may have lost this pair to an earlier merge.
      if (!found) continue;
      const next: number[] = [];
      for (let i = 0; i < w.length; ) {
        if (i + 1 < w.length && w[i] === left && w[i + 1] === right) {
          next.push(id);
          i += 2;
        } else {
          next.push(w[i++]);
        }
      }
      for (let i = 0; i + 1 < w.length; i++) {
        const k = w[i] * stride + w[i + 1];
        delta.set(k, (delta.get(k) ?? 0) - c);
      }
      for (let i = 0; i + 1 < next.length; i++) {
        const k = next[i] * stride + next[i + 1];
        delta.set(k, (delta.get(k) ?? 0) + c);
        if (next[i] === id || next[i + 1] === id) {
          let set = where.get(k);
          if (set === undefined) where.set(k, (set = new Set()));
          set.add(wi);
        }
      }
      words[wi] = next;
    }
    for (const [k, d] of delta) {
      // The merged pair's own occurrences are gone; its count was already removed above.
      if (d === 0 || k === key) continue;
      const v = (pairCount.get(k) ?? 0) + d;
      if (v > 0) {
        pairCount.set(k, v);
        heap.push(v, k);
      } else {
        pairCount.delete(k);
        where.delete(k);
      }
    }
    if (opts.onProgress && merges.length % PROGRESS_EVERY === 0) {
      opts.onProgress({ merges: merges.length, target });
    }
  }
  opts.onProgress?.({ merges: merges.length, target });
  return buildFiles(tokens, merges, specials);
}

function buildFiles(tokens: string[], merges: string[], specials: string[]): TrainedTokenizer {
  const base = tokens.length;
  // Object.fromEntries defines own properties, so even a token spelled "__proto__" is kept.
  const vocab = Object.fromEntries([...tokens, ...specials].map((t, i) => [t, i]));
  const tokenizerJson = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: specials.map((content, i) => ({
      id: base + i,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: false,
      special: true,
    })),
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    // null rather than ByteLevel: tokenizers.js's ByteLevel post-processor drops `text_pair`.
    post_processor: null,
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: null,
      end_of_word_suffix: null,
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      // "left right" strings load in every tokenizers version; byte-level symbols never contain a space.
      merges,
    },
  };
  const boundary = specials[0] ?? null;
  const tokenizerConfig = {
    tokenizer_class: 'PreTrainedTokenizerFast',
    bos_token: boundary,
    eos_token: boundary,
    unk_token: null,
    add_bos_token: false,
    add_eos_token: false,
    // Must be false: the default clean-up rewrites " ." to "." and breaks exact round-trips.
    clean_up_tokenization_spaces: false,
  };
  return { tokenizerJson, tokenizerConfig, vocabSize: base + specials.length, merges: merges.length };
}

/** Writes via a temp file + rename so a crash never leaves a half-written file under the real name. */
async function writeAtomic(path: string, data: string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, data, 'utf8');
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/** Writes `tokenizer.json` and `tokenizer_config.json` into `dir` (created if missing). */
export async function writeTokenizerFiles(dir: string, t: TrainedTokenizer): Promise<void> {
  checkArgument('writeTokenizerFiles', 'dir', dir, required(string()));
  checkArgument('writeTokenizerFiles', 'tokenizer', t, required(custom('a TrainedTokenizer (from trainByteLevelBpe)', (v) => v !== null && typeof v === 'object' && 'tokenizerJson' in v && 'tokenizerConfig' in v, [{}, 'tok', 1])));
  await mkdir(dir, { recursive: true });
  await writeAtomic(join(dir, 'tokenizer.json'), `${JSON.stringify(t.tokenizerJson, null, 2)}\n`);
  await writeAtomic(join(dir, 'tokenizer_config.json'), `${JSON.stringify(t.tokenizerConfig, null, 2)}\n`);
}
