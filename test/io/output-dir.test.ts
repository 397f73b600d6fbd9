/** Output folders, locks and file-system failures: nothing of the user's is lost, every refusal is typed. */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LockError, OutputError } from '../../src/errors.js';
import { replaceFilesAtomic } from '../../src/io/atomic-dir.js';
import { acquireLock, LOCK_FILE } from '../../src/io/lock.js';
import { claimOutputDir, OUTPUT_MANIFEST, type OutputRules } from '../../src/io/output-dir.js';
import { readCheckpoint, writeCheckpoint, type CheckpointInput } from '../../src/pretrain/checkpoint.js';

const roots: string[] = [];
const mounts: string[] = [];
afterAll(async () => {
  for (const m of mounts) spawnSync('umount', [m]);
  await Promise.all(roots.map((r) => rm(r, { recursive: true, force: true })));
});
async function tempRoot(): Promise<string> {
  const r = await mkdtemp(join(tmpdir(), 'pargs-out-'));
  roots.push(r);
  return r;
}

const rules: OutputRules = { kind: 'reward-model', what: 'test' };

/** A pid that is certainly not running: a child that has already exited. */
const deadPid = (): number => spawnSync(process.execPath, ['-e', '0']).pid as number;

/** Mounts a tiny tmpfs at `dir` (root only); false when this machine does not allow it. */
function mountTmpfs(dir: string, options: string): boolean {
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]);
  if (r.status !== 0) return false;
  mounts.push(dir);
  return true;
}

describe('claimOutputDir', () => {
  it('refuses a folder holding a user file, and the file stays', async () => {
    const dir = join(await tempRoot(), 'mine');
    await mkdir(dir);
    await writeFile(join(dir, 'notes.txt'), 'precious');
    await expect(claimOutputDir(dir, rules)).rejects.toThrow(OutputError);
    await expect(claimOutputDir(dir, rules)).rejects.toThrow(/not empty \(holds notes\.txt\) and was not written by pargs/);
    expect(await readdir(dir)).toEqual(['notes.txt']);
    expect(await readFile(join(dir, 'notes.txt'), 'utf8')).toBe('precious');
  });

  it('refuses a file, a model folder and the protected backbone folder', async () => {
    const root = await tempRoot();
    await writeFile(join(root, 'file'), 'x');
    await expect(claimOutputDir(join(root, 'file'), rules)).rejects.toThrow(/is a file, not a folder/);
    expect(await readFile(join(root, 'file'), 'utf8')).toBe('x');
    const model = join(root, 'model');
    await mkdir(model);
    await writeFile(join(model, 'config.json'), '{}');
    await expect(claimOutputDir(model, rules)).rejects.toThrow(/is a model folder/);
    await expect(claimOutputDir(join(model, '.'), { ...rules, protect: [model] })).rejects.toThrow(/model folder this run reads/);
    expect(await readdir(model)).toEqual(['config.json']);
  });

  it('takes a new or empty folder, refuses an earlier complete result unless overwrite, and refuses another kind', async () => {
    const dir = join(await tempRoot(), 'a', 'b');
    const first = await claimOutputDir(dir, rules);
    await first.markComplete();
    await first.release();
    expect(JSON.parse(await readFile(join(dir, OUTPUT_MANIFEST), 'utf8'))).toMatchObject({ format: 'pargs-output', kind: 'reward-model', complete: true });
    await expect(claimOutputDir(dir, rules)).rejects.toThrow(/already holds a reward-model result .* --overwrite/);
    await expect(claimOutputDir(dir, { ...rules, kind: 'features' })).rejects.toThrow(/holds pargs reward-model output, not features output/);
    const again = await claimOutputDir(dir, { ...rules, overwrite: true });
    expect(again.earlier?.complete).toBe(true);
    await again.release();
    expect(await readdir(dir)).toEqual([OUTPUT_MANIFEST]);
  });

  it('the current folder, when not empty, is a typed refusal', async () => {
    await expect(claimOutputDir('.', rules)).rejects.toThrow(OutputError);
  });
});

describe('folder lock', () => {
  it('a second writer gets a LockError naming the folder and the owner pid at once', async () => {
    const dir = join(await tempRoot(), 'out');
    const held = await claimOutputDir(dir, rules);
    const second = claimOutputDir(dir, rules);
    await expect(second).rejects.toThrow(LockError);
    await expect(claimOutputDir(dir, rules)).rejects.toThrow(new RegExp(`${dir} is in use by process ${process.pid} on `));
    await held.release();
    expect(await readdir(dir)).not.toContain(LOCK_FILE);
    await (await claimOutputDir(dir, rules)).release();
  });

  it('takes over a stale lock of a dead process on this host, with a note', async () => {
    const dir = await tempRoot();
    const pid = deadPid();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const notes: string[] = [];
    const lock = await acquireLock(dir, (n) => notes.push(n));
    expect(notes[0]).toMatch(new RegExp(`stale lock .* of process ${pid} .* no longer running`));
    expect(JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')).pid).toBe(process.pid);
    await lock.release();
  });

  it('does not take over a lock from another host (its pid cannot be checked)', async () => {
    const dir = await tempRoot();
    await writeFile(join(dir, LOCK_FILE), JSON.stringify({ pid: deadPid(), hostname: 'elsewhere.example', startedAt: 'x' }));
    await expect(acquireLock(dir)).rejects.toThrow(/in use by process \d+ on elsewhere\.example/);
  });
});

describe('replacing a model folder\'s files all together', () => {
  const lmRules: OutputRules = { kind: 'language-model', what: 'test', overwrite: true };

  it('a failure half-way leaves the earlier files intact; user files beside it are never touched', async () => {
    const root = await tempRoot();
    const out = join(root, 'lm');
    await replaceFilesAtomic(out, lmRules, async (tmp) => {
      await writeFile(join(tmp, 'model.safetensors'), 'old weights');
      await writeFile(join(tmp, 'tokenizer.json'), 'old tokenizer');
    });
    for (const name of ['lm.old-x', 'lm.tmp-x', 'lm.pargs-tmp-user']) await mkdir(join(root, name));
    const failing = replaceFilesAtomic(out, lmRules, async (tmp) => {
      await writeFile(join(tmp, 'model.safetensors'), 'new weights');
      throw Object.assign(new Error('injected'), { code: 'EIO', syscall: 'write', path: join(tmp, 'tokenizer.json') });
    });
    await expect(failing).rejects.toThrow(OutputError);
    expect(await readFile(join(out, 'model.safetensors'), 'utf8')).toBe('old weights');
    expect(await readFile(join(out, 'tokenizer.json'), 'utf8')).toBe('old tokenizer');
    expect((await readdir(root)).sort()).toEqual(['lm', 'lm.old-x', 'lm.pargs-tmp-user', 'lm.tmp-x']);
  });

  it('replaces only the files it writes: a user file inside the folder stays, the manifest ends complete', async () => {
    const out = join(await tempRoot(), 'lm');
    await replaceFilesAtomic(out, lmRules, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v1'));
    await writeFile(join(out, 'MY-NOTES.md'), 'draft');
    await mkdir(join(out, 'notes'));
    await writeFile(join(out, 'notes', 'a.txt'), 'a');
    await replaceFilesAtomic(out, lmRules, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v2'));
    expect(await readFile(join(out, 'model.safetensors'), 'utf8')).toBe('v2');
    expect(await readFile(join(out, 'MY-NOTES.md'), 'utf8')).toBe('draft');
    expect(await readFile(join(out, 'notes', 'a.txt'), 'utf8')).toBe('a');
    expect(JSON.parse(await readFile(join(out, OUTPUT_MANIFEST), 'utf8'))).toMatchObject({ kind: 'language-model', complete: true });
    expect((await readdir(out)).sort()).toEqual(['MY-NOTES.md', 'model.safetensors', 'notes', OUTPUT_MANIFEST]);
  });

  it('without overwrite an earlier complete result is refused, untouched; a foreign folder too', async () => {
    const root = await tempRoot();
    const out = join(root, 'lm');
    await replaceFilesAtomic(out, lmRules, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v1'));
    await expect(replaceFilesAtomic(out, { ...lmRules, overwrite: false }, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v2'))).rejects.toThrow(/already holds a language-model result/);
    expect(await readFile(join(out, 'model.safetensors'), 'utf8')).toBe('v1');
    const foreign = join(root, 'theirs');
    await mkdir(foreign);
    await writeFile(join(foreign, 'config.json'), '{}');
    await expect(replaceFilesAtomic(foreign, lmRules, async (tmp) => writeFile(join(tmp, 'config.json'), 'ours'))).rejects.toThrow(/is a model folder .* that pargs did not write/);
    expect(await readFile(join(foreign, 'config.json'), 'utf8')).toBe('{}');
    expect((await readdir(root)).sort()).toEqual(['lm', 'theirs']);
  });

  it('a crash\'s leftovers: files moved aside come back where the folder lacks them, then the leftovers go', async () => {
    const root = await tempRoot();
    const out = join(root, 'lm');
    await replaceFilesAtomic(out, lmRules, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v1'));
    const mark = JSON.stringify({ format: 'pargs-output', version: 1, kind: 'language-model', complete: false, createdAt: 'x' });
    // Killed between moving tokenizer.json aside and moving its replacement in.
    await mkdir(join(root, 'lm.pargs-old-1'));
    await writeFile(join(root, 'lm.pargs-old-1', OUTPUT_MANIFEST), mark);
    await writeFile(join(root, 'lm.pargs-old-1', 'tokenizer.json'), 'old tokenizer');
    await mkdir(join(root, 'lm.pargs-tmp-1'));
    await writeFile(join(root, 'lm.pargs-tmp-1', OUTPUT_MANIFEST), mark);
    await replaceFilesAtomic(out, lmRules, async (tmp) => writeFile(join(tmp, 'model.safetensors'), 'v2'));
    expect(await readFile(join(out, 'tokenizer.json'), 'utf8')).toBe('old tokenizer');
    expect(await readdir(root)).toEqual(['lm']);
  });
});

function checkpointInput(step: number, size: number): CheckpointInput {
  const w = new Float32Array(size).fill(step);
  return {
    manifest: {
      step, finished: false, settings: {}, config: {}, corpusHash: 'c', tokenizerHash: 't',
      data: { rng: { i: 0, j: 0, S: Array.from({ length: 256 }, (_, k) => k) }, windows: step }, elapsedMs: 0, recentLosses: [], lastValLoss: null,
    },
    params: [{ name: 'w', shape: [size], data: w }],
    optimizer: { step, moments: new Map([['w', { m: w, v: w }]]) },
    tokenizerJsonText: '{}',
    tokenizerConfig: {},
  };
}

describe('file-system failures on output are typed errors naming the path', () => {
  const asRoot = process.getuid?.() === 0;

  it('a read-only folder', async () => {
    const dir = join(await tempRoot(), 'ro');
    await mkdir(dir);
    // chmod does not stop root, so as root the folder is a read-only tmpfs instead.
    if (asRoot) expect(mountTmpfs(dir, 'ro,size=64k')).toBe(true);
    else spawnSync('chmod', ['555', dir]);
    await expect(claimOutputDir(join(dir, 'out'), rules)).rejects.toThrow(OutputError);
    await expect(claimOutputDir(join(dir, 'out'), rules)).rejects.toThrow(new RegExp(`${join(dir, 'out')} (is on a read-only file system|is not writable)`));
  });

  it.skipIf(!asRoot)('a full disk (a 64 KiB tmpfs; needs root to mount) — and the earlier checkpoint survives', async () => {
    const dir = join(await tempRoot(), 'full');
    await mkdir(dir);
    expect(mountTmpfs(dir, 'size=64k')).toBe(true);
    const root = join(dir, 'checkpoints');
    await writeCheckpoint(root, checkpointInput(1, 16), 2);
    const big = writeCheckpoint(root, checkpointInput(2, 16_384), 2);
    await expect(big).rejects.toThrow(OutputError);
    await expect(writeCheckpoint(root, checkpointInput(2, 16_384), 2)).rejects.toThrow(/the disk is full/);
    expect((await readCheckpoint(root))?.manifest.step).toBe(1);
    expect(await readdir(root)).toEqual(['step-00000001']);
  });

  it('a path part that is a file', async () => {
    const root = await tempRoot();
    await writeFile(join(root, 'plain'), 'x');
    await expect(claimOutputDir(join(root, 'plain', 'out'), rules)).rejects.toThrow(/a part of the path is a file/);
  });
});
