/**
 * File-system failures on output paths as typed errors: a read-only folder, a full disk, a path part
 * that is a file, or a folder where a file belongs becomes an `OutputError` naming the path and saying
 * what to do, instead of a raw Node stack trace.
 */
import { OutputError, PargsError } from '../errors.js';

const HINTS: Record<string, string> = {
  EACCES: 'is not writable (permission denied); choose a writable folder or fix its permissions',
  EPERM: 'is not writable (operation not permitted); choose a writable folder or fix its permissions',
  EROFS: 'is on a read-only file system; choose a folder on a writable disk',
  ENOSPC: 'cannot be written: the disk is full; free some space or choose a folder on another disk (nothing earlier was replaced)',
  EDQUOT: 'cannot be written: the disk quota is exhausted; free some space or choose another folder',
  ENOTDIR: 'cannot be created: a part of the path is a file, not a folder; choose another path',
  EISDIR: 'is a folder where pargs has to write a file; move that folder away or choose another output path',
  EEXIST: 'already exists where pargs has to create it; choose another output path',
  ENAMETOOLONG: 'is too long a path for the file system; choose a shorter one',
};

/** The typed form of a Node file-system error met while writing under `path`; other errors pass through. */
export function outputFsError(path: string, err: unknown): unknown {
  if (err instanceof PargsError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code !== 'string' || !e.syscall) return err;
  const where = e.path ?? path;
  const hint = HINTS[e.code] ?? `cannot be written (${e.message})`;
  return new OutputError(`${where} ${hint} [${e.code} during ${e.syscall}; output ${path}]`);
}

/** Runs `write`, turning file-system failures into `OutputError`s naming `path`. */
export async function guardOutput<T>(path: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    throw outputFsError(path, err);
  }
}
