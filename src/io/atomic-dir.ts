/**
 * Replacing a model folder's files all together (pretrain's final export) without touching anything else
 * in the folder. The new files are written into a sibling `DIR.pargs-tmp-*` folder first (marked ours by
 * `pargs-output.json`), so a failure while writing — a full disk half-way through the weights — leaves
 * DIR as it was. Then DIR is claimed like every output folder (output-dir.ts: new, empty or our own
 * earlier output of the same kind; locked; its manifest marked unfinished) and each file is moved into
 * place by rename, the file it replaces moved aside into `DIR.pargs-old-*` first and moved back if a
 * later rename fails: a few renames within one file system, so a reader sees the earlier files or the
 * new ones, not new weights beside an old tokenizer. Files of DIR that the export does not write (a
 * user's notes) stay where they are. Leftovers of a crash are touched only when their manifest says
 * pargs wrote them.
 */
import { lstat, mkdir, readdir, readFile, rename, rm } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { OutputError } from '../errors.js';
import { writeJsonAtomic } from './atomic.js';
import { guardOutput } from './fs-errors.js';
import { claimOutputDir, OUTPUT_MANIFEST, type OutputManifest, type OutputRules } from './output-dir.js';

let counter = 0;

async function isOurs(dir: string, kind: string): Promise<boolean> {
  try {
    const m = JSON.parse(await readFile(join(dir, OUTPUT_MANIFEST), 'utf8')) as OutputManifest;
    return m?.format === 'pargs-output' && m.kind === kind;
  } catch {
    return false;
  }
}

const exists = (path: string): Promise<boolean> => lstat(path).then(() => true, () => false);

/**
 * Settles our own leftovers of a crash beside DIR: a `.pargs-tmp-*` folder is deleted; a `.pargs-old-*`
 * folder (files moved aside) gives back each file DIR lacks — or becomes DIR when DIR is gone (the
 * whole-folder swap of earlier versions) — and is then deleted.
 */
async function recoverLeftovers(abs: string, kind: string): Promise<void> {
  const parent = dirname(abs);
  const name = basename(abs);
  for (const e of await readdir(parent)) {
    const path = join(parent, e);
    const isTemp = e.startsWith(`${name}.pargs-tmp-`);
    const isOld = e.startsWith(`${name}.pargs-old-`);
    if (!(isTemp || isOld) || !(await isOurs(path, kind))) continue;
    if (isOld && !(await exists(abs))) {
      await rename(path, abs);
      continue;
    }
    if (isOld) {
      for (const file of await readdir(path)) {
        if (file !== OUTPUT_MANIFEST && !(await exists(join(abs, file)))) await rename(join(path, file), join(abs, file));
      }
    }
    await rm(path, { recursive: true, force: true });
  }
}

/**
 * Moves every file of `from` (but its manifest) into `to`, the one each replaces into `aside`; on a
 * failure, undoes the moves made so far, newest first, and rethrows.
 */
async function moveIntoPlace(from: string, to: string, aside: string): Promise<void> {
  const names = (await readdir(from)).filter((n) => n !== OUTPUT_MANIFEST);
  const done: { name: string; movedAside: boolean; placed: boolean }[] = [];
  try {
    for (const name of names) {
      const step = { name, movedAside: false, placed: false };
      done.push(step);
      if (await exists(join(to, name))) {
        await rename(join(to, name), join(aside, name));
        step.movedAside = true;
      }
      await rename(join(from, name), join(to, name));
      step.placed = true;
    }
  } catch (err) {
    for (const step of done.reverse()) {
      if (step.placed) await rename(join(to, step.name), join(from, step.name)).catch(() => undefined);
      if (step.movedAside) await rename(join(aside, step.name), join(to, step.name)).catch(() => undefined);
    }
    throw err;
  }
}

/** Writes the files `fill` puts into a temporary folder into DIR, replacing only those files (see above). */
export async function replaceFilesAtomic(dir: string, rules: OutputRules, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const abs = resolve(dir);
  await guardOutput(abs, async () => {
    if ((await lstat(abs).catch(() => undefined))?.isSymbolicLink()) {
      throw new OutputError(`${rules.what}: ${abs} is a symbolic link; give the real folder's path`);
    }
    await mkdir(dirname(abs), { recursive: true });
    await recoverLeftovers(abs, rules.kind);
    const tag = `${process.pid}-${Date.now()}-${counter++}`;
    const tmp = `${abs}.pargs-tmp-${tag}`;
    const aside = `${abs}.pargs-old-${tag}`;
    const mark: OutputManifest = { format: 'pargs-output', version: 1, kind: rules.kind, complete: false, createdAt: new Date().toISOString() };
    await mkdir(tmp);
    let replaced = false;
    try {
      // Written first, so a leftover of a crash is recognisable as ours.
      await writeJsonAtomic(join(tmp, OUTPUT_MANIFEST), mark);
      await fill(tmp);
      const claimed = await claimOutputDir(abs, rules);
      try {
        await claimed.markIncomplete();
        await mkdir(aside);
        await writeJsonAtomic(join(aside, OUTPUT_MANIFEST), mark);
        await moveIntoPlace(tmp, abs, aside);
        replaced = true;
        await claimed.markComplete();
      } finally {
        await claimed.release();
      }
    } finally {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      // After a failed move, files the undo could not put back are still aside: the next run returns them.
      const onlyMark = (await readdir(aside).catch(() => [OUTPUT_MANIFEST])).every((f) => f === OUTPUT_MANIFEST);
      if (replaced || onlyMark) await rm(aside, { recursive: true, force: true }).catch(() => undefined);
    }
  });
}
