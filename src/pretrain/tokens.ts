/**
 * Tokenizes the corpus split into two token streams (each document followed by `<|endoftext|>`) and
 * caches them as one binary file keyed by the corpus hash and the tokenizer hash, so a rerun or a
 * resume skips tokenization. Layout: "PARGSTOK", u32 LE header length, header JSON, padding to a
 * multiple of 4, then the train and validation ids as little-endian u16 (vocab ≤ 65536) or i32.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { throwIfAborted } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import type { CorpusSplit, Document } from './corpus.js';
import type { TokenizerBundle } from './tokenizer-source.js';

export type TokenArray = Uint16Array | Int32Array;

export interface TokenStreams {
  train: TokenArray;
  validation: TokenArray;
  /** True when read from the cache rather than tokenized now. */
  cached: boolean;
  /** Cache key: SHA-256 of the corpus hash and the tokenizer hash. */
  key: string;
}

const MAGIC = 'PARGSTOK';
const VERSION = 1;

interface Header {
  version: number;
  dtype: 'u16' | 'i32';
  train: number;
  validation: number;
  key: string;
}

/** Milliseconds of tokenizing between yields to the event loop, so Ctrl-C is noticed promptly. */
const YIELD_EVERY_MS = 200;

async function encodeStream(docs: readonly Document[], bundle: TokenizerBundle, signal: AbortSignal | undefined): Promise<number[]> {
  const ids: number[] = [];
  let lastYield = performance.now();
  for (const d of docs) {
    if (performance.now() - lastYield > YIELD_EVERY_MS) {
      await new Promise((r) => setImmediate(r));
      lastYield = performance.now();
    }
    throwIfAborted(signal, 'tokenizing the corpus');
    for (const id of bundle.tokenizer.encode(d.text, { addSpecialTokens: false })) ids.push(id);
    ids.push(bundle.eotId);
  }
  return ids;
}

function serialize(h: Header, train: TokenArray, validation: TokenArray): Uint8Array[] {
  const json = new TextEncoder().encode(JSON.stringify(h));
  const headLength = Math.ceil((MAGIC.length + 4 + json.length) / 4) * 4;
  const head = new Uint8Array(headLength).fill(0x20);
  head.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(head.buffer).setUint32(MAGIC.length, json.length, true);
  head.set(json, MAGIC.length + 4);
  const bytes = (a: TokenArray): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  return [head, bytes(train), bytes(validation)];
}

/** Parses a cache file; undefined when it is missing, foreign, truncated or for another key. */
function deserialize(buf: Buffer, key: string): { train: TokenArray; validation: TokenArray } | undefined {
  if (buf.length < MAGIC.length + 4 || buf.toString('latin1', 0, MAGIC.length) !== MAGIC) return undefined;
  const jsonLength = buf.readUInt32LE(MAGIC.length);
  let h: Header;
  try {
    h = JSON.parse(buf.toString('utf8', MAGIC.length + 4, MAGIC.length + 4 + jsonLength)) as Header;
  } catch {
    return undefined;
  }
  if (h.version !== VERSION || h.key !== key) return undefined;
  const start = Math.ceil((MAGIC.length + 4 + jsonLength) / 4) * 4;
  const width = h.dtype === 'u16' ? 2 : 4;
  if (buf.length !== start + width * (h.train + h.validation)) return undefined;
  // Copy into a fresh aligned buffer: a Buffer's byteOffset need not be a multiple of the width.
  const data = new Uint8Array(buf.subarray(start)).buffer;
  const Ctor = h.dtype === 'u16' ? Uint16Array : Int32Array;
  return { train: new Ctor(data, 0, h.train), validation: new Ctor(data, width * h.train, h.validation) };
}

/** Token streams for the split, from the cache in `cacheDir` when present. */
export async function tokenizeCorpus(split: CorpusSplit, bundle: TokenizerBundle, cacheDir: string, signal?: AbortSignal): Promise<TokenStreams> {
  const key = createHash('sha256').update(`tokens:${VERSION}:${split.hash}:${bundle.hash}`).digest('hex');
  const path = join(cacheDir, `tokens-${key.slice(0, 32)}.bin`);
  const cached = await readFile(path).then((buf) => deserialize(buf, key), () => undefined);
  if (cached) return { ...cached, cached: true, key };

  const trainIds = await encodeStream(split.train, bundle, signal);
  const validationIds = await encodeStream(split.validation, bundle, signal);
  const wide = Math.max(bundle.tokenizer.size, bundle.eotId + 1) > 65536;
  const Ctor = wide ? Int32Array : Uint16Array;
  const train = Ctor.from(trainIds);
  const validation = Ctor.from(validationIds);
  await mkdir(cacheDir, { recursive: true });
  const header: Header = { version: VERSION, dtype: wide ? 'i32' : 'u16', train: train.length, validation: validation.length, key };
  await writeFileAtomic(path, serialize(header, train, validation));
  return { train, validation, cached: false, key };
}
