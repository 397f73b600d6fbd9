/**
 * Output folders that never destroy user data. A command writes only into
 * - a new path,
 * - an empty folder, or
 * - a folder holding pargs' own earlier output of the same kind, recognised by `pargs-output.json`
 *   (an earlier *complete* result is replaced only with `overwrite`; `resume` continues it),
 * and never into a file, a non-empty folder pargs did not write, or a model folder — in particular
 * the backbone's own. The claimed folder stays in place for the whole run (its lock lives inside) and
 * its contents are replaced file by file or sub-folder by sub-folder, atomically.
 */
import { mkdir, readdir, readFile, realpath, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { OutputError } from '../errors.js';
import { writeJsonAtomic } from './atomic.js';
import { guardOutput } from './fs-errors.js';
import { acquireLock, assertNotLocked, LOCK_FILE, type FolderLock } from './lock.js';

export const OUTPUT_MANIFEST = 'pargs-output.json';

export type OutputKind = 'reward-model' | 'hf-reward-model' | 'features' | 'demo-report' | 'language-model' | 'pretrain-work' | 'recipe';

export interface OutputManifest {
  format: 'pargs-output';
  version: 1;
  kind: OutputKind;
  /** False while a run is writing; true once its final result is in place. */
  complete: boolean;
  createdAt: string;
}

export interface OutputRules {
  kind: OutputKind;
  /** Who asks, for messages: e.g. 'pargs train --out' or 'trainPartialRM: checkpointDir'. */
  what: string;
  /** Replace an earlier complete result of the same kind. */
  overwrite?: boolean;
  /** Continue an earlier result (its checkpoints) instead of refusing it. */
  resume?: boolean;
  /** Folders this run reads that must never be the output (the backbone's, a tokenizer's); compared by real path. */
  protect?: readonly string[];
}

export interface OutputState {
  /** Absolute path. */
  dir: string;
  exists: boolean;
  /** Our manifest when the folder holds earlier pargs output of this kind. */
  manifest?: OutputManifest;
}

const isModelFile = (name: string): boolean => name === 'config.json' || name.endsWith('.safetensors') || name === 'model.safetensors.index.json';

async function readManifest(file: string): Promise<OutputManifest | 'invalid'> {
  try {
    const m = JSON.parse(await readFile(file, 'utf8')) as OutputManifest;
    return m?.format === 'pargs-output' && m.version === 1 && typeof m.kind === 'string' ? m : 'invalid';
  } catch {
    return 'invalid';
  }
}

/** Our own files in a claimed folder that say nothing about its contents: the lock and an in-flight manifest write. */
const isBookkeeping = (name: string): boolean => name === LOCK_FILE || name.startsWith(`${OUTPUT_MANIFEST}.tmp-`);

/**
 * Checks `dir` against the rules above without writing anything; throws `OutputError` on a refusal,
 * and `LockError` when another run holds the folder (whatever is in it is then mid-write).
 */
export async function inspectOutputDir(dir: string, rules: OutputRules): Promise<OutputState> {
  return inspect(dir, rules, false);
}

async function inspect(dir: string, rules: OutputRules, lockIsOurs: boolean): Promise<OutputState> {
  if (typeof dir !== 'string' || dir === '') throw new OutputError(`${rules.what}: the output folder must be a non-empty path`);
  const abs = resolve(dir);
  return guardOutput(abs, async () => {
    // stat, not lstat: a symbolic link to a folder is judged by that folder (and compared by real path).
    const info = await stat(abs).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
    if (!info) return { dir: abs, exists: false };
    if (!info.isDirectory()) {
      throw new OutputError(`${rules.what}: ${abs} is a file, not a folder; pargs will not replace it — give a new or empty folder`);
    }
    const real = await realpath(abs);
    for (const p of rules.protect ?? []) {
      if (real === (await realpath(p).catch(() => resolve(p)))) {
        throw new OutputError(`${rules.what}: ${abs} is the model folder this run reads (${p}); writing there would damage it — choose another output folder`);
      }
    }
    const all = await readdir(abs);
    if (!lockIsOurs && all.includes(LOCK_FILE)) await assertNotLocked(abs);
    const entries = all.filter((e) => !isBookkeeping(e));
    if (entries.includes(OUTPUT_MANIFEST)) {
      const manifest = await readManifest(join(abs, OUTPUT_MANIFEST));
      if (manifest === 'invalid') {
        throw new OutputError(`${rules.what}: ${abs}/${OUTPUT_MANIFEST} is unreadable, so pargs cannot tell whether it wrote ${abs}; choose a new folder`);
      }
      if (manifest.kind !== rules.kind) {
        throw new OutputError(`${rules.what}: ${abs} holds pargs ${manifest.kind} output, not ${rules.kind} output; choose another folder`);
      }
      if (manifest.complete && !rules.overwrite && !rules.resume) {
        throw new OutputError(
          `${rules.what}: ${abs} already holds a ${rules.kind} result (written ${manifest.createdAt}); pass --overwrite (library: overwrite: true) to replace it, or choose another folder`,
        );
      }
      return { dir: abs, exists: true, manifest };
    }
    if (entries.length === 0) return { dir: abs, exists: true };
    const shown = entries.slice(0, 4).join(', ') + (entries.length > 4 ? ', …' : '');
    if (entries.some(isModelFile)) {
      throw new OutputError(`${rules.what}: ${abs} is a model folder (holds ${shown}) that pargs did not write; it will not write into it — choose a new or empty folder`);
    }
    throw new OutputError(
      `${rules.what}: ${abs} is not empty (holds ${shown}) and was not written by pargs; pargs only writes into a new or empty folder or its own earlier output — choose another folder`,
    );
  });
}

export interface ClaimedOutput {
  dir: string;
  /** Our manifest found there before this run (an earlier or unfinished run of ours). */
  earlier?: OutputManifest;
  /** Records that the final result is in place. */
  markComplete(): Promise<void>;
  /** Records that the result is being replaced (claiming keeps an earlier result complete when resuming). */
  markIncomplete(): Promise<void>;
  /** Releases the folder's lock; call in `finally`. */
  release(): Promise<void>;
}

/**
 * Claims `dir` for this run: checks the rules, creates the folder if needed, takes its lock (a
 * `LockError` if another run holds it) and writes our manifest. Hold it until the run ends.
 */
export async function claimOutputDir(dir: string, rules: OutputRules, onNote?: (note: string) => void): Promise<ClaimedOutput> {
  const first = await inspectOutputDir(dir, rules);
  const abs = first.dir;
  await guardOutput(abs, async () => {
    if (!first.exists) {
      await mkdir(dirname(abs), { recursive: true });
      await mkdir(abs).catch((err: NodeJS.ErrnoException) => {
        // Another run may have created it a moment ago; the lock below decides.
        if (err.code !== 'EEXIST') throw err;
      });
    }
  });
  const lock: FolderLock = await acquireLock(abs, onNote);
  try {
    // Checked again under the lock: another run may have finished or written here meanwhile.
    const state = await inspect(abs, rules, true);
    const manifest: OutputManifest = state.manifest
      ? { ...state.manifest, complete: state.manifest.complete && !rules.overwrite }
      : { format: 'pargs-output', version: 1, kind: rules.kind, complete: false, createdAt: new Date().toISOString() };
    await guardOutput(abs, () => writeJsonAtomic(join(abs, OUTPUT_MANIFEST), manifest));
    return {
      dir: abs,
      earlier: state.manifest,
      markComplete: () => guardOutput(abs, () => writeJsonAtomic(join(abs, OUTPUT_MANIFEST), { ...manifest, complete: true, createdAt: new Date().toISOString() })),
      markIncomplete: () => guardOutput(abs, () => writeJsonAtomic(join(abs, OUTPUT_MANIFEST), { ...manifest, complete: false })),
      release: () => lock.release(),
    };
  } catch (err) {
    await lock.release();
    throw err;
  }
}
