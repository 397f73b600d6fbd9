/** The checkpoint store deletes only what it wrote: rotation and clean-up leave a stranger's folders alone. */
import { mkdir, mkdtemp, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OutputError } from '../../src/errors.js';
import { clearCheckpoints, listCheckpoints, writeCheckpointDir } from '../../src/io/checkpoint-store.js';

const fill = (text: string) => async (tmp: string): Promise<void> => writeFile(join(tmp, 'state.txt'), text);

describe('checkpoint store', () => {
  it('rotates its own checkpoints and keeps folders it did not write', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'pargs-ckpt-store-')), 'checkpoints');
    await mkdir(join(root, 'step-00000001'), { recursive: true });
    await writeFile(join(root, 'step-00000001', 'mine.txt'), 'a user file');
    await mkdir(join(root, '.tmp-step-00000009-1-1'));
    await writeFile(join(root, '.tmp-step-00000009-1-1', 'mine.txt'), 'a user file');
    for (const step of [2, 3, 4]) await writeCheckpointDir(root, step, 2, fill(`step ${step}`));
    const names = (await readdir(root)).sort();
    // Ours rotated to the last two; the stranger's step folder and temp-named folder stay.
    expect(names).toEqual(['.tmp-step-00000009-1-1', 'step-00000001', 'step-00000003', 'step-00000004']);
    expect(await readdir(join(root, 'step-00000004'))).toEqual(['checkpoint.json', 'state.txt']);
    await clearCheckpoints(root);
    expect((await readdir(root)).sort()).toEqual(['.tmp-step-00000009-1-1', 'step-00000001']);
    expect((await listCheckpoints(root)).map((c) => c.step)).toEqual([1]);
  });

  it('refuses to replace a step folder that is not a pargs checkpoint', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'pargs-ckpt-store-')), 'checkpoints');
    await mkdir(join(root, 'step-00000005'), { recursive: true });
    await writeFile(join(root, 'step-00000005', 'mine.txt'), 'a user file');
    await expect(writeCheckpointDir(root, 5, 2, fill('x'))).rejects.toThrow(OutputError);
    expect(await readdir(join(root, 'step-00000005'))).toEqual(['mine.txt']);
  });

  it('replaces its own checkpoint of the same step (a resumed run saving it again)', async () => {
    const root = join(await mkdtemp(join(tmpdir(), 'pargs-ckpt-store-')), 'checkpoints');
    await writeCheckpointDir(root, 5, 2, fill('first'));
    await writeCheckpointDir(root, 5, 2, fill('second'));
    expect(await readdir(root)).toEqual(['step-00000005']);
  });
});
