/**
 * Feature shards: the backbone pass split across machines or processes. Each job runs
 * `extractPrefixFeatures({ shard: {index, count} })` over the same pair list and saves its shard; the
 * head is then trained from all shards (`loadFeatureShards` → `trainPartialRM({ features })`). A shard is
 * a folder: features.safetensors (float16, one [n, d] tensor per pair and side) and features.json (plans,
 * prefix options, the pair-list hash and the backbone fingerprint, checked when shards are merged).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { guardOutput } from '../io/fs-errors.js';
import { claimOutputDir } from '../io/output-dir.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { memoryBudget, prefixFeatures, shard as shardSpec } from '../option-specs.js';
import { boolean, checkArgument, checkOptions, required, string, strings } from '../options.js';
import { FeatureStore } from './feature-store.js';
import type { PrefixFeatures, Shard } from './features.js';
import type { PairPlan } from './prefixes.js';

const MANIFEST = 'features.json';
const TENSORS = 'features.safetensors';

interface ShardManifest {
  format: 'pargs-features';
  version: 1;
  shard: Shard;
  pairCount: number;
  pairsHash: string;
  backboneFingerprint: string;
  prefixes: PrefixFeatures['prefixes'];
  dim: number;
  plans: Record<string, PairPlan>;
  stats: PrefixFeatures['stats'];
}

const tensorName = (pair: number, side: 0 | 1): string => `pair.${pair}.${side === 0 ? 'chosen' : 'rejected'}`;

export interface SaveShardOptions {
  /** Replace an earlier shard in `dir`. */
  overwrite?: boolean;
  /** Folders `dir` must not be (the backbone's); compared by real path. */
  protect?: readonly string[];
}

/**
 * Saves one shard into `dir`, which must be new, empty or an earlier shard of ours (replaced only with
 * `overwrite`); the folder is locked while writing and each file is replaced atomically.
 */
export async function saveFeatureShard(features: PrefixFeatures, dir: string, shard: Shard = { index: 0, count: 1 }, options: SaveShardOptions = {}): Promise<void> {
  checkArgument('saveFeatureShard', 'features', features, required(prefixFeatures()));
  checkArgument('saveFeatureShard', 'dir', dir, required(string()));
  checkArgument('saveFeatureShard', 'shard', shard, shardSpec());
  checkOptions('saveFeatureShard', options, { overwrite: boolean(), protect: strings() });
  const claimed = await claimOutputDir(dir, { kind: 'features', what: 'saveFeatureShard (pargs features --out)', overwrite: options.overwrite, protect: options.protect });
  try {
    await writeFeatureShardFiles(features, claimed.dir, shard);
    await claimed.markComplete();
  } finally {
    await claimed.release();
  }
}

/** Writes the shard's two files into `dir`, a folder already claimed for 'features' output. */
export async function writeFeatureShardFiles(features: PrefixFeatures, dir: string, shard: Shard): Promise<void> {
  const plans: Record<string, PairPlan> = {};
  const tensors: TensorToWrite[] = [];
  for (const pair of features.pairIndices) {
    plans[pair] = features.plans[pair] as PairPlan;
    for (const side of [0, 1] as const) {
      const data = features.store.get(pair, side);
      tensors.push({ name: tensorName(pair, side), dtype: 'F16' as const, shape: [data.length / features.dim, features.dim], data });
    }
  }
  const manifest: ShardManifest = {
    format: 'pargs-features', version: 1, shard, pairCount: features.plans.length, pairsHash: features.pairsHash,
    backboneFingerprint: features.backboneFingerprint, prefixes: features.prefixes, dim: features.dim, plans, stats: features.stats,
  };
  await guardOutput(dir, async () => {
    await writeSafetensors(join(dir, TENSORS), tensors);
    await writeFileAtomic(join(dir, MANIFEST), `${JSON.stringify(manifest)}\n`);
  });
}

/** Merges shards made over one pair list into one `PrefixFeatures`; every shard 0…count−1 must be there once. */
export async function loadFeatureShards(dirs: readonly string[], memoryBudgetBytes?: number): Promise<PrefixFeatures> {
  checkArgument('loadFeatureShards', 'dirs', dirs, required(strings()));
  checkArgument('loadFeatureShards', 'memoryBudgetBytes', memoryBudgetBytes, memoryBudget());
  if (dirs.length === 0) throw new CheckpointError('loadFeatureShards: no shard folders given');
  const manifests: ShardManifest[] = [];
  for (const dir of dirs) {
    try {
      manifests.push(JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as ShardManifest);
    } catch (err) {
      throw new CheckpointError(`${join(dir, MANIFEST)} is missing or corrupted: ${(err as Error).message}`);
    }
  }
  const first = manifests[0];
  manifests.forEach((m, i) => {
    if (m.format !== 'pargs-features' || m.version !== 1) throw new CheckpointError(`${dirs[i]} is not a pargs feature shard`);
    for (const key of ['pairsHash', 'backboneFingerprint', 'pairCount', 'dim'] as const) {
      if (m[key] !== first[key]) throw new CheckpointError(`shard ${dirs[i]} differs from ${dirs[0]} in ${key}: shards must come from one backbone and one pair list`);
    }
    const sameAs = (a: ShardManifest['prefixes'], b: ShardManifest['prefixes']) => a.mode === b.mode && a.alignment === b.alignment && a.minPrefix === b.minPrefix;
    if (!sameAs(m.prefixes, first.prefixes) || m.shard.count !== first.shard.count) {
      throw new CheckpointError(`shard ${dirs[i]} was made with other prefix options or shard count than ${dirs[0]}`);
    }
  });
  const indices = manifests.map((m) => m.shard.index).sort((a, b) => a - b);
  const expected = Array.from({ length: first.shard.count }, (_, i) => i);
  if (indices.join(',') !== expected.join(',')) {
    throw new CheckpointError(`shards ${indices.join(', ')} of ${first.shard.count} were given; every shard 0…${first.shard.count - 1} is needed exactly once`);
  }
  const store = new FeatureStore(first.dim, memoryBudgetBytes);
  const plans: (PairPlan | null)[] = new Array(first.pairCount).fill(null);
  const stats = { sequences: 0, tokens: 0, paddedTokens: 0, seconds: 0 };
  for (const [i, dir] of dirs.entries()) {
    const file = await SafetensorsFile.open(join(dir, TENSORS));
    try {
      for (const [pair, plan] of Object.entries(manifests[i].plans)) {
        plans[Number(pair)] = plan;
        for (const side of [0, 1] as const) store.put(Number(pair), side, await file.readF32(tensorName(Number(pair), side)));
      }
    } catch (err) {
      store.dispose();
      throw new CheckpointError(`${join(dir, TENSORS)} is incomplete or corrupted: ${(err as Error).message}`);
    } finally {
      await file.close();
    }
    for (const k of Object.keys(stats) as (keyof typeof stats)[]) stats[k] += manifests[i].stats[k];
  }
  return {
    store, prefixes: first.prefixes, pairsHash: first.pairsHash, backboneFingerprint: first.backboneFingerprint, plans,
    pairIndices: plans.flatMap((p, i) => (p ? [i] : [])), dim: first.dim, stats,
  };
}
