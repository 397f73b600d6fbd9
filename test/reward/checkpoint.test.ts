/** Reward-training checkpoints: checksummed, rotated, verified on resume, with a fallback to the previous one. */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, OutputError } from '../../src/errors.js';
import type { CausalLM } from '../../src/lm/causal-lm.js';
import { loadCausalLM } from '../../src/lm/load.js';
import { sha256File } from '../../src/io/checkpoint-store.js';
import { createRng } from '../../src/random.js';
import { loadTrainingCheckpoint } from '../../src/reward/checkpoint.js';
import type { TokenPair } from '../../src/reward/prefixes.js';
import { loadRewardModel, type PartialRewardModel } from '../../src/reward/reward-model.js';
import { type TrainEvent, type TrainPartialRMOptions } from '../../src/reward/trainer.js';
import { trainPartialRM } from '../../src/parallel/dispatch.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let lm: CausalLM;
let modelDir: string;
beforeAll(async () => {
  modelDir = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 61, hidden: 32 })).dir;
  lm = await loadCausalLM(modelDir);
});
afterAll(() => lm.dispose());

function pairs(n: number): TokenPair[] {
  const rng = createRng(3, 'ckpt-pairs');
  const f = () => Array.from({ length: 3 }, () => 140 + Math.floor(rng() * 100));
  return Array.from({ length: n }, () => ({ promptIds: [260, 7], chosenIds: [120, ...f()], rejectedIds: [130, ...f()] }));
}

const base = (o: Partial<TrainPartialRMOptions> = {}): TrainPartialRMOptions => ({
  backbone: lm, pairs: pairs(24), prefix: { kind: 'sample', perPair: 1 }, epochs: 1, batchSize: 16, lr: 0.02, seed: 5, ...o,
});
const headValues = async (rm: PartialRewardModel): Promise<number[]> => (await rm.head.toHost()).flatMap((p) => [...p.data]);
const newDir = async (): Promise<string> => join(await mkdtemp(join(tmpdir(), 'pargs-rm-ckpt-')), 'out');
const flipByte = async (file: string): Promise<void> => {
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)] ^= 0x04;
  await writeFile(file, bytes);
};

/** Trains 8 steps (4 epochs of 2) into `dir`, checkpointing every step; returns the finished model. */
async function trainInto(dir: string, o: Partial<TrainPartialRMOptions> = {}): Promise<PartialRewardModel> {
  return trainPartialRM(base({ epochs: 4, checkpointDir: dir, checkpointEvery: 1, ...o }));
}

describe('reward-training checkpoints', () => {
  it('keeps the last keepCheckpoints checkpoints, and the final model loads from the top of the folder', async () => {
    const dir = await newDir();
    const rm = await trainInto(dir, { keepCheckpoints: 3 });
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['step-00000006', 'step-00000007', 'step-00000008']);
    expect((await readdir(dir)).sort()).toEqual(['checkpoints', 'head.safetensors', 'pargs-output.json', 'reward_model.json']);
    const loaded = await loadRewardModel(dir, lm);
    expect(await headValues(loaded)).toEqual(await headValues(rm));
    [rm, loaded].forEach((m) => m.dispose());
  });

  it.each(['head.safetensors', 'optimizer.safetensors', 'training_state.json', 'reward_model.json', 'checkpoint.json'])(
    'a flipped byte in %s is a CheckpointError naming the file',
    async (name) => {
      const dir = await newDir();
      (await trainInto(dir, { keepCheckpoints: 1 })).dispose();
      const file = join(dir, 'checkpoints', 'step-00000008', name);
      await flipByte(file);
      const loading = loadTrainingCheckpoint(dir, lm);
      await expect(loading).rejects.toThrow(CheckpointError);
      await expect(loadTrainingCheckpoint(dir, lm)).rejects.toThrow(name === 'checkpoint.json' ? /checkpoint\.json (is missing or corrupted|does not match its own checksum)/ : new RegExp(`${name.replace('.', '\\.')} does not match its sha256`));
      await expect(trainInto(dir, { resume: true })).rejects.toThrow(CheckpointError);
    },
  );

  it('an edited step count is a CheckpointError', async () => {
    const dir = await newDir();
    (await trainInto(dir, { keepCheckpoints: 1 })).dispose();
    const ckpt = join(dir, 'checkpoints', 'step-00000008');
    const manifest = JSON.parse(await readFile(join(ckpt, 'checkpoint.json'), 'utf8'));
    const state = JSON.parse(await readFile(join(ckpt, 'training_state.json'), 'utf8'));
    await writeFile(join(ckpt, 'training_state.json'), JSON.stringify({ ...state, step: 4 }));
    // Even with its checksums recomputed, the edited step disagrees with the verified one.
    manifest.files['training_state.json'] = await sha256File(join(ckpt, 'training_state.json'));
    await writeFile(join(ckpt, 'checkpoint.json'), JSON.stringify(manifest));
    await expect(loadTrainingCheckpoint(dir, lm)).rejects.toThrow(/checkpoint\.json does not match its own checksum/);
    manifest.manifestSha256 = createHash('sha256').update(JSON.stringify([manifest.format, manifest.version, manifest.step, Object.entries(manifest.files)])).digest('hex');
    await writeFile(join(ckpt, 'checkpoint.json'), JSON.stringify(manifest));
    await expect(loadTrainingCheckpoint(dir, lm)).rejects.toThrow(/says step 4 but the checkpoint is of step 8/);
  });

  it('resumes from the kept previous checkpoint when the newest is corrupted, to the same result', async () => {
    const uninterrupted = await trainPartialRM(base({ epochs: 4 }));
    const dir = await newDir();
    const controller = new AbortController();
    const aborted = trainInto(dir, { signal: controller.signal, onProgress: (e) => e.kind === 'step' && e.step === 5 && controller.abort() });
    await expect(aborted).rejects.toThrow(/aborted/);
    expect(await readdir(join(dir, 'checkpoints'))).toEqual(['step-00000004', 'step-00000005']);
    await flipByte(join(dir, 'checkpoints', 'step-00000005', 'optimizer.safetensors'));
    const events: TrainEvent[] = [];
    const resumed = await trainInto(dir, { resume: true, onProgress: (e) => events.push(e) });
    expect(events).toContainEqual({ kind: 'note', message: expect.stringMatching(/step-00000005 is unusable .*optimizer\.safetensors.*falling back to the previous checkpoint/) });
    expect(events).toContainEqual({ kind: 'resumed', step: 4, dir: join(dir, 'checkpoints', 'step-00000004') });
    expect(await headValues(resumed)).toEqual(await headValues(uninterrupted));
    [uninterrupted, resumed].forEach((m) => m.dispose());
  });

  it('refuses an earlier result without overwrite, an unfinished run without resume, and replaces it with overwrite', async () => {
    const dir = await newDir();
    const first = await trainInto(dir);
    await expect(trainInto(dir, { seed: 9 })).rejects.toThrow(OutputError);
    await expect(trainInto(dir, { seed: 9 })).rejects.toThrow(/already holds a reward-model result/);
    const second = await trainInto(dir, { seed: 9, overwrite: true });
    const loaded = await loadRewardModel(dir, lm);
    expect(await headValues(loaded)).toEqual(await headValues(second));
    expect(await headValues(loaded)).not.toEqual(await headValues(first));

    const controller = new AbortController();
    const unfinished = await newDir();
    await expect(trainInto(unfinished, { signal: controller.signal, onProgress: (e) => e.kind === 'step' && controller.abort() })).rejects.toThrow(/aborted/);
    await expect(trainInto(unfinished)).rejects.toThrow(/holds an unfinished training run \(checkpoint at step 1\).*--resume/);
    [first, second, loaded].forEach((m) => m.dispose());
  });

  it('save() refuses a folder with user files and the backbone folder, and replaces its own result only with overwrite', async () => {
    const rm = await trainPartialRM(base());
    const user = await newDir();
    await mkdir(user);
    await writeFile(join(user, 'keep.me'), 'mine');
    await expect(rm.save(user)).rejects.toThrow(OutputError);
    expect(await readdir(user)).toEqual(['keep.me']);
    const before = (await readdir(modelDir)).sort();
    await expect(rm.save(modelDir)).rejects.toThrow(/model folder this run reads/);
    expect((await readdir(modelDir)).sort()).toEqual(before);
    const dir = await newDir();
    await rm.save(dir);
    await expect(rm.save(dir)).rejects.toThrow(/--overwrite/);
    await rm.save(dir, { overwrite: true });
    // A saved model has no checkpoints: "resuming" it would silently train a new one over it.
    await expect(trainInto(dir, { resume: true })).rejects.toThrow(/without checkpoints, so there is nothing to resume/);
    rm.dispose();
  });
});
