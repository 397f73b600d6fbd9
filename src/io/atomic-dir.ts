/**
 * Atomic directory replacement for checkpoints and saved models: everything is written into a sibling
 * `DIR.tmp-*` folder, which then takes the place of DIR in two renames. A reader sees the old folder or
 * the new one, never a mix; a crash leaves at most a stale `.tmp-*` folder, which readers ignore.
 */
import { promises as fs } from 'node:fs';
import { basename, dirname, join } from 'node:path';

let counter = 0;

export async function writeDirAtomic(dir: string, fill: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = dirname(dir);
  await fs.mkdir(parent, { recursive: true });
  const tag = `${process.pid}-${Date.now()}-${counter++}`;
  const tmp = join(parent, `${basename(dir)}.tmp-${tag}`);
  const old = join(parent, `${basename(dir)}.old-${tag}`);
  await fs.mkdir(tmp);
  try {
    await fill(tmp);
    const existed = await fs.stat(dir).then(() => true, () => false);
    if (existed) await fs.rename(dir, old);
    await fs.rename(tmp, dir);
    if (existed) await fs.rm(old, { recursive: true, force: true });
  } catch (err) {
    await fs.rm(tmp, { recursive: true, force: true }).catch(() => undefined);
    throw err;
  }
}

/** Removes `DIR.tmp-*` / `DIR.old-*` leftovers of an interrupted `writeDirAtomic`. */
export async function removeStaleSiblings(dir: string): Promise<string[]> {
  const parent = dirname(dir);
  const prefix = basename(dir);
  const entries = await fs.readdir(parent).catch(() => [] as string[]);
  const stale = entries.filter((e) => e.startsWith(`${prefix}.tmp-`) || e.startsWith(`${prefix}.old-`));
  for (const e of stale) await fs.rm(join(parent, e), { recursive: true, force: true });
  return stale;
}
