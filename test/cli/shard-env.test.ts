/** `pargs features --shard auto`: the shard from Slurm / Kubernetes array-job environments. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { shardFromEnv } from '../../src/cli/shard-env.js';
import { OptionError } from '../../src/errors.js';
import { loadFeatureShards } from '../../src/reward/feature-shards.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

const slurm = (id: number, min: number, max: number, step: number, count: number) => ({
  SLURM_ARRAY_TASK_ID: `${id}`, SLURM_ARRAY_TASK_MIN: `${min}`, SLURM_ARRAY_TASK_MAX: `${max}`, SLURM_ARRAY_TASK_STEP: `${step}`, SLURM_ARRAY_TASK_COUNT: `${count}`,
});

describe('shardFromEnv', () => {
  it('Slurm arrays: 0-based, 1-based and stepped ranges map onto 0 … count − 1', () => {
    expect(shardFromEnv(slurm(2, 0, 3, 1, 4))).toEqual({ index: 2, count: 4, source: 'Slurm' });
    expect(shardFromEnv(slurm(1, 1, 4, 1, 4))).toMatchObject({ index: 0, count: 4 });
    expect(shardFromEnv(slurm(7, 1, 7, 2, 4))).toMatchObject({ index: 3, count: 4 });
  });

  it('refuses a Slurm index list, which has no regular range', () => {
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: '4', SLURM_ARRAY_TASK_MIN: '1', SLURM_ARRAY_TASK_MAX: '9', SLURM_ARRAY_TASK_COUNT: '3' })).toThrow(/not a regular range; submit it with sbatch --array=0-\(N-1\)/);
  });

  it('Kubernetes Indexed Jobs: JOB_COMPLETION_INDEX with PARGS_SHARD_COUNT, which the Job must set', () => {
    expect(shardFromEnv({ JOB_COMPLETION_INDEX: '3', PARGS_SHARD_COUNT: '5' })).toEqual({ index: 3, count: 5, source: 'Kubernetes' });
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '3' })).toThrow(/PARGS_SHARD_COUNT is not; set it in the Job to the value of spec.completions/);
    expect(() => shardFromEnv({ JOB_COMPLETION_INDEX: '5', PARGS_SHARD_COUNT: '5' })).toThrow(/shard 5 of 5/);
  });

  it('other runners: PARGS_SHARD_INDEX / PARGS_SHARD_COUNT; nothing set or garbage is an OptionError', () => {
    expect(shardFromEnv({ PARGS_SHARD_INDEX: '0', PARGS_SHARD_COUNT: '2' })).toMatchObject({ index: 0, count: 2 });
    expect(() => shardFromEnv({})).toThrow(OptionError);
    expect(() => shardFromEnv({ SLURM_ARRAY_TASK_ID: 'x' })).toThrow(/SLURM_ARRAY_TASK_ID="x" is not a non-negative integer/);
  });
});

describe('pargs features --shard auto (child processes, as array tasks)', () => {
  it('each Slurm task writes its own shard, and the shards merge to cover every pair', async () => {
    const model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 73 })).dir;
    const work = await mkdtemp(join(tmpdir(), 'pargs-shard-auto-'));
    const data = join(work, 'pairs.jsonl');
    await writeFile(data, Array.from({ length: 10 }, (_, i) => JSON.stringify({ prompt: `Q${i}?`, chosen: ' yes, sure', rejected: ' no.' })).join('\n'));
    const runs = [1, 2].map((id) => spawnCli(['features', '--model', model, '--data', data, '--out', join(work, `shard-${id}`), '--shard', 'auto'], slurm(id, 1, 2, 1, 2)));
    const results = await Promise.all(runs.map((r) => r.done));
    results.forEach((r, i) => {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr).toContain(`--shard auto: shard ${i}/2 (from the Slurm environment)`);
    });
    const merged = await loadFeatureShards([join(work, 'shard-1'), join(work, 'shard-2')]);
    expect(merged.pairIndices).toEqual(Array.from({ length: 10 }, (_, i) => i));
    merged.store.dispose();
  }, 60_000);
});
