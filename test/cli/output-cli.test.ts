/**
 * `--out` never destroys what is there, and one output folder has one writer: the output rules through
 * the CLI (in process) and two concurrent `pargs train` child processes on one folder.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';
import { spawnCli } from '../helpers/spawn-cli.js';
import { writeTinyModel } from '../helpers/tiny-model.js';

let model = '';
let work = '';
let data = '';
beforeAll(async () => {
  model = (await writeTinyModel({ modelType: 'llama', kvHeads: 2, seed: 71 })).dir;
  work = await mkdtemp(join(tmpdir(), 'pargs-out-cli-'));
  data = join(work, 'pairs.jsonl');
  const rows = Array.from({ length: 24 }, (_, i) => ({ prompt: `Q${i}: how are you?`, chosen: ' good, thanks', rejected: ' bad.' }));
  await writeFile(data, rows.map((r) => JSON.stringify(r)).join('\n'));
});

async function run(argv: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    return { code: await main(argv, { out: (l) => out.push(l), err: (l) => err.push(l) }), out, err: err.join('\n') };
  } finally {
    write.mockRestore();
  }
}

const train = (out: string, ...more: string[]) => run(['train', '--model', model, '--data', data, '--out', out, '--epochs', '1', '--batch-size', '16', ...more]);

async function snapshot(dir: string): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for (const name of await readdir(dir)) files[name] = await readFile(join(dir, name), 'base64').catch(() => '<dir>');
  return files;
}

describe('--out refuses what it must not touch, and keeps it', () => {
  it('pargs train: a folder with a user file is refused and the file is still there', async () => {
    const out = join(work, 'mine');
    await mkdir(out);
    await writeFile(join(out, 'thesis.tex'), 'years of work');
    const r = await train(out);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/OutputError: pargs train --out: .*mine is not empty \(holds thesis\.tex\) and was not written by pargs/);
    expect(await readdir(out)).toEqual(['thesis.tex']);
    expect(await readFile(join(out, 'thesis.tex'), 'utf8')).toBe('years of work');
  });

  it('pargs features: a folder with a user file is refused before the feature pass, and the file is still there', async () => {
    const out = join(work, 'mine-features');
    await mkdir(out);
    await writeFile(join(out, 'data.csv'), 'a,b');
    const r = await run(['features', '--model', model, '--data', data, '--out', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/OutputError: pargs features --out: .*is not empty \(holds data\.csv\)/);
    expect(await readdir(out)).toEqual(['data.csv']);
    const before = await snapshot(model);
    expect((await run(['features', '--model', model, '--data', data, '--out', model])).code).toBe(2);
    expect(await snapshot(model)).toEqual(before);
  });

  it('pargs train --model X --out X is refused and X is intact', async () => {
    const before = await snapshot(model);
    const r = await train(model);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/OutputError: pargs train --out: .* is the model folder this run reads/);
    expect(await snapshot(model)).toEqual(before);
  });

  it.each([
    ['train', (out: string) => ['train', '--model', model, '--data', data, '--out', out]],
    ['features', (out: string) => ['features', '--model', model, '--data', data, '--out', out]],
    ['pretrain', (out: string) => ['pretrain', '--corpus', data, '--out', out, '--steps', '1']],
    ['demo', (out: string) => ['demo', '--quick', '--model', model, '--prompts', join(work, 'prompts.json'), '--out', out]],
  ])('pargs %s: a file given as --out is refused and stays a file', async (_name, argv) => {
    await writeFile(join(work, 'prompts.json'), JSON.stringify({ train: ['a'], test: ['b'] }));
    const file = join(work, `a-file-${_name}`);
    await writeFile(file, 'not a folder');
    const r = await run(argv(file));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/OutputError: .*is a file, not a folder/);
    expect(await readFile(file, 'utf8')).toBe('not a folder');
  });

  it('--out . (the non-empty current folder) is a typed refusal for train and pretrain', async () => {
    for (const argv of [['train', '--model', model, '--data', data, '--out', '.'], ['pretrain', '--corpus', data, '--out', '.', '--steps', '1']]) {
      const r = await run(argv);
      expect(r.code).toBe(2);
      expect(r.err).toMatch(/OutputError: .*(is the current folder|is not empty)/);
    }
  });

  it('user files named OUT.old-x / OUT.tmp-x beside the output survive training and --resume', async () => {
    const out = join(work, 'rm-beside');
    for (const name of ['rm-beside.old-x', 'rm-beside.tmp-x']) {
      await mkdir(join(work, name));
      await writeFile(join(work, name, 'data.txt'), name);
    }
    expect((await train(out)).code).toBe(0);
    const resumed = await train(out, '--resume');
    expect(resumed.code).toBe(0);
    expect(resumed.err).toMatch(/resumed from .*step-\d+ at step \d+/);
    for (const name of ['rm-beside.old-x', 'rm-beside.tmp-x']) expect(await readFile(join(work, name, 'data.txt'), 'utf8')).toBe(name);
  });

  it('a stale lock (a dead pid on this host) is taken over with a note on stderr', async () => {
    const out = join(work, 'rm-stale');
    expect((await train(out)).code).toBe(0);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid as number;
    await writeFile(join(out, '.pargs-lock'), JSON.stringify({ pid: dead, hostname: hostname(), startedAt: '2026-01-01T00:00:00.000Z' }));
    const resumed = await train(out, '--resume');
    expect(resumed.code).toBe(0);
    expect(resumed.err).toMatch(new RegExp(`note: taking over the stale lock .* of process ${dead}`));
    expect(await readdir(out)).not.toContain('.pargs-lock');
  });

  it('an earlier result is refused without --overwrite and replaced with it', async () => {
    const out = join(work, 'rm-twice');
    expect((await train(out, '--seed', '1')).code).toBe(0);
    const head = await readFile(join(out, 'head.safetensors'));
    const again = await train(out, '--seed', '2');
    expect(again.code).toBe(2);
    expect(again.err).toMatch(/already holds a reward-model result .*--overwrite/);
    expect(await readFile(join(out, 'head.safetensors'))).toEqual(head);
    expect((await train(out, '--seed', '2', '--overwrite')).code).toBe(0);
    expect(await readFile(join(out, 'head.safetensors'))).not.toEqual(head);
    const sampled = await run(['sample', '--model', model, '--rm', out, '--prompt', 'Hello', '--max-new-tokens', '2', '--json']);
    expect(sampled.code).toBe(0);
  });

  it('--checkpoint-every and --keep-checkpoints shape the checkpoints folder', async () => {
    const out = join(work, 'rm-every');
    expect((await train(out, '--epochs', '3', '--checkpoint-every', '1', '--keep-checkpoints', '3')).code).toBe(0);
    const kept = await readdir(join(out, 'checkpoints'));
    expect(kept).toHaveLength(3);
    expect(kept.every((d) => /^step-\d{8}$/.test(d))).toBe(true);
  });
});

describe('file-system failures on --out are typed errors, not stack traces', () => {
  const mounts: string[] = [];
  afterAll(() => mounts.forEach((m) => spawnSync('umount', [m])));
  const asRoot = process.getuid?.() === 0;

  it.skipIf(!asRoot)('read-only and full tmpfs folders (mounting needs root; chmod does not stop root)', async () => {
    const readOnly = join(work, 'ro');
    const full = join(work, 'full');
    await mkdir(readOnly);
    await mkdir(full);
    for (const [dir, options] of [[readOnly, 'ro,size=64k'], [full, 'size=12k']]) {
      expect(spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', dir]).status).toBe(0);
      mounts.push(dir);
    }
    const ro = await train(join(readOnly, 'rm'));
    expect(ro.code).toBe(2);
    expect(ro.err).toMatch(/OutputError: .*ro\/rm is on a read-only file system/);
    const disk = await train(join(full, 'rm'), '--epochs', '2');
    expect(disk.code).toBe(2);
    expect(disk.err).toMatch(/OutputError: .*the disk is full/);
    for (const r of [ro, disk]) expect(r.err).not.toMatch(/\n\s+at /);
  });
});

describe('one writer per output folder', () => {
  it('two concurrent pargs train on one --out: exactly one LockError and one result', async () => {
    const out = join(work, 'rm-race');
    // Several seconds of training each, so the loser claims the folder while the winner still holds it.
    const args = ['train', '--model', model, '--data', data, '--out', out, '--epochs', '250', '--batch-size', '16', '--checkpoint-every', '100000'];
    const runs = [spawnCli(args), spawnCli(args)];
    const results = await Promise.all(runs.map((r) => r.done));
    const codes = results.map((r) => r.code).sort();
    expect(codes).toEqual([0, 2]);
    const loser = results.find((r) => r.code === 2)!;
    const winner = results.find((r) => r.code === 0)!;
    // The loser names the winner's pid, or, when it looked while the winner was still writing its lock
    // file, says so: a lock error either way.
    expect(loser.stderr).toMatch(new RegExp(`LockError: .*rm-race is in use by (process ${runs[results.indexOf(winner)].child.pid} on |another process \\(its lock file is still being written)`));
    expect(loser.stderr).not.toMatch(/\n\s+at /);
    expect(winner.stdout).toMatch(/saved partial reward model/);
    expect((await readdir(out)).sort()).toEqual(['checkpoints', 'head.safetensors', 'pargs-output.json', 'reward_model.json']);
  }, 120_000);
});
