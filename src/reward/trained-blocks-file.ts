/**
 * blocks.safetensors: the trained top blocks of a reward model (layers ≥ from and the final norm, F32,
 * named as `topBlockTensors` names them), beside head.safetensors. The manifest records the file's
 * SHA-256 and the fingerprint of the lower blocks it was trained on; loading refuses a backbone whose
 * lower blocks differ and a file whose checksum fails.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tf } from '../engine/tf.js';
import { CheckpointError } from '../errors.js';
import { firstNonFinite } from '../engine/finite.js';
import { SafetensorsFile, writeSafetensors } from '../io/safetensors.js';
import { BranchedLM, lowerBlocksFingerprint, topBlockTensors } from '../lm/branched-lm.js';
import type { CausalLM } from '../lm/causal-lm.js';
import { BLOCKS_FILE, PartialRewardModel, readHead, REWARD_MODEL_FILE, trainingFromManifest, verifyChecksum, type RewardModelManifest, type TrainedBlocks } from './reward-model.js';

/** Lower-block fingerprints by base model and layer: hashing the base's weights once per pair suffices. */
const lowerCache = new WeakMap<CausalLM, Map<number, string>>();

export function cachedLowerFingerprint(base: CausalLM, from: number): string {
  const byLayer = lowerCache.get(base) ?? new Map<number, string>();
  lowerCache.set(base, byLayer);
  const known = byLayer.get(from);
  if (known) return known;
  const fingerprint = lowerBlocksFingerprint(base, from);
  byLayer.set(from, fingerprint);
  return fingerprint;
}

/** Writes blocks.safetensors into `dir`; returns the manifest's `trainedBlocks` entry. */
export async function writeTrainedBlocks(rm: PartialRewardModel, blocks: TrainedBlocks, dir: string): Promise<NonNullable<RewardModelManifest['trainedBlocks']>> {
  const path = join(dir, BLOCKS_FILE);
  const tensors = [];
  for (const [name, t] of topBlockTensors(rm.backbone.params, blocks.from)) tensors.push({ name, dtype: 'F32' as const, shape: t.shape, data: (await t.data()) as Float32Array });
  await writeSafetensors(path, tensors);
  const sha256 = createHash('sha256').update(await readFile(path)).digest('hex');
  return { from: blocks.from, sha256, lowerFingerprint: cachedLowerFingerprint(blocks.base, blocks.from) };
}

/** Loads a reward model with trained top blocks onto `backbone`, whose lower blocks must be the ones it was trained on. */
export async function loadWithTrainedBlocks(dir: string, manifest: RewardModelManifest, backbone: CausalLM): Promise<PartialRewardModel> {
  const entry = manifest.trainedBlocks as NonNullable<RewardModelManifest['trainedBlocks']>;
  const path = join(dir, BLOCKS_FILE);
  const N = backbone.config.numLayers;
  if (!Number.isInteger(entry.from) || entry.from < 0 || entry.from >= N) {
    throw new CheckpointError(`${join(dir, REWARD_MODEL_FILE)} says the trained blocks in ${path} start at layer ${entry.from}, but the backbone "${backbone.source}" has ${N} layers; load it onto the backbone it was trained on`);
  }
  if (cachedLowerFingerprint(backbone, entry.from) !== entry.lowerFingerprint) {
    throw new CheckpointError(
      `${path} holds top blocks trained on a backbone whose layers below ${entry.from} differ from those of "${backbone.source}" (lower-block fingerprint ${String(entry.lowerFingerprint).slice(0, 12)}…, this backbone's ${cachedLowerFingerprint(backbone, entry.from).slice(0, 12)}…); load it onto the backbone it was trained on`,
    );
  }
  await verifyChecksum(path, entry.sha256);
  const top = new Map<string, tf.Tensor>();
  const file = await SafetensorsFile.open(path);
  try {
    for (const [name, t] of topBlockTensors(backbone.params, entry.from)) {
      if (!file.names().includes(name)) throw new CheckpointError(`${path} has no tensor "${name}"`);
      const data = await file.readF32(name);
      const bad = firstNonFinite(data);
      if (bad >= 0) throw new CheckpointError(`${path}: "${name}" holds ${data[bad]} at index ${bad}; retrain the reward model`);
      if (file.info(name).shape.join(',') !== t.shape.join(',')) throw new CheckpointError(`${path}: "${name}" has shape [${file.info(name).shape}], the backbone's is [${t.shape}]`);
      // Variables, so a resumed training run continues on these very tensors.
      const initial = tf.tensor(data, t.shape);
      top.set(name, tf.variable(initial, true));
      initial.dispose();
    }
  } catch (err) {
    for (const t of top.values()) t.dispose();
    throw err;
  } finally {
    await file.close();
  }
  const branched = BranchedLM.create(backbone, entry.from, top);
  try {
    const head = await readHead(dir, manifest, backbone);
    return new PartialRewardModel(branched, head, manifest.mode, trainingFromManifest(manifest), { from: entry.from, base: backbone });
  } catch (err) {
    branched.dispose();
    throw err;
  }
}
