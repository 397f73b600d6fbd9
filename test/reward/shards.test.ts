/** The feature pass sharded and the head trained from the merged shards. */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, OptionError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { createRng } from '../../src/random.js';
import { loadFeatureShards, saveFeatureShard } from '../../src/reward/feature-shards.js';
import { extractPrefixFeatures } from '../../src/parallel/dispatch.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
beforeAll(async () => {
  lm = await loadCausalLM((await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 111 })).dir);
});
afterAll(() => lm.dispose());

function pairs(n: number): TokenPair[] {
  const rng = createRng(5, 'pairs');
  const ids = (k: number) => Array.from({ length: k }, () => 1 + Math.floor(rng() * 250));
  return Array.from({ length: n }, () => ({ promptIds: [260, ...ids(3)], chosenIds: ids(2 + Math.floor(rng() * 4)), rejectedIds: ids(2 + Math.floor(rng() * 4)) }));
}

const prefixes = { mode: 'partial', alignment: 'eos', minPrefix: 1 } as const;

describe('feature shards', () => {
  it('merged shards equal the unsharded pass (to float16) and train the same head as one saved shard', async () => {
    const data = pairs(10);
    const root = await mkdtemp(join(tmpdir(), 'pargs-shards-'));
    for (const index of [0, 1, 2]) {
      const f = await extractPrefixFeatures({ backbone: lm, pairs: data, prefixes, shard: { index, count: 3 } });
      await saveFeatureShard(f, join(root, `s${index}`), { index, count: 3 });
      f.store.dispose();
    }
    const whole = await extractPrefixFeatures({ backbone: lm, pairs: data, prefixes });
    await saveFeatureShard(whole, join(root, 'whole'));
    const merged = await loadFeatureShards([join(root, 's2'), join(root, 's0'), join(root, 's1')]);
    expect(merged.pairIndices).toEqual(whole.pairIndices);
    for (const p of whole.pairIndices) {
      const [a, b] = [whole.store.get(p, 1), merged.store.get(p, 1)];
      a.forEach((v, k) => expect(Math.abs(v - b[k])).toBeLessThanOrEqual(Math.abs(v) * 1e-3 + 1e-4));
    }
    const single = await loadFeatureShards([join(root, 'whole')]);
    const options = { backbone: lm, pairs: data, epochs: 2, batchSize: 8, seed: 3 };
    const fromShards = await trainPartialRM({ ...options, features: merged });
    const fromSingle = await trainPartialRM({ ...options, features: single });
    const host = async (rm: typeof fromShards) => (await rm.head.toHost()).flatMap((p) => [...p.data]);
    expect(await host(fromShards)).toEqual(await host(fromSingle));
    await expect(loadFeatureShards([join(root, 's0'), join(root, 's1')])).rejects.toThrow(/every shard 0…2 is needed/);
    await expect(loadFeatureShards([join(root, 's0'), join(root, 'whole')])).rejects.toThrow(CheckpointError);
    await expect(trainPartialRM({ ...options, pairs: data.slice(1), features: merged })).rejects.toThrow(/another pair list/);
    await expect(trainPartialRM({ ...options, mode: 'full', features: merged })).rejects.toThrow(OptionError);
    for (const x of [fromShards, fromSingle]) x.dispose();
    for (const f of [whole, merged, single]) f.store.dispose();
  });
});
