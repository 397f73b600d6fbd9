/**
 * The folders of a pretraining run: the work folder (checkpoints, caches) is claimed and locked for
 * the whole run; the model folder `out` is checked now (so a refusal comes before hours of training)
 * and its files are replaced at the end (export.ts).
 */
import { OutputError } from '../errors.js';
import { listCheckpoints } from '../io/checkpoint-store.js';
import { claimOutputDir, inspectOutputDir, type ClaimedOutput } from '../io/output-dir.js';
import { checkpointRoot, clearPretrainCheckpoints, readCheckpoint } from './checkpoint.js';
import { modelFolderRules } from './export.js';
import type { ResolvedOptions } from './options.js';

/**
 * Checks `out`, claims `workDir`, and settles earlier checkpoints there: without `resume`, an
 * unfinished run is refused unless `overwrite`; a finished run's (or an overwritten run's)
 * checkpoints are deleted so the new run's steps are not mixed with them.
 */
export async function claimPretrainOutput(o: ResolvedOptions): Promise<ClaimedOutput> {
  const earlier = await inspectOutputDir(o.out, { ...modelFolderRules(o.overwrite, o.resume), protect: o.tokenizer ? [o.tokenizer] : [] });
  const note = (message: string): void => o.onProgress({ type: 'note', message });
  const work = await claimOutputDir(o.workDir, { kind: 'pretrain-work', what: 'pretrainLM: workDir (pargs pretrain --work-dir)' }, note);
  try {
    const root = checkpointRoot(o.workDir);
    if (o.resume && earlier.manifest?.complete && (await listCheckpoints(root)).length === 0) {
      throw new OutputError(`${earlier.dir} holds a model but ${root} has no checkpoint to resume from; pass overwrite: true (--overwrite) to train a new one in its place`);
    }
    if (!o.resume && (await listCheckpoints(root)).length > 0) {
      const saved = await readCheckpoint(root, note).catch(() => undefined);
      if (!saved?.manifest.finished && !o.overwrite) {
        const at = saved ? ` at step ${saved.manifest.step}` : '';
        throw new OutputError(
          `${root} holds an unfinished run${at}; pass resume: true (--resume) to continue it, or overwrite: true (--overwrite) to start over`,
        );
      }
      await clearPretrainCheckpoints(root);
    }
    return work;
  } catch (err) {
    await work.release();
    throw err;
  }
}
