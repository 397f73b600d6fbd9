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

const flipLastByte = async (file: string): Promise<void> => {
  const bytes = await readFile(file);
  bytes[bytes.length - 2] ^= 0x01;
  await writeFile(file, bytes);
};

describe('checkpoints', () => {
  it('round-trips parameters, moments and the manifest exactly, keeping the last `keep` checkpoints', async () => {
    const root = join(await tempDir(), 'checkpoints');
    expect(await readCheckpoint(root)).toBeUndefined();
    await writeCheckpoint(root, input(3), 2);
    await writeCheckpoint(root, input(5), 2);
    await writeCheckpoint(root, input(7), 2);
    const c = await readCheckpoint(root);
    expect(c?.manifest.step).toBe(7);
    expect(c?.manifest.data.windows).toBe(28);
    expect(Array.from(c!.params.get('w')!)).toEqual([1, 2, 3, 7]);
    expect(Array.from(c!.optimizer.moments.get('w')!.v)).toEqual(Array.from(Float32Array.from([1, 2, 3, 7]).map((x) => x / 100)));
    expect(c?.optimizer.step).toBe(7);
    expect(await readdir(root)).toEqual(['step-00000005', 'step-00000007']);
  });

  it('ignores and removes a stale .tmp-* folder left by an interrupted write', async () => {
    const root = join(await tempDir(), 'checkpoints');
    await writeCheckpoint(root, input(2), 2);
    const stale = join(root, '.tmp-step-00001000-99999-0');
    await mkdir(stale);
    // What an interrupted write leaves: the store's mark (written first) and part of the files.
    await writeFile(join(stale, '.pargs-checkpoint-tmp'), '{"pid":99999}');
    await writeFile(join(stale, 'manifest.json'), '{"format":"pargs-pretrain-checkpoint","step":1000}');
    expect((await readCheckpoint(root))?.manifest.step).toBe(2);
    await writeCheckpoint(root, input(4), 2);
    expect(await readdir(root)).toEqual(['step-00000002', 'step-00000004']);
  });

  it.each(['state.safetensors', 'tokenizer.json', 'tokenizer_config.json', 'manifest.json'])('a flipped byte in %s is a CheckpointError naming it', async (name) => {
    const root = join(await tempDir(), 'checkpoints');
    await writeCheckpoint(root, input(1), 2);
    await flipLastByte(join(root, 'step-00000001', name));
    await expect(readCheckpoint(root)).rejects.toThrow(CheckpointError);
    await expect(readCheckpoint(root)).rejects.toThrow(new RegExp(`${name.replace('.', '\\.')} does not match its sha256`));
  });

  it('an edited step (in the manifest, its checksum list, or the folder name) is a CheckpointError', async () => {
    const root = join(await tempDir(), 'checkpoints');
    await writeCheckpoint(root, input(1), 2);
    const dir = join(root, 'step-00000001');
    const manifest = await readFile(join(dir, 'manifest.json'), 'utf8');
    await writeFile(join(dir, 'manifest.json'), manifest.replace('"step": 1', '"step": 9'));
    await expect(readCheckpoint(root)).rejects.toThrow(/manifest\.json does not match its sha256/);
    await writeFile(join(dir, 'manifest.json'), manifest);
    const store = await readFile(join(dir, 'checkpoint.json'), 'utf8');
    await writeFile(join(dir, 'checkpoint.json'), store.replace('"step": 1', '"step": 9'));
    await expect(readCheckpoint(root)).rejects.toThrow(/checkpoint\.json does not match its own checksum/);
    await writeFile(join(dir, 'checkpoint.json'), store);
    await rename(dir, join(root, 'step-00000009'));
    await expect(readCheckpoint(root)).rejects.toThrow(/says step 1 but its folder is step 9/);
  });

  it('falls back to the previous checkpoint, with a note, when the newest is corrupted', async () => {
    const root = join(await tempDir(), 'checkpoints');
    await writeCheckpoint(root, input(4), 2);
    await writeCheckpoint(root, input(6), 2);
    await flipLastByte(join(root, 'step-00000006', 'state.safetensors'));
    const notes: string[] = [];
    const c = await readCheckpoint(root, (n) => notes.push(n));
    expect(c?.manifest.step).toBe(4);
    expect(Array.from(c!.params.get('w')!)).toEqual([1, 2, 3, 4]);
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatch(/step-00000006 is unusable .*state\.safetensors.*falling back to the previous checkpoint .*step-00000004/);
  });

  it('rejects a foreign manifest with CheckpointError', async () => {
    const root = join(await tempDir(), 'checkpoints');
    await writeCheckpoint(root, input(1), 2);
    await writeFile(join(root, 'step-00000001', 'checkpoint.json'), JSON.stringify({ format: 'something-else' }));
    await expect(readCheckpoint(root)).rejects.toThrow(/not a pargs checkpoint manifest/);
  });
});
