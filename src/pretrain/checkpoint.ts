/**
 * Training checkpoints: one directory holding the parameters and AdamW moments (float32
 * safetensors, so a resume restores them bit for bit), the tokenizer, and a manifest with the
 * settings, step, data cursor and a SHA-256 of the tensor file.
 *
 * Atomic replacement: the new checkpoint is written to `DIR.tmp-<pid>-<n>`, the previous one is
 * moved aside to `DIR.old-<pid>-<n>`, the new one renamed to DIR, and the old one deleted; only the
 * last checkpoint is kept. A crash leaves either DIR intact or (between the two renames) only the
 * `.old-*` copy, which reading falls back to. Leftover `.tmp-*` directories are never read and are
 * removed by the next read or write.
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { AdamWState } from './adamw.js';
import type { DataCursor } from './batches.js';

export const CHECKPOINT_FORMAT = 'pargs-pretrain-checkpoint';
const STATE_FILE = 'state.safetensors';
const MANIFEST_FILE = 'manifest.json';

export interface CheckpointManifest {
  format: typeof CHECKPOINT_FORMAT;
  version: 1;
  /** Completed optimizer updates. */
  step: number;
  /** True once the run reached its last step and wrote the model folder. */
  finished: boolean;
  /** The settings that determine the weights; a resume must match them exactly. */
  settings: Record<string, unknown>;
  /** config.json of the model being trained. */
  config: Record<string, unknown>;
  corpusHash: string;
  tokenizerHash: string;
  data: DataCursor;
  /** Training wall time so far, summed over resumed runs. */
  elapsedMs: number;
  /** Losses of the last steps (for the smoothed final train loss). */
  recentLosses: number[];
  lastValLoss: number | null;
  stateSha256: string;
}

export interface CheckpointContents {
  manifest: CheckpointManifest;
  params: Map<string, Float32Array>;
  optimizer: AdamWState;
  /** tokenizer.json text and parsed tokenizer_config.json stored with the checkpoint. */
  tokenizerJsonText: string;
  tokenizerConfig: Record<string, unknown>;
}

let counter = 0;

/** Deletes `DIR.tmp-*` leftovers of interrupted writes. */
async function removeStaleTemps(dir: string): Promise<void> {
  const parent = dirname(dir);
  const prefix = `${basename(dir)}.tmp-`;
  const entries = await readdir(parent).catch(() => [] as string[]);
  await Promise.all(entries.filter((e) => e.startsWith(prefix)).map((e) => rm(join(parent, e), { recursive: true, force: true })));
}

/** `DIR.old-*` copies, newest name last (a crash between the two renames leaves one). */
async function oldCopies(dir: string): Promise<string[]> {
  const prefix = `${basename(dir)}.old-`;
  const entries = await readdir(dirname(dir)).catch(() => [] as string[]);
  return entries.filter((e) => e.startsWith(prefix)).sort().map((e) => join(dirname(dir), e));
}

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

export interface CheckpointInput {
  manifest: Omit<CheckpointManifest, 'format' | 'version' | 'stateSha256'>;
  params: { name: string; data: Float32Array; shape: number[] }[];
  optimizer: AdamWState;
  tokenizerJsonText: string;
  tokenizerConfig: Record<string, unknown>;
}

/** Writes a checkpoint to `dir`, replacing the previous one atomically. */
export async function writeCheckpoint(dir: string, input: CheckpointInput): Promise<void> {
  await mkdir(dirname(dir), { recursive: true });
  await removeStaleTemps(dir);
  const tmp = `${dir}.tmp-${process.pid}-${counter++}`;
  try {
    await mkdir(tmp);
    const tensors: TensorToWrite[] = [];
    for (const p of input.params) {
      const moments = input.optimizer.moments.get(p.name);
      if (!moments) throw new CheckpointError(`no optimizer moments for parameter "${p.name}"`);
      tensors.push(
        { name: `param.${p.name}`, dtype: 'F32', shape: p.shape, data: p.data },
        { name: `adam_m.${p.name}`, dtype: 'F32', shape: p.shape, data: moments.m },
        { name: `adam_v.${p.name}`, dtype: 'F32', shape: p.shape, data: moments.v },
      );
    }
    const statePath = join(tmp, STATE_FILE);
    await writeSafetensors(statePath, tensors, { optimizer_step: String(input.optimizer.step) });
    const manifest: CheckpointManifest = {
      format: CHECKPOINT_FORMAT,
      version: 1,
      ...input.manifest,
      stateSha256: sha256(await readFile(statePath)),
    };
    await writeFile(join(tmp, 'tokenizer.json'), input.tokenizerJsonText);
    await writeJsonAtomic(join(tmp, 'tokenizer_config.json'), input.tokenizerConfig);
    // The manifest goes last: a directory without one was never completed.
    await writeJsonAtomic(join(tmp, MANIFEST_FILE), manifest);
    const old = `${dir}.old-${process.pid}-${counter++}`;
    const hadPrevious = await rename(dir, old).then(() => true, (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return false;
      throw err;
    });
    await rename(tmp, dir);
    if (hadPrevious) await rm(old, { recursive: true, force: true });
    for (const stale of await oldCopies(dir)) await rm(stale, { recursive: true, force: true });
  } catch (err) {
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

function parseManifest(text: string, where: string): CheckpointManifest {
  let m: CheckpointManifest;
  try {
    m = JSON.parse(text) as CheckpointManifest;
  } catch (err) {
    throw new CheckpointError(`${where} is not valid JSON (${(err as Error).message}); the checkpoint is corrupted — delete it to start over`);
  }
  const ok =
    m !== null && typeof m === 'object' && m.format === CHECKPOINT_FORMAT && m.version === 1 &&
    Number.isInteger(m.step) && m.step >= 0 && typeof m.settings === 'object' && typeof m.config === 'object' &&
    typeof m.corpusHash === 'string' && typeof m.tokenizerHash === 'string' && typeof m.stateSha256 === 'string' &&
    m.data !== null && typeof m.data === 'object' && Number.isInteger(m.data.windows) && Array.isArray(m.recentLosses);
  if (!ok) throw new CheckpointError(`${where} is not a pargs pretraining checkpoint manifest (version 1); the checkpoint is corrupted or foreign`);
  return m;
}

/** Reads the checkpoint in `dir` (or its `.old-*` fallback); undefined when there is none. */
export async function readCheckpoint(dir: string): Promise<CheckpointContents | undefined> {
  await removeStaleTemps(dir);
  let source = dir;
  let manifestText = await readFile(join(dir, MANIFEST_FILE), 'utf8').catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw new CheckpointError(`cannot read ${join(dir, MANIFEST_FILE)}: ${err.message}`);
  });
  if (manifestText === undefined) {
    const fallback = (await oldCopies(dir)).pop();
    if (!fallback) {
      const exists = await readdir(dir).then(() => true, () => false);
      if (exists) throw new CheckpointError(`${dir} has no ${MANIFEST_FILE}; the checkpoint is incomplete — delete it to start over`);
      return undefined;
    }
    source = fallback;
    manifestText = await readFile(join(fallback, MANIFEST_FILE), 'utf8').catch(() => {
      throw new CheckpointError(`${fallback} has no readable ${MANIFEST_FILE}`);
    });
  }
  const manifest = parseManifest(manifestText, join(source, MANIFEST_FILE));
  const statePath = join(source, STATE_FILE);
  const bytes = await readFile(statePath).catch(() => {
    throw new CheckpointError(`${statePath} is missing; the checkpoint is incomplete — delete it to start over`);
  });
  if (sha256(bytes) !== manifest.stateSha256) {
    throw new CheckpointError(`${statePath} does not match the checksum in its manifest; the checkpoint is corrupted — delete it to start over`);
  }
  const file = await SafetensorsFile.open(statePath).catch((err: Error) => {
    throw new CheckpointError(`${statePath}: ${err.message}`);
  });
  const params = new Map<string, Float32Array>();
  const moments = new Map<string, { m: Float32Array; v: Float32Array }>();
  try {
    for (const name of file.names()) {
      const dot = name.indexOf('.');
      const kind = name.slice(0, dot);
      const key = name.slice(dot + 1);
      const data = await file.readF32(name);
      if (kind === 'param') params.set(key, data);
      else if (kind === 'adam_m' || kind === 'adam_v') {
        const entry = moments.get(key) ?? { m: new Float32Array(0), v: new Float32Array(0) };
        entry[kind === 'adam_m' ? 'm' : 'v'] = data;
        moments.set(key, entry);
      } else throw new CheckpointError(`${statePath}: unexpected tensor "${name}"`);
    }
  } finally {
    await file.close();
  }
  const optimizerStep = Number(file.metadata.optimizer_step);
  if (!Number.isInteger(optimizerStep)) throw new CheckpointError(`${statePath}: missing optimizer step in its metadata`);
  const tokenizerJsonText = await readFile(join(source, 'tokenizer.json'), 'utf8').catch(() => {
    throw new CheckpointError(`${join(source, 'tokenizer.json')} is missing; the checkpoint is incomplete`);
  });
  let tokenizerConfig: Record<string, unknown>;
  try {
    tokenizerConfig = JSON.parse(await readFile(join(source, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    throw new CheckpointError(`${join(source, 'tokenizer_config.json')} is missing or invalid; the checkpoint is incomplete`);
  }
  return { manifest, params, optimizer: { step: optimizerStep, moments }, tokenizerJsonText, tokenizerConfig };
}
