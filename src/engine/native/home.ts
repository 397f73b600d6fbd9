/**
 * Where `pargs native install` puts the native binding, and the fixed versions it provisions.
 *
 * The binding lives in its own npm prefix outside the project, not in the project's node_modules:
 * `npm ci` empties node_modules (so an install there would be lost after every clean install), and
 * npm 11 refuses to add an optional peer dependency with `--no-save`. A prefix of its own survives both,
 * is shared by every project of the user, and leaves package.json and the lockfile untouched.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

/** The tfjs release pargs is built against; the binding must match the core it registers into. */
export const TFJS_NODE_VERSION = '4.22.0';

export const NATIVE_PACKAGES = { cpu: '@tensorflow/tfjs-node', gpu: '@tensorflow/tfjs-node-gpu' } as const;

export type NativeFlavour = keyof typeof NATIVE_PACKAGES;

/**
 * `PARGS_NATIVE_HOME`, else `$XDG_CACHE_HOME/pargs/native`, else `~/.cache/pargs/native`.
 * Read on every call so a test or a CI step can point it elsewhere.
 */
export function nativeHome(): string {
  const explicit = process.env.PARGS_NATIVE_HOME;
  if (explicit !== undefined && explicit.trim() !== '') return explicit;
  const cache = process.env.XDG_CACHE_HOME;
  return join(cache !== undefined && cache.trim() !== '' ? cache : join(homedir(), '.cache'), 'pargs', 'native');
}

/** The folder of an installed binding package inside the native home. */
export function nativePackageDir(flavour: NativeFlavour, home = nativeHome()): string {
  return join(home, 'node_modules', ...NATIVE_PACKAGES[flavour].split('/'));
}
