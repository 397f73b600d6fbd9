/**
 * Training checkpoints, in `workDir/checkpoints/step-N/` (io/checkpoint-store.ts: written to a
 * temporary folder and renamed, every file checksummed in checkpoint.json, the last `keep` kept).
 * One checkpoint holds the parameters and AdamW moments (float32 safetensors, so a resume restores
 * them bit for bit), the tokenizer, and a manifest with the settings, step and data cursor. Reading
 * takes the newest checkpoint that verifies, falling back to the previous one with a note.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { clearCheckpoints, loadNewestCheckpoint, sha256File, writeCheckpointDir } from '../io/checkpoint-store.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { AdamWState } from '../train/adamw.js';
import type { DataCursor } from './batches.js';

export const CHECKPOINT_FORMAT = 'pargs-pretrain-checkpoint';
const STATE_FILE = 'state.safetensors';
const MANIFEST_FILE = 'manifest.json';

/** Where the checkpoints of a run with this work folder live. */
export const checkpointRoot = (workDir: string): string => join(workDir, 'checkpoints');

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

export interface CheckpointInput {
  manifest: Omit<CheckpointManifest, 'format' | 'version' | 'stateSha256'>;
  params: { name: string; data: Float32Array; shape: number[] }[];
  optimizer: AdamWState;
  tokenizerJsonText: string;
  tokenizerConfig: Record<string, unknown>;
}

/** Writes the checkpoint of `input.manifest.step` under `root`, keeping the newest `keep`; returns its folder. */
export async function writeCheckpoint(root: string, input: CheckpointInput, keep: number): Promise<string> {
  return writeCheckpointDir(root, input.manifest.step, keep, async (tmp) => {
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
      stateSha256: await sha256File(statePath),
    };
    await writeFile(join(tmp, 'tokenizer.json'), input.tokenizerJsonText);
    await writeJsonAtomic(join(tmp, 'tokenizer_config.json'), input.tokenizerConfig);
    await writeJsonAtomic(join(tmp, MANIFEST_FILE), manifest);
  });
}

/** Deletes every checkpoint under `root` (a fresh run replacing an unfinished one). */
export const clearPretrainCheckpoints = (root: string): Promise<void> => clearCheckpoints(root);

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

/**
 * Reads the newest valid checkpoint under `root` (undefined when there is none); a corrupted newer one
 * is skipped with a note through `onFallback`.
 */
export async function readCheckpoint(root: string, onFallback: (note: string) => void = () => undefined): Promise<(CheckpointContents & { dir: string }) | undefined> {
  const found = await loadNewestCheckpoint(root, readOne, onFallback);
  return found && { ...found.value, dir: found.dir };
}

async function readOne(source: string, verifiedStep: number): Promise<CheckpointContents> {
  const manifestText = await readFile(join(source, MANIFEST_FILE), 'utf8');
  const manifest = parseManifest(manifestText, join(source, MANIFEST_FILE));
  if (manifest.step !== verifiedStep) throw new CheckpointError(`${join(source, MANIFEST_FILE)} says step ${manifest.step} but the checkpoint is of step ${verifiedStep}; it was edited or corrupted`);
  const statePath = join(source, STATE_FILE);
  if ((await sha256File(statePath)) !== manifest.stateSha256) {
    throw new CheckpointError(`${statePath} does not match the checksum in its manifest; the checkpoint is corrupted`);
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
