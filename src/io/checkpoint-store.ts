/**
 * Checksummed, rotating checkpoints inside a claimed folder:
 *
 *   ROOT/step-00000120/   one checkpoint: its files + checkpoint.json (step and sha256 of every file)
 *   ROOT/step-00000100/   the previous one (the last `keep` are kept, default 2)
 *
 * A checkpoint is written into `ROOT/.tmp-*` and renamed into place, so a step folder is always
 * complete. Reading verifies every checksum and that the step in checkpoint.json matches the folder
 * name; when the newest fails, the previous one is used and the caller is told why. Only folders this
 * module wrote are ever deleted: a step folder holding a pargs checkpoint.json, a temporary folder holding
 * TEMP_MARK (ROOT also lives inside a folder pargs claimed and locked).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CheckpointError, OutputError } from '../errors.js';
import { writeJsonAtomic } from './atomic.js';
import { guardOutput } from './fs-errors.js';

export const CHECKPOINT_MANIFEST = 'checkpoint.json';
export const DEFAULT_KEEP_CHECKPOINTS = 2;

interface StoreManifest {
  format: 'pargs-checkpoint';
  version: 1;
  step: number;
  /** sha256 (hex) of every other file in the checkpoint folder. */
  files: Record<string, string>;
  /** sha256 of this manifest's other fields, so a damaged checkpoint.json is named as such. */
  manifestSha256: string;
}

const manifestHash = (m: Omit<StoreManifest, 'manifestSha256'>): string =>
  createHash('sha256').update(JSON.stringify([m.format, m.version, m.step, Object.entries(m.files)])).digest('hex');

const stepName = (step: number): string => `step-${String(step).padStart(8, '0')}`;
const STEP_DIR = /^step-(\d{8,})$/;

let counter = 0;

/** Written first into every temporary folder, so a crash's leftover is recognisable as ours. */
const TEMP_MARK = '.pargs-checkpoint-tmp';

/**
 * Whether `dir` holds a checkpoint this module wrote. Read as text, not parsed: a checkpoint.json damaged
 * elsewhere (which verification then names) is still recognised as ours and can be rotated out.
 */
async function isOurCheckpoint(dir: string): Promise<boolean> {
  const text = await readFile(join(dir, CHECKPOINT_MANIFEST), 'utf8').catch(() => '');
  return text.includes('"pargs-checkpoint"');
}

const isOurTemp = (dir: string): Promise<boolean> => stat(join(dir, TEMP_MARK)).then(() => true, () => false);

/** Deletes the step folders given, each only if it holds our checkpoint (a stranger's folder is left). */
async function removeCheckpoints(dirs: readonly string[]): Promise<void> {
  for (const dir of dirs) if (await isOurCheckpoint(dir)) await rm(dir, { recursive: true, force: true });
}

export async function sha256File(file: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Checkpoint folders in ROOT, newest first. */
export async function listCheckpoints(root: string): Promise<{ step: number; dir: string }[]> {
  const entries = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [] as string[];
    throw err;
  });
  return entries
    .flatMap((e) => {
      const m = STEP_DIR.exec(e);
      return m ? [{ step: Number(m[1]), dir: join(root, e) }] : [];
    })
    .sort((a, b) => b.step - a.step);
}

/**
 * Writes the checkpoint of `step`: `fill` puts its files into a temporary folder, which gets its
 * checksums and is renamed to `step-N`; then all but the newest `keep` checkpoints are removed.
 */
export async function writeCheckpointDir(root: string, step: number, keep: number, fill: (tmp: string) => Promise<void>): Promise<string> {
  return guardOutput(root, async () => {
    await mkdir(root, { recursive: true });
    await removeTemps(root);
    const tmp = join(root, `.tmp-${stepName(step)}-${process.pid}-${counter++}`);
    const target = join(root, stepName(step));
    try {
      await mkdir(tmp);
      await writeJsonAtomic(join(tmp, TEMP_MARK), { pid: process.pid });
      await fill(tmp);
      const files: Record<string, string> = {};
      for (const name of (await readdir(tmp)).sort()) if (name !== TEMP_MARK) files[name] = await sha256File(join(tmp, name));
      const fields = { format: 'pargs-checkpoint' as const, version: 1 as const, step, files };
      const manifest: StoreManifest = { ...fields, manifestSha256: manifestHash(fields) };
      await writeJsonAtomic(join(tmp, CHECKPOINT_MANIFEST), manifest);
      // A checkpoint of the same step (a resumed run re-saving it) is moved aside first: rename cannot replace a non-empty folder.
      const replaced = await stat(target).then(() => true, () => false);
      if (replaced && !(await isOurCheckpoint(target))) {
        throw new OutputError(`${target} exists and is not a pargs checkpoint; pargs does not replace it — move it out of ${root}`);
      }
      const aside = join(root, `.tmp-replaced-${process.pid}-${counter++}`);
      if (replaced) {
        await rename(target, aside);
        await writeJsonAtomic(join(aside, TEMP_MARK), { pid: process.pid });
      }
      // The mark goes before the rename: a step folder holds exactly the files its manifest lists.
      await rm(join(tmp, TEMP_MARK));
      await rename(tmp, target);
      if (replaced) await rm(aside, { recursive: true, force: true });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
    await removeCheckpoints((await listCheckpoints(root)).slice(Math.max(1, keep)).map((c) => c.dir));
    return target;
  });
}

/** Leftovers of interrupted writes (named by this module only). */
async function removeTemps(root: string): Promise<void> {
  for (const e of await readdir(root)) {
    const path = join(root, e);
    if ((e.startsWith('.tmp-step-') || e.startsWith('.tmp-replaced-')) && (await isOurTemp(path))) await rm(path, { recursive: true, force: true });
  }
}

/** Removes every checkpoint in ROOT (a fresh run over an earlier one of ours). */
export async function clearCheckpoints(root: string): Promise<void> {
  await guardOutput(root, async () => {
    await removeCheckpoints((await listCheckpoints(root)).map((c) => c.dir));
    if (await stat(root).then(() => true, () => false)) await removeTemps(root);
  });
}

/** Verifies one checkpoint folder: every listed file present with its checksum, the step matching the name. */
export async function verifyCheckpointDir(dir: string): Promise<number> {
  const manifestPath = join(dir, CHECKPOINT_MANIFEST);
  let m: StoreManifest;
  try {
    m = JSON.parse(await readFile(manifestPath, 'utf8')) as StoreManifest;
  } catch (err) {
    throw new CheckpointError(`${manifestPath} is missing or corrupted (${(err as Error).message}); the checkpoint ${dir} cannot be trusted`);
  }
  if (m?.format !== 'pargs-checkpoint' || m.version !== 1 || !Number.isInteger(m.step) || typeof m.files !== 'object' || m.files === null) {
    throw new CheckpointError(`${manifestPath} is not a pargs checkpoint manifest (version 1); the checkpoint ${dir} cannot be trusted`);
  }
  if (m.manifestSha256 !== manifestHash(m)) throw new CheckpointError(`${manifestPath} does not match its own checksum; the checkpoint manifest was changed or corrupted`);
  const named = STEP_DIR.exec(dir.split(/[\\/]/).pop() ?? '');
  if (named && Number(named[1]) !== m.step) {
    throw new CheckpointError(`${manifestPath} says step ${m.step} but its folder is step ${Number(named[1])}; the checkpoint was edited or corrupted`);
  }
  for (const [name, expected] of Object.entries(m.files)) {
    const file = join(dir, name);
    const actual = await sha256File(file).catch((err: Error) => {
      throw new CheckpointError(`${file} is missing or unreadable (${err.message}); the checkpoint ${dir} is incomplete`);
    });
    if (actual !== expected) throw new CheckpointError(`${file} does not match its sha256 in ${manifestPath}; the file was changed or corrupted`);
  }
  return m.step;
}

/**
 * Loads the newest checkpoint in ROOT that verifies and that `load` accepts; undefined when there is
 * none. A failing newer checkpoint is reported through `onFallback` and the previous one is tried;
 * when none is usable, the newest one's `CheckpointError` is thrown.
 */
export async function loadNewestCheckpoint<T>(
  root: string,
  load: (dir: string, step: number) => Promise<T>,
  onFallback: (note: string) => void,
): Promise<{ value: T; step: number; dir: string } | undefined> {
  const all = await listCheckpoints(root);
  let firstError: unknown;
  for (const [i, c] of all.entries()) {
    try {
      const step = await verifyCheckpointDir(c.dir);
      return { value: await load(c.dir, step), step, dir: c.dir };
    } catch (err) {
      if (!(err instanceof CheckpointError)) throw err;
      firstError ??= err;
      const previous = all[i + 1];
      if (previous) onFallback(`checkpoint ${c.dir} is unusable (${err.message}); falling back to the previous checkpoint ${previous.dir}`);
    }
  }
  if (firstError) throw firstError;
  return undefined;
}
