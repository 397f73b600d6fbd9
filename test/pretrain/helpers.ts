/** Shared fixtures for the pretraining tests: a tiny inline corpus and toy-sized options. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SafetensorsFile } from '../../src/io/safetensors.js';
import type { PretrainOptions } from '../../src/pretrain/options.js';

/** A few hundred characters per document, repetitive enough for a toy model to learn quickly. */
export const DOCUMENTS = [
  'The cat sat on the mat. The cat saw the dog. The dog sat on the log. The cat and the dog are friends.',
  'A bird sang in the tree. The bird flew over the mat and the log. The cat watched the bird in the tree.',
  'The dog ran to the tree. The bird sang to the dog. The cat sat on the log and the dog sat on the mat.',
  'In the morning the cat and the dog and the bird meet by the tree, and the bird sings a song for them.',
  'The log is by the tree and the mat is by the log. The cat likes the mat. The dog likes the log best.',
];

export const VALIDATION_TEXT = 'The bird and the cat sat by the tree. The dog sat on the mat and the cat sang to the bird.';

const dirs: string[] = [];

export async function tempDir(prefix = 'pargs-pretrain-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Writes the documents as a corpus folder (one .txt each) and the validation text beside it. */
export async function writeCorpus(root: string): Promise<{ corpusDir: string; validationFile: string }> {
  const corpusDir = join(root, 'corpus');
  await mkdir(corpusDir, { recursive: true });
  await Promise.all(DOCUMENTS.map((t, i) => writeFile(join(corpusDir, `doc${i}.txt`), t)));
  const validationFile = join(root, 'validation.txt');
  await writeFile(validationFile, VALIDATION_TEXT);
  return { corpusDir, validationFile };
}

/** Toy settings (d = 32, T = 16, vocab ≤ 300); every test overrides what it checks. */
export function toyOptions(out: string, overrides: Partial<PretrainOptions> = {}): PretrainOptions {
  return {
    corpus: DOCUMENTS,
    out,
    layers: 2,
    dim: 32,
    heads: 4,
    kvHeads: 2,
    context: 16,
    vocabSize: 300,
    steps: 30,
    batchSize: 4,
    lr: 1e-2,
    seed: 7,
    dtype: 'F32',
    evalEvery: 10,
    evalTokens: 64,
    checkpointEvery: 1000,
    validation: { fraction: 0.2 },
    ...overrides,
  };
}

/** Every tensor of a safetensors file as float32, by name. */
export async function readWeights(file: string): Promise<Map<string, Float32Array>> {
  const f = await SafetensorsFile.open(file);
  try {
    const out = new Map<string, Float32Array>();
    for (const name of f.names()) out.set(name, await f.readF32(name));
    return out;
  } finally {
    await f.close();
  }
}

/** True when both maps hold the same names with bit-identical values. */
export function sameBits(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [name, x] of a) {
    const y = b.get(name);
    if (!y || y.length !== x.length) return false;
    const xb = new Uint32Array(x.buffer, x.byteOffset, x.length);
    const yb = new Uint32Array(y.buffer, y.byteOffset, y.length);
    for (let i = 0; i < xb.length; i++) if (xb[i] !== yb[i]) return false;
  }
  return true;
}
