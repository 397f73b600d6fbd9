/**
 * From `npm install pargs` to a result, as a user would: pack the package, install the tarball into a
 * fresh project (offline, from npm's cache filled by `npm ci`), then run the README's quick start — the
 * code block extracted from README.md itself — and every shipped example against the installed copy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = resolve(__dirname, '..', '..');
const tsxLoader = pathToFileURL(join(root, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
let app = '';

/** The first ```ts block of the README section whose heading starts with `heading`. */
export function readmeBlock(readme: string, heading: string): string {
  const start = readme.indexOf(`## ${heading}`);
  if (start < 0) throw new Error(`README has no section "## ${heading}"`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(start));
  if (!block) throw new Error(`README section "${heading}" has no ts code block`);
  return block[1];
}

async function runTs(file: string, args: string[] = []): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, ['--import', tsxLoader, file, ...args], { cwd: app, timeout: 240_000, maxBuffer: 1 << 24 });
}

beforeAll(async () => {
  const packDir = await mkdtemp(join(tmpdir(), 'pargs-pack-'));
  const { stdout } = await run('npm', ['pack', '--pack-destination', packDir, '--silent'], { cwd: root, timeout: 180_000 });
  const tarball = join(packDir, stdout.trim().split('\n').at(-1) as string);
  app = await mkdtemp(join(tmpdir(), 'pargs-app-'));
  await writeFile(join(app, 'package.json'), JSON.stringify({ name: 'my-app', private: true, type: 'module' }));
  await run('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--silent'], { cwd: app, timeout: 240_000 });
}, 480_000);

describe('the packed package in a fresh project', () => {
  it('ships the docs, examples, bundled model and data the README links', async () => {
    const pkg = join(app, 'node_modules', 'pargs');
    for (const dir of ['docs', 'examples', 'models/sotu-lm', 'data', 'dist']) expect((await readdir(join(pkg, dir))).length).toBeGreaterThan(0);
    const readme = await readFile(join(pkg, 'README.md'), 'utf8');
    for (const link of readme.match(/`(docs\/[\w.-]+\.md|examples\/[\w.-]+\.ts)`/g) ?? []) {
      await expect(readFile(join(pkg, link.slice(1, -1)), 'utf8')).resolves.toBeTruthy();
    }
  });

  it('runs the README quick start verbatim', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    await writeFile(join(app, 'quickstart.ts'), readmeBlock(readme, 'Quick start'));
    const { stdout, stderr } = await runTs('quickstart.ts');
    expect(stderr).toMatch(/training 100% \d+\/\d+/);
    expect(stdout.trim().length).toBeGreaterThan(0);
  }, 300_000);

  it('runs every shipped example against the installed package', async () => {
    const examples = join(app, 'node_modules', 'pargs', 'examples');
    const hh = join(app, 'hh.jsonl');
    const rows = Array.from({ length: 24 }, (_, i) => ({ chosen: `\n\nHuman: What should we do about ${i}?\n\nAssistant: Work together and help.`, rejected: `\n\nHuman: What should we do about ${i}?\n\nAssistant: Nothing, it is hopeless.` }));
    await writeFile(hh, rows.map((r) => JSON.stringify(r)).join('\n'));
    const quick = await runTs(join(examples, 'quickstart.ts'));
    expect(quick.stdout).toMatch(/\d+ steps, held-out prefix accuracy 0\.\d{3}/);
    const hhRun = await runTs(join(examples, 'hh-rlhf.ts'), [hh]);
    expect(hhRun.stdout).toMatch(/held-out accuracy/);
    const judge = await runTs(join(examples, 'custom-judge.ts'));
    expect(judge.stdout).toMatch(/topic judge:/);
    expect((await readdir(examples)).sort()).toEqual(['custom-judge.ts', 'hh-rlhf.ts', 'quickstart.ts']);
  }, 400_000);
});
