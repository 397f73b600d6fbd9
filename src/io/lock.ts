/**
 * A single-writer lock per output or work folder, held for a whole run: `DIR/.pargs-lock`, created
 * with O_EXCL ('wx') and holding the owner's pid, host and start time. A second writer fails at once
 * with a `LockError` naming the folder and the owner. A lock left by a process that died (same host,
 * pid no longer alive) is taken over with a note.
 */
import { readFile, unlink, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockError } from '../errors.js';
import { guardOutput } from './fs-errors.js';

export const LOCK_FILE = '.pargs-lock';

interface LockOwner {
  pid: number;
  hostname: string;
  startedAt: string;
}

export interface FolderLock {
  readonly file: string;
  /** Removes the lock file if it is still ours; safe to call twice. */
  release(): Promise<void>;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

async function readOwner(file: string): Promise<LockOwner | undefined> {
  try {
    const owner = JSON.parse(await readFile(file, 'utf8')) as LockOwner;
    return Number.isInteger(owner?.pid) && typeof owner.hostname === 'string' ? owner : undefined;
  } catch {
    return undefined;
  }
}

async function tryCreate(file: string, owner: LockOwner): Promise<boolean> {
  try {
    const handle = await open(file, 'wx');
    try {
      await handle.writeFile(`${JSON.stringify(owner)}\n`);
    } finally {
      await handle.close();
    }
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw err;
  }
}

/**
 * Locks `dir` (which must exist) for this process. `onNote` hears about a stale lock taken over.
 * Throws `LockError` when another live process holds it.
 */
export async function acquireLock(dir: string, onNote: (note: string) => void = () => undefined): Promise<FolderLock> {
  const file = join(dir, LOCK_FILE);
  const me: LockOwner = { pid: process.pid, hostname: hostname(), startedAt: new Date().toISOString() };
  return guardOutput(file, async () => {
    for (let attempt = 0; attempt < 2; attempt++) {
      if (await tryCreate(file, me)) return lockHandle(file, me);
      const owner = await readOwner(file);
      if (isStale(owner, me)) {
        onNote(`taking over the stale lock ${file} of process ${owner.pid} (started ${owner.startedAt}), which is no longer running`);
        // Another process may take it over at the same moment; the second 'wx' decides who wins.
        await unlink(file).catch(() => undefined);
        continue;
      }
      throw heldError(dir, file, owner);
    }
    throw new LockError(`${dir}: could not take over the stale lock ${file}; another process claimed it first`);
  });
}

function isStale(owner: LockOwner | undefined, me: { pid: number; hostname: string }): owner is LockOwner {
  return owner !== undefined && owner.hostname === me.hostname && owner.pid !== me.pid && !isAlive(owner.pid);
}

function heldError(dir: string, file: string, owner: LockOwner | undefined): LockError {
  const who = owner ? `process ${owner.pid} on ${owner.hostname} (started ${owner.startedAt})` : 'another process (its lock file is still being written or is unreadable)';
  return new LockError(
    `${dir} is in use by ${who}: only one pargs run may write there at a time. Wait for it to finish or choose another folder; ` +
      `if that process is gone, delete ${file}`,
  );
}

/** Throws `LockError` when `dir` holds a lock that is not stale (without taking it). */
export async function assertNotLocked(dir: string): Promise<void> {
  const file = join(dir, LOCK_FILE);
  const present = await readFile(file, 'utf8').then(() => true, () => false);
  if (!present) return;
  const owner = await readOwner(file);
  if (!isStale(owner, { pid: process.pid, hostname: hostname() })) throw heldError(dir, file, owner);
}

function lockHandle(file: string, me: LockOwner): FolderLock {
  let released = false;
  return {
    file,
    async release() {
      if (released) return;
      released = true;
      const owner = await readOwner(file);
      if (owner?.pid === me.pid && owner.startedAt === me.startedAt) await unlink(file).catch(() => undefined);
    },
  };
}
