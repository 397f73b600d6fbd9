/**
 * From `npm install pargs` to a result, as a user would: pack the package, install the tarball into a
 * fresh project (offline, from npm's cache filled by `npm ci`), then run the README's quick start — the
 * code block extracted from README.md itself — and every shipped example against the installed copy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, stat, writeFile } from 'node:fs/promises';
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

/** Bytes of a folder tree (files only; symlinks not followed). */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) total += await treeBytes(path);
    else if (entry.isFile()) total += (await stat(path)).size;
  }
  return total;
}

/** Install footprint budget: half of the 358 MB the @tensorflow/tfjs umbrella cost (issue 15). */
const FOOTPRINT_BUDGET_MB = 179;

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

  it(`installs in at most ${FOOTPRINT_BUDGET_MB} MB of node_modules, without the @tensorflow/tfjs umbrella`, async () => {
    const mb = (await treeBytes(join(app, 'node_modules'))) / 1e6;
    expect(mb).toBeLessThan(FOOTPRINT_BUDGET_MB);
    const installed = await readdir(join(app, 'node_modules', '@tensorflow'));
    expect(installed).not.toContain('tfjs');
    expect(installed).not.toContain('tfjs-layers');
  });

  it('has no type error of its own in a strict user project with skipLibCheck: false', async () => {
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    await writeFile(join(app, 'typed.ts'), readmeBlock(readme, 'Quick start'));
    const compilerOptions = { strict: true, skipLibCheck: false, noEmit: true, module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', lib: ['ES2023'], types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] };
    await writeFile(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['typed.ts'] }));
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const out = await run(process.execPath, [tsc, '-p', join(app, 'tsconfig.json')], { cwd: app, timeout: 120_000 }).then(
      () => '',
      (e: { stdout?: string }) => e.stdout ?? String(e),
    );
    // tfjs-core's own declarations need DOM and WebGPU types (upstream; about 28 errors without the DOM
    // lib, where the @tensorflow/tfjs umbrella gave 196): only errors in pargs' files or the user's count.
    const ours = out.split('\n').filter((line) => /error TS/.test(line) && !/node_modules\/(@tensorflow|@webgpu)\//.test(line));
    expect(ours).toEqual([]);
  }, 120_000);

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
