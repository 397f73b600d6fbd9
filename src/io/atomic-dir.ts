/**
 * Whole-or-nothing replacement of a model folder (pretrain's final export): everything is written into
 * a sibling `DIR.pargs-tmp-*` folder, marked as ours by `pargs-output.json`, which then takes the place
 * of DIR. DIR itself may only be new, empty or an earlier output of ours of the same kind (the rules of
 * output-dir.ts, checked again right before the swap); an earlier output is moved to `DIR.pargs-old-*`
 * and deleted only after the new folder is in place. A reader sees the old folder or the new one, never
 * a mix. Leftovers of a crash are cleaned up only when their manifest says pargs wrote them.
 */
import { lstat, mkdir, readdir, readFile, rename, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { OutputError } from '../errors.js';
import { writeJsonAtomic } from './atomic.js';
import { guardOutput } from './fs-errors.js';
import { inspectOutputDir, OUTPUT_MANIFEST, type OutputManifest, type OutputRules } from './output-dir.js';

let counter = 0;

/** Refuses the current folder (or one of its parents): a folder cannot be renamed from under the process using it. */
export function refuseWorkingFolder(dir: string, what: string): void {
  const abs = resolve(dir);
  const cwd = process.cwd();
  if (cwd === abs || cwd.startsWith(`${abs}${sep}`)) {
    throw new OutputError(`${what}: ${abs} is the current folder (or contains it); it is replaced as a whole at the end, so give a subfolder such as ./my-model`);
  }
}

async function isOurs(dir: string, kind: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, OUTPUT_MANIFEST), 'utf8')) as OutputManifest;
    return m?.format === 'pargs-output' && m.kind === kind;
  } catch {
    return false;
  }
}

/** Removes our own `.pargs-tmp-*` leftovers; restores an interrupted swap's `.pargs-old-*` when DIR is gone. */
async function recoverLeftovers(abs: string, kind: string): Promise<void> {
  const parent = dirname(abs);
  const name = basename(abs);
  const entries = await readdir(parent);
  for (const e of entries) {
    const path = join(parent, e);
    const isTemp = e.startsWith(`${name}.pargs-tmp-`);
    const isOld = e.startsWith(`${name}.pargs-old-`);
    if (!(isTemp || isOld) || !(await isOurs(path, kind))) continue;
    if (isOld && !entries.includes(name)) await rename(path, abs);
    else await rm(path, { recursive: true, force: true });
  }
}

/** Writes DIR whole or not at all: `fill` writes the files into a temporary sibling folder. */
export async function replaceDirAtomic(dir: string, rules: OutputRules, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const abs = resolve(dir);
  refuseWorkingFolder(abs, rules.what);
  await guardOutput(abs, async () => {
    if ((await lstat(abs).catch(() => undefined))?.isSymbolicLink()) {
      throw new OutputError(`${rules.what}: ${abs} is a symbolic link; the model folder is replaced as a whole, so give the real folder's path`);
    }
    await mkdir(dirname(abs), { recursive: true });
    await recoverLeftovers(abs, rules.kind);
    const tag = `${process.pid}-${Date.now()}-${counter++}`;
    const tmp = `${abs}.pargs-tmp-${tag}`;
    const manifest: OutputManifest = { format: 'pargs-output', version: 1, kind: rules.kind, complete: false, createdAt: new Date().toISOString() };
    await mkdir(tmp);
    let old: string | undefined;
    try {
      // Written first, so a leftover of a crash is recognisable as ours.
      await writeJsonAtomic(join(tmp, OUTPUT_MANIFEST), manifest);
      await fill(tmp);
      await writeJsonAtomic(join(tmp, OUTPUT_MANIFEST), { ...manifest, complete: true });
      const state = await inspectOutputDir(abs, rules);
      if (state.manifest) {
        old = `${abs}.pargs-old-${tag}`;
        await rename(abs, old);
      } else if (state.exists) {
        // An empty folder (inspect guarantees it); rmdir refuses if something appeared since.
        await rmdir(abs);
      }
      await rename(tmp, abs);
    } catch (err) {
      if (old) await rename(old, abs).catch(() => undefined);
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    if (old) await rm(old, { recursive: true, force: true });
  });
}
