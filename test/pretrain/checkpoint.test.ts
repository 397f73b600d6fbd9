import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../../src/errors.js';
import { readCheckpoint, writeCheckpoint, type CheckpointInput } from '../../src/pretrain/checkpoint.js';
import { removeTempDirs, tempDir } from './helpers.js';

afterAll(removeTempDirs);

function input(step: number): CheckpointInput {
  const w = Float32Array.from([1, 2, 3, step]);
  return {
    manifest: {
      step, finished: false, settings: { lr: 1e-3 }, config: { model_type: 'llama' }, corpusHash: 'c', tokenizerHash: 't',
      data: { rng: { i: 1, j: 2, S: Array.from({ length: 256 }, (_, k) => k) }, windows: 4 * step }, elapsedMs: 10, recentLosses: [3.5], lastValLoss: null,
    },
    params: [{ name: 'w', shape: [2, 2], data: w }],
    optimizer: { step, moments: new Map([['w', { m: w.map((x) => x / 10), v: w.map((x) => x / 100) }]]) },
    tokenizerJsonText: '{"model":{}}\n',
    tokenizerConfig: { eos_token: '<|endoftext|>' },
  };
}

describe('checkpoints', () => {
  it('round-trips parameters, moments and the manifest exactly, keeping only the last checkpoint', async () => {
    const root = await tempDir();
    const dir = join(root, 'checkpoint');
    expect(await readCheckpoint(dir)).toBeUndefined();
    await writeCheckpoint(dir, input(3));
    await writeCheckpoint(dir, input(5));
    const c = await readCheckpoint(dir);
    expect(c?.manifest.step).toBe(5);
    expect(c?.manifest.data.windows).toBe(20);
    expect(Array.from(c!.params.get('w')!)).toEqual([1, 2, 3, 5]);
    expect(Array.from(c!.optimizer.moments.get('w')!.v)).toEqual(Array.from(Float32Array.from([1, 2, 3, 5]).map((x) => x / 100)));
    expect(c?.optimizer.step).toBe(5);
    expect(await readdir(root)).toEqual(['checkpoint']);
  });

  it('ignores and removes a stale DIR.tmp-* left by an interrupted write', async () => {
    const root = await tempDir();
    const dir = join(root, 'checkpoint');
    await writeCheckpoint(dir, input(2));
    const stale = `${dir}.tmp-99999-0`;
    await mkdir(stale);
    await writeFile(join(stale, 'manifest.json'), '{"format":"pargs-pretrain-checkpoint","step":1000}');
    const c = await readCheckpoint(dir);
    expect(c?.manifest.step).toBe(2);
    expect(await readdir(root)).toEqual(['checkpoint']);
  });

  it('falls back to the previous checkpoint when a crash hit between the two renames', async () => {
    const root = await tempDir();
    const dir = join(root, 'checkpoint');
    await writeCheckpoint(dir, input(4));
    await rename(dir, `${dir}.old-1-1`);
    expect((await readCheckpoint(dir))?.manifest.step).toBe(4);
    await writeCheckpoint(dir, input(6));
    expect((await readCheckpoint(dir))?.manifest.step).toBe(6);
    expect(await readdir(root)).toEqual(['checkpoint']);
  });

  it('rejects a corrupted manifest, a foreign manifest and a tampered tensor file with CheckpointError', async () => {
    const root = await tempDir();
    const dir = join(root, 'checkpoint');
    await writeCheckpoint(dir, input(1));
    const manifestPath = join(dir, 'manifest.json');
    const good = await readFile(manifestPath, 'utf8');
    await writeFile(manifestPath, good.slice(0, 40));
    await expect(readCheckpoint(dir)).rejects.toThrow(CheckpointError);
    await writeFile(manifestPath, JSON.stringify({ format: 'something-else' }));
    await expect(readCheckpoint(dir)).rejects.toThrow(/not a pargs pretraining checkpoint/);
    await writeFile(manifestPath, good);
    const state = await readFile(join(dir, 'state.safetensors'));
    state[state.length - 1] ^= 0xff;
    await writeFile(join(dir, 'state.safetensors'), state);
    await expect(readCheckpoint(dir)).rejects.toThrow(/checksum/);
  });
});
