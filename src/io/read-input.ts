/**
 * Reading the user's input files: a file-system failure (missing, a folder, unreadable, …) becomes the
 * caller's typed error naming the path and saying what is wrong, never a raw Node error with a stack.
 */
import { readFile } from 'node:fs/promises';
import type { PargsError } from '../errors.js';

const REASONS: Record<string, string> = {
  ENOENT: 'it does not exist',
  EISDIR: 'it is a folder, not a file',
  ENOTDIR: 'a part of the path is a file, not a folder',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'the path is too long',
  EMFILE: 'too many open files',
  EIO: 'an I/O error',
};

/** The error code of a Node file-system error, or undefined for anything else. */
export function fsErrorCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** "cannot read PATH: it is a folder, not a file" for a Node fs error; the error's own message otherwise. */
export function describeReadFailure(path: string, err: unknown): string {
  const code = fsErrorCode(err);
  const reason = code ? (REASONS[code] ?? `${code}`) : (err as Error)?.message ?? String(err);
  return `cannot read ${path}: ${reason}`;
}

/** Runs `read`; a file-system failure becomes `toError(message)` naming `path`. Other errors pass through. */
export async function readInput<T>(path: string, read: () => Promise<T>, toError: (message: string) => PargsError): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (fsErrorCode(err) === undefined) throw err;
    throw toError(describeReadFailure(path, err));
  }
}

/**
 * Reads a JSON file that must hold an object: undefined when absent and not `required`; a missing,
 * unreadable, non-JSON or non-object file (`null`, an array, a number) is `toError(message)` naming it.
 */
export async function readJsonObjectFile(
  path: string, required: boolean, toError: (message: string) => PargsError,
): Promise<{ value: Record<string, unknown>; text: string } | undefined> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    if (!required && fsErrorCode(err) === 'ENOENT') return undefined;
    throw toError(describeReadFailure(path, err));
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw toError(`${path} is not valid JSON: ${(err as Error).message}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw toError(`${path} must hold a JSON object, but holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}; fix or delete the file`);
  }
  return { value: value as Record<string, unknown>, text };
}
