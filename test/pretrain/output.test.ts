/** pretrainLM's folders: one writer per work folder, checkpoints with a verified fallback, the model folder whole. */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AbortError, LockError, OutputError } from '../../src/errors.js';
import { acquireLock } from '../../src/io/lock.js';
import type { PretrainEvent } from '../../src/pretrain/options.js';
import { pretrainLM } from '../../src/pretrain/trainer.js';
import { readWeights, removeTempDirs, sameBits, tempDir, toyOptions } from './helpers.js';

afterAll(removeTempDirs);

describe('pretrainLM output and work folders', () => {
  it('a work folder held by another run is a LockError at once, and nothing is written', async () => {
    const root = await tempDir();
    const workDir = join(root, 'work');
    await mkdir(workDir);
    const lock = await acquireLock(workDir);
    try {
      await expect(pretrainLM(toyOptions(join(root, 'm'), { steps: 2, workDir }))).rejects.toThrow(LockError);
      await expect(pretrainLM(toyOptions(join(root, 'm'), { steps: 2, workDir }))).rejects.toThrow(new RegExp(`in use by process ${process.pid}`));
    } finally {
      await lock.release();
    }
    expect(await readdir(root)).toEqual(['work']);
  });

  it('refuses a model folder it did not write, and a work folder inside the model folder', async () => {
    const root = await tempDir();
    const out = join(root, 'someone-elses-model');
    await mkdir(out);
    await writeFile(join(out, 'config.json'), '{}');
    await expect(pretrainLM(toyOptions(out, { steps: 2 }))).rejects.toThrow(OutputError);
    expect(await readdir(out)).toEqual(['config.json']);
    await expect(pretrainLM(toyOptions(join(root, 'm'), { steps: 2, workDir: join(root, 'm', 'work') }))).rejects.toThrow(/must not be out .* or inside it/);
  });

  it('resumes from the previous checkpoint when the newest is corrupted, to the bits of an uninterrupted run', async () => {
    const root = await tempDir();
    const steps = 8;
    await pretrainLM(toyOptions(join(root, 'straight'), { steps, evalEvery: 4 }));
    const out = join(root, 'resumed');
    const controller = new AbortController();
    const options = { steps, evalEvery: 4, checkpointEvery: 2 };
    await expect(pretrainLM(toyOptions(out, { ...options, signal: controller.signal, onProgress: (e) => e.type === 'step' && e.step === 5 && controller.abort() })))
      .rejects.toBeInstanceOf(AbortError);
    const checkpoints = join(`${out}.work`, 'checkpoints');
    expect(await readdir(checkpoints)).toEqual(['step-00000004', 'step-00000005']);
    const state = join(checkpoints, 'step-00000005', 'state.safetensors');
    const bytes = await readFile(state);
    bytes[bytes.length - 3] ^= 0x10;
    await writeFile(state, bytes);
    const events: PretrainEvent[] = [];
    await pretrainLM(toyOptions(out, { ...options, resume: true, onProgress: (e) => events.push(e) }));
    expect(events).toContainEqual({ type: 'note', message: expect.stringMatching(/step-00000005 is unusable .*state\.safetensors does not match its sha256.*falling back/) });
    expect(events).toContainEqual({ type: 'resume', step: 4 });
    const straight = await readWeights(join(root, 'straight', 'model.safetensors'));
    expect(sameBits(straight, await readWeights(join(out, 'model.safetensors')))).toBe(true);
    expect((await readdir(root)).sort()).toEqual(['resumed', 'resumed.work', 'straight', 'straight.work']);
  });
});
